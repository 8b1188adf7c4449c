//! Hosting Raft-backed servers in the simulator, once for every service and
//! every implementation of the contract: `SimIo` carries a
//! `contract::RaftHost`'s effects out through a node's `Ctx` (persist into
//! the lab persister, send to peers, set the node's timer), and
//! `start_host` builds a host from the server's persister, like the lab's
//! `start1`/`StartServer`.

use contract::{HostIo, PeerConfig, Persisted, PersistedSize, Raft, RaftHost, RaftView, StateMachine};
use sim::time::NANOS_PER_MS;
use sim::{Addr, Ctx, Node};
use std::sync::Arc;

/// What a Raft call was for: a request to this peer (by index), so a
/// response needs no lookup of who sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaftCall {
    pub peer: usize,
}

/// What a node type that hosts a Raft provides: which Raft, how its
/// requests travel in the node's messages, and how its timers and calls
/// name Raft's.
pub trait RaftCarrier: Node {
    type Raft: Raft;
    fn raft_request(request: <Self::Raft as Raft>::Request) -> Self::Msg;
    fn raft_timer(at_ms: u64) -> Self::Timer;
    fn raft_call(peer: usize) -> Self::CallPurpose;
}

/// A Raft's `HostIo` over a node's context; `peers[i]` is Raft peer i's
/// address.
pub struct SimIo<'a, 'w, N: Node> {
    pub ctx: &'a mut Ctx<'w, N>,
    pub peers: &'a [Addr],
    /// The node's clock in milliseconds, read once: time stands still
    /// within a step.
    now_ms: u64,
}

impl<'a, 'w, N: Node> SimIo<'a, 'w, N> {
    pub fn new(ctx: &'a mut Ctx<'w, N>, peers: &'a [Addr]) -> SimIo<'a, 'w, N> {
        let now_ms = now_ms(ctx);
        SimIo { ctx, peers, now_ms }
    }
}

impl<N: RaftCarrier> SimIo<'_, '_, N> {
    /// Whether the server stopped at a crash point earlier in this step; if
    /// not, fires a crash point armed for this write: before the write
    /// (lost) or after it. Either way the server crashes as the step ends.
    /// Returns whether the write happens.
    fn write_allowed(&mut self) -> bool {
        if self.ctx.is_crashing() {
            return false; // crashed at an earlier write of this step
        }
        let point = self.ctx.take_crash_point();
        if point.is_some() {
            self.ctx.crash_now();
        }
        point != Some(sim::CrashPoint::BeforePersist)
    }
}

impl<N: RaftCarrier> HostIo<<N::Raft as Raft>::Request> for SimIo<'_, '_, N> {
    fn now_ms(&self) -> u64 {
        self.now_ms
    }

    fn save_raft_state(&mut self, edit: impl FnOnce(&mut Vec<u8>)) {
        if self.write_allowed() {
            self.ctx.write_durably(|persister| edit(persister.raft_state_mut()));
        }
    }

    fn save_state_and_snapshot(&mut self, edit: impl FnOnce(&mut Vec<u8>), snapshot: Arc<Vec<u8>>) {
        if self.write_allowed() {
            self.ctx.write_durably(|persister| {
                let mut state = persister.raft_state().to_vec();
                edit(&mut state);
                persister.save_shared(state, snapshot);
            });
        }
    }

    fn save_raft_state_async(&mut self, edit: impl FnOnce(&mut Vec<u8>), ticket: u64) -> bool {
        // A write a crash point stops is never durable: the machine is
        // gone before the host could report it.
        self.write_allowed() && self.ctx.write_async(ticket, edit)
    }

    fn send(&mut self, peer: usize, request: <N::Raft as Raft>::Request) {
        if self.ctx.is_crashing() {
            return; // it never leaves
        }
        if <<N::Raft as Raft>::View as RaftView<_, _>>::PRESENT && self.ctx.harness_checks() {
            let durable = self.ctx.read_persister().durable_raft_state();
            if let Err(e) = rests_on_persisted::<N::Raft>(&request, durable) {
                self.ctx.fail(format!("{}: {e}", self.ctx.name()));
            }
        }
        self.ctx.call(self.peers[peer], N::raft_request(request), N::raft_call(peer));
    }

    fn set_timer(&mut self, at_ms: u64) {
        let now = self.ctx.now();
        self.ctx.set_timer((at_ms * NANOS_PER_MS).saturating_sub(now), N::raft_timer(at_ms));
    }

    fn fail(&mut self, reason: String) {
        self.ctx.fail(reason);
    }

    fn stopped(&self) -> bool {
        self.ctx.is_crashing()
    }
}

impl<N: Node> PersistedSize for SimIo<'_, '_, N> {
    fn raft_state_size(&self) -> usize {
        self.ctx.read_persister().raft_state_size()
    }
}

/// Whether a request a peer sends rests only on persisted state: its term
/// is on disk, and a candidate's own vote too (read through the Raft's
/// view, which decodes its own persisted state).
fn rests_on_persisted<R: Raft>(request: &R::Request, raft_state: &[u8]) -> Result<(), String> {
    let (term, candidate) = <R::View as RaftView<R::Request, R::Response>>::request_term(request);
    let (persisted_term, persisted_vote) =
        <R::View as RaftView<R::Request, R::Response>>::persisted_term_and_vote(raft_state);
    if persisted_term < term || (candidate.is_some() && persisted_term == term && persisted_vote != candidate) {
        return Err(format!(
            "sent a request of term {term} before persisting it (persisted: term {persisted_term}, vote \
             {persisted_vote:?})"
        ));
    }
    Ok(())
}

/// The node's clock in milliseconds, as Raft reads it.
pub fn now_ms<N: Node>(ctx: &Ctx<'_, N>) -> u64 {
    ctx.now() / NANOS_PER_MS
}

/// Starts (or restarts) Raft peer `me` of `peers` with `service`, from the
/// node's persister: the service is restored from the persisted snapshot and
/// Raft from its state. Its seed comes from the node's own stream.
pub fn start_host<N: RaftCarrier, S: StateMachine>(
    ctx: &mut Ctx<'_, N>,
    me: usize,
    peers: &[Addr],
    service: S,
) -> Result<RaftHost<N::Raft, S>, String> {
    let restart = Restart::read(ctx, me, peers.len());
    RaftHost::start(restart.config, restart.persisted(), service, &mut SimIo::new(ctx, peers))
}

/// What a Raft peer starts from: who it is (with a fresh seed from the
/// node's own stream), and what its persister holds.
pub struct Restart {
    pub config: PeerConfig,
    pub raft_state: Vec<u8>,
    pub snapshot: Vec<u8>,
}

impl Restart {
    pub fn read<N: Node>(ctx: &mut Ctx<'_, N>, me: usize, peers: usize) -> Restart {
        use rand::RngCore;
        let rng_seed = ctx.rng().next_u64();
        // What the peer reads must be on disk: writes of its last
        // incarnation still in the page cache (after a process crash) are
        // made durable first, as a server that syncs its files as it opens
        // them (it costs a write on a disk that takes time). Otherwise it
        // could answer for entries a machine crash would still lose.
        ctx.write_durably(|persister| persister.sync());
        let raft_state = ctx.persister().raft_state().to_vec();
        let snapshot = ctx.persister().snapshot().to_vec();
        let optimisations = crate::optimisations::in_effect();
        Restart { config: PeerConfig { me, peers, rng_seed, optimisations }, raft_state, snapshot }
    }

    pub fn persisted(&self) -> Persisted<'_> {
        Persisted { raft_state: &self.raft_state, snapshot: &self.snapshot }
    }
}

/// The index of a peer's address.
pub fn peer_index(peers: &[Addr], addr: Addr) -> usize {
    peers.iter().position(|p| *p == addr).expect("raft messages come from peers")
}

/// A Raft's role and term, for run views: from its view, or from
/// `state()` ("leader" or "follower") without one.
pub fn raft_status<R: Raft>(raft: &R) -> (&'static str, u64) {
    match raft.view() {
        Some(view) => (view.role().name(), view.term()),
        None => {
            let (term, leads) = raft.state();
            (if leads { "leader" } else { "follower" }, term)
        }
    }
}
