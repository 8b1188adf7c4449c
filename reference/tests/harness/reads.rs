//! Reads without the log: leases hold within the clock-drift bound they
//! allow for, and the checker finds the stale read a lease serves beyond it
//! (the Raft thesis, 6.4.1; tikv#964).

use contract::{AskedOptimisations, Optimisation, Optimisations};
use reference::Reference;
use scenarios::labs::kv::scenarios::{lease_under_drift, DRIFT_BOUND_PPM};
use scenarios::runner::Run;

type Kv = <Reference as scenarios::Implementation>::Kv;

/// A run of the reference's default with lease reads on.
fn lease_run(seed: u64, bugs: bugs::Bugs) -> Run {
    let lease = AskedOptimisations::default_with(Optimisations::of(&[Optimisation::LeaseRead]));
    Run::new(seed).with_bugs(bugs).with_asked_optimisations(Some(lease))
}

#[test]
fn a_lease_that_allows_for_the_drift_bound_serves_no_stale_read() {
    for seed in 0..3 {
        let outcome = lease_under_drift::<Kv>(&lease_run(seed, bugs::Bugs::NONE), DRIFT_BOUND_PPM);
        assert!(outcome.result.is_ok(), "seed {seed}: {:?}", outcome.result);
    }
}

#[test]
fn beyond_the_drift_bound_the_checker_finds_a_stale_read() {
    // The leader's clock 40% slow and the others' 40% fast: a lease
    // shortened for 10% still outlasts the followers' election timeouts.
    let outcome = lease_under_drift::<Kv>(&lease_run(1, bugs::Bugs::NONE), 4 * DRIFT_BOUND_PPM);
    let reason = outcome.result.expect_err("a stale read");
    assert!(reason.contains("not linearizable"), "{}", &reason[..reason.len().min(300)]);
}

#[test]
fn a_lease_without_the_drift_margin_serves_a_stale_read_at_the_bound() {
    let bug = bugs::Bugs::parse("raft_lease_without_drift_margin").expect("catalogued");
    let outcome = lease_under_drift::<Kv>(&lease_run(1, bug), DRIFT_BOUND_PPM);
    let reason = outcome.result.expect_err("a stale read");
    assert!(reason.contains("not linearizable"), "{}", &reason[..reason.len().min(300)]);
}

#[test]
fn a_lease_whose_followers_still_vote_serves_a_stale_read_under_a_partial_cut() {
    let bug = bugs::Bugs::parse("raft_lease_without_vote_block").expect("catalogued");
    let scenario = scenarios::registry::<Reference>().into_iter().find(|s| s.name == "kv/lease_partial_cut");
    let scenario = scenario.expect("registered");
    let caught = scenarios::runner::run_scenario(&scenario, &lease_run(1, bug)).result.expect_err("a stale read");
    assert!(caught.contains("not linearizable"), "{}", &caught[..caught.len().min(300)]);
    let clean = scenarios::runner::run_scenario(&scenario, &lease_run(1, bugs::Bugs::NONE));
    assert!(clean.result.is_ok(), "{:?}", clean.result);
}
