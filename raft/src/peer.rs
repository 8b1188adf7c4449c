//! This Raft as the lab's contract wants it: `RaftPeer` is a [`Raft`] that
//! carries out its output through the lab's I/O in the one safe order
//! (persist, then send, then apply), keeps one timer set for its next
//! deadline, and offers the read-only view that turns the lab's observer
//! and durability checks on.

use crate::message::{Request, Response};
use crate::node::{Apply, Config, Output, Raft, Role};
use crate::storage::HardState;
use contract::{ApplyMsg, ElectionTimer, EntryView, Optimisation, PeerConfig, Persisted, RaftIo, RaftView, RpcView};

/// The optimisations this Raft runs unless a run says otherwise: batching
/// and pipelining (with flow control), which Figure 2 leaves open and every
/// production Raft has; the others are off, so the lab runs Figure 2's
/// protocol as written.
///
/// ```
/// assert_eq!(raft::peer::DEFAULT_OPTIMISATIONS.to_string(), "batching,pipelining");
/// ```
pub const DEFAULT_OPTIMISATIONS: contract::Optimisations =
    contract::Optimisations::of(&[Optimisation::Batching, Optimisation::Pipelining]);

/// A Raft peer hosted through the contract.
pub struct RaftPeer {
    raft: Raft,
    /// The earliest timer asked of the runtime and not yet fired.
    timer_at_ms: Option<u64>,
}

impl RaftPeer {
    /// The state machine itself, for tests and tools that need more than
    /// the contract.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Carries out Raft's output: persist, then send, then apply; then makes
    /// sure a timer is set for Raft's next deadline. Nothing after a write
    /// that stopped the machine.
    fn flush(&mut self, io: &mut impl RaftIo<Request>) {
        if !self.raft.has_output() {
            self.keep_timer_set(io);
            return;
        }
        let Output { persist, ticket, snapshot, mut messages, mut applies } = self.raft.take_output();
        let send_first = bugs::on(bugs::Bug::RaftSendBeforePersist);
        if send_first {
            for (peer, request) in messages.iter().cloned() {
                io.send(peer, request);
            }
        }
        let mut durable_at_once = None;
        match (&persist, snapshot) {
            (Some(delta), None) => match ticket {
                Some(ticket) => {
                    if io.save_raft_state_async(|state| delta.apply(state), ticket) {
                        durable_at_once = Some(ticket);
                    }
                }
                None => io.save_raft_state(|state| delta.apply(state)),
            },
            (delta, Some(snapshot)) => io.save_state_and_snapshot(
                |state| {
                    if let Some(delta) = delta {
                        delta.apply(state);
                    }
                },
                snapshot,
            ),
            (None, None) => {}
        }
        if io.stopped() {
            return;
        }
        if !send_first {
            for (peer, request) in messages.drain(..) {
                io.send(peer, request);
            }
        }
        for apply in applies.drain(..) {
            io.apply(match apply {
                Apply::Command { index, term, command } => ApplyMsg::Command { index, term, command },
                Apply::Snapshot { index, term, data } => ApplyMsg::Snapshot { index, term, snapshot: data },
                Apply::Read { id } => ApplyMsg::Read { id },
                Apply::ReadRefused { id } => ApplyMsg::ReadRefused { id },
            });
        }
        self.raft.recycle(messages, applies, persist);
        self.keep_timer_set(io);
        if let Some(ticket) = durable_at_once {
            // A host whose disk takes no time: durable already.
            self.raft.persisted(ticket);
            self.flush(io);
        }
    }

    /// Makes sure a timer is set for Raft's next deadline.
    fn keep_timer_set(&mut self, io: &mut impl RaftIo<Request>) {
        let deadline = self.raft.next_deadline_ms();
        if self.timer_at_ms.is_none_or(|t| deadline < t) {
            self.timer_at_ms = Some(deadline);
            io.set_timer(deadline);
        }
    }
}

impl contract::Raft for RaftPeer {
    type Request = Request;
    type Response = Response;
    type View = RaftPeer;
    /// A failed call tells this Raft nothing: its heartbeats retry.
    const HEARS_FAILED_CALLS: bool = false;

    fn start(config: PeerConfig, persisted: Persisted<'_>, io: &mut impl RaftIo<Request>) -> Result<RaftPeer, String> {
        let asked = config.optimisations;
        let config = Config {
            pre_vote: asked.contains(Optimisation::PreVote),
            check_quorum: asked.contains(Optimisation::CheckQuorum),
            read_index: asked.contains(Optimisation::ReadIndex),
            lease_read: asked.contains(Optimisation::LeaseRead),
            follower_read: asked.contains(Optimisation::FollowerRead),
            batching: asked.contains(Optimisation::Batching),
            pipelining: asked.contains(Optimisation::Pipelining),
            async_persist: asked.contains(Optimisation::AsyncPersist),
            ..Config::new(config.me, config.peers, config.rng_seed)
        };
        let raft =
            Raft::restart(config, io.now_ms(), persisted.raft_state, persisted.snapshot).map_err(|e| e.to_string())?;
        let mut peer = RaftPeer { raft, timer_at_ms: None };
        peer.flush(io);
        Ok(peer)
    }

    fn state(&self) -> (u64, bool) {
        self.raft.state()
    }

    fn start_command(&mut self, io: &mut impl RaftIo<Request>, command: Vec<u8>) -> Option<(u64, u64)> {
        let started = self.raft.start(command)?;
        self.flush(io);
        Some(started)
    }

    fn snapshot(&mut self, io: &mut impl RaftIo<Request>, index: u64, snapshot: Vec<u8>) {
        self.raft.snapshot(index, snapshot);
        self.flush(io);
    }

    fn handle_request(&mut self, io: &mut impl RaftIo<Request>, from: usize, request: Request) -> Response {
        let response = self.raft.handle_request(from, request, io.now_ms());
        self.flush(io);
        response
    }

    fn persisted(&mut self, io: &mut impl RaftIo<Request>, ticket: u64) {
        self.raft.persisted(ticket);
        self.flush(io);
    }

    fn handle_response(&mut self, io: &mut impl RaftIo<Request>, from: usize, response: Response) {
        self.raft.handle_response(from, response, io.now_ms());
        self.flush(io);
    }

    /// A timer superseded by an earlier one is ignored.
    fn on_timer(&mut self, io: &mut impl RaftIo<Request>, at_ms: u64) {
        if self.timer_at_ms != Some(at_ms) {
            return;
        }
        self.timer_at_ms = None;
        self.raft.tick(io.now_ms());
        self.flush(io);
    }

    fn read(&mut self, io: &mut impl RaftIo<Request>, id: u64) -> bool {
        let promised = self.raft.read(id, io.now_ms());
        self.flush(io);
        promised
    }

    fn view(&self) -> Option<&RaftPeer> {
        Some(self)
    }
}

impl RaftView<Request, Response> for RaftPeer {
    #[inline]
    fn role(&self) -> contract::Role {
        match self.raft.role() {
            Role::Follower => contract::Role::Follower,
            Role::PreCandidate => contract::Role::PreCandidate,
            Role::Candidate => contract::Role::Candidate,
            Role::Leader => contract::Role::Leader,
        }
    }
    #[inline]
    fn term(&self) -> u64 {
        self.raft.hard_state().term
    }
    #[inline]
    fn voted_for(&self) -> Option<usize> {
        self.raft.hard_state().voted_for
    }
    #[inline]
    fn commit_index(&self) -> u64 {
        self.raft.commit_index()
    }
    #[inline]
    fn snapshot_index(&self) -> u64 {
        self.raft.snapshot_index()
    }
    #[inline]
    fn last_log_index(&self) -> u64 {
        self.raft.last_log_index()
    }
    #[inline]
    fn term_at(&self, index: u64) -> Option<u64> {
        self.raft.term_at(index)
    }
    #[inline]
    fn entry(&self, index: u64) -> Option<EntryView<'_>> {
        let (entry, written) = self.raft.log_entry(index)?;
        Some(EntryView { term: entry.term, command: &entry.command, written })
    }

    #[inline]
    fn persisted_term_and_vote(raft_state: &[u8]) -> (u64, Option<usize>) {
        let hard = HardState::decode_header(raft_state).unwrap_or_default();
        (hard.term, hard.voted_for)
    }

    fn persisted_last_index(raft_state: &[u8]) -> Option<u64> {
        crate::storage::last_index(raft_state)
    }

    #[inline]
    fn request_term(request: &Request) -> (u64, Option<usize>) {
        match request {
            Request::RequestVote { term, candidate, .. } => (*term, Some(*candidate)),
            // A PreVote asks about the next term; the sender's is one less.
            Request::PreVote { term, .. } => (term.saturating_sub(1), None),
            Request::AppendEntries { term, .. }
            | Request::InstallSnapshot { term, .. }
            | Request::Confirm { term, .. }
            | Request::ReadIndex { term, .. }
            | Request::ReadReady { term, .. } => (*term, None),
        }
    }

    /// The header's snapshot index and term (the lab compares term and vote
    /// itself), the log's encoded size and the snapshot's size are what the
    /// persister holds.
    fn check_durable(&self, raft_state: &[u8], snapshot: &[u8]) -> Result<(), String> {
        let (raft, hard) = (&self.raft, self.raft.hard_state());
        if raft_state.is_empty() && *hard == HardState::default() && raft.last_log_index() == 0 {
            return Ok(()); // a new peer that has nothing to persist yet
        }
        let persisted = HardState::decode_header(raft_state).unwrap_or_default();
        let at = |h: &HardState| (h.snapshot_index, h.snapshot_term);
        if at(&persisted) != at(hard) {
            return Err(format!(
                "peer {}'s snapshot header is not persisted: (index, term) {:?} in memory, {:?} on disk",
                raft.id(),
                at(hard),
                at(&persisted)
            ));
        }
        if raft_state.len() != raft.durable_size() {
            return Err(format!(
                "peer {}'s log is not persisted: {} bytes in memory, {} on disk",
                raft.id(),
                raft.durable_size(),
                raft_state.len()
            ));
        }
        if snapshot.len() != raft.snapshot_len() {
            return Err(format!(
                "peer {}'s snapshot through {} is not persisted ({} bytes, {} on disk)",
                raft.id(),
                raft.snapshot_index(),
                raft.snapshot_len(),
                snapshot.len()
            ));
        }
        Ok(())
    }

    /// CheckQuorum's lease, when this peer runs with CheckQuorum.
    fn ignores_votes_while_led(&self) -> bool {
        self.raft.config().check_quorum
    }

    fn describe_request(request: &Request) -> Option<RpcView> {
        Some(match request {
            Request::PreVote { term, last_log_index, last_log_term, .. } => RpcView::RequestVote {
                term: *term,
                last_log_index: *last_log_index,
                last_log_term: *last_log_term,
                pre_vote: true,
                commit: None,
            },
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
            // Heartbeats that commit nothing.
            Request::Confirm { term, .. } | Request::ReadReady { term, .. } => {
                RpcView::Heartbeat { term: *term, commit: 0 }
            }
            // A follower's question to its leader, of no kind Figure 2 names.
            Request::ReadIndex { .. } => return None,
        })
    }

    fn describe_response(response: &Response, each: &mut dyn FnMut(RpcView)) {
        each(match response {
            Response::RequestVote { term, granted } => {
                RpcView::VoteReply { term: *term, granted: *granted, pre_vote: false, commit: None }
            }
            Response::AppendEntries { term, match_index, .. } => {
                RpcView::AppendReply { term: *term, success: match_index.is_some() }
            }
            Response::InstallSnapshot { term, .. } => RpcView::SnapshotReply { term: *term },
            Response::PreVote { term, granted } => {
                RpcView::VoteReply { term: *term, granted: *granted, pre_vote: true, commit: None }
            }
            Response::Confirm { term, .. } | Response::ReadReady { term } => {
                RpcView::AppendReply { term: *term, success: true }
            }
            Response::ReadIndex { term, taken, .. } => RpcView::AppendReply { term: *term, success: *taken },
        });
    }

    fn election_timer(&self) -> Option<ElectionTimer> {
        let (started, now, timeout) = self.raft.election_timer_ms();
        Some(ElectionTimer { started, now, timeout })
    }
}
