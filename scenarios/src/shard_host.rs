//! Hosting the shard controller and shardkv groups in the simulator. One
//! world holds both kinds of server, so `LabNode` is either; `GroupIo`
//! carries a shardkv server's calls to the controllers and to other groups'
//! servers (by name, through the world's `Directory`), and the transports
//! carry clerks' calls.

use crate::raft_host::RaftRpc;
use crate::raft_io::{now_ms, peer_index, RaftCall, RaftCarrier, Restart, SimIo};
use crate::sim_ends::SimEnds;
use raft::{HostIo, Snapshot, StateDelta};
use serde::Serialize;
use shardkv::{
    CtrlerReply, CtrlerRequest, CtrlerServer, DeleteShard, FetchReply, FetchShard, GroupSetup, GroupTransport,
    Incoming, Outgoing, ShardIo, ShardKvServer, ShardReply, Task,
};
use sim::{ms, Addr, Ctx, Message, Node, ReplyToken, RpcError, SimHandle, TraceWord};
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;

/// Every message of a sharded deployment.
#[derive(Clone, Debug, Serialize)]
pub enum ShardRpc {
    Raft(RaftRpc),
    Ctrler(CtrlerRequest),
    CtrlerReply(CtrlerReply),
    Client(kv::Request),
    Reply(ShardReply),
    Fetch(FetchShard),
    Fetched(FetchReply),
    Delete(DeleteShard),
}

impl Message for ShardRpc {
    fn label(&self) -> &'static str {
        match self {
            ShardRpc::Raft(r) => r.label(),
            ShardRpc::Ctrler(r) => r.op.name(),
            ShardRpc::Client(r) => r.op.name(),
            ShardRpc::Fetch(_) => "FetchShard",
            ShardRpc::Delete(_) => "DeleteShard",
            ShardRpc::CtrlerReply(_) | ShardRpc::Reply(_) | ShardRpc::Fetched(_) => "Reply",
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

/// What a node's call was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardCall {
    Raft(RaftCall),
    Task(Task),
}

pub struct CtrlerNode {
    pub server: CtrlerServer<ReplyToken>,
    peers: Vec<Addr>,
}

pub struct GroupNode {
    pub server: ShardKvServer<ReplyToken>,
    peers: Vec<Addr>,
    directory: Rc<Directory>,
}

/// A shard controller server or a shardkv server.
// Twelve nodes per world, each in its own slot: the sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum LabNode {
    Ctrler(CtrlerNode),
    Group(GroupNode),
}

impl RaftCarrier for LabNode {
    fn raft_request(request: raft::Request) -> ShardRpc {
        ShardRpc::Raft(RaftRpc::Request(request))
    }
    fn raft_timer(at_ms: u64) -> ShardTimer {
        ShardTimer::Raft(at_ms)
    }
    fn raft_call(peer: usize) -> ShardCall {
        ShardCall::Raft(RaftCall { peer })
    }
}

impl kv::ReplyIo<ReplyToken, CtrlerReply> for SimIo<'_, '_, LabNode> {
    fn reply(&mut self, token: ReplyToken, reply: CtrlerReply) {
        self.ctx.reply(token, ShardRpc::CtrlerReply(reply));
    }
}

/// A shardkv server's effects: Raft's through `SimIo`, calls by name.
pub struct GroupIo<'a, 'c, 'w> {
    sim: SimIo<'a, 'w, LabNode>,
    directory: &'c Directory,
}

impl HostIo for GroupIo<'_, '_, '_> {
    fn persist(&mut self, delta: Option<StateDelta>, snapshot: Option<Snapshot>) {
        self.sim.persist(delta, snapshot);
    }
    fn send(&mut self, peer: usize, request: raft::Request) {
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

impl kv::ReplyIo<ReplyToken, ShardReply> for GroupIo<'_, '_, '_> {
    fn reply(&mut self, token: ReplyToken, reply: ShardReply) {
        self.sim.ctx.reply(token, ShardRpc::Reply(reply));
    }
}

impl ShardIo<ReplyToken> for GroupIo<'_, '_, '_> {
    fn call(&mut self, task: Task, call: Outgoing) {
        let (to, msg) = match call {
            Outgoing::Ctrler { ctrler, request } => (self.directory.ctrlers[ctrler], ShardRpc::Ctrler(request)),
            Outgoing::Fetch { server, request } => (self.directory.servers[&server], ShardRpc::Fetch(request)),
            Outgoing::Delete { server, request } => (self.directory.servers[&server], ShardRpc::Delete(request)),
        };
        self.sim.ctx.call(to, msg, ShardCall::Task(task));
    }

    fn set_tick(&mut self, at_ms: u64) {
        let now = self.sim.ctx.now();
        self.sim.ctx.set_timer((at_ms * sim::time::NANOS_PER_MS).saturating_sub(now), ShardTimer::Tick(at_ms));
    }
}

impl LabNode {
    /// Starts (or restarts) controller `me` of `peers` from its persister.
    pub fn start_ctrler(ctx: &mut Ctx<'_, LabNode>, me: usize, peers: Vec<Addr>) -> Result<LabNode, String> {
        let r = Restart::read(ctx, me, peers.len());
        let io = &mut SimIo { ctx, peers: &peers };
        let server = CtrlerServer::start(r.config, r.now_ms, &r.image, &r.snapshot, Default::default(), None, io)?;
        Ok(LabNode::Ctrler(CtrlerNode { server, peers }))
    }

    /// Starts (or restarts) server `me` of a group from its persister.
    pub fn start_group(
        ctx: &mut Ctx<'_, LabNode>,
        me: usize,
        peers: Vec<Addr>,
        setup: GroupSetup,
        directory: Rc<Directory>,
    ) -> Result<LabNode, String> {
        let r = Restart::read(ctx, me, peers.len());
        let io = &mut GroupIo { sim: SimIo { ctx, peers: &peers }, directory: &directory };
        let server = ShardKvServer::start(r.config, r.now_ms, &r.image, &r.snapshot, setup, io)?;
        Ok(LabNode::Group(GroupNode { server, peers, directory }))
    }
}

impl crate::raft_observer::HostsRaft for LabNode {
    fn hosted_raft(&self) -> &raft::Raft {
        self.raft()
    }
}

impl LabNode {
    /// The node's Raft, whichever kind it is.
    pub fn raft(&self) -> &raft::Raft {
        match self {
            LabNode::Ctrler(c) => c.server.raft(),
            LabNode::Group(g) => g.server.raft(),
        }
    }

    pub fn group(&self) -> Option<&ShardKvServer<ReplyToken>> {
        match self {
            LabNode::Group(g) => Some(&g.server),
            LabNode::Ctrler(_) => None,
        }
    }
}

impl CtrlerNode {
    fn on_request(&mut self, ctx: &mut Ctx<'_, LabNode>, from: Addr, token: ReplyToken, msg: ShardRpc) {
        let now = now_ms(ctx);
        let io = &mut SimIo { ctx, peers: &self.peers };
        match msg {
            ShardRpc::Raft(RaftRpc::Request(request)) => {
                let response = self.server.handle_raft_request(io, peer_index(&self.peers, from), request, now);
                io.ctx.reply(token, ShardRpc::Raft(RaftRpc::Response(response)));
            }
            ShardRpc::Ctrler(request) => self.server.handle_client(io, token, request, now),
            other => panic!("a controller is not sent {other:?}"),
        }
    }
}

impl GroupNode {
    fn on_timer(&mut self, ctx: &mut Ctx<'_, LabNode>, timer: ShardTimer) {
        let now = now_ms(ctx);
        let io = &mut GroupIo { sim: SimIo { ctx, peers: &self.peers }, directory: &self.directory };
        match timer {
            ShardTimer::Raft(at) => self.server.on_raft_timer(io, at, now),
            ShardTimer::Tick(at) => self.server.on_tick(io, at, now),
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, LabNode>, from: Addr, token: ReplyToken, msg: ShardRpc) {
        let now = now_ms(ctx);
        let (peers, directory) = (&self.peers, &*self.directory);
        let io = &mut GroupIo { sim: SimIo { ctx, peers }, directory };
        match msg {
            ShardRpc::Raft(RaftRpc::Request(request)) => {
                let response = self.server.handle_raft_request(io, peer_index(peers, from), request, now);
                io.sim.ctx.reply(token, ShardRpc::Raft(RaftRpc::Response(response)));
            }
            ShardRpc::Client(request) => self.server.handle_client(io, token, request, now),
            ShardRpc::Fetch(request) => {
                let reply = self.server.handle_fetch(&request);
                io.sim.ctx.reply(token, ShardRpc::Fetched(reply));
            }
            ShardRpc::Delete(request) => self.server.handle_delete(io, token, request, now),
            other => panic!("a shardkv server is not sent {other:?}"),
        }
    }

    fn on_reply(&mut self, ctx: &mut Ctx<'_, LabNode>, call: ShardCall, reply: Result<ShardRpc, RpcError>) {
        let now = now_ms(ctx);
        let (peers, directory) = (&self.peers, &*self.directory);
        let io = &mut GroupIo { sim: SimIo { ctx, peers }, directory };
        match call {
            ShardCall::Raft(RaftCall { peer }) => {
                if let Ok(ShardRpc::Raft(RaftRpc::Response(response))) = reply {
                    self.server.handle_raft_response(io, peer, response, now);
                }
            }
            ShardCall::Task(task) => {
                let answer = match reply {
                    Ok(ShardRpc::CtrlerReply(r)) => Some(Incoming::Ctrler(r)),
                    Ok(ShardRpc::Fetched(r)) => Some(Incoming::Fetch(r)),
                    Ok(ShardRpc::Reply(r)) => Some(Incoming::Delete(r)),
                    _ => None,
                };
                self.server.on_call_result(io, task, answer, now);
            }
        }
    }
}

impl Node for LabNode {
    type Msg = ShardRpc;

    fn status(&self) -> Option<(&'static str, u64)> {
        Some(self.raft().status())
    }
    type Timer = ShardTimer;
    type CallPurpose = ShardCall;

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, from: Addr, token: ReplyToken, msg: ShardRpc) {
        match self {
            LabNode::Ctrler(c) => c.on_request(ctx, from, token, msg),
            LabNode::Group(g) => g.on_request(ctx, from, token, msg),
        }
    }

    fn on_reply(&mut self, ctx: &mut Ctx<'_, Self>, _from: Addr, call: ShardCall, reply: Result<ShardRpc, RpcError>) {
        match self {
            LabNode::Ctrler(c) => {
                if let (ShardCall::Raft(RaftCall { peer }), Ok(ShardRpc::Raft(RaftRpc::Response(response)))) =
                    (call, reply)
                {
                    let now = now_ms(ctx);
                    c.server.handle_raft_response(&mut SimIo { ctx, peers: &c.peers }, peer, response, now);
                }
            }
            LabNode::Group(g) => g.on_reply(ctx, call, reply),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: ShardTimer) {
        match (self, timer) {
            (LabNode::Ctrler(c), ShardTimer::Raft(at)) => {
                let now = now_ms(ctx);
                c.server.on_timer(&mut SimIo { ctx, peers: &c.peers }, at, now);
            }
            (LabNode::Group(g), timer) => g.on_timer(ctx, timer),
            (LabNode::Ctrler(_), ShardTimer::Tick(_)) => unreachable!("controllers set no ticks"),
        }
    }
}

/// A controller clerk's ends.
pub type CtrlerTransport = SimEnds<LabNode, CtrlerRequest, CtrlerReply>;

/// Ends from `me` to the controller `servers`, in that order.
pub fn ctrler_ends(h: SimHandle<LabNode>, me: Addr, servers: Vec<Addr>) -> CtrlerTransport {
    let unwrap = |msg| match msg {
        ShardRpc::CtrlerReply(reply) => Some(reply),
        _ => None,
    };
    SimEnds::new(h, me, servers, ShardRpc::Ctrler, unwrap)
}

/// A shardkv clerk's ends to group servers, by name.
pub struct GroupEnds {
    pub h: SimHandle<LabNode>,
    pub me: Addr,
    pub directory: Rc<Directory>,
}

impl GroupTransport for GroupEnds {
    fn call(&self, server: &str, request: kv::Request) -> impl Future<Output = Option<ShardReply>> {
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
