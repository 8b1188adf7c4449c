//! The lab on raft-rs, as `cargo test` runs it: every Raft, kv, shard
//! controller and shardkv scenario for a few seeds (SIM_SEED, SIM_SEEDS,
//! SIM_CHECK_DETERMINISM and LABSIM_BUGS as for any implementation), and
//! the checks that matter most for code the lab did not write: runs replay
//! from their seed, and no catalogued bug of code it does not run can be
//! switched on. `scripts/labsim-raft-rs soak` runs the thousands of seeds.

use raft_rs_lab::RaftRsLab;
use scenarios::runner::run_checking_determinism;
use std::collections::BTreeSet;

#[test]
fn lab_raft() {
    scenarios::testing::run_lab::<RaftRsLab>("raft/", 20);
}

#[test]
fn lab_kv() {
    scenarios::testing::run_lab::<RaftRsLab>("kv/", 1);
}

#[test]
fn lab_shardctrler() {
    scenarios::testing::run_lab::<RaftRsLab>("shardctrler/", 20);
}

#[test]
fn lab_shardkv() {
    scenarios::testing::run_lab::<RaftRsLab>("shardkv/", 5);
}

/// raft-rs draws election timeouts from `thread_rng`; the adapter's seeded
/// pacing must leave nothing to it: a run twice gives one trace, and seeds
/// give different ones.
#[test]
fn raft_rs_runs_replay_from_their_seed() {
    let scenario = scenarios::find::<RaftRsLab>("raft/figure_8_unreliable_2c").expect("registered");
    let mut hashes = BTreeSet::new();
    for seed in 0..5 {
        let outcome = run_checking_determinism(&scenario, &scenarios::Run::new(seed));
        assert!(outcome.result.is_ok(), "seed {seed}: {:?}", outcome.result);
        hashes.insert(outcome.stats.trace.hash());
    }
    assert_eq!(hashes.len(), 5, "every seed gives its own run");
    let sharded = scenarios::find::<RaftRsLab>("shardkv/concurrent1_4b").expect("registered");
    let outcome = run_checking_determinism(&sharded, &scenarios::Run::new(1));
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
}

/// The catalogue's Raft bugs live in the project's Raft, which raft-rs
/// replaces: switching one on is refused; its kv and shardkv bugs are in
/// the services raft-rs runs under.
#[test]
fn only_bugs_of_code_raft_rs_runs_can_be_switched_on() {
    let raft_bug = bugs::Bugs::parse("raft_vote_twice").expect("catalogued");
    let refused = scenarios::registry::unreached_bug::<RaftRsLab>(&scenarios::matching::<RaftRsLab>("raft/"), raft_bug)
        .expect("refused");
    assert!(refused.contains("raft-rs does not run"), "{refused}");
    let kv_bug = bugs::Bugs::parse("kv_read_without_log").expect("catalogued");
    assert_eq!(scenarios::registry::unreached_bug::<RaftRsLab>(&scenarios::matching::<RaftRsLab>("kv/"), kv_bug), None);
}
