//! Determinism of the simulator: a randomized chaos workload gives the same
//! trace twice for each of 100 seeds, and different traces across seeds.

use reference::Reference;
use scenarios::runner::run_checking_determinism;
use std::collections::BTreeSet;

#[test]
fn random_workload_replays_from_its_seed() {
    let scenario = scenarios::find::<Reference>("sim/random_workload").expect("registered");
    let mut hashes = BTreeSet::new();
    for seed in 0..100 {
        let outcome = run_checking_determinism(&scenario, &scenarios::Run::new(seed));
        assert!(outcome.result.is_ok(), "seed {seed}: {:?}", outcome.result);
        assert!(outcome.stats.trace.events() > 1000, "seed {seed} ran a real workload");
        hashes.insert(outcome.stats.trace.hash());
    }
    assert_eq!(hashes.len(), 100, "every seed gives its own trace");
}

#[test]
fn a_sharded_deployment_replays_from_its_seed() {
    // Three groups, controllers, migrations and restarts under appenders.
    let scenario = scenarios::find::<Reference>("shardkv/concurrent1_4b").expect("registered");
    for seed in 0..3 {
        let outcome = run_checking_determinism(&scenario, &scenarios::Run::new(seed));
        assert!(outcome.result.is_ok(), "seed {seed}: {:?}", outcome.result);
        assert!(outcome.shards_moved > 0, "seed {seed}: shards moved between groups");
    }
}

/// A scenario that is not deterministic on purpose: it reads a process-wide
/// counter, so its second run sleeps differently from its first.
fn nondeterministic(run: &scenarios::Run) -> scenarios::Outcome {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nth = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    scenarios::runner::simulate::<sim::testing::EchoNode, _>(run, move |h| async move {
        h.sleep(sim::ms(1)).await;
        h.sleep(sim::ms(1 + nth % 2)).await;
        Ok(())
    })
}

#[test]
fn a_nondeterministic_scenario_is_caught_and_the_event_named() {
    let scenario = scenarios::Scenario::new("sim/nondeterministic", nondeterministic);
    let outcome = run_checking_determinism(&scenario, &scenarios::Run::new(1));
    let reason = outcome.result.expect_err("the divergence must fail the run");
    assert!(reason.contains("NOT DETERMINISTIC"), "{reason}");
    assert!(reason.contains("event #1"), "the second event differs: {reason}");
    assert!(reason.contains("at 0.002s") && reason.contains("at 0.003s"), "both runs' events are described: {reason}");
}

fn panics(_run: &scenarios::Run) -> scenarios::Outcome {
    panic!("invariant broken on purpose");
}

#[test]
fn a_panicking_run_is_that_runs_failure() {
    let scenario = scenarios::Scenario::new("sim/panics", panics);
    let plan = scenarios::soak::SoakPlan::new(vec![scenario], 5, 3, 2);
    let report = scenarios::soak::soak(&plan, &|_| {}, &std::sync::atomic::AtomicBool::new(false));
    assert_eq!((report.total_runs, report.total_failures), (3, 3));
    let failure = &report.failed_runs[0];
    assert_eq!(failure.seed, 5);
    assert!(failure.reason.contains("panicked: invariant broken on purpose"), "{failure:?}");
    let text = scenarios::soak::format_report(&report);
    assert!(text.contains("replay: RUST_LOG=debug labsim run sim/panics --seed 5"), "{text}");
}

/// Two runs that send different bytes at the same instants.
fn different_contents(run: &scenarios::Run) -> scenarios::Outcome {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nth = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    scenarios::runner::simulate::<sim::testing::EchoNode, _>(run, move |h| async move {
        let (c, s) = sim::testing::setup(&h, 1);
        h.call(c, s[0], sim::testing::echo(vec![(nth % 2) as u8])).await.map_err(|e| e.to_string())?;
        Ok(())
    })
}

#[test]
fn runs_that_differ_only_in_message_contents_are_caught() {
    let scenario = scenarios::Scenario::new("sim/different_contents", different_contents);
    let reason = run_checking_determinism(&scenario, &scenarios::Run::new(1)).result.expect_err("the contents differ");
    assert!(reason.contains("NOT DETERMINISTIC") && reason.contains("request of call 0"), "{reason}");
    assert!(reason.contains("payload: [0]") && reason.contains("payload: [1]"), "{reason}");
}

/// A run whose tester panics 5 ms into the run.
fn panics_later(run: &scenarios::Run) -> scenarios::Outcome {
    scenarios::runner::simulate::<sim::testing::EchoNode, _>(run, |h| async move {
        h.sleep(sim::ms(5)).await;
        panic!("the invariant broke here");
    })
}

#[test]
fn a_panic_is_reported_where_and_when_it_happened() {
    let scenario = scenarios::Scenario::new("sim/panics_later", panics_later);
    let reason = scenarios::run_scenario(&scenario, &scenarios::Run::new(1)).result.unwrap_err();
    assert!(reason.starts_with("panicked at virtual 0.005s, event #"), "{reason}");
    assert!(reason.contains("the invariant broke here (reference/tests/harness/determinism.rs:"), "{reason}");
}
