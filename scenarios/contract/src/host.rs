//! A Raft peer and the service it replicates, written once for any Raft
//! and any service (6.5840's `rsm` layer): the lab's 2A-2D applier, and
//! kvraft, the shard controller and shardkv over whatever Raft the lab is
//! given.
//!
//! The Raft's applies are queued as it makes them and handed to the service
//! once the Raft's call returns, in order; a snapshot the service hands
//! back goes to the Raft at once (which persists it), before the next
//! apply. A service never sees an entry before the Raft made it durable
//! and sent what it had to.

use crate::raft::{ApplyMsg, HostIo, PeerConfig, Persisted, Raft, RaftIo};
use crate::step::{StepInput, StepRecord};
use crate::view::RaftView;
use std::collections::VecDeque;
use std::sync::Arc;

/// A service replicated by Raft: it takes committed commands in log order
/// and may hand back a snapshot of itself.
pub trait StateMachine {
    /// A committed command, in log order. After a restart the commands
    /// after the snapshot are applied again. An error is fatal for the
    /// server (the run fails with it).
    fn apply(&mut self, index: u64, term: u64, command: &[u8]) -> Result<(), String>;

    /// Replaces the state with a snapshot: one a leader sent, through
    /// `Some(index)`, or the persisted one when the server restarts
    /// (`None`, as the lab's services read `persister.ReadSnapshot()`).
    fn restore(&mut self, index: Option<u64>, snapshot: &[u8]) -> Result<(), String>;

    /// Called after each applied command, with the size in bytes of the
    /// Raft state now persisted (the lab's `persister.RaftStateSize()`): a
    /// snapshot of the state through `index`, when the service wants one.
    fn snapshot(&mut self, index: u64, raft_state_bytes: usize) -> Option<Vec<u8>>;

    /// The read `id` asked for with [`RaftHost::read`] is safe to serve
    /// now, from the state the applies so far left ([`ApplyMsg::Read`]).
    /// Nothing by default: a service that never asks for reads gets none.
    fn read(&mut self, _id: u64) {}

    /// The read `id` will not be served ([`ApplyMsg::ReadRefused`]): answer
    /// its client at once. Nothing by default.
    fn read_refused(&mut self, _id: u64) {}
}

/// The runtime's I/O, with the size of the persisted raft state (which a
/// service reads to decide when to snapshot).
pub trait PersistedSize {
    /// The size in bytes of the raft state the persister holds now.
    fn raft_state_size(&self) -> usize;
}

/// A Raft peer `R` and its service `S`.
pub struct RaftHost<R, S> {
    raft: R,
    service: S,
    /// This peer's index, for errors.
    me: usize,
    /// Applies the Raft made and the service has yet to see.
    applies: VecDeque<ApplyMsg>,
    /// The last input and what it carried, for the lab's step rules (kept
    /// only for a Raft with a view).
    step: StepRecord,
}

/// The view of Raft `R`.
type ViewOf<R> = <R as Raft>::View;

/// Whether Raft `R` has a view, so its steps are recorded.
fn recorded<R: Raft>() -> bool {
    <ViewOf<R> as RaftView<R::Request, R::Response>>::PRESENT
}

/// The Raft's I/O during one call: the runtime's, with applies queued.
struct Queueing<'a, I> {
    io: &'a mut I,
    applies: &'a mut VecDeque<ApplyMsg>,
}

impl<M, I: HostIo<M>> HostIo<M> for Queueing<'_, I> {
    fn now_ms(&self) -> u64 {
        self.io.now_ms()
    }
    fn save_raft_state(&mut self, edit: impl FnOnce(&mut Vec<u8>)) {
        self.io.save_raft_state(edit);
    }
    fn save_state_and_snapshot(&mut self, edit: impl FnOnce(&mut Vec<u8>), snapshot: Arc<Vec<u8>>) {
        self.io.save_state_and_snapshot(edit, snapshot);
    }
    fn save_raft_state_async(&mut self, edit: impl FnOnce(&mut Vec<u8>), ticket: u64) -> bool {
        self.io.save_raft_state_async(edit, ticket)
    }
    fn send(&mut self, peer: usize, request: M) {
        self.io.send(peer, request);
    }
    fn set_timer(&mut self, at_ms: u64) {
        self.io.set_timer(at_ms);
    }
    fn fail(&mut self, reason: String) {
        self.io.fail(reason);
    }
    fn stopped(&self) -> bool {
        self.io.stopped()
    }
}

impl<M, I: HostIo<M>> RaftIo<M> for Queueing<'_, I> {
    fn apply(&mut self, msg: ApplyMsg) {
        self.applies.push_back(msg);
    }
}

impl<R: Raft, S: StateMachine> RaftHost<R, S> {
    /// Starts (or restarts) a peer from what its persister holds: the
    /// service is restored from the persisted snapshot, and the Raft resumes
    /// after it. Corrupt state is an error naming the server.
    pub fn start<I: HostIo<R::Request> + PersistedSize>(
        config: PeerConfig,
        persisted: Persisted<'_>,
        mut service: S,
        io: &mut I,
    ) -> Result<RaftHost<R, S>, String> {
        let me = config.me;
        if !persisted.snapshot.is_empty() {
            service.restore(None, persisted.snapshot).map_err(|e| format!("server {me}: {e}"))?;
        }
        let mut applies = VecDeque::new();
        let raft = R::start(config, persisted, &mut Queueing { io, applies: &mut applies })
            .map_err(|e| format!("server {me}: {e}"))?;
        let mut host = RaftHost { raft, service, me, applies, step: StepRecord::default() };
        host.record(StepInput::Start);
        host.deliver(io);
        Ok(host)
    }

    /// The peer's Raft.
    pub fn raft(&self) -> &R {
        &self.raft
    }

    /// The service.
    pub fn service(&self) -> &S {
        &self.service
    }

    /// The service, to change it (between the Raft's calls).
    pub fn service_mut(&mut self) -> &mut S {
        &mut self.service
    }

    /// The last input given to the Raft and what it carried, as its view
    /// describes them (empty for a Raft without a view). The service's own
    /// snapshots are not inputs: they only compact the log.
    pub fn last_step(&self) -> &StepRecord {
        &self.step
    }

    fn record(&mut self, input: StepInput) {
        if recorded::<R>() {
            self.step.begin(input);
        }
    }

    /// A request from peer `from`; the response may be sent once this
    /// returns.
    pub fn handle_request<I: HostIo<R::Request> + PersistedSize>(
        &mut self,
        io: &mut I,
        from: usize,
        request: R::Request,
    ) -> R::Response {
        self.record(StepInput::Request { from });
        if recorded::<R>() {
            self.step.received.extend(ViewOf::<R>::describe_request(&request));
        }
        let response = self.raft.handle_request(&mut Queueing { io, applies: &mut self.applies }, from, request);
        if recorded::<R>() {
            let answered = &mut self.step.answered;
            ViewOf::<R>::describe_response(&response, &mut |rpc| answered.push(rpc));
        }
        self.deliver(io);
        response
    }

    /// Peer `from`'s response to an earlier request.
    pub fn handle_response<I: HostIo<R::Request> + PersistedSize>(
        &mut self,
        io: &mut I,
        from: usize,
        response: R::Response,
    ) {
        self.record(StepInput::Response { from });
        if recorded::<R>() {
            let received = &mut self.step.received;
            ViewOf::<R>::describe_response(&response, &mut |rpc| received.push(rpc));
        }
        self.raft.handle_response(&mut Queueing { io, applies: &mut self.applies }, from, response);
        self.deliver(io);
    }

    /// A request to `peer` failed (no step at all for a Raft that does not
    /// hear failed calls).
    pub fn call_failed<I: HostIo<R::Request> + PersistedSize>(&mut self, io: &mut I, peer: usize) {
        if !R::HEARS_FAILED_CALLS {
            return; // nothing reaches the Raft: no step
        }
        self.record(StepInput::CallFailed);
        self.raft.call_failed(&mut Queueing { io, applies: &mut self.applies }, peer);
        self.deliver(io);
    }

    /// The Raft's asynchronous writes through `ticket` are durable
    /// ([`Raft::persisted`]).
    pub fn persisted<I: HostIo<R::Request> + PersistedSize>(&mut self, io: &mut I, ticket: u64) {
        self.record(StepInput::Persisted);
        self.raft.persisted(&mut Queueing { io, applies: &mut self.applies }, ticket);
        self.deliver(io);
    }

    /// A timer the Raft set fired.
    pub fn on_timer<I: HostIo<R::Request> + PersistedSize>(&mut self, io: &mut I, at_ms: u64) {
        self.record(StepInput::Timer);
        self.raft.on_timer(&mut Queueing { io, applies: &mut self.applies }, at_ms);
        self.deliver(io);
    }

    /// Starts a command if this peer leads: (index, term).
    pub fn start_command<I: HostIo<R::Request> + PersistedSize>(
        &mut self,
        io: &mut I,
        command: Vec<u8>,
    ) -> Option<(u64, u64)> {
        self.start_command_then(io, command, |_, _, _| {})
    }

    /// `start_command`, with `started(service, index, term)` called before
    /// anything is applied, so the service can expect the entry before it
    /// could be applied (at once, in a one-peer cluster).
    pub fn start_command_then<I: HostIo<R::Request> + PersistedSize>(
        &mut self,
        io: &mut I,
        command: Vec<u8>,
        started: impl FnOnce(&mut S, u64, u64),
    ) -> Option<(u64, u64)> {
        self.record(StepInput::Command);
        let started_at = self.raft.start_command(&mut Queueing { io, applies: &mut self.applies }, command);
        if let Some((index, term)) = started_at {
            started(&mut self.service, index, term);
        }
        self.deliver(io);
        started_at
    }

    /// Asks the Raft for read `id` without a log entry ([`Raft::read`]):
    /// `true` when the service will get it through
    /// [`StateMachine::read`], `false` when the read must go through the
    /// log.
    pub fn read<I: HostIo<R::Request> + PersistedSize>(&mut self, io: &mut I, id: u64) -> bool {
        self.record(StepInput::Read);
        let promised = self.raft.read(&mut Queueing { io, applies: &mut self.applies }, id);
        self.deliver(io);
        promised
    }

    /// Hands the queued applies to the service, in order; a snapshot it
    /// returns goes to the Raft before the next apply. Stops when the
    /// machine stopped (a crash at a write).
    fn deliver<I: HostIo<R::Request> + PersistedSize>(&mut self, io: &mut I) {
        while let Some(msg) = self.applies.pop_front() {
            if io.stopped() {
                break;
            }
            let applied = match msg {
                ApplyMsg::Command { index, term, command } => {
                    self.service.apply(index, term, &command).map(|()| Some(index))
                }
                ApplyMsg::Snapshot { index, snapshot, .. } => {
                    self.service.restore(Some(index), &snapshot).map(|()| None)
                }
                ApplyMsg::Read { id } => {
                    self.service.read(id);
                    Ok(None)
                }
                ApplyMsg::ReadRefused { id } => {
                    self.service.read_refused(id);
                    Ok(None)
                }
            };
            match applied {
                Ok(Some(index)) => {
                    if let Some(snapshot) = self.service.snapshot(index, io.raft_state_size()) {
                        self.raft.snapshot(&mut Queueing { io, applies: &mut self.applies }, index, snapshot);
                    }
                }
                Ok(None) => {}
                Err(reason) => {
                    io.fail(format!("server {}: {reason}", self.me));
                    break;
                }
            }
        }
        self.applies.clear();
    }
}

#[cfg(test)]
mod tests {
    //! The host alone, over a toy Raft that commits every command at once
    //! and records what it was asked.
    use super::*;
    use crate::testing::{Effect, RecordingIo};
    use crate::view::NoView;

    /// A one-peer Raft: a command is persisted, then applied; a snapshot is
    /// persisted with its state.
    struct Toy {
        last_index: u64,
        snapshots: Vec<u64>,
    }

    impl Raft for Toy {
        type Request = ();
        type Response = ();
        type View = NoView;
        fn start(_: PeerConfig, persisted: Persisted<'_>, _: &mut impl RaftIo<()>) -> Result<Toy, String> {
            if persisted.raft_state == b"corrupt" {
                return Err("corrupt raft state".into());
            }
            Ok(Toy { last_index: 0, snapshots: Vec::new() })
        }
        fn state(&self) -> (u64, bool) {
            (1, true)
        }
        fn start_command(&mut self, io: &mut impl RaftIo<()>, command: Vec<u8>) -> Option<(u64, u64)> {
            self.last_index += 1;
            io.save_raft_state(|state| state.push(1));
            if !io.stopped() {
                io.apply(ApplyMsg::Command { index: self.last_index, term: 1, command: command.into() });
            }
            Some((self.last_index, 1))
        }
        fn snapshot(&mut self, io: &mut impl RaftIo<()>, index: u64, snapshot: Vec<u8>) {
            self.snapshots.push(index);
            io.save_state_and_snapshot(|state| state.clear(), Arc::new(snapshot));
        }
        fn handle_request(&mut self, _: &mut impl RaftIo<()>, _: usize, _: ()) {}
        fn handle_response(&mut self, _: &mut impl RaftIo<()>, _: usize, _: ()) {}
        fn on_timer(&mut self, _: &mut impl RaftIo<()>, _: u64) {}
    }

    /// Records applies; snapshots at every `every`-th index; refuses a
    /// restore of `b"bad"`.
    #[derive(Default)]
    struct Log {
        applied: Vec<u64>,
        restored: Vec<Option<u64>>,
        sizes_seen: Vec<usize>,
        every: u64,
    }

    impl StateMachine for Log {
        fn apply(&mut self, index: u64, _: u64, command: &[u8]) -> Result<(), String> {
            if command == b"poison" {
                return Err(format!("cannot apply index {index}"));
            }
            self.applied.push(index);
            Ok(())
        }
        fn restore(&mut self, index: Option<u64>, snapshot: &[u8]) -> Result<(), String> {
            if snapshot == b"bad" {
                return Err("bad snapshot".into());
            }
            self.restored.push(index);
            Ok(())
        }
        fn snapshot(&mut self, index: u64, raft_state_bytes: usize) -> Option<Vec<u8>> {
            self.sizes_seen.push(raft_state_bytes);
            (self.every > 0 && index.is_multiple_of(self.every)).then(|| vec![index as u8])
        }
    }

    fn config() -> PeerConfig {
        PeerConfig { me: 3, peers: 1, rng_seed: 9, optimisations: crate::Optimisations::NONE }
    }

    #[test]
    fn applies_follow_the_write_and_a_snapshot_is_taken_before_the_next_apply() {
        let mut io = RecordingIo::<()>::default();
        let service = Log { every: 2, ..Log::default() };
        let mut host: RaftHost<Toy, Log> = RaftHost::start(config(), Persisted::EMPTY, service, &mut io).unwrap();
        for c in [b"a", b"b", b"c"] {
            host.start_command(&mut io, c.to_vec());
        }
        assert_eq!(host.service().applied, [1, 2, 3]);
        assert_eq!(host.raft().snapshots, [2], "the service's snapshot went to the Raft");
        let kinds: Vec<_> = io.effects.iter().map(|e| matches!(e, Effect::Persist { snapshot: true })).collect();
        assert_eq!(kinds.iter().filter(|s| **s).count(), 1, "one snapshot persisted: {:?}", io.effects);
        assert_eq!(host.service().sizes_seen, [1, 2, 1], "the size persisted when each command applied");
    }

    #[test]
    fn a_restart_restores_the_persisted_snapshot_without_an_index_and_corruption_names_the_server() {
        let mut io = RecordingIo::<()>::default();
        let persisted = Persisted { raft_state: b"", snapshot: b"snap" };
        let host: RaftHost<Toy, Log> = RaftHost::start(config(), persisted, Log::default(), &mut io).unwrap();
        assert_eq!(host.service().restored, [None]);
        let bad = Persisted { raft_state: b"", snapshot: b"bad" };
        let err = RaftHost::<Toy, Log>::start(config(), bad, Log::default(), &mut io).err().unwrap();
        assert_eq!(err, "server 3: bad snapshot");
        let corrupt = Persisted { raft_state: b"corrupt", snapshot: b"" };
        let err = RaftHost::<Toy, Log>::start(config(), corrupt, Log::default(), &mut io).err().unwrap();
        assert_eq!(err, "server 3: corrupt raft state");
    }

    #[test]
    fn an_apply_that_fails_fails_the_run_naming_the_server() {
        let mut io = RecordingIo::<()>::default();
        let mut host: RaftHost<Toy, Log> =
            RaftHost::start(config(), Persisted::EMPTY, Log::default(), &mut io).unwrap();
        host.start_command(&mut io, b"poison".to_vec());
        assert!(io.effects.contains(&Effect::Fail("server 3: cannot apply index 1".into())), "{:?}", io.effects);
        host.start_command(&mut io, b"next".to_vec());
        assert_eq!(host.service().applied, [2], "later commands still apply (the run has already failed)");
    }
}
