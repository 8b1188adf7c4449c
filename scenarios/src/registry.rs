//! The list of named scenarios.

use crate::runner::Outcome;
use crate::Implementation;

/// One named lab test of one implementation, runnable for any seed.
#[derive(Clone, Copy)]
pub struct Scenario {
    /// `<lab>/<test_name>`, lab one of sim, raft, kv, shardctrler, shardkv.
    pub name: &'static str,
    pub run: fn(run: &crate::runner::Run) -> Outcome,
    /// The implementation it runs (`Implementation::NAME`).
    pub implementation: &'static str,
    /// The command that replays it (`Implementation::REPLAY`).
    pub replay: &'static str,
}

impl Scenario {
    /// A scenario outside any registry (tests of the lab itself): it names
    /// no implementation and replays with a bare `labsim`.
    pub fn new(name: &'static str, run: fn(run: &crate::runner::Run) -> Outcome) -> Scenario {
        Scenario { name, run, implementation: "none", replay: "labsim" }
    }
}

/// Every scenario, in a fixed order, on implementation `I` (compiled once
/// per implementation).
pub fn registry<I: Implementation>() -> Vec<Scenario> {
    let mut all = Vec::new();
    all.extend(crate::labs::sim::scenarios::scenarios());
    all.extend(crate::labs::raft::scenarios::scenarios::<I::Raft>());
    all.extend(crate::labs::kv::scenarios::scenarios::<I::Raft>());
    all.extend(crate::labs::shardctrler::scenarios::scenarios::<I::Raft>());
    all.extend(crate::labs::shardkv::scenarios::scenarios::<I::Raft>());
    for scenario in &mut all {
        scenario.implementation = I::NAME;
        scenario.replay = I::REPLAY;
    }
    all
}

/// The scenario of `I` with exactly this name.
pub fn find<I: Implementation>(name: &str) -> Option<Scenario> {
    registry::<I>().into_iter().find(|s| s.name == name)
}

/// The scenarios a filter names (all when it is empty): a glob over whole
/// names when it has `*`, `?` or `[` (`"kv/*partition*"`), else a prefix
/// (`"raft/figure_8"`); a bare lab name is that lab (`"kv"` is `kv/...`,
/// not `shardkv/...`). A glob that does not parse matches nothing.
pub fn matching<I: Implementation>(filter: &str) -> Vec<Scenario> {
    let glob = filter.contains(['*', '?', '[']).then(|| glob::Pattern::new(filter).ok());
    let lab_prefix = format!("{filter}/");
    let matches = |name: &str| match &glob {
        Some(pattern) => pattern.as_ref().is_some_and(|p| p.matches(name)),
        None if filter.contains('/') || filter.is_empty() => name.starts_with(filter),
        None => name.starts_with(&lab_prefix),
    };
    registry::<I>().into_iter().filter(|s| matches(s.name)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::{NoView, PeerConfig, Persisted, RaftIo};
    use std::collections::BTreeSet;

    /// A stand-in implementation: the registry only lists, never runs.
    struct Toy;

    impl contract::Raft for Toy {
        type Request = ();
        type Response = ();
        type View = NoView;
        fn start(_: PeerConfig, _: Persisted<'_>, _: &mut impl RaftIo<()>) -> Result<Toy, String> {
            Ok(Toy)
        }
        fn state(&self) -> (u64, bool) {
            (0, false)
        }
        fn start_command(&mut self, _: &mut impl RaftIo<()>, _: Vec<u8>) -> Option<(u64, u64)> {
            None
        }
        fn snapshot(&mut self, _: &mut impl RaftIo<()>, _: u64, _: Vec<u8>) {}
        fn handle_request(&mut self, _: &mut impl RaftIo<()>, _: usize, _: ()) {}
        fn handle_response(&mut self, _: &mut impl RaftIo<()>, _: usize, _: ()) {}
        fn on_timer(&mut self, _: &mut impl RaftIo<()>, _: u64) {}
    }

    impl Implementation for Toy {
        const NAME: &'static str = "toy";
        const REPLAY: &'static str = "toy-labsim";
        type Raft = Toy;
    }

    fn registry() -> Vec<Scenario> {
        super::registry::<Toy>()
    }

    fn matching(filter: &str) -> Vec<Scenario> {
        super::matching::<Toy>(filter)
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
