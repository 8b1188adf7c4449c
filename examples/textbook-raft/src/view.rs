//! The lab's read-only view of a peer, which turns on its invariant
//! observer, Figure 2's step rules and the durability checks.

use crate::log;
use crate::message::{Request, Response};
use crate::raft::TextbookRaft;
use contract::{ElectionTimer, EntryView, RaftView, Role, RpcView};

impl RaftView<Request, Response> for TextbookRaft {
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

    fn describe_request(request: &Request) -> Option<RpcView> {
        Some(match request {
            Request::RequestVote { term, last_log_index, last_log_term, .. } => RpcView::RequestVote {
                term: *term,
                last_log_index: *last_log_index,
                last_log_term: *last_log_term,
                pre_vote: false,
                commit: None,
            },
            Request::AppendEntries { term, prev_log_index, prev_log_term, entries, leader_commit, .. } => {
                RpcView::AppendEntries {
                    term: *term,
                    prev_log_index: *prev_log_index,
                    prev_log_term: *prev_log_term,
                    entries: entries.len() as u64,
                    last_entry_term: entries.last().map_or(0, |e| e.term),
                    leader_commit: *leader_commit,
                }
            }
            Request::InstallSnapshot { term, last_included_index, last_included_term, .. } => {
                RpcView::InstallSnapshot {
                    term: *term,
                    last_included_index: *last_included_index,
                    last_included_term: *last_included_term,
                }
            }
        })
    }

    fn describe_response(response: &Response, each: &mut dyn FnMut(RpcView)) {
        each(match response {
            Response::Vote { term, granted } => {
                RpcView::VoteReply { term: *term, granted: *granted, pre_vote: false, commit: None }
            }
            Response::Append { term, success, .. } => RpcView::AppendReply { term: *term, success: *success },
            Response::Snapshot { term, .. } => RpcView::SnapshotReply { term: *term },
        });
    }

    fn election_timer(&self) -> Option<ElectionTimer> {
        let (started, deadline) = (self.election_started, self.election_deadline());
        Some(ElectionTimer { started, now: self.clock_ms, timeout: deadline - started })
    }
}
