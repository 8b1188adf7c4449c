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
    /// Whether the cap left out clients or operations the run would have had.
    static CUT: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with `cap` in effect, then puts back no cap (even when `f`
/// panics); returns what `f` did and whether the cap cut the workload.
pub fn with<T>(cap: WorkloadCap, f: impl FnOnce() -> T) -> (T, bool) {
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            CAP.with(|c| c.set(WorkloadCap::default()));
        }
    }
    let _restore = Restore;
    CAP.with(|c| c.set(cap));
    CUT.with(|c| c.set(false));
    let result = f();
    (result, CUT.with(|c| c.replace(false)))
}

/// How many of the `drawn` clients a swarm runs.
pub fn clients(drawn: usize) -> usize {
    match CAP.with(Cell::get).clients {
        Some(most) if (most as usize) < drawn => {
            CUT.with(|c| c.set(true));
            most as usize
        }
        _ => drawn,
    }
}

/// Whether a swarm client that has issued `issued` operations issues
/// another (for Raft, the tester's commands offered so far).
pub fn may_issue(issued: u64) -> bool {
    match CAP.with(Cell::get).operations {
        Some(most) if issued >= most => {
            CUT.with(|c| c.set(true));
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
        assert_eq!(with(WorkloadCap::default(), || (clients(7), may_issue(1_000_000))), ((7, true), false));
        let cap = WorkloadCap { clients: Some(2), operations: Some(5) };
        assert_eq!(with(cap, || (clients(7), may_issue(4))), ((2, true), true));
        assert_eq!(with(cap, || (clients(1), may_issue(5))), ((1, false), true));
        assert_eq!(clients(7), 7, "no cap after the run");
    }
}
