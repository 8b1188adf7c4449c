//! Lab 3: a fault-tolerant key/value service over your Raft (3A; 3B adds
//! snapshots).
//!
//! The pieces: the messages between clerks and servers ([`Request`],
//! [`Reply`]); the replicated state ([`Store`], a
//! [`contract::StateMachine`]); the server ([`KvServer`], a
//! [`contract::ReplicatedServer`]) that starts clerks' operations in its
//! Raft and answers them once applied; the clerk ([`Clerk`], the lab's
//! `Clerk`); and [`KvLab`], which names them to the lab.
//!
//! A server, like your Raft, is sans-IO: the lab calls it with one input at
//! a time and it answers clerks through `io.reply(token, reply)`, now or in
//! a later call. [`contract::RaftHost`] runs your Raft under a state
//! machine for you (it queues the Raft's applies and hands them to the
//! state machine in order, and hands the snapshots the state machine makes
//! back to the Raft): the skeleton below uses it; you may replace it.

use crate::raft::{Raft, Request as RaftRequest, Response as RaftResponse};
use contract::kv::{Op, Operations, Outcome};
use contract::{PeerConfig, Persisted, RaftHost, ReplicatedServer, ReplyIo, StateMachine, Transport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A clerk's request: one operation. A suggestion: `client` and `seq` let
/// servers recognise a retried write and apply it once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    /// The clerk's `client_id`, unique in the run.
    pub client: u64,
    /// The clerk's number for this operation: 1, 2, 3, ...
    pub seq: u64,
    /// The operation itself.
    pub op: Op,
}

impl contract::Message for Request {
    /// "Get", "Put" or "Append", for reports.
    fn label(&self) -> &'static str {
        self.op.name()
    }
}

/// A server's answer to a [`Request`]. Add the errors your design needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Reply {
    /// The operation was applied (now, or by an earlier copy of it): a
    /// Get's value, or `Done`.
    Ok(Outcome),
    /// This server does not lead, or could not get the operation committed
    /// (lost its leadership, cut off from a majority): try another server.
    WrongLeader,
}

impl contract::Message for Reply {
    /// The kind of answer, for reports.
    fn label(&self) -> &'static str {
        match self {
            Reply::Ok(_) => "Ok",
            Reply::WrongLeader => "WrongLeader",
        }
    }
}

/// The key/value state Raft replicates: what applying committed commands
/// builds on every server, and what a snapshot holds (3B).
///
/// The fields are a suggestion.
// The template never reads them: drop this allow once you do.
#[allow(dead_code)]
#[derive(Debug, Default)]
pub struct Store {
    /// The keys and their values.
    data: BTreeMap<String, String>,
    /// Per client, the last `seq` applied and its outcome: a retried write
    /// is answered from here, not applied again. Part of the snapshot.
    last_applied: BTreeMap<u64, (u64, Outcome)>,
    /// What was applied since the server last looked: (index, term, the
    /// answer), for the server to answer the clerks waiting on them.
    answers: Vec<(u64, u64, Reply)>,
    /// Snapshot when the persisted Raft state nears this many bytes
    /// (`None`: never).
    max_raft_state: Option<usize>,
}

impl Store {
    /// An empty store that snapshots per `max_raft_state`.
    pub fn new(max_raft_state: Option<usize>) -> Store {
        Store { max_raft_state, ..Store::default() }
    }
}

impl StateMachine for Store {
    /// A committed command (the bytes a server gave `start_command`), in
    /// log order. Decode it (e.g. `bincode::serde::decode_from_slice`),
    /// apply it unless it is a duplicate (same client, `seq` already
    /// applied), and record its outcome for the server. Every server
    /// applies the same commands in the same order: the result must depend
    /// on nothing else. A command that does not decode is an `Err`.
    fn apply(&mut self, _index: u64, _term: u64, _command: &[u8]) -> Result<(), String> {
        todo!("Store::apply")
    }

    /// Replaces the state with a snapshot (the data and the duplicate
    /// table): one a leader sent (`Some(index)`), or the persisted one when
    /// the server restarts (`None`). A corrupt snapshot is an `Err`.
    fn restore(&mut self, _index: Option<u64>, _snapshot: &[u8]) -> Result<(), String> {
        todo!("Store::restore")
    }

    /// Called after every applied command with the size of the persisted
    /// Raft state: when it nears `max_raft_state` (3B), return the encoded
    /// state through `index` (the data and the duplicate table), which
    /// goes to the Raft's `snapshot`; else `None` (always `None` without a
    /// limit).
    fn snapshot(&mut self, _index: u64, _raft_state_bytes: usize) -> Option<Vec<u8>> {
        todo!("Store::snapshot")
    }
}

/// One kvraft server (the lab's `StartKVServer`): a Raft peer and the store
/// it replicates. `T` is the lab's token for answering a request.
///
/// The lab's rules (the contract's `ReplicatedServer`): every request is
/// answered, since the clerk waits for the answer; a write is applied
/// exactly once however often it is retried; a Get returns the value of
/// the latest write before it (linearizability: no answer from a stale
/// leader's state).
pub struct KvServer<T> {
    /// Your Raft under the store.
    host: RaftHost<Raft, Store>,
    /// Clerks waiting for their entry: (index, term, token), answered once
    /// that index is applied, with `WrongLeader` if another entry landed
    /// there (a new leader overwrote it) or this server stopped leading.
    // The template never reads them: drop this allow once you do.
    #[allow(dead_code)]
    waiting: Vec<(u64, u64, T)>,
}

impl<T: 'static> ReplicatedServer<T> for KvServer<T> {
    type Raft = Raft;
    type Request = Request;
    type Reply = Reply;

    /// Starts (or restarts) server `config.me` from what its persister
    /// holds: e.g. `RaftHost::start(config, persisted, Store::new(..), io)`,
    /// which restores the store from the persisted snapshot and starts the
    /// Raft. Corrupt state is an `Err`, never a panic.
    fn start(
        _config: PeerConfig,
        _persisted: Persisted<'_>,
        _max_raft_state: Option<usize>,
        _io: &mut impl ReplyIo<RaftRequest, T, Reply>,
    ) -> Result<Self, String> {
        todo!("KvServer::start")
    }

    /// The server's Raft, for the lab's leader lookups.
    fn raft(&self) -> &Raft {
        self.host.raft()
    }

    fn raft_step(&self) -> Option<&contract::StepRecord> {
        Some(self.host.last_step())
    }

    /// A clerk's request. On a leader: start it in Raft (encoded, with
    /// `host.start_command`) and answer `token` once it is applied at the
    /// index Raft gave it; on a follower: answer `WrongLeader` at once.
    /// Answer a duplicate of an applied write from the duplicate table.
    fn handle_client(&mut self, _io: &mut impl ReplyIo<RaftRequest, T, Reply>, _token: T, _request: Request) {
        todo!("KvServer::handle_client")
    }

    /// A Raft request from peer `from`: hand it to the Raft (through the
    /// host), then answer the clerks whose entries it applied.
    fn handle_raft_request(
        &mut self,
        _io: &mut impl ReplyIo<RaftRequest, T, Reply>,
        _from: usize,
        _request: RaftRequest,
    ) -> RaftResponse {
        todo!("KvServer::handle_raft_request")
    }

    /// Peer `from`'s response to a Raft request: to the Raft, then answer
    /// the clerks whose entries it applied.
    fn handle_raft_response(
        &mut self,
        _io: &mut impl ReplyIo<RaftRequest, T, Reply>,
        _from: usize,
        _response: RaftResponse,
    ) {
        todo!("KvServer::handle_raft_response")
    }

    /// A Raft request to `peer` got no response: tell the Raft.
    fn raft_call_failed(&mut self, _io: &mut impl ReplyIo<RaftRequest, T, Reply>, _peer: usize) {
        todo!("KvServer::raft_call_failed")
    }

    /// A timer fired: to the Raft. Also the place to notice that this
    /// server stopped leading, or that a waiting request cannot commit (a
    /// leader cut off from its majority applies nothing), and answer its
    /// clerks so they try elsewhere. (The server has no timer of its own:
    /// set one with `io.set_timer` if you need it; it arrives here too.)
    fn on_timer(&mut self, _io: &mut impl ReplyIo<RaftRequest, T, Reply>, _at_ms: u64) {
        todo!("KvServer::on_timer")
    }
}

/// A clerk (the lab's `MakeClerk`): runs one operation at a time, retrying
/// until some server applies it.
// The template never reads them: drop this allow once you do.
#[allow(dead_code)]
pub struct Clerk<C> {
    /// The lab's ends to the servers, by index.
    ends: C,
    /// How many servers there are.
    servers: usize,
    /// This clerk's id, unique in the run.
    client_id: u64,
    /// The number of the last operation started (0 before the first).
    seq: u64,
    /// The server that answered last: probably the leader, try it first.
    leader: usize,
}

impl<C> Clerk<C> {
    /// A clerk over `ends` to `servers` servers.
    pub fn new(ends: C, servers: usize, client_id: u64) -> Clerk<C> {
        Clerk { ends, servers, client_id, seq: 0, leader: 0 }
    }
}

impl<C: Transport<Request = Request, Reply = Reply>> Operations for Clerk<C> {
    /// Runs `op` to its outcome: numbers it, then asks the servers in turn
    /// (`self.ends.call(server, request.clone()).await`, `None` when no
    /// answer came) until one answers `Ok`, pausing between rounds with
    /// `self.ends.sleep_ms(..).await`. Never gives up (the lab's clerks
    /// retry forever); `get`, `put` and `append` come with the trait.
    async fn run_op(&mut self, _op: Op) -> Outcome {
        todo!("Clerk::run_op")
    }
}

/// This kvraft, named to the lab (`type Kv` in `crate::Student`): its
/// messages, its server and its clerk, over your Raft.
pub struct KvLab;

impl contract::kv::Kv for KvLab {
    type Raft = Raft;
    type Request = Request;
    type Reply = Reply;
    type Server<T: 'static> = KvServer<T>;
    type Clerk<C: Transport<Request = Request, Reply = Reply>> = Clerk<C>;

    /// The lab's `MakeClerk`.
    fn clerk<C: Transport<Request = Request, Reply = Reply>>(ends: C, servers: usize, client_id: u64) -> Clerk<C> {
        Clerk::new(ends, servers, client_id)
    }
}
