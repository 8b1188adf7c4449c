//! A peer's own asynchronous writes (asynchronous persistence): the tickets
//! it handed the host, and the last index and term each made durable, so a
//! leader counts itself toward a commit only through what is on disk.

use std::collections::VecDeque;

/// The asynchronous writes not yet reported durable, oldest first.
#[derive(Debug, Default)]
pub struct OwnWrites {
    last_ticket: u64,
    /// (ticket, the log's last index, the term) of each write.
    pending: VecDeque<(u64, u64, u64)>,
}

impl OwnWrites {
    /// A write that leaves the log ending at `last_index` in `term`: its
    /// ticket (tickets grow).
    pub fn write(&mut self, last_index: u64, term: u64) -> u64 {
        self.last_ticket += 1;
        self.pending.push_back((self.last_ticket, last_index, term));
        self.last_ticket
    }

    /// The writes through `ticket` are durable: the last index and term
    /// the newest of them left (`None` if they were reported already).
    pub fn durable(&mut self, ticket: u64) -> Option<(u64, u64)> {
        assert!(ticket <= self.last_ticket, "ticket {ticket} was never handed out (last {})", self.last_ticket);
        let mut newest = None;
        while let Some(&(t, index, term)) = self.pending.front() {
            if t > ticket {
                break;
            }
            newest = Some((index, term));
            self.pending.pop_front();
        }
        newest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_reports_every_write_through_it_once() {
        let mut writes = OwnWrites::default();
        let (a, b, c) = (writes.write(5, 2), writes.write(6, 2), writes.write(9, 2));
        assert!(a < b && b < c);
        assert_eq!(writes.durable(b), Some((6, 2)), "a and b, reported as b");
        assert_eq!(writes.durable(b), None, "only once");
        assert_eq!(writes.durable(c), Some((9, 2)));
    }
}
