//! How much of its workload a run's clients issue: all of it, or, when a
//! shrunk schedule says so (`sim::schedule::WorkloadCap`), only the first
//! few clients and only so many operations each. Only scenarios whose
//! checks read nothing but what the clients did (the swarms: a history
//! checked for linearizability, the Raft observer) honour a cap, and a
//! scenario that does says when the cap cut its workload, so a shrink knows
//! whether the cap changed anything.
//!
//! The cap is fixed for the whole run and read from this thread, as the
//! Raft optimisations are (`optimisations.rs`).

use sim::schedule::WorkloadCap;
use std::cell::Cell;

thread_local! {
    /// The cap of the simulation this thread runs.
    static CAP: Cell<WorkloadCap> = const { Cell::new(WorkloadCap { clients: None, operations: None }) };
    /// What the cap left out that the run would have had.
    static CUT: Cell<CapUse> = const { Cell::new(CapUse { honoured: false, clients_cut: false, operations_cut: false }) };
    /// Whether the run's scenario reads the cap at all.
    static READ: Cell<bool> = const { Cell::new(false) };
}

/// What a cap did in one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapUse {
    /// The scenario reads a cap (it is a swarm).
    pub honoured: bool,
    /// The cap left out clients the run would have had.
    pub clients_cut: bool,
    /// The cap left out operations the run would have had.
    pub operations_cut: bool,
}

/// Runs `f` with `cap` in effect, then puts back no cap (even when `f`
/// panics); returns what `f` did and what the cap did.
pub fn with<T>(cap: WorkloadCap, f: impl FnOnce() -> T) -> (T, CapUse) {
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            CAP.with(|c| c.set(WorkloadCap::default()));
        }
    }
    let _restore = Restore;
    CAP.with(|c| c.set(cap));
    CUT.with(|c| c.set(CapUse::default()));
    READ.with(|c| c.set(false));
    let result = f();
    let honoured = READ.with(|c| c.replace(false));
    (result, CapUse { honoured, ..CUT.with(|c| c.replace(CapUse::default())) })
}

/// The cap in effect, read by a scenario that honours it.
fn cap() -> WorkloadCap {
    READ.with(|c| c.set(true));
    CAP.with(Cell::get)
}

/// How many of the `drawn` clients a swarm runs.
pub fn clients(drawn: usize) -> usize {
    match cap().clients {
        Some(most) if (most as usize) < drawn => {
            CUT.with(|c| c.set(CapUse { clients_cut: true, ..c.get() }));
            most as usize
        }
        _ => drawn,
    }
}

/// Whether a swarm client that has issued `issued` operations issues
/// another (for Raft, the tester's commands offered so far).
pub fn may_issue(issued: u64) -> bool {
    match cap().operations {
        Some(most) if issued >= most => {
            CUT.with(|c| c.set(CapUse { operations_cut: true, ..c.get() }));
            false
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_limits_clients_and_operations_and_says_when_it_cut() {
        let none = CapUse { honoured: true, ..CapUse::default() };
        assert_eq!(with(WorkloadCap::default(), || (clients(7), may_issue(1_000_000))), ((7, true), none));
        let cap = WorkloadCap { clients: Some(2), operations: Some(5) };
        let fewer_clients = CapUse { clients_cut: true, ..none };
        assert_eq!(with(cap, || (clients(7), may_issue(4))), ((2, true), fewer_clients));
        let fewer_operations = CapUse { operations_cut: true, ..none };
        assert_eq!(with(cap, || (clients(1), may_issue(5))), ((1, false), fewer_operations));
        assert_eq!(with(cap, || 1), (1, CapUse::default()), "a scenario that reads no cap");
        assert_eq!(clients(7), 7, "no cap after the run");
    }
}
