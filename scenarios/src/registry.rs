//! The list of named scenarios.

use crate::runner::Outcome;
use sim::TraceMode;

/// One named lab test, runnable for any seed.
#[derive(Clone, Copy)]
pub struct Scenario {
    /// `<lab>/<test_name>`, lab one of sim, raft, kv, shardctrler, shardkv.
    pub name: &'static str,
    pub run: fn(seed: u64, trace: TraceMode) -> Outcome,
}

/// Every scenario, in a fixed order.
pub fn registry() -> Vec<Scenario> {
    let mut all = Vec::new();
    all.extend(crate::sim_scenarios::scenarios());
    all.extend(crate::raft_scenarios::scenarios());
    all.extend(crate::kv_scenarios::scenarios());
    all.extend(crate::shardctrler_scenarios::scenarios());
    all.extend(crate::shardkv_scenarios::scenarios());
    all
}

/// The scenario with exactly this name.
pub fn find(name: &str) -> Option<Scenario> {
    registry().into_iter().find(|s| s.name == name)
}

/// The scenarios whose name contains `filter` (all when it is empty).
pub fn matching(filter: &str) -> Vec<Scenario> {
    registry().into_iter().filter(|s| s.name.contains(filter)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

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
}
