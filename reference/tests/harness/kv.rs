//! kvraft and shardkv end to end: a run's history written with `--history`
//! reads back through `labsim check` with the same verdict; shardkv's names
//! the configuration each operation was served under.

use crate::labsim;

#[test]
fn a_runs_history_round_trips_through_labsim_check() {
    let dir = std::env::temp_dir().join(format!("labsim-kv-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("history.edn");
    let path = file.to_str().unwrap();
    let (code, out, err) = labsim(&["run", "kv/unreliable_one_key_3a", "--seed", "4", "--history", path]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("52 client operations"), "{out}");
    let (code, out, err) = labsim(&["check", path, "--model", "kv"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("linearizable") && out.contains("(52 operations)"), "{out}");
    // The same history with one read changed is caught by both.
    let text = std::fs::read_to_string(&file).unwrap();
    let last_read = text.lines().rev().find(|l| l.contains(":type :ok, :f :get")).expect("the final get").to_string();
    let corrupt = text.replace(&last_read, &last_read.replacen("x 0 0 y", "x 0 0 z", 1));
    std::fs::write(&file, corrupt).unwrap();
    let (code, out, _) = labsim(&["check", path, "--model", "kv", "--html", dir.join("d.html").to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("key \"k\""), "{out}");
    let (code, _, err) = labsim(&["run", "raft/basic_agree_2b", "--seed", "1", "--history", path]);
    assert_eq!((code, err.lines().count()), (2, 1), "raft runs record no client history: {err}");
    std::fs::remove_dir_all(&dir).unwrap();
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
