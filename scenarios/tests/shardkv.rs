//! shardkv end to end: a run's history names the configuration every
//! operation was served under, and reads back through `labsim check`.

use std::process::Command;

fn labsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_labsim")).args(args).output().expect("labsim runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn a_shardkv_history_names_each_operations_configuration() {
    let dir = std::env::temp_dir().join(format!("labsim-shardkv-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("history.edn");
    let path = file.to_str().unwrap();
    let (code, out, err) = labsim(&["run", "shardkv/join_leave_4b", "--seed", "3", "--history", path]);
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    let returns: Vec<&str> = text.lines().filter(|l| l.contains(":type :ok")).collect();
    assert_eq!(returns.len(), 70, "{out}");
    let configs: Vec<u64> = returns
        .iter()
        .map(|l| l.split(":config ").nth(1).expect("every return names its configuration"))
        .map(|rest| rest.trim_end_matches('}').parse().expect("a number"))
        .collect();
    // Group 0 alone (1), then joined by group 1 (2), then group 0 leaves (3).
    assert_eq!(configs.first(), Some(&1));
    assert_eq!(configs.last(), Some(&3));
    assert!(configs.windows(2).all(|w| w[0] <= w[1]), "one clerk's operations see configurations in order");
    let (code, out, err) = labsim(&["check", path, "--model", "kv"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("(70 operations)"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
