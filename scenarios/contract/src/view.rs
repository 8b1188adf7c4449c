//! The optional read-only view of a Raft peer. With it, the lab runs an
//! observer after every step of every peer (election safety, log matching,
//! leader completeness, state machine safety, the commit rule) and checks
//! that the peer's state is durable and that nothing is sent before the
//! term and vote it carries are on disk; described steps are also checked
//! against Figure 2's rules. Without it ([`NoView`]), every lab test,
//! history check and determinism check still runs.

use crate::step::{ElectionTimer, RpcView};

/// A peer's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Waits for a leader's messages; votes.
    Follower,
    /// Asks whether it would win an election, without a new term (PreVote,
    /// the Raft thesis 9.6).
    PreCandidate,
    /// Asks for votes in its term.
    Candidate,
    /// Leads its term.
    Leader,
}

impl Role {
    /// "follower", "candidate" or "leader", for reports and run views.
    pub fn name(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// One log entry, as the observer sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryView<'a> {
    /// The term in which the entry was created.
    pub term: u64,
    /// The command as the service gets it (for an entry the implementation
    /// puts in the log of its own, whatever bytes it holds).
    pub command: &'a [u8],
    /// A number that differs each time an entry is written at this index
    /// (an append counter); the observer re-reads only entries whose number
    /// changed. An implementation without one returns
    /// [`written_stamp`]`(term, command)`.
    pub written: u64,
}

/// A `written` number for implementations that keep no append counter:
/// a hash of the entry (so a rewrite with the same term and command is
/// taken for the same entry, which log matching allows).
pub fn written_stamp(term: u64, command: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ term;
    for &b in command {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// What the observer reads of a peer after each of its steps. `M` is the
/// peer's request type, `R` its response type.
///
/// Indices are the implementation's own log positions. They are the lab's
/// (see [`ApplyMsg`](crate::ApplyMsg)) for a Raft that puts nothing of its
/// own in the log; one that does (a new leader's empty entry) shows those
/// entries here too, with whatever bytes they hold, so the observer checks
/// the log it really keeps (a leader commits an older term's command by
/// committing its own empty entry, which the lab's numbering cannot show).
///
/// With [`describe_request`](RaftView::describe_request),
/// [`describe_response`](RaftView::describe_response) and
/// [`election_timer`](RaftView::election_timer), the lab also checks
/// Figure 2's rules on each step: what the peer did with what it received
/// (a higher term adopted at once, a vote granted only as the rules allow,
/// the log and commit index an AppendEntries leaves, what an
/// InstallSnapshot may replace, what restarts the election timer). Each
/// defaults to "not described", which turns off the rules that need it.
///
/// ```
/// use contract::{NoView, RaftView};
/// // An implementation without a view leaves the lab's observer off.
/// assert!(!<NoView as RaftView<()>>::PRESENT);
/// ```
pub trait RaftView<M, R = ()> {
    /// Whether the view exists (false only for [`NoView`]).
    const PRESENT: bool = true;

    /// Whether a follower (or leader) within its election timeout ignores a
    /// (Pre)Vote request of a higher term entirely, answering nothing and
    /// keeping its term (the Raft thesis, 4.2.3; etcd and raft-rs with
    /// CheckQuorum). The rule "a higher term is adopted at once" then
    /// allows exactly that, and only then.
    const IGNORES_VOTES_WHILE_LED: bool = false;

    /// Whether the peer restarts its election timer whenever it takes a
    /// higher term (etcd and raft-rs do; Figure 2 restarts it only for a
    /// granted vote, the leader's messages and a campaign).
    const RESTARTS_TIMER_ON_NEW_TERM: bool = false;

    /// Whether the peer answers an AppendEntries whose previous entry is
    /// before its commit index from the commit index alone, appending
    /// nothing (etcd and raft-rs; the leader then sends from there).
    const ANSWERS_STALE_APPENDS_FROM_COMMIT: bool = false;

    /// [`IGNORES_VOTES_WHILE_LED`](RaftView::IGNORES_VOTES_WHILE_LED) for
    /// this peer now: for an implementation where it is a setting (a Raft
    /// with CheckQuorum as an option), say whether this peer runs with it.
    ///
    /// ```
    /// use contract::{NoView, RaftView};
    /// assert!(!<NoView as RaftView<()>>::IGNORES_VOTES_WHILE_LED);
    /// ```
    fn ignores_votes_while_led(&self) -> bool {
        Self::IGNORES_VOTES_WHILE_LED
    }

    /// The peer's role now.
    fn role(&self) -> Role;
    /// The peer's current term.
    fn term(&self) -> u64;
    /// The peer voted for in the current term.
    fn voted_for(&self) -> Option<usize>;
    /// The highest index known committed.
    fn commit_index(&self) -> u64;
    /// The last index the snapshot covers (0: none).
    fn snapshot_index(&self) -> u64;
    /// The last index in the log (or the snapshot's, with an empty log).
    fn last_log_index(&self) -> u64;
    /// The term of the entry at `index`, or of the snapshot's last entry
    /// when `index` is exactly the snapshot index (0 for index 0 with no
    /// snapshot); `None` elsewhere.
    fn term_at(&self, index: u64) -> Option<u64>;
    /// The entry at `index`, for indices after the snapshot.
    fn entry(&self, index: u64) -> Option<EntryView<'_>>;

    /// (term, vote) as a persisted raft state records them; an empty (or
    /// unreadable) state is (0, None). Read by the lab to check every
    /// request leaves only once the term (and a candidate's vote) it
    /// carries is on disk, so keep it cheap: a fixed header serves well.
    fn persisted_term_and_vote(raft_state: &[u8]) -> (u64, Option<usize>);
    /// The term a request carries, and the candidate when it asks for a
    /// vote.
    fn request_term(request: &M) -> (u64, Option<usize>);
    /// Whether everything this peer holds in memory that must survive a
    /// crash (log, snapshot) is what its persister holds; term and vote
    /// are compared by the lab through `persisted_term_and_vote`. Describe
    /// the first difference.
    ///
    /// It runs after every step of every peer: compare sizes, or resume
    /// from what was verified at the last step (a `Cell` in the view is
    /// fine), never decode the whole state each time (one user's first
    /// version made a 3A test 90 times slower).
    fn check_durable(&self, raft_state: &[u8], snapshot: &[u8]) -> Result<(), String>;

    /// The last log index a persisted raft state holds (`None`, the
    /// default: the view cannot say). With asynchronous persistence the
    /// lab reads a leader's durable image through it, to check that the
    /// leader counted itself toward a commit only through entries on disk;
    /// it is called only while the disk lags the page cache.
    fn persisted_last_index(_raft_state: &[u8]) -> Option<u64> {
        None
    }

    /// A request in Figure 2's terms; `None` (the default) for one it does
    /// not name, whose step is checked only against the rules every step
    /// keeps.
    fn describe_request(_request: &M) -> Option<RpcView> {
        None
    }

    /// Each message a response carries, in Figure 2's terms (none by
    /// default).
    fn describe_response(_response: &R, _each: &mut dyn FnMut(RpcView)) {}

    /// The election timer, when the peer keeps one the lab can read
    /// (`None` by default: the timer rules are off).
    fn election_timer(&self) -> Option<ElectionTimer> {
        None
    }
}

/// The view of an implementation that offers none: the lab's observer and
/// durability checks stay off for it.
#[derive(Debug)]
pub enum NoView {}

impl<M, R> RaftView<M, R> for NoView {
    const PRESENT: bool = false;

    fn role(&self) -> Role {
        match *self {}
    }
    fn term(&self) -> u64 {
        match *self {}
    }
    fn voted_for(&self) -> Option<usize> {
        match *self {}
    }
    fn commit_index(&self) -> u64 {
        match *self {}
    }
    fn snapshot_index(&self) -> u64 {
        match *self {}
    }
    fn last_log_index(&self) -> u64 {
        match *self {}
    }
    fn term_at(&self, _index: u64) -> Option<u64> {
        match *self {}
    }
    fn entry(&self, _index: u64) -> Option<EntryView<'_>> {
        match *self {}
    }
    fn persisted_term_and_vote(_raft_state: &[u8]) -> (u64, Option<usize>) {
        (0, None)
    }
    fn request_term(_request: &M) -> (u64, Option<usize>) {
        (0, None)
    }
    fn check_durable(&self, _raft_state: &[u8], _snapshot: &[u8]) -> Result<(), String> {
        match *self {}
    }
}
