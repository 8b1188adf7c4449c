//! `cargo test` runs every scenario for a default set of seeds, one test per
//! lab. Environment: SIM_SEED (first seed, default 0), SIM_SEEDS (how many,
//! default per lab below: sim 20, raft 50, kv 3, shardctrler 50,
//! shardkv 20), SIM_CHECK_DETERMINISM=1 (run each seed twice and
//! compare traces). A failure names the scenario, the seed and the command
//! that replays it.

use reference::Reference;
use scenarios::soak::{format_report, soak, SoakPlan};

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(value.trim().parse().unwrap_or_else(|_| panic!("{name}={value:?} is not a non-negative integer")))
}

fn run_lab(prefix: &str, default_seeds: u64) {
    let scenarios = scenarios::matching::<Reference>(prefix);
    assert!(!scenarios.is_empty(), "no scenario starts with {prefix}");
    let first_seed = env_u64("SIM_SEED").unwrap_or(0);
    let seeds = env_u64("SIM_SEEDS").unwrap_or(default_seeds);
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let plan = SoakPlan {
        check_determinism: std::env::var("SIM_CHECK_DETERMINISM").is_ok_and(|v| v == "1"),
        ..SoakPlan::new(scenarios, first_seed, seeds, jobs)
    };
    let report = soak(&plan, &|_| {}, &std::sync::atomic::AtomicBool::new(false));
    println!("{}", format_report(&report));
    assert_eq!(
        report.total_failures, 0,
        "{} of {} runs failed; see the replay commands above",
        report.total_failures, report.total_runs
    );
}

/// The scenarios are worth running only with the invariant assertions on:
/// the README's command (`cargo test`, the test profile) keeps them;
/// `cargo test --release` would not.
#[test]
fn invariant_assertions_are_on() {
    let mut debug_assertions_ran = false;
    debug_assert!({
        debug_assertions_ran = true;
        true
    });
    assert!(debug_assertions_ran, "run the tests with `cargo test`, not --release: debug assertions are off");
    let overflow_checked = std::panic::catch_unwind(|| {
        let max = std::hint::black_box(u64::MAX);
        max + 1
    });
    assert!(overflow_checked.is_err(), "overflow checks are off");
}

#[test]
fn sim_scenarios() {
    run_lab("sim/", 20);
}

#[test]
fn raft_scenarios() {
    run_lab("raft/", 50);
}

#[test]
fn kv_scenarios() {
    run_lab("kv/", 3);
}

#[test]
fn shardctrler_scenarios() {
    run_lab("shardctrler/", 50);
}

#[test]
fn shardkv_scenarios() {
    run_lab("shardkv/", 20);
}
