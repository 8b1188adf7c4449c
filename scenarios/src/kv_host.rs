//! Hosting kvraft in the simulator: `KvNode` is a `kv::KvServer` whose
//! effects go through the shared `SimIo`, and `SimTransport` carries a
//! clerk's calls over the simulated network.

use crate::raft_host::RaftRpc;
use crate::raft_io::{now_ms, peer_index, RaftCall, RaftCarrier, Restart, SimIo};
use crate::sim_ends::SimEnds;
use kv::{KvServer, Reply, Request};
use serde::Serialize;
use sim::{Addr, Ctx, Message, Node, ReplyToken, RpcError, SimHandle};

/// Messages of a kvraft cluster: Raft's between servers, clerks' requests
/// and the servers' replies.
#[derive(Clone, Debug, Serialize)]
pub enum KvRpc {
    Raft(RaftRpc),
    Client(Request),
    Reply(Reply),
}

impl Message for KvRpc {
    fn label(&self) -> &'static str {
        match self {
            KvRpc::Raft(r) => r.label(),
            KvRpc::Client(r) => r.op.name(),
            KvRpc::Reply(_) => "Reply",
        }
    }
}

/// One kvraft server in the simulator.
pub struct KvNode {
    pub server: KvServer<ReplyToken>,
    peers: Vec<Addr>,
}

impl RaftCarrier for KvNode {
    fn raft_request(request: raft::Request) -> KvRpc {
        KvRpc::Raft(RaftRpc::Request(request))
    }
    fn raft_timer(at_ms: u64) -> u64 {
        at_ms
    }
    fn raft_call(peer: usize) -> RaftCall {
        RaftCall { peer }
    }
}

impl kv::ReplyIo<ReplyToken, Reply> for SimIo<'_, '_, KvNode> {
    fn reply(&mut self, token: ReplyToken, reply: Reply) {
        self.ctx.reply(token, KvRpc::Reply(reply));
    }
}

impl KvNode {
    /// Starts (or restarts) server `me` from its persister (the lab's
    /// `StartKVServer`).
    pub fn start(
        ctx: &mut Ctx<'_, KvNode>,
        me: usize,
        peers: Vec<Addr>,
        max_raft_state: Option<usize>,
    ) -> Result<KvNode, String> {
        let r = Restart::read(ctx, me, peers.len());
        let io = &mut SimIo { ctx, peers: &peers };
        let server =
            KvServer::start(r.config, r.now_ms, &r.image, &r.snapshot, kv::Store::default(), max_raft_state, io)?;
        Ok(KvNode { server, peers })
    }
}

impl crate::raft_observer::HostsRaft for KvNode {
    fn hosted_raft(&self) -> &raft::Raft {
        self.server.raft()
    }
}

impl Node for KvNode {
    type Msg = KvRpc;

    fn status(&self) -> Option<(&'static str, u64)> {
        Some(self.server.raft().status())
    }
    /// Raft's deadline in milliseconds.
    type Timer = u64;
    type CallPurpose = RaftCall;

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, from: Addr, token: ReplyToken, msg: KvRpc) {
        let now = now_ms(ctx);
        match msg {
            KvRpc::Raft(RaftRpc::Request(request)) => {
                let from = peer_index(&self.peers, from);
                let io = &mut SimIo { ctx, peers: &self.peers };
                let response = self.server.handle_raft_request(io, from, request, now);
                ctx.reply(token, KvRpc::Raft(RaftRpc::Response(response)));
            }
            KvRpc::Client(request) => {
                self.server.handle_client(&mut SimIo { ctx, peers: &self.peers }, token, request, now);
            }
            other => panic!("a kv server is sent requests only, got {other:?}"),
        }
    }

    fn on_reply(&mut self, ctx: &mut Ctx<'_, Self>, _from: Addr, call: RaftCall, reply: Result<KvRpc, RpcError>) {
        if let Ok(KvRpc::Raft(RaftRpc::Response(response))) = reply {
            let (from, now) = (call.peer, now_ms(ctx));
            self.server.handle_raft_response(&mut SimIo { ctx, peers: &self.peers }, from, response, now);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, at_ms: u64) {
        let now = now_ms(ctx);
        self.server.on_timer(&mut SimIo { ctx, peers: &self.peers }, at_ms, now);
    }
}

/// A kv clerk's ends.
pub type SimTransport = SimEnds<KvNode, Request, Reply>;

/// Ends from `me` to the kv `servers`, in that order.
pub fn kv_ends(h: SimHandle<KvNode>, me: Addr, servers: Vec<Addr>) -> SimTransport {
    let unwrap = |msg| match msg {
        KvRpc::Reply(reply) => Some(reply),
        _ => None,
    };
    SimEnds::new(h, me, servers, KvRpc::Client, unwrap)
}
