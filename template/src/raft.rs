//! Lab 2: a Raft peer (2A leader election, 2B log replication, 2C
//! persistence, 2D snapshots), as the contract's sans-IO [`contract::Raft`].
//!
//! The lab calls your peer with one input at a time (a request, a response,
//! a failed call, a timer, a command to start) and your peer acts only
//! through the `io` it is handed: `io.send` to another peer,
//! `io.save_raft_state` / `io.save_state_and_snapshot` to persist,
//! `io.set_timer` to be called back, `io.apply` to hand committed entries to
//! the service, `io.now_ms()` for the time. Nothing blocks, sleeps or spawns.
//!
//! Extended Raft paper (Figure 2) is the specification; the contract's
//! rustdoc (`cargo doc --open -p contract`, trait `Raft`) states what the
//! lab's tests check.

use contract::{NoView, PeerConfig, Persisted, RaftIo};
use serde::{Deserialize, Serialize};

/// One log entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// The term in which a leader received the command.
    pub term: u64,
    /// The command, as the service handed it to `start_command`.
    pub command: Vec<u8>,
}

/// What one peer asks another (the RPC arguments of Figure 2). A suggestion:
/// change the fields, add variants, as your design needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    /// A candidate asks for a vote (2A).
    RequestVote { term: u64, candidate: usize, last_log_index: u64, last_log_term: u64 },
    /// A leader replicates entries, or just asserts itself (2A, 2B).
    AppendEntries {
        term: u64,
        leader: usize,
        prev_log_index: u64,
        prev_log_term: u64,
        entries: Vec<Entry>,
        leader_commit: u64,
    },
    /// A leader sends its snapshot to a peer whose entries it dropped (2D).
    InstallSnapshot { term: u64, leader: usize, last_included_index: u64, last_included_term: u64, data: Vec<u8> },
}

impl contract::Message for Request {
    /// The name reports and message counts use.
    fn label(&self) -> &'static str {
        match self {
            Request::RequestVote { .. } => "RequestVote",
            Request::AppendEntries { .. } => "AppendEntries",
            Request::InstallSnapshot { .. } => "InstallSnapshot",
        }
    }
}

/// The answer to a [`Request`]. It comes back through
/// [`contract::Raft::handle_response`] with the peer it came from but
/// *without* the request it answers, possibly late, duplicated or out of
/// order: put in it whatever the receiver needs to make sense of it (the
/// term, and for AppendEntries, how far the follower's log now matches).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Response {
    /// The answer to a RequestVote.
    RequestVote { term: u64, vote_granted: bool },
    /// The answer to an AppendEntries (add what the leader needs to update
    /// its `match_index` and back up quickly).
    AppendEntries { term: u64, success: bool },
    /// The answer to an InstallSnapshot.
    InstallSnapshot { term: u64 },
}

impl contract::Message for Response {
    /// The name reports and message counts use.
    fn label(&self) -> &'static str {
        match self {
            Response::RequestVote { .. } => "RequestVoteReply",
            Response::AppendEntries { .. } => "AppendEntriesReply",
            Response::InstallSnapshot { .. } => "InstallSnapshotReply",
        }
    }
}

/// A peer's role (Figure 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Answers leaders and candidates.
    Follower,
    /// Asks for votes.
    Candidate,
    /// Replicates its log.
    Leader,
}

/// One Raft peer.
///
/// The fields are a suggestion (Figure 2's state, plus what a sans-IO peer
/// needs): keep, change or drop them. Remember which of them must survive a
/// crash (persisted, 2C) and which are rebuilt on a restart.
// The template never builds a `Raft`: drop this allow once `start` does.
#[allow(dead_code)]
pub struct Raft {
    /// Who this peer is: `me`, how many `peers`, and the `rng_seed`.
    config: PeerConfig,
    /// This incarnation's random numbers (election timeouts), seeded from
    /// `config.rng_seed`.
    rng: Rng,
    /// Follower, candidate or leader.
    role: Role,
    /// Persistent: the latest term this peer has seen.
    current_term: u64,
    /// Persistent: the candidate it voted for in `current_term`.
    voted_for: Option<usize>,
    /// Persistent: the log (after the snapshot, from 2D on). The lab
    /// numbers commands from 1: mind the offset between a `Vec` position
    /// and a log index.
    log: Vec<Entry>,
    /// Persistent from 2D: the last index and term the snapshot covers (0
    /// for none).
    snapshot_index: u64,
    /// The term of the entry at `snapshot_index`.
    snapshot_term: u64,
    /// The highest index known committed.
    commit_index: u64,
    /// The highest index handed to the service with `io.apply`.
    last_applied: u64,
    /// Leader: for each peer, the next index to send it.
    next_index: Vec<u64>,
    /// Leader: for each peer, the highest index known replicated on it.
    match_index: Vec<u64>,
    /// Candidate: the votes received in this term.
    votes: Vec<bool>,
    /// When (on `io.now_ms()`'s clock) this peer starts an election unless it
    /// hears from a leader first. Timers are never cancelled: an `on_timer`
    /// before this deadline is simply ignored.
    election_deadline_ms: u64,
}

/// A small deterministic random number generator (SplitMix64), given so
/// that nothing else is needed: seed it with [`PeerConfig::rng_seed`].
/// (Any seeded generator will do; never an unseeded one.)
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose numbers follow from `seed` alone.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..high` (`high > low`), e.g. an election timeout in
    /// milliseconds.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        assert!(high > low, "an empty range {low}..{high}");
        low + self.next_u64() % (high - low)
    }
}

impl contract::Raft for Raft {
    type Request = Request;
    type Response = Response;
    /// No view: the lab runs every test on your Raft without looking inside
    /// it. Implement `contract::RaftView<Request, Response>` for `Raft`, set
    /// `type View = Raft;` and return `Some(self)` from `view()`, and the
    /// lab also checks the Raft paper's invariants (election safety, log
    /// matching, leader completeness, ...) after every step of every peer,
    /// and that nothing is sent before the term and vote it carries are
    /// durable: a bug is then caught where it happens, not later in a test.
    /// Add its `describe_request`, `describe_response` and
    /// `election_timer`, and the lab checks Figure 2's rules on each step
    /// too (see `examples/textbook-raft/src/view.rs`).
    type View = NoView;

    /// Starts a peer (the lab's `Make`), or restarts one after a crash from
    /// what it last persisted.
    ///
    /// - `persisted.raft_state` is what your last `save_raft_state` (or
    ///   `save_state_and_snapshot`) left, empty for a new peer; decode your
    ///   term, vote and log from it. `persisted.snapshot` is the last
    ///   snapshot saved (2D). Corrupt state is an `Err(reason)`, never a
    ///   panic.
    /// - The service already holds the persisted snapshot (the lab restores
    ///   it before calling `start`): do not apply it again; the commands
    ///   applied next are those after it, once known committed.
    /// - Seed every random choice from `config.rng_seed` (a new seed each
    ///   incarnation), e.g. `Rng::new(config.rng_seed)`.
    /// - `on_timer` comes only for timers set with `io.set_timer`: set the
    ///   first election timer here (`io.set_timer(io.now_ms() + timeout)`).
    fn start(_config: PeerConfig, _persisted: Persisted<'_>, _io: &mut impl RaftIo<Request>) -> Result<Raft, String> {
        todo!("Raft::start")
    }

    /// (current term, whether this peer believes it is the leader): the
    /// lab's `GetState`. No side effects.
    fn state(&self) -> (u64, bool) {
        todo!("Raft::state")
    }

    /// The lab's `Start(command)`.
    ///
    /// - On a peer that does not believe it leads: return `None` at once,
    ///   and append nothing.
    /// - On a leader: append the command to the log, persist it, and return
    ///   `Some((index, term))`, the index it will have if it commits and
    ///   the current term. Commands are numbered 1, 2, 3, ... as started
    ///   (an entry of your own in the log, like an empty entry at the start
    ///   of a term, must not shift that numbering).
    /// - Return at once: replicate by sending AppendEntries now or on the
    ///   next heartbeat timer, never by waiting.
    fn start_command(&mut self, _io: &mut impl RaftIo<Request>, _command: Vec<u8>) -> Option<(u64, u64)> {
        todo!("Raft::start_command")
    }

    /// The lab's `Snapshot(index, snapshot)` (2D): the service's state
    /// through `index` (an index it was applied) is `snapshot`.
    ///
    /// Drop the log through `index`, and persist the trimmed state together
    /// with the snapshot (`io.save_state_and_snapshot`). Ignore an `index`
    /// the current snapshot already covers. Later, send the snapshot
    /// (InstallSnapshot) to a peer that needs entries you no longer have.
    fn snapshot(&mut self, _io: &mut impl RaftIo<Request>, _index: u64, _snapshot: Vec<u8>) {
        todo!("Raft::snapshot")
    }

    /// A request from peer `from` (a RequestVote, an AppendEntries, an
    /// InstallSnapshot); the returned response goes back to `from`.
    ///
    /// Persist before you answer: whatever the answer depends on (a new
    /// term, a vote, appended entries) is saved with `io.save_raft_state`
    /// during this call, before it returns. Requests may be stale,
    /// duplicated or reordered: check terms. An InstallSnapshot that moves
    /// this peer forward is persisted with `io.save_state_and_snapshot` and
    /// handed to the service as `ApplyMsg::Snapshot`.
    fn handle_request(&mut self, _io: &mut impl RaftIo<Request>, _from: usize, _request: Request) -> Response {
        todo!("Raft::handle_request")
    }

    /// Peer `from`'s response to a request this peer sent it.
    ///
    /// Responses arrive late, twice, or out of order, possibly from an
    /// earlier term: check the term before acting on one. A newer term
    /// makes this peer a follower (persist it). A leader that learns a new
    /// majority match advances its commit index (only for an entry of its
    /// own term, Figure 8) and applies.
    ///
    /// Applying: `io.apply(ApplyMsg::Command { index, term, command })` for
    /// every newly committed entry, in index order, exactly once per
    /// incarnation, after the writes and sends of the same step.
    fn handle_response(&mut self, _io: &mut impl RaftIo<Request>, _from: usize, _response: Response) {
        todo!("Raft::handle_response")
    }

    /// A request to `peer` got no response (lost, timed out, or the peer is
    /// down): labrpc's `Call` returning false. Optional: a Raft whose
    /// timers resend (heartbeats, election retries) can ignore it, as this
    /// one does. A Raft that keeps it empty may also declare
    /// `const HEARS_FAILED_CALLS: bool = false;`: the lab then spends no
    /// step on a failed call.
    fn call_failed(&mut self, _io: &mut impl RaftIo<Request>, _peer: usize) {}

    /// A timer set with `io.set_timer(at_ms)` fired (this peer's clock now
    /// reads `at_ms` or later).
    ///
    /// Timers are never cancelled: every timer you set fires, including
    /// the ones you no longer want (an election timer after hearing from a
    /// leader), and a server built on your Raft may pass on timers it set
    /// for itself. Compare `io.now_ms()` with your own deadlines and ignore
    /// what is not due. Keep a timer pending at all times, or the peer
    /// never acts again: elections (randomized timeouts from your `Rng`; the
    /// lab expects a new leader within five seconds of losing one) and a
    /// leader's heartbeats (the lab expects no more than about ten a
    /// second).
    fn on_timer(&mut self, _io: &mut impl RaftIo<Request>, _at_ms: u64) {
        todo!("Raft::on_timer")
    }
}
