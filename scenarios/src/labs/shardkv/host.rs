//! Hosting the shard controller and shardkv groups in the simulator. One
//! world holds both kinds of server, so `LabNode` is either; `GroupIo`
//! carries a shardkv server's calls to the controllers and to other groups'
//! servers (by name, through the world's `Directory`), and the transports
//! carry clerks' calls.

use crate::host::raft_io::{now_ms, peer_index, raft_status, RaftCall, RaftCarrier, Restart, SimIo};
use crate::host::sim_ends::SimEnds;
use crate::labs::raft::host::RaftRpc;
use contract::{HostIo, PersistedSize, Raft};
use serde::Serialize;
use shardkv::{
    CtrlerReply, CtrlerRequest, CtrlerServer, DeleteShard, FetchReply, FetchShard, GroupSetup, GroupTransport,
    Incoming, Outgoing, ShardIo, ShardKvServer, ShardReply, Task,
};
use sim::{bincode_size, ms, Addr, Ctx, Message, Node, ReplyToken, RpcError, SimHandle, TraceWord};
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

/// Every message of a sharded deployment.
#[derive(Clone, Debug, Serialize)]
pub enum ShardRpc<Req, Resp> {
    Raft(RaftRpc<Req, Resp>),
    Ctrler(CtrlerRequest),
    CtrlerReply(CtrlerReply),
    Client(kv::Request),
    Reply(ShardReply),
    Fetch(FetchShard),
    Fetched(FetchReply),
    Delete(DeleteShard),
}

/// The messages of a sharded deployment over Raft `R`.
pub type ShardMsg<R> = ShardRpc<<R as Raft>::Request, <R as Raft>::Response>;

impl<Req: contract::Message, Resp: contract::Message> Message for ShardRpc<Req, Resp> {
    fn wire_size(&self) -> usize {
        match self {
            ShardRpc::Raft(r) => 1 + r.wire_size(),
            _ => bincode_size(self),
        }
    }

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

pub struct CtrlerNode<R: Raft> {
    pub server: CtrlerServer<R, ReplyToken>,
    peers: Vec<Addr>,
}

pub struct GroupNode<R: Raft> {
    pub server: ShardKvServer<R, ReplyToken>,
    peers: Vec<Addr>,
    directory: Rc<Directory>,
}

/// A shard controller server or a shardkv server.
// Twelve nodes per world, each in its own slot: the sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum LabNode<R: Raft> {
    Ctrler(CtrlerNode<R>),
    Group(GroupNode<R>),
}

impl<R: Raft> RaftCarrier for LabNode<R> {
    type Raft = R;
    fn raft_request(request: R::Request) -> ShardMsg<R> {
        ShardRpc::Raft(RaftRpc::Request(request))
    }
    fn raft_timer(at_ms: u64) -> ShardTimer {
        ShardTimer::Raft(at_ms)
    }
    fn raft_call(peer: usize) -> ShardCall {
        ShardCall::Raft(RaftCall { peer })
    }
}

impl<R: Raft> kv::ReplyIo<R::Request, ReplyToken, CtrlerReply> for SimIo<'_, '_, LabNode<R>> {
    fn reply(&mut self, token: ReplyToken, reply: CtrlerReply) {
        self.ctx.reply(token, ShardRpc::CtrlerReply(reply));
    }
}

/// A shardkv server's effects: Raft's through `SimIo`, calls by name.
pub struct GroupIo<'a, 'c, 'w, R: Raft> {
    sim: SimIo<'a, 'w, LabNode<R>>,
    directory: &'c Directory,
}

impl<R: Raft> HostIo<R::Request> for GroupIo<'_, '_, '_, R> {
    fn now_ms(&self) -> u64 {
        self.sim.now_ms()
    }
    fn save_raft_state(&mut self, edit: impl FnOnce(&mut Vec<u8>)) {
        self.sim.save_raft_state(edit);
    }
    fn save_state_and_snapshot(&mut self, edit: impl FnOnce(&mut Vec<u8>), snapshot: Arc<Vec<u8>>) {
        self.sim.save_state_and_snapshot(edit, snapshot);
    }
    fn send(&mut self, peer: usize, request: R::Request) {
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

impl<R: Raft> PersistedSize for GroupIo<'_, '_, '_, R> {
    fn raft_state_size(&self) -> usize {
        self.sim.raft_state_size()
    }
}

impl<R: Raft> kv::ReplyIo<R::Request, ReplyToken, ShardReply> for GroupIo<'_, '_, '_, R> {
    fn reply(&mut self, token: ReplyToken, reply: ShardReply) {
        self.sim.ctx.reply(token, ShardRpc::Reply(reply));
    }
}

impl<R: Raft> ShardIo<R::Request, ReplyToken> for GroupIo<'_, '_, '_, R> {
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

impl<R: Raft> LabNode<R> {
    /// Starts (or restarts) controller `me` of `peers` from its persister.
    pub fn start_ctrler(ctx: &mut Ctx<'_, LabNode<R>>, me: usize, peers: Vec<Addr>) -> Result<LabNode<R>, String> {
        let r = Restart::read(ctx, me, peers.len());
        let io = &mut SimIo::new(ctx, &peers);
        let server = CtrlerServer::start(r.config, r.persisted(), Default::default(), None, io)?;
        Ok(LabNode::Ctrler(CtrlerNode { server, peers }))
    }

    /// Starts (or restarts) server `me` of a group from its persister.
    pub fn start_group(
        ctx: &mut Ctx<'_, LabNode<R>>,
        me: usize,
        peers: Vec<Addr>,
        setup: GroupSetup,
        directory: Rc<Directory>,
    ) -> Result<LabNode<R>, String> {
        let r = Restart::read(ctx, me, peers.len());
        let io = &mut GroupIo { sim: SimIo::new(ctx, &peers), directory: &directory };
        let server = ShardKvServer::start(r.config, r.persisted(), setup, io)?;
        Ok(LabNode::Group(GroupNode { server, peers, directory }))
    }
}

impl<R: Raft> crate::checks::raft_observer::HostsRaft for LabNode<R> {
    type Raft = R;
    fn hosted_raft(&self) -> &R {
        self.raft()
    }
}

impl<R: Raft> LabNode<R> {
    /// The node's Raft, whichever kind it is.
    pub fn raft(&self) -> &R {
        match self {
            LabNode::Ctrler(c) => c.server.raft(),
            LabNode::Group(g) => g.server.raft(),
        }
    }

    pub fn group(&self) -> Option<&ShardKvServer<R, ReplyToken>> {
        match self {
            LabNode::Group(g) => Some(&g.server),
            LabNode::Ctrler(_) => None,
        }
    }
}

impl<R: Raft> CtrlerNode<R> {
    fn on_request(&mut self, ctx: &mut Ctx<'_, LabNode<R>>, from: Addr, token: ReplyToken, msg: ShardMsg<R>) {
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
}

impl<R: Raft> GroupNode<R> {
    fn on_timer(&mut self, ctx: &mut Ctx<'_, LabNode<R>>, timer: ShardTimer) {
        let now = now_ms(ctx);
        let io = &mut GroupIo { sim: SimIo::new(ctx, &self.peers), directory: &self.directory };
        match timer {
            ShardTimer::Raft(at) => self.server.on_raft_timer(io, at, now),
            ShardTimer::Tick(at) => self.server.on_tick(io, at, now),
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, LabNode<R>>, from: Addr, token: ReplyToken, msg: ShardMsg<R>) {
        let now = now_ms(ctx);
        let (peers, directory) = (&self.peers, &*self.directory);
        let io = &mut GroupIo { sim: SimIo::new(ctx, peers), directory };
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

    fn on_reply(&mut self, ctx: &mut Ctx<'_, LabNode<R>>, call: ShardCall, reply: Result<ShardMsg<R>, RpcError>) {
        let now = now_ms(ctx);
        let (peers, directory) = (&self.peers, &*self.directory);
        let io = &mut GroupIo { sim: SimIo::new(ctx, peers), directory };
        match call {
            ShardCall::Raft(RaftCall { peer }) => match reply {
                Ok(ShardRpc::Raft(RaftRpc::Response(response))) => {
                    self.server.handle_raft_response(io, peer, response, now)
                }
                Ok(other) => panic!("a raft call is answered with a raft response, got {other:?}"),
                Err(_) => self.server.raft_call_failed(io, peer, now),
            },
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

impl<R: Raft> Node for LabNode<R> {
    type Msg = ShardMsg<R>;

    fn status(&self) -> Option<(&'static str, u64)> {
        Some(raft_status(self.raft()))
    }
    type Timer = ShardTimer;
    type CallPurpose = ShardCall;

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, from: Addr, token: ReplyToken, msg: ShardMsg<R>) {
        match self {
            LabNode::Ctrler(c) => c.on_request(ctx, from, token, msg),
            LabNode::Group(g) => g.on_request(ctx, from, token, msg),
        }
    }

    fn on_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        _from: Addr,
        call: ShardCall,
        reply: Result<ShardMsg<R>, RpcError>,
    ) {
        match self {
            LabNode::Ctrler(c) => {
                let ShardCall::Raft(RaftCall { peer }) = call else { panic!("controllers call only their peers") };
                let io = &mut SimIo::new(ctx, &c.peers);
                match reply {
                    Ok(ShardRpc::Raft(RaftRpc::Response(response))) => {
                        c.server.handle_raft_response(io, peer, response)
                    }
                    Ok(other) => panic!("a raft call is answered with a raft response, got {other:?}"),
                    Err(_) => c.server.raft_call_failed(io, peer),
                }
            }
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
}

/// A controller clerk's ends.
pub type CtrlerTransport<R> = SimEnds<LabNode<R>, CtrlerRequest, CtrlerReply>;

/// Ends from `me` to the controller `servers`, in that order.
pub fn ctrler_ends<R: Raft>(h: SimHandle<LabNode<R>>, me: Addr, servers: Vec<Addr>) -> CtrlerTransport<R> {
    let unwrap = |msg| match msg {
        ShardRpc::CtrlerReply(reply) => Some(reply),
        _ => None,
    };
    SimEnds::new(h, me, servers, ShardRpc::Ctrler, unwrap)
}

/// A shardkv clerk's ends to group servers, by name.
pub struct GroupEnds<R: Raft> {
    pub h: SimHandle<LabNode<R>>,
    pub me: Addr,
    pub directory: Rc<Directory>,
}

impl<R: Raft> GroupTransport for GroupEnds<R> {
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
