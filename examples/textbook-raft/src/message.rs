//! The RPCs of Figure 2 and section 7 of the Raft paper. Each response
//! carries what its sender needs to act on it alone, since the lab hands a
//! response back without the request it answers.

use crate::log::Entry;
use serde::Serialize;
use std::sync::Arc;

/// A request one peer sends another.
#[derive(Clone, Debug, Serialize)]
pub enum Request {
    /// A candidate asks for a vote.
    RequestVote { term: u64, candidate: usize, last_log_index: u64, last_log_term: u64 },
    /// A leader replicates entries (none: a heartbeat) after `prev_log_index`.
    AppendEntries {
        term: u64,
        leader: usize,
        prev_log_index: u64,
        prev_log_term: u64,
        entries: Vec<Entry>,
        leader_commit: u64,
    },
    /// A leader sends its snapshot to a follower that lags behind it.
    InstallSnapshot { term: u64, leader: usize, last_included_index: u64, last_included_term: u64, data: Arc<Vec<u8>> },
}

/// The answer to a [`Request`].
#[derive(Clone, Debug, Serialize)]
pub enum Response {
    /// The voter's term, and whether it granted its vote.
    Vote { term: u64, granted: bool },
    /// The follower's term; on success, the index through which its log now
    /// matches the leader's; on failure, where the leader should back up to:
    /// `conflict_term` is the term of the follower's entry at the leader's
    /// `prev_log_index` (none: the follower's log is shorter), and
    /// `conflict_index` the first index of that term's run (or the
    /// follower's last index plus one).
    Append { term: u64, success: bool, match_index: u64, conflict_index: u64, conflict_term: Option<u64> },
    /// The follower's term, and the index its log now matches through.
    Snapshot { term: u64, match_index: u64 },
}

impl Request {
    /// The sender's term.
    pub fn term(&self) -> u64 {
        match self {
            Request::RequestVote { term, .. }
            | Request::AppendEntries { term, .. }
            | Request::InstallSnapshot { term, .. } => *term,
        }
    }
}

impl Response {
    /// The responder's term.
    pub fn term(&self) -> u64 {
        match self {
            Response::Vote { term, .. } | Response::Append { term, .. } | Response::Snapshot { term, .. } => *term,
        }
    }
}

impl contract::Message for Request {
    fn label(&self) -> &'static str {
        match self {
            Request::RequestVote { .. } => "RequestVote",
            Request::AppendEntries { .. } => "AppendEntries",
            Request::InstallSnapshot { .. } => "InstallSnapshot",
        }
    }
}

impl contract::Message for Response {
    fn label(&self) -> &'static str {
        match self {
            Response::Vote { .. } => "RequestVoteReply",
            Response::Append { .. } => "AppendEntriesReply",
            Response::Snapshot { .. } => "InstallSnapshotReply",
        }
    }
}
