//! Schedules and shrinking on the lab's scenarios: every family's run
//! replays from the schedule its seed records (written and read back as
//! text); a shrunk run fails the same way, is smaller, replays from its
//! schedule, and the same input shrinks to the same output.

use bugs::{Bug, Bugs};
use reference::Reference;
use scenarios::runner::{run_scenario, Run, ScheduleUse};
use scenarios::shrink::{failure_signature, shrink, Budget};
use std::sync::Arc;

fn scenario(name: &str) -> scenarios::Scenario {
    scenarios::find::<Reference>(name).unwrap_or_else(|| panic!("no scenario {name}"))
}

#[test]
fn every_family_replays_from_the_schedule_its_seed_records() {
    let families = [
        "raft/figure_8_unreliable_2c",
        "raft/swarm",
        "kv/swarm",
        "shardctrler/multi_4a",
        "shardkv/swarm",
        "kv/one_partition_3a",
    ];
    for name in families {
        let scenario = scenario(name);
        let plain = run_scenario(&scenario, &Run::new(3));
        let recorded = run_scenario(&scenario, &Run::new(3).with_schedule(ScheduleUse::Record));
        assert_eq!(recorded.stats.trace.hash(), plain.stats.trace.hash(), "{name}: recording changes nothing");
        let schedule = recorded.schedule.expect("a recording run returns its schedule");
        assert_eq!(schedule.scenario, name);
        let read = sim::Schedule::parse(&schedule.to_text()).expect("the written schedule reads back");
        let followed = run_scenario(&scenario, &Run::new(3).with_schedule(ScheduleUse::Follow(Arc::new(read))));
        assert_eq!(followed.stats.trace.hash(), plain.stats.trace.hash(), "{name}: following is the same run");
        assert_eq!(followed.result.is_ok(), plain.result.is_ok());
    }
}

#[test]
fn a_shrunk_run_fails_the_same_way_smaller_and_the_same_every_time() {
    let scenario = scenario("raft/swarm");
    let run = || Run::new(0).with_bugs(Bugs::one(Bug::RaftVoteTwice));
    let shrunk = shrink(&scenario, &run(), Budget::default(), &mut |_| {}).expect("the run fails");
    let (before, after) = (shrunk.original.size.counts, shrunk.shrunk.size.counts);
    assert!(!shrunk.budget_ran_out);
    assert!(
        after.faults + after.network_faults < (before.faults + before.network_faults) / 4,
        "{before:?} -> {after:?}"
    );
    assert!(shrunk.shrunk.size.fault_instants <= 3, "{:?}", shrunk.shrunk.size);

    // Replaying the shrunk schedule fails the same way.
    let follow = ScheduleUse::Follow(Arc::new(shrunk.shrunk.schedule.clone()));
    let replayed = run_scenario(&scenario, &run().with_schedule(follow));
    let reason = replayed.result.expect_err("the shrunk schedule fails");
    assert_eq!(failure_signature(&reason), shrunk.signature);
    assert_eq!(replayed.stats.trace.hash(), shrunk.shrunk.outcome.stats.trace.hash());

    // The same input shrinks to the same output.
    let again = shrink(&scenario, &run(), Budget::default(), &mut |_| {}).expect("the run fails");
    assert_eq!(again.shrunk.schedule, shrunk.shrunk.schedule);
    assert_eq!(again.runs, shrunk.runs);
}

#[test]
fn a_passing_run_has_nothing_to_shrink() {
    let err = shrink(&scenario("raft/basic_agree_2b"), &Run::new(1), Budget::default(), &mut |_| {}).unwrap_err();
    assert!(err.contains("passes"), "{err}");
}

#[test]
fn a_budget_stops_a_shrink_with_the_smallest_failing_run_so_far() {
    let run = Run::new(0).with_bugs(Bugs::one(Bug::RaftVoteTwice));
    let budget = Budget { max_runs: 5, max_events: u64::MAX };
    let shrunk = shrink(&scenario("raft/swarm"), &run, budget, &mut |_| {}).expect("the run fails");
    assert!(shrunk.budget_ran_out);
    assert_eq!(shrunk.runs, 5);
    assert!(shrunk.shrunk.outcome.result.is_err());
}

#[test]
fn a_workload_cap_limits_a_swarm_and_no_lab_test() {
    let cap = sim::schedule::WorkloadCap { clients: Some(1), operations: Some(4) };
    let capped = |name: &str| {
        let schedule = sim::Schedule { scenario: name.into(), seed: 3, workload: cap, ..sim::Schedule::default() };
        run_scenario(&scenario(name), &Run::new(3).with_schedule(ScheduleUse::Follow(Arc::new(schedule))))
    };
    let swarm = capped("kv/swarm");
    assert!(swarm.workload.reads_clients && swarm.workload.operations_cut, "the swarm honours the cap");
    let history = swarm.history.expect("a kv history");
    let clients: std::collections::BTreeSet<_> = history.iter().map(|op| op.client).collect();
    // One capped client of 4 operations, and the liveness phase's clerk.
    assert_eq!((clients.len(), history.len()), (2, 6), "{history:?}");
    let lab = capped("kv/one_partition_3a");
    assert_eq!(lab.workload, scenarios::workload::CapUse::NONE, "a lab test keeps its workload");
}

#[test]
fn a_swarm_shrink_needs_fewer_clients_and_operations() {
    let scenario = scenario("kv/swarm");
    let run = Run::new(13).with_bugs(Bugs::one(Bug::KvDupCheckEqualOnly));
    let mut steps = Vec::new();
    let shrunk =
        shrink(&scenario, &run, Budget::default(), &mut |p| steps.push(p.step.to_string())).expect("the run fails");
    assert_eq!(shrunk.signature, "linearizability");
    // A cap that a later, shorter run no longer reaches is dropped (the
    // run is the same without it), so the steps say it was taken.
    assert!(steps.iter().any(|s| s.starts_with("fewer ")), "a cap was taken on the way: {steps:?}");
    assert!(shrunk.shrunk.size.operations * 4 < shrunk.original.size.operations, "{:?}", shrunk.shrunk.size);
    let follow = ScheduleUse::Follow(Arc::new(shrunk.shrunk.schedule.clone()));
    let replayed = run_scenario(&scenario, &run.again(run.trace).with_schedule(follow));
    assert_eq!(replayed.stats.trace.hash(), shrunk.shrunk.outcome.stats.trace.hash(), "the shrunk run replays");
}
