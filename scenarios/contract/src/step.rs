//! What one step of a Raft peer received and answered, in the terms of the
//! Raft paper's Figure 2, so the lab can check Figure 2's rules (and the
//! snapshot section's) on every step of every peer: a view offers
//! [`RaftView::describe_request`](crate::RaftView::describe_request) and
//! [`RaftView::describe_response`](crate::RaftView::describe_response), and
//! the [`RaftHost`](crate::RaftHost) records each step's
//! [`StepRecord`].

/// A Raft message as Figure 2 names its fields (and the extensions real
/// Raft implementations use: PreVote, etcd's heartbeats). Indices are the
/// implementation's own log positions, as everywhere in the view.
///
/// ```
/// use contract::RpcView;
/// let vote = RpcView::RequestVote { term: 4, last_log_index: 9, last_log_term: 3, pre_vote: false, commit: None };
/// assert_eq!(vote.term(), 4);
/// assert!(vote.is_request() && vote.term_is_adopted());
/// // A PreVote asks about a term the candidate has not entered yet.
/// let pre = RpcView::RequestVote { term: 4, last_log_index: 9, last_log_term: 3, pre_vote: true, commit: None };
/// assert!(!pre.term_is_adopted());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RpcView {
    /// RequestVote, or a PreVote (the Raft thesis, 9.6) asking whether a
    /// vote in `term` would be granted.
    RequestVote {
        /// The candidate's term (for a PreVote, the term it would start).
        term: u64,
        /// The index of the candidate's last log entry.
        last_log_index: u64,
        /// The term of the candidate's last log entry.
        last_log_term: u64,
        /// Whether it is a PreVote, which changes no term or vote.
        pre_vote: bool,
        /// The candidate's commit index and the term of its entry there,
        /// which a voter whose log holds that entry may commit through
        /// (raft-rs sends it; `None` for a Raft that does not).
        commit: Option<(u64, u64)>,
    },
    /// The answer to a RequestVote or PreVote.
    VoteReply {
        /// The voter's term (for a granted PreVote, the term asked about).
        term: u64,
        /// Whether the vote was granted.
        granted: bool,
        /// Whether it answers a PreVote.
        pre_vote: bool,
        /// The voter's commit index and its entry's term, as in
        /// `RequestVote`.
        commit: Option<(u64, u64)>,
    },
    /// AppendEntries.
    AppendEntries {
        /// The leader's term.
        term: u64,
        /// The index of the entry just before the new ones.
        prev_log_index: u64,
        /// The term of that entry.
        prev_log_term: u64,
        /// How many entries it carries.
        entries: u64,
        /// The term of the last entry it carries (0 with none).
        last_entry_term: u64,
        /// The leader's commit index.
        leader_commit: u64,
    },
    /// A heartbeat that carries no log position (etcd and raft-rs): the
    /// leader sends a commit index it knows the follower's log matches.
    Heartbeat {
        /// The leader's term.
        term: u64,
        /// A commit index no higher than what the follower's log matches.
        commit: u64,
    },
    /// The answer to AppendEntries or to a heartbeat.
    AppendReply {
        /// The follower's term.
        term: u64,
        /// Whether the follower's log now matches the leader's through the
        /// entries sent.
        success: bool,
    },
    /// InstallSnapshot (the paper's Figure 13).
    InstallSnapshot {
        /// The leader's term.
        term: u64,
        /// The last index the snapshot covers.
        last_included_index: u64,
        /// The term of that entry.
        last_included_term: u64,
    },
    /// The answer to InstallSnapshot.
    SnapshotReply {
        /// The follower's term.
        term: u64,
    },
}

impl RpcView {
    /// The term the message carries.
    pub fn term(&self) -> u64 {
        match *self {
            RpcView::RequestVote { term, .. }
            | RpcView::VoteReply { term, .. }
            | RpcView::AppendEntries { term, .. }
            | RpcView::Heartbeat { term, .. }
            | RpcView::AppendReply { term, .. }
            | RpcView::InstallSnapshot { term, .. }
            | RpcView::SnapshotReply { term, .. } => term,
        }
    }

    /// The commit point (index, term) a vote message carries, if any.
    pub fn vote_commit(&self) -> Option<(u64, u64)> {
        match *self {
            RpcView::RequestVote { commit, .. } | RpcView::VoteReply { commit, .. } => commit,
            _ => None,
        }
    }

    /// Whether it is a request (else a reply).
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            RpcView::RequestVote { .. }
                | RpcView::AppendEntries { .. }
                | RpcView::Heartbeat { .. }
                | RpcView::InstallSnapshot { .. }
        )
    }

    /// Whether a receiver in an older term must adopt this message's term
    /// (Figure 2, "Rules for All Servers"): every message but a PreVote
    /// and a granted PreVote's answer, which name a term nobody is in yet.
    pub fn term_is_adopted(&self) -> bool {
        !matches!(
            self,
            RpcView::RequestVote { pre_vote: true, .. } | RpcView::VoteReply { pre_vote: true, granted: true, .. }
        )
    }
}

/// Where a peer's election timer stands, in the implementation's own unit
/// (milliseconds of its clock, or ticks). A follower or candidate campaigns
/// once `now - started` reaches `timeout`.
///
/// ```
/// let timer = contract::ElectionTimer { started: 1_000, now: 1_250, timeout: 400 };
/// assert!(!timer.expired());
/// assert!(contract::ElectionTimer { now: 1_400, ..timer }.expired());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElectionTimer {
    /// When the timer last restarted: it changes when, and only when, the
    /// timer restarts (a restart at the same moment as the last one
    /// changes nothing, and need not show).
    pub started: u64,
    /// Now, in the same unit.
    pub now: u64,
    /// How long after `started` the peer campaigns (this period's draw).
    pub timeout: u64,
}

impl ElectionTimer {
    /// Whether the timer has run out.
    pub fn expired(&self) -> bool {
        self.now.saturating_sub(self.started) >= self.timeout
    }

    /// Whether it restarted at `now` (in the step just taken).
    pub fn restarted_now(&self) -> bool {
        self.started == self.now
    }
}

/// What drove a step of a Raft peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepInput {
    /// The peer (re)started.
    Start,
    /// A request from peer `from`.
    Request {
        /// The sender.
        from: usize,
    },
    /// A response from peer `from`.
    Response {
        /// The responder.
        from: usize,
    },
    /// A call to a peer failed.
    CallFailed,
    /// A timer fired.
    Timer,
    /// The service started a command.
    Command,
    /// The service asked for a read without the log.
    Read,
    /// The Raft's asynchronous writes through a ticket became durable.
    Persisted,
}

/// The last input a [`RaftHost`](crate::RaftHost) gave its Raft, as the
/// view describes it: recorded only for an implementation with a view.
///
/// ```
/// let record = contract::StepRecord::default();
/// assert_eq!(record.seq, 0); // nothing recorded yet
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepRecord {
    /// Counts the inputs given: a reader that saw `seq` before knows how
    /// many inputs came since.
    pub seq: u64,
    /// The last input (`None` before the first).
    pub input: Option<StepInput>,
    /// What the input carried (a request: at most one message; a response
    /// may carry several).
    pub received: Vec<RpcView>,
    /// What the peer answered a request with.
    pub answered: Vec<RpcView>,
}

impl StepRecord {
    /// Records a new input, forgetting the last one's messages.
    pub fn begin(&mut self, input: StepInput) {
        self.seq += 1;
        self.input = Some(input);
        self.received.clear();
        self.answered.clear();
    }
}
