//! Which server of a set (the controllers, or a group's servers) a shardkv
//! leader calls next: the one that answered last. A "not me" answer (not the
//! leader, timed out, not there yet) moves on at once; calls that fail in
//! the network move on only after two in a row, since on an unreliable
//! network the leader itself often fails a call (moving on then costs a
//! whole round of the others).

/// How many calls in a row may fail on one server before moving on.
pub const FAILED_CALLS_BEFORE_MOVING_ON: u32 = 2;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pick {
    /// The server to call next (an index; taken modulo the set's size).
    next: usize,
    failed_calls: u32,
}

impl Pick {
    /// The server to call, in a set of `servers`.
    pub fn next(&self, servers: usize) -> usize {
        assert!(servers > 0, "a set of servers to pick from");
        self.next % servers
    }

    /// `called` answered.
    pub fn answered(&mut self, called: usize) {
        if self.next == called {
            self.failed_calls = 0;
        }
    }

    /// `called` said "not me": move on (once, however many calls said so).
    pub fn not_me(&mut self, called: usize) {
        if self.next == called {
            self.next = called + 1;
            self.failed_calls = 0;
        }
    }

    /// A call to `called` failed in the network.
    pub fn failed(&mut self, called: usize) {
        if self.next == called {
            self.failed_calls += 1;
            if self.failed_calls >= FAILED_CALLS_BEFORE_MOVING_ON {
                self.not_me(called);
            }
        }
    }

    /// The raw index to record with a call (so that answers to calls made
    /// before a move do not move it again).
    pub fn current(&self) -> usize {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_on_at_once_when_told_and_after_two_failures_otherwise() {
        let mut p = Pick::default();
        assert_eq!(p.next(3), 0);
        p.failed(0);
        assert_eq!(p.next(3), 0, "one failed call may be the network's");
        p.answered(0);
        p.failed(0);
        assert_eq!(p.next(3), 0, "an answer in between resets the count");
        p.failed(0);
        assert_eq!(p.next(3), 1, "two in a row: it may be down");
        p.not_me(1);
        assert_eq!(p.next(3), 2);
        // Answers to calls made to a server already moved past change nothing.
        p.not_me(1);
        p.failed(0);
        assert_eq!(p.next(3), 2);
        p.not_me(p.current());
        assert_eq!(p.next(3), 0, "round the set");
    }
}
