//! A small test server, `EchoNode`, for the simulator's own tests and the
//! `sim/` scenarios: it echoes, holds answers until released, persists,
//! sets timers, and gossips with peers.

use crate::call::{ReplyToken, RpcError};
use crate::handle::SimHandle;
use crate::node::{Addr, Ctx, Message, Node, TraceWord};
use crate::time::{ms, Nanos};
use serde::Serialize;

/// Messages of the test node.
#[derive(Clone, Debug, Serialize)]
pub enum EchoMsg {
    /// Answered with `Data` of `reply_bytes` bytes (or the payload itself).
    Echo {
        payload: Vec<u8>,
        reply_bytes: Option<usize>,
    },
    Data(Vec<u8>),
    /// Not answered until a `Release` arrives.
    Hold,
    Release,
    /// Writes `value` as the whole raft state, synced or not (where an
    /// armed crash point fires, as a host's persist does).
    Write {
        value: u8,
        sync: bool,
    },
    /// Answered with the persisted raft state.
    Read,
    /// Sets a timer of this many milliseconds.
    SetTimer {
        after_ms: u64,
    },
}

/// A small server: echoes, holds replies, persists, gossips with peers.
#[derive(Default)]
pub struct EchoNode {
    pub handled: u64,
    pub held: Vec<ReplyToken>,
    /// Payload first bytes in the order requests were handled.
    pub handled_order: Vec<u8>,
    pub replies_ok: u64,
    pub replies_failed: u64,
    pub timer_fired_at: Vec<Nanos>,
    /// When set, the node calls a random peer every 1-20 ms.
    pub gossip_peers: Vec<Addr>,
    /// Its failed calls are no step of it (`Node::ignores_failure`).
    pub ignores_failures: bool,
}

/// The echo node's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EchoTimer {
    Gossip,
    Test,
}

impl TraceWord for EchoTimer {
    fn trace_word(&self) -> u64 {
        match self {
            EchoTimer::Gossip => 1,
            EchoTimer::Test => 2,
        }
    }
}

impl Message for EchoMsg {
    fn label(&self) -> &'static str {
        match self {
            EchoMsg::Echo { .. } => "Echo",
            EchoMsg::Data(_) => "Data",
            EchoMsg::Hold => "Hold",
            EchoMsg::Release => "Release",
            EchoMsg::Write { .. } => "Write",
            EchoMsg::Read => "Read",
            EchoMsg::SetTimer { .. } => "SetTimer",
        }
    }
}

impl EchoNode {
    fn gossip(&mut self, ctx: &mut Ctx<'_, Self>) {
        use rand::Rng;
        if self.gossip_peers.is_empty() {
            return;
        }
        let peer = self.gossip_peers[ctx.rng().random_range(0..self.gossip_peers.len())];
        let size = ctx.rng().random_range(0..64);
        ctx.call(peer, EchoMsg::Echo { payload: vec![7; size], reply_bytes: None }, ());
        let after = ms(ctx.rng().random_range(1..=20));
        ctx.set_timer(after, EchoTimer::Gossip);
    }

    pub fn start_gossip(&mut self, ctx: &mut Ctx<'_, Self>, peers: Vec<Addr>) {
        self.gossip_peers = peers;
        self.gossip(ctx);
    }
}

impl Node for EchoNode {
    type Msg = EchoMsg;
    type Timer = EchoTimer;
    type CallPurpose = ();

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, _from: Addr, token: ReplyToken, msg: EchoMsg) {
        self.handled += 1;
        match msg {
            EchoMsg::Echo { payload, reply_bytes } => {
                self.handled_order.push(payload.first().copied().unwrap_or(0));
                let data = match reply_bytes {
                    Some(n) => vec![1; n],
                    None => payload,
                };
                ctx.reply(token, EchoMsg::Data(data));
            }
            EchoMsg::Hold => self.held.push(token),
            EchoMsg::Release => {
                for held in self.held.drain(..) {
                    ctx.reply(held, EchoMsg::Data(vec![]));
                }
                ctx.reply(token, EchoMsg::Data(vec![]));
            }
            EchoMsg::Write { value, sync } => {
                let point = ctx.take_crash_point();
                if point.is_some() {
                    ctx.crash_now();
                }
                if point == Some(crate::fault::CrashPoint::BeforePersist) {
                    // the write is lost; the reply below never leaves
                } else if sync {
                    ctx.persister().save_raft_state(vec![value]);
                } else {
                    ctx.persister().save_unsynced(vec![value], vec![]);
                }
                ctx.reply(token, EchoMsg::Data(vec![]));
            }
            EchoMsg::Read => {
                let state = ctx.persister().raft_state().to_vec();
                ctx.reply(token, EchoMsg::Data(state));
            }
            EchoMsg::SetTimer { after_ms } => {
                ctx.set_timer(ms(after_ms), EchoTimer::Test);
                ctx.reply(token, EchoMsg::Data(vec![]));
            }
            EchoMsg::Data(_) => ctx.reply(token, EchoMsg::Data(vec![])),
        }
    }

    fn on_reply(&mut self, _ctx: &mut Ctx<'_, Self>, _from: Addr, _purpose: (), reply: Result<EchoMsg, RpcError>) {
        match reply {
            Ok(_) => self.replies_ok += 1,
            Err(_) => self.replies_failed += 1,
        }
    }

    fn ignores_failure(&self, _purpose: &()) -> bool {
        self.ignores_failures
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: EchoTimer) {
        match timer {
            EchoTimer::Gossip => self.gossip(ctx),
            EchoTimer::Test => self.timer_fired_at.push(ctx.now()),
        }
    }
}

/// An echo request with this payload.
pub fn echo(payload: Vec<u8>) -> EchoMsg {
    EchoMsg::Echo { payload, reply_bytes: None }
}

/// One client and `n` started echo servers.
pub fn setup(h: &SimHandle<EchoNode>, n: usize) -> (Addr, Vec<Addr>) {
    let client = h.add_client("client");
    let servers = (0..n)
        .map(|i| {
            let s = h.add_server(format!("echo-{i}"));
            h.start(s, |_| EchoNode::default());
            s
        })
        .collect();
    (client, servers)
}

/// How many requests a running echo server has handled.
pub fn handled(h: &SimHandle<EchoNode>, s: Addr) -> u64 {
    h.with_node(s, |n, _| n.handled).unwrap_or(0)
}
