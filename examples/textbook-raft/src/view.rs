//! The lab's read-only view of a peer, which turns on its invariant
//! observer and durability checks.

use crate::log;
use crate::message::Request;
use crate::raft::TextbookRaft;
use contract::{EntryView, RaftView, Role};

impl RaftView<Request> for TextbookRaft {
    fn role(&self) -> Role {
        TextbookRaft::role(self)
    }

    fn term(&self) -> u64 {
        TextbookRaft::term(self)
    }

    fn voted_for(&self) -> Option<usize> {
        TextbookRaft::voted_for(self)
    }

    fn commit_index(&self) -> u64 {
        TextbookRaft::commit_index(self)
    }

    fn snapshot_index(&self) -> u64 {
        self.log().snapshot_index()
    }

    fn last_log_index(&self) -> u64 {
        self.log().last_index()
    }

    fn term_at(&self, index: u64) -> Option<u64> {
        self.log().term_at(index)
    }

    fn entry(&self, index: u64) -> Option<EntryView<'_>> {
        let entry = self.log().entry(index)?;
        Some(EntryView { term: entry.term, command: &entry.command, written: entry.stamp })
    }

    fn persisted_term_and_vote(raft_state: &[u8]) -> (u64, Option<usize>) {
        log::decode_term_and_vote(raft_state).unwrap_or((0, None))
    }

    fn request_term(request: &Request) -> (u64, Option<usize>) {
        match request {
            Request::RequestVote { term, candidate, .. } => (*term, Some(*candidate)),
            other => (other.term(), None),
        }
    }

    fn check_durable(&self, raft_state: &[u8], snapshot: &[u8]) -> Result<(), String> {
        let verified = log::compare_encoded(self.log(), raft_state, self.durable_verified.get())?;
        self.durable_verified.set(verified);
        let same_bytes =
            snapshot.as_ptr() == self.snapshot_bytes().as_ptr() && snapshot.len() == self.snapshot_bytes().len();
        if !same_bytes && snapshot != self.snapshot_bytes() {
            return Err(format!(
                "snapshot of {} bytes in memory, {} on disk",
                self.snapshot_bytes().len(),
                snapshot.len()
            ));
        }
        Ok(())
    }
}
