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
    /// The layers of the project's code the implementation runs
    /// (`Implementation::CATALOGUE_LAYERS`).
    pub catalogue_layers: &'static [bugs::Layer],
    /// The optimisations the implementation honours
    /// (`Implementation::OPTIMISATIONS`).
    pub honoured: contract::Optimisations,
    /// Those it runs when a run names none
    /// (`Implementation::DEFAULT_OPTIMISATIONS`).
    pub default_optimisations: contract::Optimisations,
}

impl Scenario {
    /// A scenario with no name or body, to fill in (`..Scenario::BLANK`).
    pub const BLANK: Scenario = Scenario {
        name: "",
        run: |_| unreachable!("a blank scenario is never run"),
        implementation: "none",
        replay: "labsim",
        catalogue_layers: &[],
        honoured: contract::Optimisations::NONE,
        default_optimisations: contract::Optimisations::NONE,
    };

    /// A scenario outside any registry (tests of the lab itself): it names
    /// no implementation and replays with a bare `labsim`.
    pub fn new(name: &'static str, run: fn(run: &crate::runner::Run) -> Outcome) -> Scenario {
        Scenario { name, run, ..Scenario::BLANK }
    }
}

/// Every scenario, in a fixed order, on implementation `I` (compiled once
/// per implementation).
pub fn registry<I: Implementation>() -> Vec<Scenario> {
    let mut all = Vec::new();
    all.extend(crate::labs::sim::scenarios::scenarios());
    all.extend(crate::labs::raft::scenarios::scenarios::<I::Raft>());
    all.extend(crate::labs::kv::scenarios::scenarios::<I::Kv>());
    all.extend(crate::labs::shardctrler::scenarios::scenarios::<I::ShardKv>());
    all.extend(crate::labs::shardkv::scenarios::scenarios::<I::ShardKv>());
    for scenario in &mut all {
        scenario.implementation = I::NAME;
        scenario.replay = I::REPLAY;
        scenario.catalogue_layers = I::CATALOGUE_LAYERS;
        scenario.honoured = I::OPTIMISATIONS;
        scenario.default_optimisations = I::DEFAULT_OPTIMISATIONS;
    }
    all
}

/// The scenario of `I` with exactly this name.
pub fn find<I: Implementation>(name: &str) -> Option<Scenario> {
    registry::<I>().into_iter().find(|s| s.name == name)
}

/// The scenarios a filter names (all when it is empty): the scenario of
/// that exact name when there is one (`"raft/swarm"` is not also
/// `raft/swarm_snapshots`), else a glob over whole names when it has `*`,
/// `?` or `[` (`"kv/*partition*"`), else a prefix (`"raft/figure_8"`); a
/// bare lab name is that lab (`"kv"` is `kv/...`, not `shardkv/...`). A
/// glob that does not parse matches nothing (`filter_error` says why).
pub fn matching<I: Implementation>(filter: &str) -> Vec<Scenario> {
    let all = registry::<I>();
    if let Some(exact) = all.iter().find(|s| s.name == filter) {
        return vec![*exact];
    }
    let glob = filter.contains(['*', '?', '[']).then(|| glob::Pattern::new(filter).ok());
    let lab_prefix = format!("{filter}/");
    let matches = |name: &str| match &glob {
        Some(pattern) => pattern.as_ref().is_some_and(|p| p.matches(name)),
        None if filter.contains('/') || filter.is_empty() => name.starts_with(filter),
        None => name.starts_with(&lab_prefix),
    };
    all.into_iter().filter(|s| matches(s.name)).collect()
}

/// Why a filter is not one: a glob that does not parse, in one line.
pub fn filter_error(filter: &str) -> Option<String> {
    if !filter.contains(['*', '?', '[']) {
        return None;
    }
    glob::Pattern::new(filter).err().map(|e| format!("'{filter}' is not a glob: {e}"))
}

/// The layers of the reference a scenario runs (the bug catalogue's
/// layers): Raft under every Raft-backed lab, kv's replicated server under
/// kv, the controller and shardkv, and shardkv's own code under shardkv.
pub fn layers(scenario: &Scenario) -> &'static [bugs::Layer] {
    use bugs::Layer::{Kv, Raft, ShardKv};
    match scenario.name.split('/').next() {
        Some("raft") => &[Raft],
        Some("kv") | Some("shardctrler") => &[Raft, Kv],
        Some("shardkv") => &[Raft, Kv, ShardKv],
        _ => &[],
    }
}

/// A bug switched on that none of `scenarios` can make (a kv bug in a Raft
/// scenario, or a bug of code implementation `I` does not run): the runs
/// would test nothing of it. Says which, in one line.
pub fn unreached_bug<I: Implementation>(scenarios: &[Scenario], bugs: bugs::Bugs) -> Option<String> {
    if let Some(e) = uncarried_bug::<I>(bugs) {
        return Some(e);
    }
    let bug = bugs.iter().find(|bug| !scenarios.iter().any(|s| layers(s).contains(&bug.layer())))?;
    Some(format!(
        "{} is a {} bug, and none of the chosen scenarios runs {} code: the runs would switch on nothing",
        bug.name(),
        bug.layer().name(),
        bug.layer().name()
    ))
}

/// Whether implementation `I` runs the code bug `bug` lives in.
pub fn carries<I: Implementation>(bug: bugs::Bug) -> bool {
    I::CATALOGUE_LAYERS.contains(&bug.layer())
}

/// A bug switched on in code implementation `I` does not run, said in one
/// line.
pub fn uncarried_bug<I: Implementation>(bugs: bugs::Bugs) -> Option<String> {
    bugs.iter().find(|bug| !carries::<I>(*bug)).map(not_carried::<I>)
}

/// Why bug `bug` cannot be switched on in implementation `I`, in one line.
pub fn not_carried<I: Implementation>(bug: bugs::Bug) -> String {
    format!(
        "{} is a bug of the project's {} code, which {} does not run (its {} is its own): the runs would switch on \
         nothing",
        bug.name(),
        bug.layer().name(),
        I::NAME,
        bug.layer().name()
    )
}
