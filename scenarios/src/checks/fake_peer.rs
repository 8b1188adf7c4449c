//! A Raft peer made of plain fields that shows itself through the
//! contract's view: the step rules' and the observer's unit tests build
//! the steps they check from it.

use contract::view::written_stamp;
use contract::{ElectionTimer, EntryView, RaftView, Role};

/// A peer as the view shows it: its log's terms from index 1, after a
/// snapshot through `snapshot.0` (of term `snapshot.1`).
/// `ETCD`: it declares the departures from Figure 2 that etcd and raft-rs
/// make.
#[derive(Clone, Debug)]
pub struct Peer<const ETCD: bool = false> {
    pub term: u64,
    pub vote: Option<usize>,
    pub role: Role,
    pub commit: u64,
    pub snapshot: (u64, u64),
    pub log: Vec<u64>,
    pub timer: ElectionTimer,
}

impl Peer {
    /// The same peer, declaring etcd's departures from Figure 2.
    pub fn etcd(self) -> Peer<true> {
        let Peer { term, vote, role, commit, snapshot, log, timer } = self;
        Peer { term, vote, role, commit, snapshot, log, timer }
    }
}

impl<const ETCD: bool> RaftView<(), ()> for Peer<ETCD> {
    const IGNORES_VOTES_WHILE_LED: bool = ETCD;
    const RESTARTS_TIMER_ON_NEW_TERM: bool = ETCD;
    const ANSWERS_STALE_APPENDS_FROM_COMMIT: bool = ETCD;

    fn role(&self) -> Role {
        self.role
    }
    fn term(&self) -> u64 {
        self.term
    }
    fn voted_for(&self) -> Option<usize> {
        self.vote
    }
    fn commit_index(&self) -> u64 {
        self.commit
    }
    fn snapshot_index(&self) -> u64 {
        self.snapshot.0
    }
    fn last_log_index(&self) -> u64 {
        self.snapshot.0 + self.log.len() as u64
    }
    fn term_at(&self, index: u64) -> Option<u64> {
        match index.checked_sub(self.snapshot.0) {
            Some(0) => Some(self.snapshot.1),
            Some(k) => self.log.get(k as usize - 1).copied(),
            None => None,
        }
    }
    fn entry(&self, index: u64) -> Option<EntryView<'_>> {
        let term = self.term_at(index).filter(|_| index > self.snapshot.0)?;
        Some(EntryView { term, command: &[], written: written_stamp(term, &[]) })
    }
    fn persisted_term_and_vote(_: &[u8]) -> (u64, Option<usize>) {
        (0, None)
    }
    fn request_term(_: &()) -> (u64, Option<usize>) {
        (0, None)
    }
    fn check_durable(&self, _: &[u8], _: &[u8]) -> Result<(), String> {
        Ok(())
    }
    fn election_timer(&self) -> Option<ElectionTimer> {
        Some(self.timer)
    }
}
