//! What every replicated service of the lab shares: a server's I/O (its
//! Raft's, plus answers to requests), a clerk's ends to the servers, and
//! the server that answers clients through its Raft (kvraft's server, the
//! shard controller's).

use crate::host::PersistedSize;
use crate::message::Message;
use crate::raft::{HostIo, PeerConfig, Persisted, Raft};
use std::future::Future;

/// A server's I/O: its Raft's (persist, send, timers; `M` is the Raft's
/// request type) and the answers to requests, each given with the token
/// (`T`, the runtime's) its request came with. A token is answered once.
pub trait ReplyIo<M, T, Reply>: HostIo<M> + PersistedSize {
    /// Answers the request that came with `token`.
    fn reply(&mut self, token: T, reply: Reply);
}

/// How a clerk reaches servers by index, and waits (the lab's ends: a
/// call may be lost, delayed or reordered, and a server may be down).
pub trait Transport {
    /// What the clerk sends.
    type Request: Clone;
    /// What a server answers.
    type Reply;
    /// Sends `request` to server `server`; `None` when no answer came back
    /// (labrpc's `Call` returning false: the request or the answer was
    /// lost, or the server is down or cut off). As in labrpc there is no
    /// time-out: a live server that never answers leaves the call waiting,
    /// which is why a server answers every request.
    fn call(&self, server: usize, request: Self::Request) -> impl Future<Output = Option<Self::Reply>>;
    /// Waits this long (between rounds of retries).
    fn sleep_ms(&self, ms: u64) -> impl Future<Output = ()>;
}

/// How a clerk reaches servers by name (shardkv's group servers,
/// `server-<gid>-<i>` as configurations list them), and waits.
pub trait NamedTransport {
    /// What the clerk sends.
    type Request: Clone;
    /// What a server answers.
    type Reply;
    /// Sends `request` to the server named `server`; `None` when no answer
    /// came back.
    fn call(&self, server: &str, request: Self::Request) -> impl Future<Output = Option<Self::Reply>>;
    /// Waits this long (between rounds of retries).
    fn sleep_ms(&self, ms: u64) -> impl Future<Output = ()>;
}

/// The Raft requests of a server's Raft.
pub type RaftRequest<S, T> = <<S as ReplicatedServer<T>>::Raft as Raft>::Request;
/// The Raft responses of a server's Raft.
pub type RaftResponse<S, T> = <<S as ReplicatedServer<T>>::Raft as Raft>::Response;

/// A server that answers clients through its Raft (the lab's
/// `StartKVServer` and the shard controller's `StartServer`), sans-IO like
/// the Raft under it: the lab calls it with each input, and it acts
/// through the [`ReplyIo`] it is handed. `T` is the runtime's token for
/// answering a request.
///
/// The I/O is the runtime's, without an apply channel: host the Raft with
/// a [`RaftHost`](crate::RaftHost), which queues the Raft's applies and
/// hands them to a [`StateMachine`](crate::StateMachine) once each call
/// returns; answers decided while applying go out through `io.reply`
/// afterwards. A server has no timer of its own: its Raft's timers, and
/// every other input, are the moments to look at waiting requests (a
/// request waiting on a leader cut off from its majority must still be
/// answered, in time, so the clerk tries another server).
///
/// The lab's rules, as its tests check them:
/// - every request is answered (a request a server cannot serve is
///   answered with an error the clerk retries elsewhere); the lab's clerk
///   waits for the answer, so a server that never answers stalls it;
/// - a write is applied exactly once however often its clerk retries;
/// - `max_raft_state`: when the persisted Raft state grows near this many
///   bytes, the server snapshots (`None`: never); a restarted server
///   restores its snapshot.
pub trait ReplicatedServer<T>: Sized + 'static {
    /// The Raft the server runs on.
    type Raft: Raft;
    /// A clerk's request.
    type Request: Message;
    /// The server's reply.
    type Reply: Message;

    /// Starts (or restarts) server `config.me` from what its persister
    /// holds. Corrupt state is an `Err`, never a panic.
    fn start(
        config: PeerConfig,
        persisted: Persisted<'_>,
        max_raft_state: Option<usize>,
        io: &mut impl ReplyIo<RaftRequest<Self, T>, T, Self::Reply>,
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

    /// A clerk's request, answered through `io.reply(token, ..)` now or
    /// later.
    fn handle_client(
        &mut self,
        io: &mut impl ReplyIo<RaftRequest<Self, T>, T, Self::Reply>,
        token: T,
        request: Self::Request,
    );

    /// A Raft request from peer `from`; returns the Raft's response.
    fn handle_raft_request(
        &mut self,
        io: &mut impl ReplyIo<RaftRequest<Self, T>, T, Self::Reply>,
        from: usize,
        request: RaftRequest<Self, T>,
    ) -> RaftResponse<Self, T>;

    /// Peer `from`'s response to a Raft request this server sent.
    fn handle_raft_response(
        &mut self,
        io: &mut impl ReplyIo<RaftRequest<Self, T>, T, Self::Reply>,
        from: usize,
        response: RaftResponse<Self, T>,
    );

    /// A Raft request to `peer` got no response.
    fn raft_call_failed(&mut self, io: &mut impl ReplyIo<RaftRequest<Self, T>, T, Self::Reply>, peer: usize);

    /// A timer the server's Raft set fired.
    fn on_timer(&mut self, io: &mut impl ReplyIo<RaftRequest<Self, T>, T, Self::Reply>, at_ms: u64);

    /// The server's Raft's asynchronous writes through `ticket` are durable:
    /// hand it on with [`RaftHost::persisted`](crate::RaftHost::persisted).
    /// Nothing by default, which serves only a Raft that never writes
    /// asynchronously (see [`HostIo::save_raft_state_async`]).
    fn raft_persisted(&mut self, _io: &mut impl ReplyIo<RaftRequest<Self, T>, T, Self::Reply>, _ticket: u64) {}
}
