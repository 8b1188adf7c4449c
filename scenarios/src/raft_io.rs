//! Hosting Raft-backed servers in the simulator, once for every service:
//! `SimIo` carries a `raft::RaftHost`'s effects out through a node's `Ctx`
//! (persist into the lab persister, send to peers, set the node's timer),
//! and `start_host` builds a host from the server's persister, like the
//! lab's `start1`/`StartServer`.

use raft::{Config, HostIo, RaftHost, Request, Snapshot, StateDelta, StateMachine};
use sim::time::NANOS_PER_MS;
use sim::{Addr, Ctx, Node};

/// What a Raft call was for: a request to this peer (by index), so a
/// response needs no lookup of who sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaftCall {
    pub peer: usize,
}

/// What a node type that hosts Raft provides: how a Raft request travels in
/// its messages, and how its timers and calls name Raft's.
pub trait RaftCarrier: Node {
    fn raft_request(request: Request) -> Self::Msg;
    fn raft_timer(at_ms: u64) -> Self::Timer;
    fn raft_call(peer: usize) -> Self::CallPurpose;
}

/// A `HostIo` over a node's context; `peers[i]` is Raft peer i's address.
pub struct SimIo<'a, 'w, N: Node> {
    pub ctx: &'a mut Ctx<'w, N>,
    pub peers: &'a [Addr],
}

impl<N: RaftCarrier> HostIo for SimIo<'_, '_, N> {
    /// A crash point armed for the server fires here: before the write
    /// (lost) or after it; either way the server crashes as the step ends.
    fn persist(&mut self, delta: Option<StateDelta>, snapshot: Option<Snapshot>) {
        if self.ctx.is_crashing() {
            return; // crashed at an earlier write of this step
        }
        let point = self.ctx.take_crash_point();
        if point.is_some() {
            self.ctx.crash_now();
        }
        if point == Some(sim::CrashPoint::BeforePersist) {
            return;
        }
        let persister = self.ctx.persister();
        match (delta, snapshot) {
            (Some(delta), None) => delta.apply(persister.raft_state_mut()),
            (delta, Some(snapshot)) => {
                let mut image = persister.raft_state().to_vec();
                if let Some(delta) = delta {
                    delta.apply(&mut image);
                }
                persister.save_shared(image, snapshot);
            }
            (None, None) => {}
        }
    }

    fn send(&mut self, peer: usize, request: Request) {
        if self.ctx.is_crashing() {
            return; // it never leaves
        }
        if crate::runner::harness_checks() {
            if let Err(e) = rests_on_persisted(&request, self.ctx.persister().raft_state()) {
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

/// Whether a request a peer sends rests only on persisted state: its term
/// is on disk, and a candidate's own vote too.
fn rests_on_persisted(request: &Request, image: &[u8]) -> Result<(), String> {
    let persisted = raft::HardState::decode_header(image).unwrap_or_default();
    let (term, vote) = match request {
        Request::RequestVote { term, candidate, .. } => (*term, Some(*candidate)),
        Request::AppendEntries { term, .. } | Request::InstallSnapshot { term, .. } => (*term, None),
    };
    if persisted.term < term || (vote.is_some() && persisted.term == term && persisted.voted_for != vote) {
        return Err(format!(
            "sent a request of term {term} before persisting it (persisted: term {}, vote {:?})",
            persisted.term, persisted.voted_for
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
/// Raft from its image. Election timeouts come from the node's own stream.
pub fn start_host<N: RaftCarrier, S: StateMachine>(
    ctx: &mut Ctx<'_, N>,
    me: usize,
    peers: &[Addr],
    service: S,
) -> Result<RaftHost<S>, String> {
    let restart = Restart::read(ctx, me, peers.len());
    RaftHost::start(
        restart.config,
        restart.now_ms,
        &restart.image,
        &restart.snapshot,
        service,
        &mut SimIo { ctx, peers },
    )
}

/// What a Raft peer starts from: its configuration (with a fresh seed from
/// the node's own stream), the time, and its persisted image and snapshot.
pub struct Restart {
    pub config: Config,
    pub now_ms: u64,
    pub image: Vec<u8>,
    pub snapshot: Vec<u8>,
}

impl Restart {
    pub fn read<N: Node>(ctx: &mut Ctx<'_, N>, me: usize, peers: usize) -> Restart {
        use rand::RngCore;
        let seed = ctx.rng().next_u64();
        let image = ctx.persister().raft_state().to_vec();
        let snapshot = ctx.persister().snapshot().to_vec();
        Restart { config: Config::new(me, peers, seed), now_ms: now_ms(ctx), image, snapshot }
    }
}

/// The index of a peer's address.
pub fn peer_index(peers: &[Addr], addr: Addr) -> usize {
    peers.iter().position(|p| *p == addr).expect("raft messages come from peers")
}
