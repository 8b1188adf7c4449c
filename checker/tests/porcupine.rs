//! The checker against an outside oracle: every history listed in
//! ../shared/testdata/porcupine/expected.txt (102 Jepsen etcd logs of a
//! compare-and-set register, 6 key/value histories) must get its recorded
//! verdict. The data is read in place (set PORCUPINE_TESTDATA to move it).

use checker::parse::{read_jepsen, read_kv};
use checker::{check, CheckOptions, KvModel, RegisterModel, Verdict};
use std::path::PathBuf;

fn testdata() -> PathBuf {
    std::env::var_os("PORCUPINE_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/porcupine"))
}

fn expected() -> Vec<(String, bool)> {
    let path = testdata().join("expected.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (file, verdict) = l.split_once(' ').expect("FILE VERDICT");
            (file.to_string(), verdict.trim() == "true")
        })
        .collect()
}

fn verdict_of(file: &str) -> Verdict {
    let path = testdata().join(file);
    if file.starts_with("jepsen/") {
        check(&RegisterModel, &read_jepsen(&path).unwrap(), CheckOptions::default())
    } else {
        check(&KvModel, &read_kv(&path).unwrap(), CheckOptions::default())
    }
}

#[test]
fn every_recorded_history_gets_its_expected_verdict() {
    let cases = expected();
    assert_eq!(cases.len(), 108, "102 Jepsen logs and 6 key/value histories");
    assert_eq!(cases.iter().filter(|(f, ok)| f.starts_with("jepsen/") && *ok).count(), 23);
    let mut wrong = Vec::new();
    for (file, linearizable) in &cases {
        let verdict = verdict_of(file);
        assert_ne!(verdict, Verdict::Unknown, "{file}: no budget was set, so there is always a verdict");
        if verdict.is_linearizable() != *linearizable {
            wrong.push(format!("{file}: expected {linearizable}, got {verdict:?}"));
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn the_empty_log_is_an_empty_linearizable_history() {
    let ops = read_jepsen(&testdata().join("jepsen/etcd_095.log")).unwrap();
    assert!(ops.is_empty());
    assert_eq!(check(&RegisterModel, &ops, CheckOptions::default()), Verdict::Linearizable);
}
