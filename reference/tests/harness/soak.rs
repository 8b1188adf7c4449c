//! Soaks: shards add up to the whole, a stuck run is the watchdog's failure
//! (not a hung soak), a stopped soak reports what it ran, and the JUnit
//! report names failing scenarios.

use reference::Reference;
use scenarios::soak::{junit_xml, soak, SoakPlan, SoakReport};
use scenarios::Scenario;
use std::sync::atomic::AtomicBool;

fn run(plan: &SoakPlan) -> SoakReport {
    soak(plan, &|_| {}, &AtomicBool::new(false))
}

#[test]
fn two_shards_add_up_to_the_whole() {
    let scenarios = scenarios::matching::<Reference>("sim/fault_");
    let whole = run(&SoakPlan::new(scenarios.clone(), 3, 7, 2));
    let halves: Vec<SoakReport> =
        (1..=2).map(|k| run(&SoakPlan { shard: Some((k, 2)), ..SoakPlan::new(scenarios.clone(), 3, 7, 2) })).collect();
    assert_eq!(halves[0].total_runs + halves[1].total_runs, whole.total_runs);
    assert!(halves.iter().all(|h| h.total_runs > 0 && h.complete));
    for (i, s) in whole.scenarios.iter().enumerate() {
        let (a, b) = (&halves[0].scenarios[i], &halves[1].scenarios[i]);
        assert_eq!(a.runs + b.runs, s.runs, "{}", s.name);
        // Events are deterministic per seed: the same runs give the same sum.
        let events = |x: &scenarios::soak::ScenarioSummary| (x.events_per_run * x.runs as f64).round();
        assert_eq!(events(a) + events(b), events(s), "{}: the shards ran exactly the whole's seeds", s.name);
    }
}

/// Virtual time barely moves: a run that would take minutes of wall time
/// before any limit stops it.
fn event_storm(run: &scenarios::Run) -> scenarios::Outcome {
    scenarios::runner::simulate::<sim::testing::EchoNode, _>(run, |h| async move {
        loop {
            h.sleep(1).await;
        }
    })
}

#[test]
fn a_run_stuck_in_an_event_storm_is_the_watchdogs_failure() {
    let storm = Scenario::new("sim/event_storm", event_storm);
    let plan =
        SoakPlan { watchdog: Some(std::time::Duration::from_millis(300)), ..SoakPlan::new(vec![storm], 4, 2, 2) };
    let report = run(&plan);
    assert_eq!((report.total_runs, report.total_failures), (2, 2));
    let failure = &report.failed_runs[0];
    assert!(failure.reason.starts_with("watchdog: the run took more than"), "{}", failure.reason);
    assert!(failure.reason.contains("stopped from outside at virtual"), "{}", failure.reason);
    assert!(failure.replay.ends_with("run sim/event_storm --seed 4"), "{}", failure.replay);
}

#[test]
fn a_stopped_soak_reports_what_it_ran() {
    let plan = SoakPlan::new(scenarios::matching::<Reference>("sim/"), 0, 1_000_000, 2);
    let report = soak(&plan, &|_| {}, &AtomicBool::new(true));
    assert!(!report.complete);
    assert_eq!(report.total_runs, 0);
    assert!(scenarios::soak::format_report(&report).contains("INCOMPLETE"));
}

fn fails_on_odd_seeds(run: &scenarios::Run) -> scenarios::Outcome {
    let seed = run.seed;
    scenarios::runner::simulate::<sim::testing::EchoNode, _>(run, move |_| async move {
        if seed % 2 == 1 {
            return Err(format!("odd seed <{seed}>"));
        }
        Ok(())
    })
}

#[test]
fn the_json_and_junit_reports_name_scenarios_and_failures() {
    let odd = Scenario::new("sim/odd", fails_on_odd_seeds);
    let report = run(&SoakPlan::new(vec![odd], 0, 4, 1));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["scenarios"][0]["name"], "sim/odd");
    assert_eq!((json["scenarios"][0]["runs"].as_u64(), json["scenarios"][0]["failures"].as_u64()), (Some(4), Some(2)));
    for key in ["cpu_ms_median", "cpu_ms_p99", "cpu_ms_max", "virtual_s_per_run", "virtual_per_cpu"] {
        assert!(json["scenarios"][0][key].is_number(), "{key}");
    }
    assert_eq!(json["failed_runs"][1]["seed"], 3);
    assert!(json["failed_runs"][1]["replay"].as_str().unwrap().contains("run sim/odd --seed 3"));
    let xml = junit_xml(&report);
    assert!(xml.contains("<testcase name=\"sim/odd\""), "{xml}");
    assert!(xml.contains("2 of 4 seeds failed") && xml.contains("odd seed &lt;3&gt;"), "{xml}");
    assert!(!xml.contains("incomplete"), "{xml}");
}

#[test]
fn a_stopped_soaks_junit_report_says_it_is_incomplete() {
    let odd = Scenario::new("sim/odd", fails_on_odd_seeds);
    let stopped = std::sync::atomic::AtomicBool::new(true);
    let report = soak(&SoakPlan::new(vec![odd], 0, 4, 1), &|_| {}, &stopped);
    assert!(!report.complete);
    let xml = junit_xml(&report);
    assert!(xml.contains("labsim soak (incomplete)") && xml.contains("stopped after 0 runs"), "{xml}");
    assert!(xml.contains("<error"), "an error case, not a pass: {xml}");
}
