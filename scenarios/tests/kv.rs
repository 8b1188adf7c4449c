//! kvraft end to end: a run's history written with `--history` reads back
//! through `labsim check` with the same verdict, and an illegal history fails
//! its run with the key, the operations and a drawing.

use scenarios::kv_scenarios::with_checked_history;
use scenarios::runner::{run_scenario, simulate, Outcome};
use scenarios::Scenario;
use sim::linearizability::{KvInput, KvOutput, Operation};
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

fn op(client: u64, input: KvInput, output: KvOutput, call: u64, ret: u64) -> Operation<KvInput, KvOutput> {
    Operation { client, input, output: Some(output), call, ret: Some(ret) }
}

/// A run whose clients saw a stale value after a write had returned.
fn stale_read(seed: u64, trace: sim::TraceMode) -> Outcome {
    let outcome = simulate::<sim::testing::EchoNode, _>(seed, trace, |_| async { Ok(()) });
    let put = |v: &str| KvInput::Put { key: "k".into(), value: v.into() };
    let get = KvInput::Get { key: "k".into() };
    let history = vec![
        op(1, put("a"), KvOutput::Done, 10, 20),
        op(2, get.clone(), KvOutput::Value("a".into()), 30, 40),
        op(1, put("b"), KvOutput::Done, 50, 60),
        op(2, get, KvOutput::Value("a".into()), 70, 80),
    ];
    with_checked_history(outcome, history)
}

#[test]
fn an_illegal_history_fails_the_run_with_its_key_operations_and_a_drawing() {
    let dir = std::env::temp_dir().join(format!("labsim-kv-drawings-{}", std::process::id()));
    std::env::set_var("LABSIM_OUT_DIR", &dir);
    let outcome = run_scenario(&Scenario { name: "kv/stale_read", run: stale_read }, 9, sim::TraceMode::HashOnly);
    let reason = outcome.result.expect_err("a stale read is not linearizable");
    assert!(reason.starts_with("history is not linearizable"), "{reason}");
    assert!(reason.contains("key \"k\"") && reason.contains("get(\"k\") -> \"a\""), "{reason}");
    let drawing = dir.join("kv-stale_read-seed9.linearizability.html");
    assert!(reason.contains(&format!("drawing: {}", drawing.display())), "{reason}");
    let page = std::fs::read_to_string(&drawing).expect("the drawing is written");
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("kv/stale_read seed 9"));
    std::fs::remove_dir_all(&dir).unwrap();
}
