//! The registry's names and filters, on the reference implementation.

use reference::Reference;
use scenarios::Scenario;
use std::collections::BTreeSet;

fn registry() -> Vec<Scenario> {
    scenarios::registry::<Reference>()
}

fn matching(filter: &str) -> Vec<Scenario> {
    scenarios::matching::<Reference>(filter)
}

fn names(filter: &str) -> Vec<&'static str> {
    matching(filter).iter().map(|s| s.name).collect()
}

#[test]
fn filters_are_lab_names_prefixes_or_globs() {
    let kv = names("kv");
    assert!(!kv.is_empty() && kv.iter().all(|n| n.starts_with("kv/")), "{kv:?}");
    assert_eq!(names("kv/"), kv);
    assert!(names("shardkv").iter().all(|n| n.starts_with("shardkv/")));
    assert_eq!(names("raft/figure_8_"), ["raft/figure_8_2c", "raft/figure_8_unreliable_2c", "raft/figure_8_chaos"]);
    assert_eq!(names("*figure_8_unreliable*"), ["raft/figure_8_unreliable_2c"]);
    assert!(names("*kv/concurrent*").iter().any(|n| n.starts_with("shardkv/")));
    assert!(names("ra").is_empty(), "a partial lab name is not a prefix of lab/");
    assert!(names("[").is_empty(), "a bad glob matches nothing");
    assert!(scenarios::registry::filter_error("raft/[").is_some_and(|e| e.contains("not a glob")));
    assert!(scenarios::registry::filter_error("raft/swarm").is_none());
    assert_eq!(names("raft/swarm"), ["raft/swarm"], "an exact name is that scenario alone");
    assert_eq!(names("raft/swarm_"), ["raft/swarm_snapshots"]);
    assert_eq!(names("").len(), registry().len());
}

#[test]
fn names_are_unique_and_well_formed() {
    let all = registry();
    let names: BTreeSet<_> = all.iter().map(|s| s.name).collect();
    assert_eq!(names.len(), all.len(), "duplicate scenario names");
    for name in names {
        let (lab, test) = name.split_once('/').expect("name is lab/test");
        assert!(["sim", "raft", "kv", "shardctrler", "shardkv"].contains(&lab), "{name}");
        assert!(!test.is_empty() && test.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{name}");
    }
}

/// `labsim list` describes every scenario (its Go test and what it does),
/// and describes nothing that is not a scenario.
#[test]
fn every_scenario_and_only_scenarios_are_described() {
    let registered: BTreeSet<&str> = registry().iter().map(|s| s.name).collect();
    let described: BTreeSet<&str> = scenarios::about::described().collect();
    assert_eq!(registered, described);
    assert_eq!(scenarios::about::about("raft/count_2b").map(|(go, _)| go), Some("TestCount2B"));
}
