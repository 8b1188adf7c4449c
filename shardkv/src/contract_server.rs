//! A shardkv server as the lab's contract wants it: `GroupServer` wraps a
//! `ShardKvServer` and carries its effects out through the contract's
//! `ShardIo`. Its calls to other groups travel as `GroupRequest`s; a
//! request's token says whether a clerk or another group asked (a
//! `DeleteShard` is answered through the log, like a clerk's operation, but
//! to a group), so every answer goes back the way it came.

use crate::ctrler::{CtrlerReply, CtrlerRequest};
use crate::rpc::{GroupReply, GroupRequest, ShardReply};
use crate::server::{GroupSetup, Incoming, Outgoing, ShardIo, ShardKvServer, Task};
use contract::shardkv::{Answer, GroupRaftRequest, ShardIo as ContractIo};
use contract::{HostIo, PeerConfig, Persisted, PersistedSize, Raft};
use std::sync::Arc;

/// Who asked: a clerk, or another group's server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asker<T> {
    Clerk(T),
    Group(T),
}

/// A shardkv group server of the contract, over Raft `R`.
pub struct GroupServer<R: Raft, T>(pub ShardKvServer<R, Asker<T>>);

/// The contract's I/O, seen as this server's own `ShardIo` (for a
/// `GroupServer<R, T>`).
struct Bridge<'a, R, T, I> {
    io: &'a mut I,
    server: std::marker::PhantomData<fn() -> (R, T)>,
}

fn bridge<R, T, I>(io: &mut I) -> Bridge<'_, R, T, I> {
    Bridge { io, server: std::marker::PhantomData }
}

impl<R: Raft, T: 'static, I: ContractIo<GroupServer<R, T>, T>> HostIo<R::Request> for Bridge<'_, R, T, I> {
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
    fn send(&mut self, peer: usize, request: R::Request) {
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

impl<R: Raft, T: 'static, I: ContractIo<GroupServer<R, T>, T>> PersistedSize for Bridge<'_, R, T, I> {
    fn raft_state_size(&self) -> usize {
        self.io.raft_state_size()
    }
}

impl<R: Raft, T: 'static, I: ContractIo<GroupServer<R, T>, T>> kv::ReplyIo<R::Request, Asker<T>, ShardReply>
    for Bridge<'_, R, T, I>
{
    fn reply(&mut self, token: Asker<T>, reply: ShardReply) {
        match token {
            Asker::Clerk(token) => self.io.reply(token, reply),
            Asker::Group(token) => self.io.reply_group(token, GroupReply::Deleted(reply)),
        }
    }
}

impl<R: Raft, T: 'static, I: ContractIo<GroupServer<R, T>, T>> ShardIo<R::Request, Asker<T>> for Bridge<'_, R, T, I> {
    fn call(&mut self, task: Task, call: Outgoing) {
        match call {
            Outgoing::Ctrler { ctrler, request } => self.io.call_ctrler(ctrler, request, task),
            Outgoing::Fetch { server, request } => self.io.call_group(&server, GroupRequest::Fetch(request), task),
            Outgoing::Delete { server, request } => self.io.call_group(&server, GroupRequest::Delete(request), task),
        }
    }

    fn set_tick(&mut self, at_ms: u64) {
        self.io.set_tick(at_ms);
    }
}

impl<R: Raft, T: 'static> contract::shardkv::ShardKvServer<T> for GroupServer<R, T> {
    type Raft = R;
    type Request = kv::Request;
    type Reply = ShardReply;
    type GroupRequest = GroupRequest;
    type GroupReply = GroupReply;
    type CtrlerRequest = CtrlerRequest;
    type CtrlerReply = CtrlerReply;
    type Purpose = Task;

    fn start(
        config: PeerConfig,
        persisted: Persisted<'_>,
        setup: contract::shardkv::GroupSetup,
        io: &mut impl ContractIo<Self, T>,
    ) -> Result<Self, String> {
        let setup = GroupSetup { gid: setup.gid, ctrlers: setup.ctrlers, max_raft_state: setup.max_raft_state };
        ShardKvServer::start(config, persisted, setup, &mut bridge(io)).map(GroupServer)
    }

    fn raft(&self) -> &R {
        self.0.raft()
    }

    fn raft_step(&self) -> Option<&contract::StepRecord> {
        Some(self.0.raft_step())
    }

    fn handle_client(&mut self, io: &mut impl ContractIo<Self, T>, token: T, request: kv::Request) {
        let now = io.now_ms();
        self.0.handle_client(&mut bridge(io), Asker::Clerk(token), request, now);
    }

    fn handle_group_request(&mut self, io: &mut impl ContractIo<Self, T>, token: T, request: GroupRequest) {
        match request {
            GroupRequest::Fetch(request) => io.reply_group(token, GroupReply::Fetched(self.0.handle_fetch(&request))),
            GroupRequest::Delete(request) => {
                let now = io.now_ms();
                self.0.handle_delete(&mut bridge(io), Asker::Group(token), request, now);
            }
        }
    }

    fn handle_raft_request(
        &mut self,
        io: &mut impl ContractIo<Self, T>,
        from: usize,
        request: GroupRaftRequest<Self, T>,
    ) -> R::Response {
        let now = io.now_ms();
        self.0.handle_raft_request(&mut bridge(io), from, request, now)
    }

    fn handle_raft_response(&mut self, io: &mut impl ContractIo<Self, T>, from: usize, response: R::Response) {
        let now = io.now_ms();
        self.0.handle_raft_response(&mut bridge(io), from, response, now);
    }

    fn raft_call_failed(&mut self, io: &mut impl ContractIo<Self, T>, peer: usize) {
        let now = io.now_ms();
        self.0.raft_call_failed(&mut bridge(io), peer, now);
    }

    fn on_raft_timer(&mut self, io: &mut impl ContractIo<Self, T>, at_ms: u64) {
        let now = io.now_ms();
        self.0.on_raft_timer(&mut bridge(io), at_ms, now);
    }

    fn raft_persisted(&mut self, io: &mut impl ContractIo<Self, T>, ticket: u64) {
        let now = io.now_ms();
        self.0.raft_persisted(&mut bridge(io), ticket, now);
    }

    fn on_tick(&mut self, io: &mut impl ContractIo<Self, T>, at_ms: u64) {
        let now = io.now_ms();
        self.0.on_tick(&mut bridge(io), at_ms, now);
    }

    fn on_call_result(
        &mut self,
        io: &mut impl ContractIo<Self, T>,
        task: Task,
        answer: Option<Answer<CtrlerReply, GroupReply>>,
    ) {
        let answer = answer.map(|answer| match answer {
            Answer::Ctrler(reply) => Incoming::Ctrler(reply),
            Answer::Group(GroupReply::Fetched(reply)) => Incoming::Fetch(reply),
            Answer::Group(GroupReply::Deleted(reply)) => Incoming::Delete(reply),
        });
        let now = io.now_ms();
        self.0.on_call_result(&mut bridge(io), task, answer, now);
    }

    fn describe(&self) -> String {
        let g = self.0.group();
        let statuses: Vec<String> = (0..crate::NSHARDS).map(|s| format!("{:?}", g.shard(s).status)).collect();
        let lead = if self.0.raft().state().1 { " leader" } else { "" };
        format!("config {}{lead}: {}", g.config().num, statuses.join(" "))
    }

    fn settled_config(&self) -> Option<u64> {
        let g = self.0.group();
        let pulling = (0..crate::NSHARDS).any(|s| g.shard(s).status == crate::shard::Status::Pulling);
        (!pulling).then_some(g.config().num)
    }

    fn shards_received(&self) -> u64 {
        self.0.group().shards_pulled()
    }
}

/// This shardkv (group server and clerk) with this shard controller, over
/// Raft `R`, for the lab.
pub struct ShardKvService<R>(std::marker::PhantomData<R>);

impl<R: Raft> contract::shardkv::ShardKv for ShardKvService<R> {
    type Raft = R;
    type Ctrler = crate::ctrler::CtrlerService<R>;
    type Request = kv::Request;
    type Reply = ShardReply;
    type GroupRequest = GroupRequest;
    type GroupReply = GroupReply;
    type Purpose = Task;
    type Server<T: 'static> = GroupServer<R, T>;
    type Clerk<C, G>
        = crate::ShardClerk<C, G>
    where
        C: contract::Transport<Request = CtrlerRequest, Reply = CtrlerReply>,
        G: contract::NamedTransport<Request = kv::Request, Reply = ShardReply>;

    fn clerk<C, G>(ctrler_ends: C, ctrlers: usize, groups: G, client_id: u64) -> crate::ShardClerk<C, G>
    where
        C: contract::Transport<Request = CtrlerRequest, Reply = CtrlerReply>,
        G: contract::NamedTransport<Request = kv::Request, Reply = ShardReply>,
    {
        crate::ShardClerk::new(kv::Clerk::new(ctrler_ends, ctrlers, client_id), groups)
    }
}
