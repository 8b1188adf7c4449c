//! The RPCs between Raft peers. Every response is self-describing (it says
//! what it answers), so a peer needs no table of calls in flight.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;

/// A client command: opaque bytes, shared (not copied) by every log, message
/// and apply that carries it.
pub type Command = Arc<[u8]>;

/// A service snapshot: shared (not copied) by Raft, the storage it is
/// persisted to, and every InstallSnapshot that carries it.
pub type Snapshot = Arc<Vec<u8>>;

/// One log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub term: u64,
    #[serde(serialize_with = "as_bytes", deserialize_with = "command_from_bytes")]
    pub command: Command,
}

/// Byte strings serialize as one blob (a length and the bytes), not as a
/// sequence of numbers.
fn as_bytes<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(bytes)
}

fn command_from_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Command, D::Error> {
    Vec::<u8>::deserialize(d).map(Command::from)
}

fn snapshot_from_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Snapshot, D::Error> {
    Vec::<u8>::deserialize(d).map(Arc::new)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    RequestVote {
        term: u64,
        candidate: usize,
        last_log_index: u64,
        last_log_term: u64,
    },
    AppendEntries {
        term: u64,
        leader: usize,
        prev_log_index: u64,
        prev_log_term: u64,
        entries: Vec<Entry>,
        leader_commit: u64,
    },
    InstallSnapshot {
        term: u64,
        leader: usize,
        last_included_index: u64,
        last_included_term: u64,
        #[serde(serialize_with = "as_bytes", deserialize_with = "snapshot_from_bytes")]
        data: Snapshot,
    },
    /// PreVote (thesis 9.6): would the receiver vote for `candidate` in
    /// `term` (the candidate's term plus one)? Changes nothing on either
    /// side. Last among the variants, so the others encode as before.
    PreVote {
        /// The term the candidate would campaign in.
        term: u64,
        /// Who asks.
        candidate: usize,
        /// The index of its last log entry.
        last_log_index: u64,
        /// The term of its last log entry.
        last_log_term: u64,
    },
    /// A leader asks whether the receiver still follows it in `term`, to
    /// serve reads without the log (ReadIndex, leases). Otherwise a
    /// heartbeat that carries no log position. Last, so the others encode
    /// as before.
    Confirm {
        term: u64,
        leader: usize,
        /// The leader's round, echoed in the answer.
        round: u64,
    },
    /// A follower asks its leader for a read index (follower reads): the
    /// leader confirms it leads, then sends `ReadReady`.
    ReadIndex {
        term: u64,
        /// The follower's number for the read, echoed back.
        read: u64,
    },
    /// The leader's answer to a follower's `ReadIndex`, once a round (or
    /// its lease) confirmed it still leads: the read may be served once the
    /// follower has applied through `index`.
    ReadReady {
        term: u64,
        leader: usize,
        read: u64,
        index: u64,
    },
}

/// Why a follower rejected AppendEntries, for fast log backup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The term of the follower's entry at prev_log_index; `None` when its
    /// log does not reach that far.
    pub term: Option<u64>,
    /// The first index the follower holds with that term (or its log length
    /// plus one when `term` is `None`).
    pub first_index: u64,
    /// The follower's last log index.
    pub log_len: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    RequestVote {
        term: u64,
        granted: bool,
    },
    AppendEntries {
        term: u64,
        /// On success, the index up to which the follower's log now matches.
        match_index: Option<u64>,
        /// On a log mismatch; `None` with no match_index means a stale term.
        conflict: Option<Conflict>,
    },
    InstallSnapshot {
        term: u64,
        /// The snapshot's last index, which the follower now holds.
        last_included_index: u64,
    },
    /// The answer to a PreVote: granted with the PreVote's own term, or
    /// refused with the receiver's.
    PreVote {
        /// The PreVote's term when granted; the receiver's when refused.
        term: u64,
        /// Whether the receiver would vote for the candidate in that term.
        granted: bool,
    },
    /// The answer to a Confirm: the receiver's term (the leader's when it
    /// follows it), and the round it answers.
    Confirm {
        term: u64,
        round: u64,
    },
    /// The answer to a `ReadIndex`: whether the leader took it (it does not
    /// when it is not the leader of `term`, or no entry of its term has
    /// committed yet).
    ReadIndex {
        term: u64,
        read: u64,
        taken: bool,
    },
    /// The answer to a `ReadReady`.
    ReadReady {
        term: u64,
    },
}

impl contract::Message for Request {
    fn label(&self) -> &'static str {
        match self {
            Request::RequestVote { .. } => "RequestVote",
            Request::AppendEntries { .. } => "AppendEntries",
            Request::InstallSnapshot { .. } => "InstallSnapshot",
            Request::PreVote { .. } => "PreVote",
            Request::Confirm { .. } => "Confirm",
            Request::ReadIndex { .. } => "ReadIndex",
            Request::ReadReady { .. } => "ReadReady",
        }
    }
}

impl contract::Message for Response {
    fn label(&self) -> &'static str {
        "Response"
    }
}
