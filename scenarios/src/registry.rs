//! The list of named scenarios.

use crate::runner::Outcome;

/// One named lab test, runnable for any seed.
#[derive(Clone, Copy)]
pub struct Scenario {
    /// `<lab>/<test_name>`, lab one of sim, raft, kv, shardctrler, shardkv.
    pub name: &'static str,
    pub run: fn(run: &crate::runner::Run) -> Outcome,
}

/// Every scenario, in a fixed order, on the reference implementation.
pub fn registry() -> Vec<Scenario> {
    registry_for::<raft::RaftPeer>()
}

/// Every scenario, in a fixed order, with `R` as the Raft of every lab
/// that runs one (compiled once per implementation).
pub fn registry_for<R: contract::Raft>() -> Vec<Scenario> {
    let mut all = Vec::new();
    all.extend(crate::sim_scenarios::scenarios());
    all.extend(crate::raft_scenarios::scenarios::<R>());
    all.extend(crate::kv_scenarios::scenarios::<R>());
    all.extend(crate::shardctrler_scenarios::scenarios::<R>());
    all.extend(crate::shardkv_scenarios::scenarios::<R>());
    all
}

/// The scenario with exactly this name.
pub fn find(name: &str) -> Option<Scenario> {
    registry().into_iter().find(|s| s.name == name)
}

/// The scenarios a filter names (all when it is empty): a glob over whole
/// names when it has `*`, `?` or `[` (`"kv/*partition*"`), else a prefix
/// (`"raft/figure_8"`); a bare lab name is that lab (`"kv"` is `kv/...`,
/// not `shardkv/...`). A glob that does not parse matches nothing.
pub fn matching(filter: &str) -> Vec<Scenario> {
    let glob = filter.contains(['*', '?', '[']).then(|| glob::Pattern::new(filter).ok());
    let lab_prefix = format!("{filter}/");
    let matches = |name: &str| match &glob {
        Some(pattern) => pattern.as_ref().is_some_and(|p| p.matches(name)),
        None if filter.contains('/') || filter.is_empty() => name.starts_with(filter),
        None => name.starts_with(&lab_prefix),
    };
    registry().into_iter().filter(|s| matches(s.name)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

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
}
