//! Bug hunting: every catalogued bug is caught, fast, and a hunt's count
//! does not depend on how many threads run it.

use bugs::Bug;
use reference::Reference;
use scenarios::hunt::{hunt, Hunt};

#[test]
fn every_catalogued_bug_is_caught_within_200_runs_median_under_10() {
    let hunts: Vec<Hunt> = Bug::ALL.iter().map(|&bug| hunt::<Reference>(bug, 200, 2)).collect();
    let missed: Vec<&str> = hunts.iter().filter(|h| h.caught.is_none()).map(|h| h.bug.name()).collect();
    assert!(missed.is_empty(), "not caught: {missed:?}");
    let mut runs: Vec<u64> = hunts.iter().map(|h| h.caught.as_ref().expect("checked").runs).collect();
    runs.sort_unstable();
    let slow: Vec<String> =
        hunts.iter().filter(|h| h.runs > 200).map(|h| format!("{} ({} runs)", h.bug.name(), h.runs)).collect();
    assert!(slow.is_empty(), "caught only after 200 runs: {slow:?}");
    let median = runs[runs.len() / 2];
    assert!(median < 10, "median runs to first catch {median}: {runs:?}");
}

#[test]
fn a_hunts_count_is_the_same_on_one_thread_or_many() {
    for bug in [Bug::RaftAcceptsStaleLeader, Bug::KvReadWithoutLog] {
        let one = hunt::<Reference>(bug, 50, 1).caught.expect("caught");
        let three = hunt::<Reference>(bug, 50, 3).caught.expect("caught");
        assert_eq!((one.scenario, one.seed, one.runs), (three.scenario, three.seed, three.runs), "{}", bug.name());
    }
}

#[test]
fn with_no_bug_on_the_swarm_scenarios_pass() {
    for scenario in scenarios::matching::<Reference>("*swarm*") {
        for seed in 0..10 {
            let outcome = scenarios::runner::run_scenario(&scenario, &scenarios::Run::new(seed));
            assert!(outcome.result.is_ok(), "{} seed {seed}: {:?}", scenario.name, outcome.result);
        }
    }
}
