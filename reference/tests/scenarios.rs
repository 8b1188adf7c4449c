//! `cargo test` runs every scenario for a default set of seeds, one test per
//! lab (`scenarios::lab_tests!`, as any implementation's tests do).
//! Environment: SIM_SEED (first seed, default 0), SIM_SEEDS (how many,
//! default per lab: sim 20, raft 50, kv 3, shardctrler 50, shardkv 20),
//! SIM_CHECK_DETERMINISM=1 (run each seed twice and compare traces),
//! LABSIM_BUGS (catalogued bugs switched on). A failure names the scenario,
//! the seed and the command that replays it.

use reference::Reference;

scenarios::lab_tests!(Reference);

/// The simulator's own scenarios (they run no implementation's code).
#[test]
fn lab_sim() {
    scenarios::testing::run_lab::<Reference>("sim/", 20);
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

/// `LABSIM_BUGS` switches the bug on in `cargo test`'s runs (it was once
/// read and then ignored: the lab passed with the bug on).
#[test]
fn a_bug_asked_for_in_the_environment_is_switched_on() {
    let env = |bugs| scenarios::testing::TestEnv {
        first_seed: 0,
        seeds: Some(10),
        check_determinism: false,
        bugs,
        optimisations: None,
    };
    let with_bug = bugs::Bugs::parse("raft_vote_twice").expect("catalogued");
    let caught = std::panic::catch_unwind(|| {
        scenarios::testing::run_lab_with::<Reference>("raft/swarm", 10, env(with_bug));
    });
    assert!(caught.is_err(), "ten swarm seeds catch raft_vote_twice when it is on");
    scenarios::testing::run_lab_with::<Reference>("raft/swarm", 10, env(bugs::Bugs::NONE));
}

/// TestChallenge2Unaffected reads migrated values at its end (as Go's does,
/// by accident of its quirk): a group that migrates shards without their
/// data fails it. With every key of the new group overwritten first, as
/// the scenario once did, this bug passed it on every seed.
#[test]
fn challenge2_unaffected_reads_migrated_values() {
    let scenario = scenarios::find::<Reference>("shardkv/challenge2_unaffected").expect("registered");
    let bug = bugs::Bugs::parse("shard_migrates_without_data").expect("catalogued");
    for seed in 0..3 {
        let outcome = scenarios::run_scenario(&scenario, &scenarios::Run::new(seed).with_bugs(bug));
        assert!(outcome.result.is_err(), "seed {seed}: a migration without data is caught");
    }
}

/// A leader cut off from its group answers `WrongGroup` from its old
/// configuration; a clerk that ended its round there went back to it after
/// every query, and waited on it past the latency bound while the group's
/// majority could serve (found by a soak of 20,000 seeds).
#[test]
fn a_clerk_gets_past_a_cut_off_leader_in_an_old_configuration() {
    let scenario = scenarios::find::<Reference>("shardkv/swarm").expect("registered");
    let outcome = scenarios::run_scenario(&scenario, &scenarios::Run::new(724_065));
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
}

/// The lab passes with each combination of the optimisations the reference
/// honours (the soaks run 500 seeds of each; this is a few), and
/// `LABSIM_WITH` reaches the servers: with PreVote and CheckQuorum on,
/// etcd #9586's bug leaves `raft/isolated_leader` without a leader.
#[test]
fn the_lab_passes_with_each_optimisation_on() {
    use contract::{AskedOptimisations, Optimisation, Optimisations};
    // Each set on top of the reference's default (batching and
    // pipelining), as `--with default,SET` asks.
    let env = |optimisations, bugs| scenarios::testing::TestEnv {
        first_seed: 1000,
        seeds: Some(5),
        check_determinism: false,
        bugs,
        optimisations: Some(AskedOptimisations::default_with(optimisations)),
    };
    // The read paths change the Raft lab only through lease reads' rule
    // on votes; kv serves its Gets through all three.
    let elections = Optimisations::of(&[Optimisation::PreVote, Optimisation::CheckQuorum]);
    let lease = Optimisations::of(&[Optimisation::LeaseRead]);
    let all = Optimisations::of(Optimisation::ALL);
    for set in elections.subsets().into_iter().chain([lease, all]) {
        scenarios::testing::run_lab_with::<Reference>("raft/", 5, env(set, bugs::Bugs::NONE));
    }
    // Without pipelining the whole raft lab passes (without batching, the
    // lab's figure_8_unreliable_2c cannot: docs/optimisations.md).
    let unpipelined = AskedOptimisations::parse("default,-pipelining").expect("a valid set");
    let plain =
        scenarios::testing::TestEnv { optimisations: Some(unpipelined), ..env(Optimisations::NONE, bugs::Bugs::NONE) };
    scenarios::testing::run_lab_with::<Reference>("raft/", 5, plain);
    let once = scenarios::testing::TestEnv { seeds: Some(1), ..env(all, bugs::Bugs::NONE) };
    for lab in ["kv/", "shardkv/"] {
        scenarios::testing::run_lab_with::<Reference>(lab, 1, once);
    }
    for read_path in [Optimisation::ReadIndex, Optimisation::FollowerRead] {
        let alone = Optimisations::of(&[read_path]);
        let once = scenarios::testing::TestEnv { seeds: Some(1), ..env(alone, bugs::Bugs::NONE) };
        scenarios::testing::run_lab_with::<Reference>("kv/", 1, once);
    }
    // A leader in 10 s under labrpc's long reordering: before a candidate
    // timed out into a pre-candidate kept its late votes, this seed found
    // none (docs/optimisations.md).
    let both = elections;
    let seed_502583 =
        scenarios::testing::TestEnv { first_seed: 502_583, seeds: Some(1), ..env(both, bugs::Bugs::NONE) };
    scenarios::testing::run_lab_with::<Reference>("raft/figure_8_unreliable_2c", 1, seed_502583);
    let bug = bugs::Bugs::parse("raft_pre_candidate_keeps_leader").expect("catalogued");
    let caught = std::panic::catch_unwind(|| {
        scenarios::testing::run_lab_with::<Reference>("raft/isolated_leader", 5, env(both, bug));
    });
    assert!(caught.is_err(), "with both on, the bug leaves no leader");
}
