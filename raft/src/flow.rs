//! Flow control of a leader's AppendEntries to one follower: the window of
//! AppendEntries carrying entries that are in flight (sent, not yet
//! answered), so that a slow follower is not flooded.
//!
//! The leader notes each AppendEntries with entries it pipelines to a
//! follower whose log matches (by the last index it carries), frees every
//! one at or below the index an answer says matches, and sends no more
//! entries while the window is full. A lost AppendEntries or answer must
//! not keep the window full for ever: the leader's heartbeats go at the
//! last index sent, so the follower's answer (a match there, or a
//! rejection that sends the leader back to probing, which clears the
//! window) frees it (etcd-io/etcd#2544 met the same hazard).

use std::collections::VecDeque;

/// The AppendEntries in flight to one follower.
#[derive(Clone, Debug)]
pub struct Window {
    /// The most AppendEntries with entries in flight at once.
    limit: usize,
    /// The last index each one in flight carries, oldest first (strictly
    /// increasing: each carries entries after the last one's).
    last_indexes: VecDeque<u64>,
}

impl Window {
    /// An empty window of at most `limit` AppendEntries.
    pub fn new(limit: usize) -> Window {
        assert!(limit >= 1, "a window holds at least one AppendEntries, or nothing is ever sent");
        Window { limit, last_indexes: VecDeque::with_capacity(limit.min(16)) }
    }

    /// Whether no more entries may go until an answer frees a place.
    pub fn is_full(&self) -> bool {
        self.last_indexes.len() >= self.limit
    }

    /// How many AppendEntries are in flight.
    pub fn len(&self) -> usize {
        self.last_indexes.len()
    }

    /// Whether none is in flight.
    pub fn is_empty(&self) -> bool {
        self.last_indexes.is_empty()
    }

    /// An AppendEntries carrying entries through `last_index` was sent.
    pub fn sent(&mut self, last_index: u64) {
        assert!(!self.is_full(), "an AppendEntries sent with the window full ({} in flight)", self.len());
        assert!(
            self.last_indexes.back().is_none_or(|&back| back < last_index),
            "pipelined AppendEntries carry later entries each (last {:?}, now {last_index})",
            self.last_indexes.back()
        );
        self.last_indexes.push_back(last_index);
    }

    /// The follower matches through `match_index`: every AppendEntries
    /// carrying nothing beyond it has arrived.
    pub fn answered(&mut self, match_index: u64) {
        while self.last_indexes.front().is_some_and(|&front| front <= match_index) {
            self.last_indexes.pop_front();
        }
    }

    /// Forget what is in flight (the leader probes the follower again, or
    /// starts to lead).
    pub fn clear(&mut self) {
        self.last_indexes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_free_every_append_at_or_below_the_match() {
        let mut w = Window::new(3);
        w.sent(4);
        w.sent(6);
        assert!(!w.is_full());
        w.sent(9);
        assert!(w.is_full());
        w.answered(5);
        assert_eq!(w.len(), 2);
        w.answered(3); // a late answer frees nothing more
        assert_eq!(w.len(), 2);
        w.answered(9);
        assert!(w.is_empty());
    }

    #[test]
    #[should_panic(expected = "window full")]
    fn a_full_window_takes_no_more() {
        let mut w = Window::new(1);
        w.sent(1);
        w.sent(2);
    }
}
