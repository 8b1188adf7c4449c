//! Hosting a shardkv implementation and its shard controller in the
//! simulator. One world holds both kinds of server, so `LabNode<S>` is
//! either; `GroupIo` carries a group server's calls to the controllers and
//! to other groups' servers (by name, through the world's `Directory`),
//! and the transports carry clerks' calls.

use crate::host::raft_io::{peer_index, raft_status, RaftCall, RaftCarrier, Restart, SimIo};
use crate::host::sim_ends::SimEnds;
use crate::labs::raft::host::RaftRpc;
use contract::shardctrler::ShardCtrler;
use contract::shardkv::{Answer, GroupSetup, ShardIo, ShardKv, ShardKvServer};
use contract::{HostIo, NamedTransport, PersistedSize, Raft, ReplicatedServer, ReplyIo};
use serde::Serialize;
use sim::{ms, Addr, Ctx, Message, Node, ReplyToken, RpcError, SimHandle, TraceWord};
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

/// Every message of a sharded deployment: Raft's, the controllers' (their
/// clerks' requests and replies), the group servers' clerks', and what
/// group servers ask one another.
#[derive(Clone, Debug, Serialize)]
pub enum ShardRpc<Req, Resp, CtrlerReq, CtrlerRep, ClientReq, ClientRep, GroupReq, GroupRep> {
    Raft(RaftRpc<Req, Resp>),
    Ctrler(CtrlerReq),
    CtrlerReply(CtrlerRep),
    Client(ClientReq),
    Reply(ClientRep),
    Group(GroupReq),
    GroupReply(GroupRep),
}

/// The controller implementation `S` runs with.
type Ctrl<S> = <S as ShardKv>::Ctrler;
/// The Raft requests of implementation `S`.
type RaftReq<S> = <<S as ShardKv>::Raft as Raft>::Request;

/// The messages of a deployment of implementation `S`.
pub type ShardMsg<S> = ShardRpc<
    RaftReq<S>,
    <<S as ShardKv>::Raft as Raft>::Response,
    <Ctrl<S> as ShardCtrler>::Request,
    <Ctrl<S> as ShardCtrler>::Reply,
    <S as ShardKv>::Request,
    <S as ShardKv>::Reply,
    <S as ShardKv>::GroupRequest,
    <S as ShardKv>::GroupReply,
>;

impl<A, B, C, D, E, F, G, H> Message for ShardRpc<A, B, C, D, E, F, G, H>
where
    A: contract::Message,
    B: contract::Message,
    C: contract::Message,
    D: contract::Message,
    E: contract::Message,
    F: contract::Message,
    G: contract::Message,
    H: contract::Message,
{
    /// The implementation's own sizes, and one byte for the variant.
    fn wire_size(&self) -> usize {
        1 + match self {
            ShardRpc::Raft(r) => r.wire_size(),
            ShardRpc::Ctrler(r) => r.wire_size(),
            ShardRpc::CtrlerReply(r) => r.wire_size(),
            ShardRpc::Client(r) => r.wire_size(),
            ShardRpc::Reply(r) => r.wire_size(),
            ShardRpc::Group(r) => r.wire_size(),
            ShardRpc::GroupReply(r) => r.wire_size(),
        }
    }

    fn label(&self) -> &'static str {
        match self {
            ShardRpc::Raft(r) => r.label(),
            ShardRpc::Ctrler(r) => r.label(),
            ShardRpc::Client(r) => r.label(),
            ShardRpc::Group(r) => r.label(),
            ShardRpc::CtrlerReply(_) | ShardRpc::Reply(_) | ShardRpc::GroupReply(_) => "Reply",
        }
    }
}

/// Where every server is: the controllers, and group servers by name.
#[derive(Debug, Default)]
pub struct Directory {
    pub ctrlers: Vec<Addr>,
    pub servers: BTreeMap<String, Addr>,
}

/// A node's timers: Raft's deadline, or a shardkv server's tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardTimer {
    Raft(u64),
    Tick(u64),
}

impl TraceWord for ShardTimer {
    fn trace_word(&self) -> u64 {
        match *self {
            ShardTimer::Raft(at) => at << 1,
            ShardTimer::Tick(at) => (at << 1) | 1,
        }
    }
}

/// What a node's call was for: a Raft request to a peer, or the group
/// server's own purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardCall<P> {
    Raft(RaftCall),
    Task(P),
}

pub struct CtrlerNode<S: ShardKv> {
    pub server: <Ctrl<S> as ShardCtrler>::Server<ReplyToken>,
    peers: Vec<Addr>,
}

pub struct GroupNode<S: ShardKv> {
    pub server: S::Server<ReplyToken>,
    peers: Vec<Addr>,
    directory: Rc<Directory>,
}

/// A shard controller server or a shardkv server.
// Twelve nodes per world, each in its own slot: the sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum LabNode<S: ShardKv> {
    Ctrler(CtrlerNode<S>),
    Group(GroupNode<S>),
}

impl<S: ShardKv> RaftCarrier for LabNode<S> {
    type Raft = S::Raft;
    fn raft_request(request: RaftReq<S>) -> ShardMsg<S> {
        ShardRpc::Raft(RaftRpc::Request(request))
    }
    fn raft_timer(at_ms: u64) -> ShardTimer {
        ShardTimer::Raft(at_ms)
    }
    fn raft_call(peer: usize) -> ShardCall<S::Purpose> {
        ShardCall::Raft(RaftCall { peer })
    }
}

impl<S: ShardKv> ReplyIo<RaftReq<S>, ReplyToken, <Ctrl<S> as ShardCtrler>::Reply> for SimIo<'_, '_, LabNode<S>> {
    fn reply(&mut self, token: ReplyToken, reply: <Ctrl<S> as ShardCtrler>::Reply) {
        self.ctx.reply(token, ShardRpc::CtrlerReply(reply));
    }
}

/// A group server's effects: Raft's through `SimIo`, answers, calls by
/// name, and its tick.
pub struct GroupIo<'a, 'c, 'w, S: ShardKv> {
    sim: SimIo<'a, 'w, LabNode<S>>,
    directory: &'c Directory,
}

impl<S: ShardKv> HostIo<RaftReq<S>> for GroupIo<'_, '_, '_, S> {
    fn now_ms(&self) -> u64 {
        self.sim.now_ms()
    }
    fn save_raft_state(&mut self, edit: impl FnOnce(&mut Vec<u8>)) {
        self.sim.save_raft_state(edit);
    }
    fn save_state_and_snapshot(&mut self, edit: impl FnOnce(&mut Vec<u8>), snapshot: Arc<Vec<u8>>) {
        self.sim.save_state_and_snapshot(edit, snapshot);
    }
    fn save_raft_state_async(&mut self, edit: impl FnOnce(&mut Vec<u8>), ticket: u64) -> bool {
        self.sim.save_raft_state_async(edit, ticket)
    }
    fn send(&mut self, peer: usize, request: RaftReq<S>) {
        self.sim.send(peer, request);
    }
    fn set_timer(&mut self, at_ms: u64) {
        self.sim.set_timer(at_ms);
    }
    fn fail(&mut self, reason: String) {
        self.sim.fail(reason);
    }
    fn stopped(&self) -> bool {
        self.sim.stopped()
    }
}

impl<S: ShardKv> PersistedSize for GroupIo<'_, '_, '_, S> {
    fn raft_state_size(&self) -> usize {
        self.sim.raft_state_size()
    }
}

impl<S: ShardKv> ShardIo<S::Server<ReplyToken>, ReplyToken> for GroupIo<'_, '_, '_, S> {
    fn reply(&mut self, token: ReplyToken, reply: S::Reply) {
        self.sim.ctx.reply(token, ShardRpc::Reply(reply));
    }

    fn reply_group(&mut self, token: ReplyToken, reply: S::GroupReply) {
        self.sim.ctx.reply(token, ShardRpc::GroupReply(reply));
    }

    fn call_ctrler(&mut self, ctrler: usize, request: <Ctrl<S> as ShardCtrler>::Request, purpose: S::Purpose) {
        let to = self.directory.ctrlers[ctrler];
        self.sim.ctx.call(to, ShardRpc::Ctrler(request), ShardCall::Task(purpose));
    }

    fn call_group(&mut self, server: &str, request: S::GroupRequest, purpose: S::Purpose) {
        let to = self.directory.servers[server];
        self.sim.ctx.call(to, ShardRpc::Group(request), ShardCall::Task(purpose));
    }

    fn set_tick(&mut self, at_ms: u64) {
        let now = self.sim.ctx.now();
        self.sim.ctx.set_timer((at_ms * sim::time::NANOS_PER_MS).saturating_sub(now), ShardTimer::Tick(at_ms));
    }
}

impl<S: ShardKv> LabNode<S> {
    /// Starts (or restarts) controller `me` of `peers` from its persister.
    pub fn start_ctrler(ctx: &mut Ctx<'_, LabNode<S>>, me: usize, peers: Vec<Addr>) -> Result<LabNode<S>, String> {
        let r = Restart::read(ctx, me, peers.len());
        let io = &mut SimIo::new(ctx, &peers);
        let server = <Ctrl<S> as ShardCtrler>::Server::start(r.config, r.persisted(), None, io)?;
        Ok(LabNode::Ctrler(CtrlerNode { server, peers }))
    }

    /// Starts (or restarts) server `me` of a group from its persister.
    pub fn start_group(
        ctx: &mut Ctx<'_, LabNode<S>>,
        me: usize,
        peers: Vec<Addr>,
        setup: GroupSetup,
        directory: Rc<Directory>,
    ) -> Result<LabNode<S>, String> {
        let r = Restart::read(ctx, me, peers.len());
        let io = &mut GroupIo { sim: SimIo::new(ctx, &peers), directory: &directory };
        let server = S::Server::start(r.config, r.persisted(), setup, io)?;
        Ok(LabNode::Group(GroupNode { server, peers, directory }))
    }

    /// The node's Raft, whichever kind it is.
    pub fn raft(&self) -> &S::Raft {
        match self {
            LabNode::Ctrler(c) => c.server.raft(),
            LabNode::Group(g) => g.server.raft(),
        }
    }

    /// Whether the node's Raft believes it leads.
    pub fn leads(&self) -> bool {
        self.raft().state().1
    }

    pub fn group(&self) -> Option<&S::Server<ReplyToken>> {
        match self {
            LabNode::Group(g) => Some(&g.server),
            LabNode::Ctrler(_) => None,
        }
    }
}

impl<S: ShardKv> crate::checks::raft_observer::HostsRaft for LabNode<S> {
    type Raft = S::Raft;
    fn hosted_raft(&self) -> &S::Raft {
        self.raft()
    }
    fn last_step(&self) -> Option<&contract::StepRecord> {
        match self {
            LabNode::Ctrler(c) => c.server.raft_step(),
            LabNode::Group(g) => g.server.raft_step(),
        }
    }
    fn serving(&self) -> crate::checks::raft_observer::Serving {
        use crate::checks::raft_observer::Serving;
        match self {
            LabNode::Ctrler(_) => Serving::Always,
            LabNode::Group(g) => g.server.settled_config().map_or(Serving::Moving, Serving::Settled),
        }
    }
}

impl<S: ShardKv> CtrlerNode<S> {
    fn on_request(&mut self, ctx: &mut Ctx<'_, LabNode<S>>, from: Addr, token: ReplyToken, msg: ShardMsg<S>) {
        let io = &mut SimIo::new(ctx, &self.peers);
        match msg {
            ShardRpc::Raft(RaftRpc::Request(request)) => {
                let response = self.server.handle_raft_request(io, peer_index(&self.peers, from), request);
                io.ctx.reply(token, ShardRpc::Raft(RaftRpc::Response(response)));
            }
            ShardRpc::Ctrler(request) => self.server.handle_client(io, token, request),
            other => panic!("a controller is not sent {other:?}"),
        }
    }

    fn on_reply(
        &mut self,
        ctx: &mut Ctx<'_, LabNode<S>>,
        call: ShardCall<S::Purpose>,
        reply: Result<ShardMsg<S>, RpcError>,
    ) {
        let ShardCall::Raft(RaftCall { peer }) = call else { panic!("controllers call only their peers") };
        let io = &mut SimIo::new(ctx, &self.peers);
        match reply {
            Ok(ShardRpc::Raft(RaftRpc::Response(response))) => self.server.handle_raft_response(io, peer, response),
            Ok(other) => panic!("a raft call is answered with a raft response, got {other:?}"),
            Err(_) => self.server.raft_call_failed(io, peer),
        }
    }
}

impl<S: ShardKv> GroupNode<S> {
    fn on_timer(&mut self, ctx: &mut Ctx<'_, LabNode<S>>, timer: ShardTimer) {
        let io = &mut GroupIo { sim: SimIo::new(ctx, &self.peers), directory: &self.directory };
        match timer {
            ShardTimer::Raft(at) => self.server.on_raft_timer(io, at),
            ShardTimer::Tick(at) => self.server.on_tick(io, at),
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, LabNode<S>>, from: Addr, token: ReplyToken, msg: ShardMsg<S>) {
        let (peers, directory) = (&self.peers, &*self.directory);
        let io = &mut GroupIo { sim: SimIo::new(ctx, peers), directory };
        match msg {
            ShardRpc::Raft(RaftRpc::Request(request)) => {
                let response = self.server.handle_raft_request(io, peer_index(peers, from), request);
                io.sim.ctx.reply(token, ShardRpc::Raft(RaftRpc::Response(response)));
            }
            ShardRpc::Client(request) => self.server.handle_client(io, token, request),
            ShardRpc::Group(request) => self.server.handle_group_request(io, token, request),
            other => panic!("a shardkv server is not sent {other:?}"),
        }
    }

    fn on_reply(
        &mut self,
        ctx: &mut Ctx<'_, LabNode<S>>,
        call: ShardCall<S::Purpose>,
        reply: Result<ShardMsg<S>, RpcError>,
    ) {
        let (peers, directory) = (&self.peers, &*self.directory);
        let io = &mut GroupIo { sim: SimIo::new(ctx, peers), directory };
        match call {
            ShardCall::Raft(RaftCall { peer }) => match reply {
                Ok(ShardRpc::Raft(RaftRpc::Response(response))) => self.server.handle_raft_response(io, peer, response),
                Ok(other) => panic!("a raft call is answered with a raft response, got {other:?}"),
                Err(_) => self.server.raft_call_failed(io, peer),
            },
            ShardCall::Task(purpose) => {
                let answer = match reply {
                    Ok(ShardRpc::CtrlerReply(r)) => Some(Answer::Ctrler(r)),
                    Ok(ShardRpc::GroupReply(r)) => Some(Answer::Group(r)),
                    _ => None,
                };
                self.server.on_call_result(io, purpose, answer);
            }
        }
    }
}

impl<S: ShardKv> Node for LabNode<S> {
    type Msg = ShardMsg<S>;

    fn status(&self) -> Option<(&'static str, u64)> {
        Some(raft_status(self.raft()))
    }
    type Timer = ShardTimer;
    type CallPurpose = ShardCall<S::Purpose>;

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, from: Addr, token: ReplyToken, msg: ShardMsg<S>) {
        match self {
            LabNode::Ctrler(c) => c.on_request(ctx, from, token, msg),
            LabNode::Group(g) => g.on_request(ctx, from, token, msg),
        }
    }

    fn on_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        _from: Addr,
        call: ShardCall<S::Purpose>,
        reply: Result<ShardMsg<S>, RpcError>,
    ) {
        match self {
            LabNode::Ctrler(c) => c.on_reply(ctx, call, reply),
            LabNode::Group(g) => g.on_reply(ctx, call, reply),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: ShardTimer) {
        match (self, timer) {
            (LabNode::Ctrler(c), ShardTimer::Raft(at)) => c.server.on_timer(&mut SimIo::new(ctx, &c.peers), at),
            (LabNode::Group(g), timer) => g.on_timer(ctx, timer),
            (LabNode::Ctrler(_), ShardTimer::Tick(_)) => unreachable!("controllers set no ticks"),
        }
    }

    fn on_durable(&mut self, ctx: &mut Ctx<'_, Self>, ticket: u64) {
        match self {
            LabNode::Ctrler(c) => c.server.raft_persisted(&mut SimIo::new(ctx, &c.peers), ticket),
            LabNode::Group(g) => {
                let io = &mut GroupIo { sim: SimIo::new(ctx, &g.peers), directory: &g.directory };
                g.server.raft_persisted(io, ticket);
            }
        }
    }
}

/// A controller clerk's ends.
pub type CtrlerTransport<S> = SimEnds<LabNode<S>, <Ctrl<S> as ShardCtrler>::Request, <Ctrl<S> as ShardCtrler>::Reply>;

/// Ends from `me` to the controller `servers`, in that order.
pub fn ctrler_ends<S: ShardKv>(h: SimHandle<LabNode<S>>, me: Addr, servers: Vec<Addr>) -> CtrlerTransport<S> {
    let unwrap = |msg| match msg {
        ShardRpc::CtrlerReply(reply) => Some(reply),
        _ => None,
    };
    SimEnds::new(h, me, servers, ShardRpc::Ctrler, unwrap)
}

/// A shardkv clerk's ends to group servers, by name.
pub struct GroupEnds<S: ShardKv> {
    pub h: SimHandle<LabNode<S>>,
    pub me: Addr,
    pub directory: Rc<Directory>,
}

impl<S: ShardKv> NamedTransport for GroupEnds<S> {
    type Request = S::Request;
    type Reply = S::Reply;

    fn call(&self, server: &str, request: S::Request) -> impl Future<Output = Option<S::Reply>> {
        let call = self.h.call(self.me, self.directory.servers[server], ShardRpc::Client(request));
        async move {
            match call.await {
                Ok(ShardRpc::Reply(reply)) => Some(reply),
                _ => None,
            }
        }
    }

    fn sleep_ms(&self, duration_ms: u64) -> impl Future<Output = ()> {
        self.h.sleep(ms(duration_ms))
    }
}
