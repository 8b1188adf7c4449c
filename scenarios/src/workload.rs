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
    /// What the run's scenario read of the cap, and what the cap left out.
    static USE: Cell<CapUse> = const { Cell::new(CapUse::NONE) };
}

/// What a cap did in one run, on each of its two axes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapUse {
    /// The scenario reads a cap on clients (kv and shardkv swarms).
    pub reads_clients: bool,
    /// The scenario reads a cap on operations (every swarm).
    pub reads_operations: bool,
    /// The cap left out clients the run would have had.
    pub clients_cut: bool,
    /// The cap left out operations the run would have had.
    pub operations_cut: bool,
}

impl CapUse {
    /// A run that reads no cap.
    pub const NONE: CapUse =
        CapUse { reads_clients: false, reads_operations: false, clients_cut: false, operations_cut: false };
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
    USE.with(|u| u.set(CapUse::NONE));
    let result = f();
    (result, USE.with(|u| u.replace(CapUse::NONE)))
}

/// Notes what the scenario read or the cap left out.
fn note(change: impl FnOnce(&mut CapUse)) {
    USE.with(|u| {
        let mut used = u.get();
        change(&mut used);
        u.set(used);
    });
}

/// How many of the `drawn` clients a swarm runs.
pub fn clients(drawn: usize) -> usize {
    note(|u| u.reads_clients = true);
    match CAP.with(Cell::get).clients {
        Some(most) if (most as usize) < drawn => {
            note(|u| u.clients_cut = true);
            most as usize
        }
        _ => drawn,
    }
}

/// Whether a swarm client that has issued `issued` operations issues
/// another (for Raft, the tester's commands offered so far in all).
pub fn may_issue(issued: u64) -> bool {
    note(|u| u.reads_operations = true);
    match CAP.with(Cell::get).operations {
        Some(most) if issued >= most => {
            note(|u| u.operations_cut = true);
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
        let none = CapUse { reads_clients: true, reads_operations: true, ..CapUse::NONE };
        assert_eq!(with(WorkloadCap::default(), || (clients(7), may_issue(1_000_000))), ((7, true), none));
        let cap = WorkloadCap { clients: Some(2), operations: Some(5) };
        let fewer_clients = CapUse { clients_cut: true, ..none };
        assert_eq!(with(cap, || (clients(7), may_issue(4))), ((2, true), fewer_clients));
        let fewer_operations = CapUse { operations_cut: true, ..none };
        assert_eq!(with(cap, || (clients(1), may_issue(5))), ((1, false), fewer_operations));
        assert_eq!(with(cap, || 1), (1, CapUse::NONE), "a scenario that reads no cap");
        let raft = CapUse { reads_operations: true, operations_cut: true, ..CapUse::NONE };
        assert_eq!(with(cap, || may_issue(9)), (false, raft), "a Raft swarm reads only operations");
        assert_eq!(clients(7), 7, "no cap after the run");
    }
}
