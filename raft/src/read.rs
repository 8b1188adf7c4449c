//! Reads without the log (the Raft thesis, 6.4): a leader confirms that it
//! still leads with a round of `Confirm` messages, numbered so that each
//! answer says which round it answers, and serves the reads waiting on a
//! round once a majority (itself included) has answered it or a later one.
//! The round a majority answered also dates the leader's lease: it began
//! when that round was sent.

use std::collections::VecDeque;

/// One leadership's confirmation rounds and the reads waiting on them.
#[derive(Debug)]
pub struct Rounds {
    /// The last round this incarnation started (rounds only grow, across
    /// leaderships too, so an answer from an older leadership's round is
    /// never taken for a newer one's: the term tells those apart anyway).
    started: u64,
    /// The highest round each peer answered in this leadership.
    answered: Vec<u64>,
    /// The highest round a majority answered in this leadership.
    confirmed: u64,
    /// Rounds sent and not yet confirmed: (round, clock when sent).
    sent: VecDeque<(u64, u64)>,
    /// Reads waiting for a round: (the service's id, the round).
    waiting: VecDeque<(u64, u64)>,
}

impl Rounds {
    pub fn new(peers: usize) -> Rounds {
        Rounds { started: 0, answered: vec![0; peers], confirmed: 0, sent: VecDeque::new(), waiting: VecDeque::new() }
    }

    /// A new leadership: nothing is confirmed, nothing waits (the reads of
    /// a lost leadership are never served; their clients time out).
    pub fn reset(&mut self) {
        self.answered.fill(0);
        self.confirmed = self.started;
        self.sent.clear();
        self.waiting.clear();
    }

    /// Starts a round sent at `now_ms` by peer `me`, which answers it at
    /// once; returns its number.
    pub fn start(&mut self, me: usize, now_ms: u64) -> u64 {
        self.started += 1;
        self.answered[me] = self.started;
        self.sent.push_back((self.started, now_ms));
        self.started
    }

    /// Read `id` waits for `round`.
    pub fn wait(&mut self, id: u64, round: u64) {
        debug_assert!(round > self.confirmed, "a read waits only for a round not yet confirmed");
        self.waiting.push_back((id, round));
    }

    /// Peer `from` answered `round`. Returns when the newly confirmed
    /// round was sent, if this answer confirmed one.
    pub fn answered(&mut self, from: usize, round: u64) -> Option<u64> {
        if round <= self.answered[from] {
            return None; // a duplicate, or an answer overtaken by a later one
        }
        self.answered[from] = round;
        let mut rounds = [0u64; crate::node::MAX_PEERS];
        let rounds = &mut rounds[..self.answered.len()];
        rounds.copy_from_slice(&self.answered);
        rounds.sort_unstable_by(|a, b| b.cmp(a));
        let majority_round = rounds[rounds.len() / 2];
        if majority_round <= self.confirmed {
            return None;
        }
        self.confirmed = majority_round;
        let mut sent_ms = None;
        while let Some(&(round, at_ms)) = self.sent.front() {
            if round > majority_round {
                break;
            }
            self.sent.pop_front();
            if round == majority_round {
                sent_ms = Some(at_ms);
            }
        }
        assert!(sent_ms.is_some(), "a confirmed round of this leadership was sent in it");
        sent_ms
    }

    /// The reads whose rounds are confirmed, in the order they came.
    pub fn take_ready(&mut self) -> impl Iterator<Item = u64> + '_ {
        let confirmed = self.confirmed;
        let ready = self.waiting.iter().take_while(|(_, round)| *round <= confirmed).count();
        self.waiting.drain(..ready).map(|(id, _)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_is_confirmed_by_a_majority_and_dates_the_lease_from_its_sending() {
        let mut rounds = Rounds::new(5);
        let first = rounds.start(0, 100);
        rounds.wait(7, first);
        let second = rounds.start(0, 150);
        rounds.wait(8, second);
        assert_eq!(rounds.answered(1, second), None, "two of five");
        assert_eq!(rounds.take_ready().count(), 0);
        assert_eq!(rounds.answered(1, first), None, "an older answer from the same peer adds nothing");
        assert_eq!(rounds.answered(2, first), Some(100), "three answered the first round or a later one");
        assert_eq!(rounds.take_ready().collect::<Vec<_>>(), [7]);
        assert_eq!(rounds.answered(3, second), Some(150));
        assert_eq!(rounds.take_ready().collect::<Vec<_>>(), [8]);
        assert_eq!(rounds.answered(3, second), None, "a duplicate");
    }

    #[test]
    fn a_new_leadership_forgets_the_reads_and_answers_of_the_last() {
        let mut rounds = Rounds::new(3);
        let old = rounds.start(0, 10);
        rounds.wait(1, old);
        rounds.reset();
        assert_eq!(rounds.answered(1, old), None, "an old round is not confirmed again");
        assert_eq!(rounds.take_ready().count(), 0, "the old read is dropped");
        let new = rounds.start(0, 20);
        rounds.wait(2, new);
        assert_eq!(rounds.answered(2, new), Some(20));
        assert_eq!(rounds.take_ready().collect::<Vec<_>>(), [2]);
    }
}
