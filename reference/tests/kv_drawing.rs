//! An illegal history fails its kv run with the key, the operations and a
//! drawing at the path the failure gives. (Its own test binary: it sets
//! LABSIM_OUT_DIR, and no other test may read the environment meanwhile.)

use checker::{KvInput, KvOutput, Operation};
use scenarios::labs::kv::scenarios::with_checked_history;
use scenarios::runner::{run_scenario, simulate, Outcome, Run};
use scenarios::Scenario;

fn op(client: u64, input: KvInput, output: KvOutput, call: u64, ret: u64) -> Operation<KvInput, KvOutput> {
    Operation { client, input, output: Some(output), call, ret: Some(ret) }
}

/// A run whose clients saw a stale value after a write had returned.
fn stale_read(run: &Run) -> Outcome {
    let outcome = simulate::<sim::testing::EchoNode, _>(run, |_| async { Ok(()) });
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
    let outcome = run_scenario(&Scenario::new("kv/stale_read", stale_read), &Run::new(9));
    let reason = outcome.result.expect_err("a stale read is not linearizable");
    assert!(reason.starts_with("history is not linearizable"), "{reason}");
    assert!(reason.contains("key \"k\"") && reason.contains("get(\"k\") -> \"a\""), "{reason}");
    let drawing = dir.join("kv-stale_read-seed9.linearizability.html");
    assert!(reason.contains(&format!("drawing: {}", drawing.display())), "{reason}");
    let page = std::fs::read_to_string(&drawing).expect("the drawing is written");
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("kv/stale_read seed 9"));
    std::fs::remove_dir_all(&dir).unwrap();
}
