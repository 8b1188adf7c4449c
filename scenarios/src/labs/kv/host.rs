//! Hosting kvraft in the simulator over any Raft of the contract:
//! `KvNode<R>` is a `kv::KvServer` whose effects go through the shared
//! `SimIo`, and `SimTransport` carries a clerk's calls over the simulated
//! network.

use crate::host::raft_io::{peer_index, raft_status, RaftCall, RaftCarrier, Restart, SimIo};
use crate::host::sim_ends::SimEnds;
use crate::labs::raft::host::RaftRpc;
use contract::Raft;
use kv::{KvServer, Reply, Request};
use serde::Serialize;
use sim::{bincode_size, Addr, Ctx, Message, Node, ReplyToken, RpcError, SimHandle};

/// Messages of a kvraft cluster: Raft's between servers, clerks' requests
/// and the servers' replies.
#[derive(Clone, Debug, Serialize)]
pub enum KvRpc<Req, Resp> {
    Raft(RaftRpc<Req, Resp>),
    Client(Request),
    Reply(Reply),
}

/// The messages of a kvraft cluster over Raft `R`.
pub type KvMsg<R> = KvRpc<<R as Raft>::Request, <R as Raft>::Response>;

impl<Req: contract::Message, Resp: contract::Message> Message for KvRpc<Req, Resp> {
    fn label(&self) -> &'static str {
        match self {
            KvRpc::Raft(r) => r.label(),
            KvRpc::Client(r) => r.op.name(),
            KvRpc::Reply(_) => "Reply",
        }
    }

    fn wire_size(&self) -> usize {
        match self {
            KvRpc::Raft(r) => 1 + r.wire_size(),
            _ => bincode_size(self),
        }
    }
}

/// One kvraft server in the simulator.
pub struct KvNode<R: Raft> {
    pub server: KvServer<R, ReplyToken>,
    peers: Vec<Addr>,
}

impl<R: Raft> RaftCarrier for KvNode<R> {
    type Raft = R;
    fn raft_request(request: R::Request) -> KvMsg<R> {
        KvRpc::Raft(RaftRpc::Request(request))
    }
    fn raft_timer(at_ms: u64) -> u64 {
        at_ms
    }
    fn raft_call(peer: usize) -> RaftCall {
        RaftCall { peer }
    }
}

impl<R: Raft> kv::ReplyIo<R::Request, ReplyToken, Reply> for SimIo<'_, '_, KvNode<R>> {
    fn reply(&mut self, token: ReplyToken, reply: Reply) {
        self.ctx.reply(token, KvRpc::Reply(reply));
    }
}

impl<R: Raft> KvNode<R> {
    /// Starts (or restarts) server `me` from its persister (the lab's
    /// `StartKVServer`).
    pub fn start(
        ctx: &mut Ctx<'_, KvNode<R>>,
        me: usize,
        peers: Vec<Addr>,
        max_raft_state: Option<usize>,
    ) -> Result<KvNode<R>, String> {
        let r = Restart::read(ctx, me, peers.len());
        let io = &mut SimIo::new(ctx, &peers);
        let server = KvServer::start(r.config, r.persisted(), kv::Store::default(), max_raft_state, io)?;
        Ok(KvNode { server, peers })
    }
}

impl<R: Raft> crate::checks::raft_observer::HostsRaft for KvNode<R> {
    type Raft = R;
    fn hosted_raft(&self) -> &R {
        self.server.raft()
    }
}

impl<R: Raft> Node for KvNode<R> {
    type Msg = KvMsg<R>;

    fn status(&self) -> Option<(&'static str, u64)> {
        Some(raft_status(self.server.raft()))
    }
    /// Raft's deadline in milliseconds.
    type Timer = u64;
    type CallPurpose = RaftCall;

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, from: Addr, token: ReplyToken, msg: KvMsg<R>) {
        match msg {
            KvRpc::Raft(RaftRpc::Request(request)) => {
                let from = peer_index(&self.peers, from);
                let io = &mut SimIo::new(ctx, &self.peers);
                let response = self.server.handle_raft_request(io, from, request);
                ctx.reply(token, KvRpc::Raft(RaftRpc::Response(response)));
            }
            KvRpc::Client(request) => {
                self.server.handle_client(&mut SimIo::new(ctx, &self.peers), token, request);
            }
            other => panic!("a kv server is sent requests only, got {other:?}"),
        }
    }

    fn on_reply(&mut self, ctx: &mut Ctx<'_, Self>, _from: Addr, call: RaftCall, reply: Result<KvMsg<R>, RpcError>) {
        let io = &mut SimIo::new(ctx, &self.peers);
        match reply {
            Ok(KvRpc::Raft(RaftRpc::Response(response))) => self.server.handle_raft_response(io, call.peer, response),
            Ok(other) => panic!("a raft call is answered with a raft response, got {other:?}"),
            Err(_) => self.server.raft_call_failed(io, call.peer),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, at_ms: u64) {
        self.server.on_timer(&mut SimIo::new(ctx, &self.peers), at_ms);
    }
}

/// A kv clerk's ends.
pub type SimTransport<R> = SimEnds<KvNode<R>, Request, Reply>;

/// Ends from `me` to the kv `servers`, in that order.
pub fn kv_ends<R: Raft>(h: SimHandle<KvNode<R>>, me: Addr, servers: Vec<Addr>) -> SimTransport<R> {
    let unwrap = |msg| match msg {
        KvRpc::Reply(reply) => Some(reply),
        _ => None,
    };
    SimEnds::new(h, me, servers, KvRpc::Client, unwrap)
}
