//! The lab's optional view of a raft-rs peer, so the observer and the
//! durability checks watch raft-rs as they watch our Raft. It reads the log
//! the adapter keeps as raft-rs's `Storage` (checked after every step to be
//! raft-rs's whole log: nothing left unstable, the same commit), with
//! raft-rs's own indices, the leaders' empty entries included.

use crate::log::{persisted_term_and_vote, LabLog};
use crate::node::{peer_of, voted_peer, RaftRs};
use crate::wire::{Envelope, Replies};
use contract::{ElectionTimer, EntryView, RaftView, Role, RpcView};
use raft_rs::eraftpb::{Message, MessageType};
use raft_rs::StateRole;

impl RaftRs {
    fn log(&self) -> &LabLog {
        self.node.store()
    }
}

impl RaftView<Envelope, Replies> for RaftRs {
    /// With CheckQuorum, a follower that heard from its leader within an
    /// election timeout drops a (Pre)Vote request of a higher term.
    const IGNORES_VOTES_WHILE_LED: bool = true;
    /// raft-rs restarts the election timer whenever it becomes a follower,
    /// a higher term's included.
    const RESTARTS_TIMER_ON_NEW_TERM: bool = true;
    /// raft-rs answers an append below its commit index with that index.
    const ANSWERS_STALE_APPENDS_FROM_COMMIT: bool = true;

    /// Only while the run has CheckQuorum on (`--with`).
    fn ignores_votes_while_led(&self) -> bool {
        self.node.raft.check_quorum
    }

    fn role(&self) -> Role {
        match self.node.raft.state {
            StateRole::Leader => Role::Leader,
            // A pre-candidate campaigns without a new term.
            StateRole::PreCandidate => Role::PreCandidate,
            StateRole::Candidate => Role::Candidate,
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

    /// Read while a leader's asynchronous writes are still in the page
    /// cache: the lab checks it counted itself only through these.
    fn persisted_last_index(raft_state: &[u8]) -> Option<u64> {
        crate::log::persisted_last_index(raft_state)
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

    fn describe_request(request: &Envelope) -> Option<RpcView> {
        describe(&request.0)
    }

    fn describe_response(response: &Replies, each: &mut dyn FnMut(RpcView)) {
        response.0.iter().filter_map(describe).for_each(each);
    }

    /// In ticks: raft-rs counts an election timeout in ticks, and campaigns
    /// at the tick that brings `election_elapsed` to its randomized timeout.
    fn election_timer(&self) -> Option<ElectionTimer> {
        let raft = &self.node.raft;
        let elapsed = raft.election_elapsed as u64;
        Some(ElectionTimer {
            started: self.ticks.saturating_sub(elapsed),
            now: self.ticks,
            timeout: raft.randomized_election_timeout() as u64,
        })
    }
}

/// A raft-rs message in Figure 2's terms (`index` and `log_term` are the
/// previous entry's for an append, the last entry's for a vote).
fn describe(m: &Message) -> Option<RpcView> {
    let term = m.term;
    let commit = (m.commit > 0 && m.commit_term > 0).then_some((m.commit, m.commit_term));
    let vote =
        |pre_vote| RpcView::RequestVote { term, last_log_index: m.index, last_log_term: m.log_term, pre_vote, commit };
    let reply = |pre_vote| RpcView::VoteReply { term, granted: !m.reject, pre_vote, commit };
    Some(match m.get_msg_type() {
        MessageType::MsgRequestVote => vote(false),
        MessageType::MsgRequestPreVote => vote(true),
        MessageType::MsgRequestVoteResponse => reply(false),
        MessageType::MsgRequestPreVoteResponse => reply(true),
        MessageType::MsgAppend => RpcView::AppendEntries {
            term,
            prev_log_index: m.index,
            prev_log_term: m.log_term,
            entries: m.entries.len() as u64,
            last_entry_term: m.entries.last().map_or(0, |e| e.term),
            leader_commit: m.commit,
        },
        MessageType::MsgAppendResponse => RpcView::AppendReply { term, success: !m.reject },
        MessageType::MsgHeartbeat => RpcView::Heartbeat { term, commit: m.commit },
        MessageType::MsgHeartbeatResponse => RpcView::AppendReply { term, success: true },
        MessageType::MsgSnapshot => {
            let meta = m.get_snapshot().get_metadata();
            RpcView::InstallSnapshot { term, last_included_index: meta.index, last_included_term: meta.term }
        }
        _ => return None,
    })
}
