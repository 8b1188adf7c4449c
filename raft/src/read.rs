//! Reads without the log (the Raft thesis, 6.4): a leader confirms that it
//! still leads with a round of `Confirm` messages, numbered so that each
//! answer says which round it answers, and serves the reads waiting on a
//! round once a majority (itself included) has answered it or a later one.
//! The round a majority answered also dates the leader's lease: it began
//! when that round was sent. A read may be the leader's own, or a
//! follower's (follower reads), which the leader answers with its read
//! index once the round is confirmed.

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
    /// Reads waiting for a round: (the read, the round).
    waiting: VecDeque<(Reader, u64)>,
}

/// Whose read waits for a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// The leader's service's read `id`.
    Local { id: u64 },
    /// Follower `peer`'s read number `read`, at the leader's commit index
    /// `index` when it asked.
    Follower { peer: usize, read: u64, index: u64 },
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

    /// `reader` waits for `round`.
    pub fn wait(&mut self, reader: Reader, round: u64) {
        debug_assert!(round > self.confirmed, "a read waits only for a round not yet confirmed");
        self.waiting.push_back((reader, round));
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

    /// Whether any read waits for a round (a lost round is retried by the
    /// next one, which confirms every read before it).
    pub fn any_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// The reads whose rounds are confirmed, in the order they came.
    pub fn take_ready(&mut self) -> impl Iterator<Item = Reader> + '_ {
        let confirmed = self.confirmed;
        let ready = self.waiting.iter().take_while(|(_, round)| *round <= confirmed).count();
        self.waiting.drain(..ready).map(|(reader, _)| reader)
    }
}

/// A follower's reads (follower reads): asked of its leader, then waiting
/// until the follower has applied the read index the leader sent.
#[derive(Debug, Default)]
pub struct FollowerReads {
    /// The number of the last read asked. Numbers start at a base of this
    /// incarnation's own (`new`), so an answer to a read asked before a
    /// restart, arriving after it in the same term, matches no read of the
    /// new incarnation: it would serve a new read at an index confirmed
    /// before the read was asked.
    asked_last: u64,
    /// Asked and not yet answered: (read number, the service's id, when
    /// last asked).
    asked: Vec<(u64, u64, u64)>,
    /// Answered, waiting to apply through the index: (index, id).
    applying: Vec<(u64, u64)>,
}

impl FollowerReads {
    /// No read yet, numbering from the top 32 bits of `incarnation_seed`
    /// (two incarnations share a base once in 2^32).
    pub fn new(incarnation_seed: u64) -> FollowerReads {
        FollowerReads { asked_last: incarnation_seed & !0xffff_ffff, ..FollowerReads::default() }
    }

    /// Read `id` is asked of the leader at `now_ms`; returns its number.
    pub fn ask(&mut self, id: u64, now_ms: u64) -> u64 {
        self.asked_last += 1;
        self.asked.push((self.asked_last, id, now_ms));
        self.asked_last
    }

    /// The reads asked at least `after_ms` ago and not answered (the
    /// question or its answer was lost): asked again now.
    pub fn ask_again(&mut self, now_ms: u64, after_ms: u64) -> Vec<u64> {
        let mut again = Vec::new();
        for (read, _, asked_ms) in &mut self.asked {
            if now_ms >= *asked_ms + after_ms {
                *asked_ms = now_ms;
                again.push(*read);
            }
        }
        again
    }

    /// The leader did not take read `read` (it could not confirm it yet:
    /// no entry of its term committed): it is dropped; returns its id, if
    /// it was still asked.
    pub fn refused(&mut self, read: u64) -> Option<u64> {
        let k = self.asked.iter().position(|(r, _, _)| *r == read)?;
        Some(self.asked.swap_remove(k).1)
    }

    /// The leader confirmed read `read` at `index`; it now waits to apply
    /// (a second answer to the same read finds nothing).
    pub fn ready(&mut self, read: u64, index: u64) {
        if let Some(k) = self.asked.iter().position(|(r, _, _)| *r == read) {
            let (_, id, _) = self.asked.swap_remove(k);
            self.applying.push((index, id));
        }
    }

    /// The reads whose index is applied (all of them, with `ignore_index`).
    pub fn take_applied(&mut self, applied: u64, ignore_index: bool) -> Vec<u64> {
        let mut served = Vec::new();
        self.applying.retain(|&(index, id)| {
            let due = index <= applied || ignore_index;
            if due {
                served.push(id);
            }
            !due
        });
        served
    }

    /// Whether any read waits to apply.
    pub fn applying(&self) -> bool {
        !self.applying.is_empty()
    }

    /// A new term: the reads asked of the last leader are dropped.
    pub fn clear(&mut self) {
        self.asked.clear();
        self.applying.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(id: u64) -> Reader {
        Reader::Local { id }
    }

    #[test]
    fn a_round_is_confirmed_by_a_majority_and_dates_the_lease_from_its_sending() {
        let mut rounds = Rounds::new(5);
        let first = rounds.start(0, 100);
        rounds.wait(local(7), first);
        let second = rounds.start(0, 150);
        rounds.wait(local(8), second);
        assert_eq!(rounds.answered(1, second), None, "two of five");
        assert_eq!(rounds.take_ready().count(), 0);
        assert_eq!(rounds.answered(1, first), None, "an older answer from the same peer adds nothing");
        assert_eq!(rounds.answered(2, first), Some(100), "three answered the first round or a later one");
        assert_eq!(rounds.take_ready().collect::<Vec<_>>(), [local(7)]);
        assert_eq!(rounds.answered(3, second), Some(150));
        assert_eq!(rounds.take_ready().collect::<Vec<_>>(), [local(8)]);
        assert_eq!(rounds.answered(3, second), None, "a duplicate");
    }

    #[test]
    fn a_follower_read_is_served_once_its_index_is_applied() {
        let mut reads = FollowerReads::default();
        let (first, second) = (reads.ask(10, 0), reads.ask(11, 0));
        assert_eq!(reads.ask_again(99, 100), Vec::<u64>::new());
        assert_eq!(reads.ask_again(100, 100), [first, second], "unanswered for 100 ms: asked again");
        assert_eq!(reads.ask_again(150, 100), Vec::<u64>::new(), "and not again at once");
        assert_eq!(reads.refused(second), Some(11));
        assert_eq!(reads.refused(second), None, "refused once");
        reads.ready(second, 1);
        assert!(!reads.applying(), "a refused read is gone");
        reads.ready(first, 7);
        assert_eq!(reads.take_applied(6, false), Vec::<u64>::new());
        assert_eq!(reads.take_applied(7, false), [10]);
    }

    #[test]
    fn a_new_leadership_forgets_the_reads_and_answers_of_the_last() {
        let mut rounds = Rounds::new(3);
        let old = rounds.start(0, 10);
        rounds.wait(local(1), old);
        rounds.reset();
        assert_eq!(rounds.answered(1, old), None, "an old round is not confirmed again");
        assert_eq!(rounds.take_ready().count(), 0, "the old read is dropped");
        let new = rounds.start(0, 20);
        rounds.wait(local(2), new);
        assert_eq!(rounds.answered(2, new), Some(20));
        assert_eq!(rounds.take_ready().collect::<Vec<_>>(), [local(2)]);
    }
}
