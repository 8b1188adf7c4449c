//! The host of a Raft-backed service, written once for every service (the
//! lab's 2A-2D applier, kvraft, the shard controller, shardkv).
//!
//! `RaftHost<S>` owns a `Raft` and a service `S` (a [`StateMachine`]) and
//! carries out Raft's output in the one order that is safe: persist, then
//! send, then apply; a snapshot the service hands back after an apply goes to
//! Raft, and its output is carried out in turn. Its effects go through a
//! [`HostIo`] that the runtime implements (the simulator, or one day a real
//! network and disk), so the host stays sans-IO: it never blocks and owns no
//! socket, clock or file.

use crate::message::{Request, Response, Snapshot};
use crate::node::{Apply, Config, Raft};
use crate::storage::StateDelta;

/// A service replicated by Raft: it takes committed entries in log order and
/// may hand back a snapshot of itself.
pub trait StateMachine {
    /// A committed command, in log order. After a restart the entries after
    /// the snapshot are applied again. An error is fatal for the server.
    fn apply(&mut self, index: u64, term: u64, command: &[u8]) -> Result<(), String>;

    /// Replaces the state with a snapshot through `index`: the leader's
    /// (InstallSnapshot), or the persisted one when the server restarts.
    fn restore(&mut self, index: u64, term: u64, snapshot: &[u8]) -> Result<(), String>;

    /// Called after each applied command, with Raft's durable size in bytes:
    /// a snapshot of the state through `index`, when the service wants one.
    fn snapshot(&mut self, index: u64, raft_state_bytes: usize) -> Option<Vec<u8>>;
}

/// Where a host's effects go, in the order it makes them.
pub trait HostIo {
    /// Make the state delta (and the snapshot, saved together with it)
    /// durable before anything else happens.
    fn persist(&mut self, delta: Option<StateDelta>, snapshot: Option<Snapshot>);
    /// Send a request to a peer (by index); its response comes back through
    /// `RaftHost::handle_response`.
    fn send(&mut self, peer: usize, request: Request);
    /// Call `RaftHost::on_timer(at_ms)` when the clock reaches `at_ms`.
    fn set_timer(&mut self, at_ms: u64);
    /// The server cannot go on (an apply or restore failed).
    fn fail(&mut self, reason: String);
    /// The machine stopped in the middle of this step (a crash point in a
    /// simulator): nothing more is carried out.
    fn stopped(&self) -> bool {
        false
    }
}

/// A Raft peer and the service it replicates.
pub struct RaftHost<S> {
    raft: Raft,
    service: S,
    /// The earliest timer asked of the runtime and not yet fired.
    timer_at_ms: Option<u64>,
}

impl<S: StateMachine> RaftHost<S> {
    /// Starts (or restarts) a peer from its durable image and snapshot: the
    /// service is restored from the snapshot, and Raft resumes applying
    /// after it. A corrupt image or snapshot is an error, never a panic.
    pub fn start(
        config: Config,
        now_ms: u64,
        image: &[u8],
        snapshot: &[u8],
        mut service: S,
        io: &mut impl HostIo,
    ) -> Result<RaftHost<S>, String> {
        let id = config.id;
        let raft = Raft::restart(config, now_ms, image, snapshot).map_err(|e| format!("server {id}: {e}"))?;
        if !snapshot.is_empty() {
            service
                .restore(raft.snapshot_index(), raft.snapshot_term(), snapshot)
                .map_err(|e| format!("server {id}: {e}"))?;
        }
        let mut host = RaftHost { raft, service, timer_at_ms: None };
        host.flush(io);
        Ok(host)
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    pub fn service(&self) -> &S {
        &self.service
    }

    pub fn service_mut(&mut self) -> &mut S {
        &mut self.service
    }

    /// A request from peer `from`; the response may be sent once this
    /// returns (what it depends on is durable by then).
    pub fn handle_request(&mut self, io: &mut impl HostIo, from: usize, request: Request, now_ms: u64) -> Response {
        let response = self.raft.handle_request(from, request, now_ms);
        self.flush(io);
        response
    }

    /// The response of peer `from` to an earlier request.
    pub fn handle_response(&mut self, io: &mut impl HostIo, from: usize, response: Response, now_ms: u64) {
        self.raft.handle_response(from, response, now_ms);
        self.flush(io);
    }

    /// A timer set through `HostIo::set_timer` fired. A timer superseded by
    /// an earlier one is ignored.
    pub fn on_timer(&mut self, io: &mut impl HostIo, at_ms: u64, now_ms: u64) {
        if self.timer_at_ms != Some(at_ms) {
            return;
        }
        self.timer_at_ms = None;
        self.raft.tick(now_ms);
        self.flush(io);
    }

    /// Appends a command if this peer leads: (index, term). Check
    /// `raft().state()` first to avoid encoding a command for nothing.
    pub fn start_command(&mut self, io: &mut impl HostIo, command: Vec<u8>) -> Option<(u64, u64)> {
        self.start_command_then(io, command, |_, _, _| {})
    }

    /// `start_command`, with `started(service, index, term)` called before
    /// anything is carried out, so the service can expect the entry before
    /// it could be applied (at once, in a one-peer cluster).
    pub fn start_command_then(
        &mut self,
        io: &mut impl HostIo,
        command: Vec<u8>,
        started: impl FnOnce(&mut S, u64, u64),
    ) -> Option<(u64, u64)> {
        let (index, term) = self.raft.start(command)?;
        started(&mut self.service, index, term);
        self.flush(io);
        Some((index, term))
    }

    /// Carries out Raft's output: persist, then send, then apply (which may
    /// produce a snapshot, whose output is carried out in turn); then makes
    /// sure a timer is set for Raft's next deadline.
    fn flush(&mut self, io: &mut impl HostIo) {
        loop {
            let out = self.raft.take_output();
            if out.is_empty() {
                break;
            }
            let send_first = bugs::on(bugs::Bug::RaftSendBeforePersist);
            if send_first {
                for (peer, request) in out.messages.iter().cloned() {
                    io.send(peer, request);
                }
            }
            if out.persist.is_some() || out.snapshot.is_some() {
                io.persist(out.persist, out.snapshot);
            }
            if io.stopped() {
                return;
            }
            if !send_first {
                for (peer, request) in out.messages {
                    io.send(peer, request);
                }
            }
            for apply in out.applies {
                self.apply(io, apply);
            }
        }
        let deadline = self.raft.next_deadline_ms();
        if self.timer_at_ms.is_none_or(|t| deadline < t) {
            self.timer_at_ms = Some(deadline);
            io.set_timer(deadline);
        }
    }

    fn apply(&mut self, io: &mut impl HostIo, apply: Apply) {
        let applied = match apply {
            Apply::Command { index, term, command } => self.service.apply(index, term, &command).map(|()| Some(index)),
            Apply::Snapshot { index, term, data } => self.service.restore(index, term, &data).map(|()| None),
        };
        match applied {
            Ok(Some(index)) => {
                if let Some(data) = self.service.snapshot(index, self.raft.durable_size()) {
                    self.raft.snapshot(index, data);
                }
            }
            Ok(None) => {}
            Err(reason) => io.fail(format!("server {}: {reason}", self.raft.id())),
        }
    }
}
