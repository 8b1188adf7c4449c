//! Hosting a kvraft implementation in the simulator: `KvNode<K>` is the
//! server of implementation `K` (any `contract::kv::Kv`), whose effects go
//! through the shared `SimIo`, and `SimTransport` carries a clerk's calls
//! over the simulated network.

use crate::host::raft_io::{peer_index, raft_status, RaftCall, RaftCarrier, Restart, SimIo};
use crate::host::sim_ends::SimEnds;
use crate::labs::raft::host::RaftRpc;
use contract::kv::Kv;
use contract::{Raft, ReplicatedServer, ReplyIo};
use serde::Serialize;
use sim::{Addr, Ctx, Message, Node, ReplyToken, RpcError, SimHandle};

/// Messages of a kvraft cluster: Raft's between servers, clerks' requests
/// and the servers' replies.
#[derive(Clone, Debug, Serialize)]
pub enum KvRpc<Req, Resp, ClientReq, ClientReply> {
    Raft(RaftRpc<Req, Resp>),
    Client(ClientReq),
    Reply(ClientReply),
}

/// The messages of a cluster of implementation `K`.
pub type KvMsg<K> = KvRpc<RaftReq<K>, <<K as Kv>::Raft as Raft>::Response, <K as Kv>::Request, <K as Kv>::Reply>;
/// The Raft requests of implementation `K`.
type RaftReq<K> = <<K as Kv>::Raft as Raft>::Request;

impl<Req, Resp, CReq, CRep> Message for KvRpc<Req, Resp, CReq, CRep>
where
    Req: contract::Message,
    Resp: contract::Message,
    CReq: contract::Message,
    CRep: contract::Message,
{
    fn label(&self) -> &'static str {
        match self {
            KvRpc::Raft(r) => r.label(),
            KvRpc::Client(r) => r.label(),
            KvRpc::Reply(_) => "Reply",
        }
    }

    /// The implementation's own sizes, and one byte for the variant.
    fn wire_size(&self) -> usize {
        1 + match self {
            KvRpc::Raft(r) => r.wire_size(),
            KvRpc::Client(r) => r.wire_size(),
            KvRpc::Reply(r) => r.wire_size(),
        }
    }
}

/// One kvraft server in the simulator.
pub struct KvNode<K: Kv> {
    pub server: K::Server<ReplyToken>,
    peers: Vec<Addr>,
}

impl<K: Kv> RaftCarrier for KvNode<K> {
    type Raft = K::Raft;
    fn raft_request(request: RaftReq<K>) -> KvMsg<K> {
        KvRpc::Raft(RaftRpc::Request(request))
    }
    fn raft_timer(at_ms: u64) -> u64 {
        at_ms
    }
    fn raft_call(peer: usize) -> RaftCall {
        RaftCall { peer }
    }
}

impl<K: Kv> ReplyIo<RaftReq<K>, ReplyToken, K::Reply> for SimIo<'_, '_, KvNode<K>> {
    fn reply(&mut self, token: ReplyToken, reply: K::Reply) {
        self.ctx.reply(token, KvRpc::Reply(reply));
    }
}

impl<K: Kv> KvNode<K> {
    /// Starts (or restarts) server `me` from its persister (the lab's
    /// `StartKVServer`).
    pub fn start(
        ctx: &mut Ctx<'_, KvNode<K>>,
        me: usize,
        peers: Vec<Addr>,
        max_raft_state: Option<usize>,
    ) -> Result<KvNode<K>, String> {
        let r = Restart::read(ctx, me, peers.len());
        let io = &mut SimIo::new(ctx, &peers);
        let server = K::Server::start(r.config, r.persisted(), max_raft_state, io)?;
        Ok(KvNode { server, peers })
    }

    /// Whether this server's Raft believes it leads.
    pub fn leads(&self) -> bool {
        self.server.raft().state().1
    }
}

impl<K: Kv> crate::checks::raft_observer::HostsRaft for KvNode<K> {
    type Raft = K::Raft;
    fn hosted_raft(&self) -> &K::Raft {
        self.server.raft()
    }
    fn last_step(&self) -> Option<&contract::StepRecord> {
        self.server.raft_step()
    }
}

impl<K: Kv> Node for KvNode<K> {
    type Msg = KvMsg<K>;

    fn status(&self) -> Option<(&'static str, u64)> {
        Some(raft_status(self.server.raft()))
    }
    /// Raft's deadline in milliseconds.
    type Timer = u64;
    type CallPurpose = RaftCall;

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, from: Addr, token: ReplyToken, msg: KvMsg<K>) {
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

    fn on_reply(&mut self, ctx: &mut Ctx<'_, Self>, _from: Addr, call: RaftCall, reply: Result<KvMsg<K>, RpcError>) {
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

    fn on_durable(&mut self, ctx: &mut Ctx<'_, Self>, ticket: u64) {
        self.server.raft_persisted(&mut SimIo::new(ctx, &self.peers), ticket);
    }
}

/// A kv clerk's ends.
pub type SimTransport<K> = SimEnds<KvNode<K>, <K as Kv>::Request, <K as Kv>::Reply>;

/// Ends from `me` to the kv `servers`, in that order.
pub fn kv_ends<K: Kv>(h: SimHandle<KvNode<K>>, me: Addr, servers: Vec<Addr>) -> SimTransport<K> {
    let unwrap = |msg| match msg {
        KvRpc::Reply(reply) => Some(reply),
        _ => None,
    };
    SimEnds::new(h, me, servers, KvRpc::Client, unwrap)
}
