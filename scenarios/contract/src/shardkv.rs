//! The sharded key/value store (lab 4B): what an implementation of a
//! shardkv group server and its clerk brings, and the I/O its server acts
//! through (its Raft's, answers, calls to the controllers and to other
//! groups' servers by name, and a timer of its own).

use crate::host::PersistedSize;
use crate::kv::{Op, Outcome};
use crate::message::Message;
use crate::raft::{HostIo, PeerConfig, Persisted, Raft};
use crate::service::{NamedTransport, Transport};
use crate::shardctrler::{Gid, ShardCtrler};

/// How a group server is started (the lab's `StartServer` arguments).
#[derive(Clone, Copy, Debug)]
pub struct GroupSetup {
    /// The server's replica group.
    pub gid: Gid,
    /// How many controllers there are (called by index).
    pub ctrlers: usize,
    /// Snapshot as the persisted Raft state nears this many bytes (`None`:
    /// never).
    pub max_raft_state: Option<usize>,
}

/// The answer to a call a group server made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer<CtrlerReply, GroupReply> {
    /// A controller's answer.
    Ctrler(CtrlerReply),
    /// Another group's server's answer.
    Group(GroupReply),
}

/// The Raft requests of a group server's Raft.
pub type GroupRaftRequest<S, T> = <<S as ShardKvServer<T>>::Raft as Raft>::Request;

/// A group server's I/O: its Raft's, answers to clerks and to other
/// groups' servers, calls (answered through
/// [`ShardKvServer::on_call_result`] with their purpose), and its own
/// timer ([`ShardKvServer::on_tick`]).
pub trait ShardIo<S: ShardKvServer<T>, T>: HostIo<GroupRaftRequest<S, T>> + PersistedSize {
    /// Answers a clerk's request.
    fn reply(&mut self, token: T, reply: S::Reply);
    /// Answers another group's server.
    fn reply_group(&mut self, token: T, reply: S::GroupReply);
    /// Calls controller `ctrler` (an index).
    fn call_ctrler(&mut self, ctrler: usize, request: S::CtrlerRequest, purpose: S::Purpose);
    /// Calls the group server named `server`.
    fn call_group(&mut self, server: &str, request: S::GroupRequest, purpose: S::Purpose);
    /// Calls [`ShardKvServer::on_tick`] with `at_ms` once the clock reads
    /// it (never cancelled).
    fn set_tick(&mut self, at_ms: u64);
}

/// A shardkv group server (the lab's `shardkv.StartServer`), sans-IO.
///
/// The lab's rules: a server serves the keys of the shards its group owns
/// in the configuration it has reached, answering `ErrWrongGroup` (in its
/// own reply type) for others; configurations are taken in order; a shard
/// moves with its data and its duplicate table; every operation is
/// applied exactly once and the history is linearizable.
pub trait ShardKvServer<T>: Sized + 'static {
    /// The Raft the group runs on.
    type Raft: Raft;
    /// A clerk's request.
    type Request: Message;
    /// The server's reply to a clerk.
    type Reply: Message;
    /// What one group's server asks another's.
    type GroupRequest: Message;
    /// The answer to a `GroupRequest`.
    type GroupReply: Message;
    /// What the server asks the controllers.
    type CtrlerRequest: Message;
    /// The controllers' answer.
    type CtrlerReply: Message;
    /// What a call was for; given back with its answer.
    type Purpose: Copy + std::fmt::Debug + 'static;

    /// Starts (or restarts) a server from what its persister holds.
    fn start(
        config: PeerConfig,
        persisted: Persisted<'_>,
        setup: GroupSetup,
        io: &mut impl ShardIo<Self, T>,
    ) -> Result<Self, String>;

    /// The server's Raft (for the lab's leader lookups and its observer).
    fn raft(&self) -> &Self::Raft;

    /// The last input the server's [`RaftHost`](crate::RaftHost) gave its
    /// Raft ([`RaftHost::last_step`](crate::RaftHost::last_step)), so the
    /// lab checks Figure 2's rules on each step; `None` (the default)
    /// leaves those rules off for this service.
    fn raft_step(&self) -> Option<&crate::StepRecord> {
        None
    }

    /// A clerk's request, answered through `io.reply`.
    fn handle_client(&mut self, io: &mut impl ShardIo<Self, T>, token: T, request: Self::Request);

    /// Another group's server's request, answered through `io.reply_group`.
    fn handle_group_request(&mut self, io: &mut impl ShardIo<Self, T>, token: T, request: Self::GroupRequest);

    /// A Raft request from peer `from` (of this group); returns the response.
    fn handle_raft_request(
        &mut self,
        io: &mut impl ShardIo<Self, T>,
        from: usize,
        request: GroupRaftRequest<Self, T>,
    ) -> <Self::Raft as Raft>::Response;

    /// Peer `from`'s response to a Raft request this server sent.
    fn handle_raft_response(
        &mut self,
        io: &mut impl ShardIo<Self, T>,
        from: usize,
        response: <Self::Raft as Raft>::Response,
    );

    /// A Raft request to `peer` got no response.
    fn raft_call_failed(&mut self, io: &mut impl ShardIo<Self, T>, peer: usize);

    /// A timer the server's Raft set fired.
    fn on_raft_timer(&mut self, io: &mut impl ShardIo<Self, T>, at_ms: u64);

    /// The server's Raft's asynchronous writes through `ticket` are durable:
    /// hand it on with [`RaftHost::persisted`](crate::RaftHost::persisted).
    /// Nothing by default, which serves only a Raft that never writes
    /// asynchronously.
    fn raft_persisted(&mut self, _io: &mut impl ShardIo<Self, T>, _ticket: u64) {}

    /// A timer set with [`ShardIo::set_tick`] fired.
    fn on_tick(&mut self, io: &mut impl ShardIo<Self, T>, at_ms: u64);

    /// The answer to a call made for `purpose` (`None`: the call failed).
    fn on_call_result(
        &mut self,
        io: &mut impl ShardIo<Self, T>,
        purpose: Self::Purpose,
        answer: Option<Answer<Self::CtrlerReply, Self::GroupReply>>,
    );

    /// Where the server stands (its configuration, its shards), printed
    /// when a test runs out of time. Nothing by default.
    fn describe(&self) -> String {
        String::new()
    }

    /// The configuration this server has fully taken on: every shard it
    /// owns in it is here (none still on its way from another group), so
    /// it serves them all. `None` while a reconfiguration is in progress,
    /// and by default. The lab bounds clients' latency (in its chaos and
    /// swarm runs) only while every group's leader is settled in one
    /// configuration: a server that does not say is not held to it.
    fn settled_config(&self) -> Option<u64> {
        None
    }

    /// Shards this server's group has received from others so far, for
    /// reports. 0 by default.
    fn shards_received(&self) -> u64 {
        0
    }
}

/// A shardkv clerk: runs operations, and says which configuration the
/// group that applied each one was in, when it knows (for reports).
// The clerks run on single-threaded runtimes: their futures need not be Send.
#[allow(async_fn_in_trait)]
pub trait ShardClerk {
    /// Runs one operation until a group applies it: its outcome, and the
    /// configuration number the group applied it in when the clerk knows it.
    async fn run(&mut self, op: Op) -> (Outcome, Option<u64>);
}

/// An implementation of shardkv over Raft `Raft`, with its controller: its
/// group server, its clerk (the lab's `MakeClerk`), and their messages.
pub trait ShardKv: 'static {
    /// The Raft its groups and controllers run on.
    type Raft: Raft;
    /// The shard controller it runs with (it speaks that controller's
    /// messages).
    type Ctrler: ShardCtrler<Raft = Self::Raft>;
    /// A clerk's request.
    type Request: Message;
    /// A group server's reply to a clerk.
    type Reply: Message;
    /// What one group's server asks another's.
    type GroupRequest: Message;
    /// The answer to a `GroupRequest`.
    type GroupReply: Message;
    /// What a group server's call was for.
    type Purpose: Copy + std::fmt::Debug + 'static;
    /// The group server, for any runtime token `T`.
    type Server<T: 'static>: ShardKvServer<
        T,
        Raft = Self::Raft,
        Request = Self::Request,
        Reply = Self::Reply,
        GroupRequest = Self::GroupRequest,
        GroupReply = Self::GroupReply,
        CtrlerRequest = <Self::Ctrler as ShardCtrler>::Request,
        CtrlerReply = <Self::Ctrler as ShardCtrler>::Reply,
        Purpose = Self::Purpose,
    >;
    /// The clerk over the lab's ends: `C` to the controllers, `G` to group
    /// servers by name.
    type Clerk<C, G>: ShardClerk
    where
        C: Transport<Request = <Self::Ctrler as ShardCtrler>::Request, Reply = <Self::Ctrler as ShardCtrler>::Reply>,
        G: NamedTransport<Request = Self::Request, Reply = Self::Reply>;

    /// A clerk over `ctrler_ends` to `ctrlers` controllers and `groups`
    /// (group servers by name), with a `client_id` unique in the run.
    fn clerk<C, G>(ctrler_ends: C, ctrlers: usize, groups: G, client_id: u64) -> Self::Clerk<C, G>
    where
        C: Transport<Request = <Self::Ctrler as ShardCtrler>::Request, Reply = <Self::Ctrler as ShardCtrler>::Reply>,
        G: NamedTransport<Request = Self::Request, Reply = Self::Reply>;
}
