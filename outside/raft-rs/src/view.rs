//! The lab's optional view of a raft-rs peer, so the observer and the
//! durability checks watch raft-rs as they watch our Raft. It reads the log
//! the adapter keeps as raft-rs's `Storage` (checked after every step to be
//! raft-rs's whole log: nothing left unstable, the same commit), with
//! raft-rs's own indices, the leaders' empty entries included.

use crate::log::{persisted_term_and_vote, LabLog};
use crate::node::{peer_of, voted_peer, RaftRs};
use crate::wire::Envelope;
use contract::{EntryView, RaftView, Role};
use raft_rs::eraftpb::MessageType;
use raft_rs::StateRole;

impl RaftRs {
    fn log(&self) -> &LabLog {
        self.node.store()
    }
}

impl RaftView<Envelope> for RaftRs {
    fn role(&self) -> Role {
        match self.node.raft.state {
            StateRole::Leader => Role::Leader,
            // A pre-candidate campaigns without a new term.
            StateRole::Candidate | StateRole::PreCandidate => Role::Candidate,
            StateRole::Follower => Role::Follower,
        }
    }

    fn term(&self) -> u64 {
        self.node.raft.term
    }

    fn voted_for(&self) -> Option<usize> {
        voted_peer(self.node.raft.vote)
    }

    fn commit_index(&self) -> u64 {
        self.node.raft.raft_log.committed
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
        let log = self.log();
        let entry = log.entry(index)?;
        let written = log.written(index).expect("an entry has a stamp");
        Some(EntryView { term: entry.term, command: &entry.data, written })
    }

    fn persisted_term_and_vote(raft_state: &[u8]) -> (u64, Option<usize>) {
        let (term, vote) = persisted_term_and_vote(raft_state);
        (term, voted_peer(vote))
    }

    /// A pre-vote asks for the next term without taking it (PreVote's
    /// point): it rests on the current term, one lower.
    fn request_term(request: &Envelope) -> (u64, Option<usize>) {
        let m = &request.0;
        match m.get_msg_type() {
            MessageType::MsgRequestVote => (m.term, Some(peer_of(m.from))),
            MessageType::MsgRequestPreVote => (m.term.saturating_sub(1), None),
            MessageType::MsgRequestPreVoteResponse => (0, None),
            _ => (m.term, None),
        }
    }

    /// The adapter's log is what raft-rs holds (no entry left unstable in
    /// raft-rs, the same last index and commit), and it is what the
    /// persister holds.
    fn check_durable(&self, raft_state: &[u8], snapshot: &[u8]) -> Result<(), String> {
        let (raft_log, log) = (&self.node.raft.raft_log, self.log());
        if raft_log.last_index() != log.last_index() || raft_log.committed != log.commit() {
            return Err(format!(
                "raft-rs holds its log through {} committed through {}, its storage through {} committed through {}",
                raft_log.last_index(),
                raft_log.committed,
                log.last_index(),
                log.commit()
            ));
        }
        log.check_persisted(raft_state, snapshot)
    }
}
