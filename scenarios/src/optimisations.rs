//! Which of Raft's optimisations (`contract::Optimisations`) a run switches
//! on, and how every peer the run starts learns it.
//!
//! A run either names its set (`labsim run --with pre_vote`, exactly; or
//! `--with default,pre_vote`, the default changed) or takes its
//! implementation's default; a swarm run with no set named draws one from
//! its seed. The set in effect is fixed for the whole run and read by the
//! hosts each time they start a peer (`PeerConfig::optimisations`), so a
//! run still replays from its seed and its named set.

use contract::{AskedOptimisations, Optimisation, Optimisations};
use std::cell::Cell;

thread_local! {
    /// The set in effect for the simulation this thread runs.
    static IN_EFFECT: Cell<Optimisations> = const { Cell::new(Optimisations::NONE) };
}

/// The set in effect for the run on this thread.
pub fn in_effect() -> Optimisations {
    IN_EFFECT.with(Cell::get)
}

/// Runs `f` with `set` in effect, then puts back what was (even when `f`
/// panics).
pub fn with<T>(set: Optimisations, f: impl FnOnce() -> T) -> T {
    struct Restore(Optimisations);
    impl Drop for Restore {
        fn drop(&mut self) {
            IN_EFFECT.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(IN_EFFECT.with(|s| s.replace(set)));
    f()
}

/// A set drawn from `seed`: each optimisation of `honoured` on with
/// probability 1/2, except batching, which stays as in `default` (a swarm
/// run's draw; it takes nothing from the run's random stream, so the rest
/// of the run draws as it would without it).
///
/// Batching is not drawn because the lab cannot pass without it: one entry
/// per AppendEntries cannot catch a follower up within the lab's bounds
/// (`raft/figure_8_unreliable_2c` failed 98 seeds in 100 without batching
/// or pipelining, and `shardkv/swarm` 33 in 500 when its draw switched both
/// off). A swarm run must fail only for a bug.
pub fn draw(seed: u64, honoured: Optimisations, default: Optimisations) -> Optimisations {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x6f70_7469_6d69_7365);
    let drawn = honoured.iter().filter(|_| rng.random_bool(0.5)).fold(Optimisations::NONE, Optimisations::with);
    let batching = Optimisation::Batching;
    if default.contains(batching) && honoured.contains(batching) {
        drawn.with(batching)
    } else {
        drawn.without(batching)
    }
}

/// Why the optimisations `asked` names cannot be switched on (or off) for
/// an implementation that honours only `honoured`, in one line (`None`:
/// they can).
pub fn unhonoured(asked: AskedOptimisations, honoured: Optimisations, implementation: &str) -> Option<String> {
    let missing: Vec<&str> = asked.named().iter().filter(|o| !honoured.contains(*o)).map(Optimisation::name).collect();
    (!missing.is_empty()).then(|| {
        format!(
            "{implementation} does not honour {} (it honours: {honoured}): the runs would test it as it is",
            missing.join(", ")
        )
    })
}

/// A bug switched on whose code runs only with optimisations the runs will
/// not have (`in_effect`), said in one line: the runs would switch on
/// nothing.
pub fn inert_bug(bugs: bugs::Bugs, in_effect: Optimisations) -> Option<String> {
    bugs.iter().find_map(|bug| {
        let needs = crate::hunt::needs(bug);
        let one_of = crate::hunt::named(bug.needs_one_of());
        let none_of = !one_of.is_empty() && one_of.iter().all(|o| !in_effect.contains(o));
        let wanted = if none_of { format!("one of {one_of}") } else { format!("--with default,{needs}") };
        (!needs.is_subset(in_effect) || none_of).then(|| {
            format!("{} lives in code that runs only with {wanted}: the runs would switch on nothing", bug.name())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_cover_every_subset_and_only_the_honoured() {
        let honoured = Optimisations::of(Optimisation::ALL);
        let none = Optimisations::NONE;
        let drawn: std::collections::BTreeSet<String> =
            (0..2048).map(|s| draw(s, honoured, none).to_string()).collect();
        assert_eq!(drawn.len(), honoured.without(Optimisation::Batching).subsets().len(), "{drawn:?}");
        assert!((0..64).all(|s| draw(s, none, none).is_empty()));
        let batching = Optimisations::of(&[Optimisation::Batching]);
        assert!((0..64).all(|s| draw(s, honoured, batching).contains(Optimisation::Batching)));
    }

    #[test]
    fn an_unhonoured_optimisation_is_named() {
        let pre_vote = Optimisations::of(&[Optimisation::PreVote]);
        assert_eq!(unhonoured(AskedOptimisations::exactly(pre_vote), pre_vote, "x"), None);
        let e = unhonoured(AskedOptimisations::exactly(pre_vote), Optimisations::NONE, "textbook").unwrap();
        assert!(e.contains("textbook does not honour pre_vote"), "{e}");
        let off = AskedOptimisations::parse("default,-batching").unwrap();
        let e = unhonoured(off, pre_vote, "textbook").unwrap();
        assert!(e.contains("does not honour batching"), "{e}");
    }
}
