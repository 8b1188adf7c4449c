//! Lab 4A: the shard controller, a replicated service (like your kv, over
//! your Raft) that keeps the numbered configurations: which replica group
//! serves which shard.
//!
//! The pieces: the messages ([`Request`], [`Reply`]); the replicated
//! configurations ([`Configs`], a [`contract::StateMachine`]); the server
//! ([`CtrlerServer`], a [`contract::ReplicatedServer`]); the clerk
//! ([`Clerk`], a [`contract::shardctrler::CtrlerClerk`]); and
//! [`CtrlerLab`], which names them to the lab. The server and the clerk
//! work as your kv's do (see `crate::kv`).

use crate::raft::{Raft, Request as RaftRequest, Response as RaftResponse};
use contract::shardctrler::{Config, CtrlerClerk, Gid};
use contract::{PeerConfig, Persisted, RaftHost, ReplicatedServer, ReplyIo, StateMachine, Transport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A controller operation (the lab's `Query`, `Join`, `Leave`, `Move`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum CtrlerOp {
    /// Configuration `num`; -1, or a number past the latest: the latest.
    Query { num: i64 },
    /// Adds groups (gid -> server names), then rebalances.
    Join { servers: BTreeMap<Gid, Vec<String>> },
    /// Removes groups, then rebalances.
    Leave { gids: Vec<Gid> },
    /// Gives `shard` to `gid`.
    Move { shard: usize, gid: Gid },
}

/// A clerk's request: one operation, numbered as a kv clerk numbers its
/// own (a suggestion). Group servers ask too (a `Query`, with a `client`
/// and `seq` of their choosing: a query changes nothing).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    /// The clerk's `client_id`, unique in the run.
    pub client: u64,
    /// The clerk's number for this operation: 1, 2, 3, ...
    pub seq: u64,
    /// The operation itself.
    pub op: CtrlerOp,
}

impl contract::Message for Request {
    /// "Query", "Join", "Leave" or "Move", for reports.
    fn label(&self) -> &'static str {
        match self.op {
            CtrlerOp::Query { .. } => "Query",
            CtrlerOp::Join { .. } => "Join",
            CtrlerOp::Leave { .. } => "Leave",
            CtrlerOp::Move { .. } => "Move",
        }
    }
}

/// A controller's answer. Add the errors your design needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Reply {
    /// The answer to a `Query`.
    Config(Config),
    /// A `Join`, `Leave` or `Move` was applied.
    Done,
    /// This server does not lead, or could not get the operation
    /// committed: try another.
    WrongLeader,
}

impl contract::Message for Reply {
    /// The kind of answer, for reports.
    fn label(&self) -> &'static str {
        match self {
            Reply::Config(_) => "Config",
            Reply::Done => "Done",
            Reply::WrongLeader => "WrongLeader",
        }
    }
}

/// The configurations Raft replicates. The fields are a suggestion.
// The template never reads them: drop this allow once you do.
#[allow(dead_code)]
#[derive(Debug)]
pub struct Configs {
    /// Every configuration so far: `configs[n].num == n`, and
    /// configuration 0 has no groups and every shard on gid 0.
    configs: Vec<Config>,
    /// Per client, the last `seq` applied (duplicate detection).
    last_applied: BTreeMap<u64, u64>,
    /// What was applied since the server last looked: (index, term, the
    /// answer), for the server to answer the clerks waiting on them.
    answers: Vec<(u64, u64, Reply)>,
    /// Snapshot when the persisted Raft state nears this many bytes
    /// (`None`: never).
    max_raft_state: Option<usize>,
}

impl Configs {
    /// Configuration 0 only.
    pub fn new(max_raft_state: Option<usize>) -> Configs {
        Configs { configs: vec![Config::default()], last_applied: BTreeMap::new(), answers: Vec::new(), max_raft_state }
    }
}

impl StateMachine for Configs {
    /// A committed operation, in log order: applied once per client and
    /// `seq`. `Join` and `Leave` make a new configuration that spreads the
    /// shards as evenly as possible over the groups, moving as few as
    /// possible; every server must compute exactly the same one, so the
    /// result may depend on nothing but the operations (iterate groups in
    /// a fixed order: a `BTreeMap`'s, never a `HashMap`'s).
    fn apply(&mut self, _index: u64, _term: u64, _command: &[u8]) -> Result<(), String> {
        todo!("Configs::apply")
    }

    /// Replaces the configurations (and the duplicate table) with a
    /// snapshot's. A corrupt snapshot is an `Err`.
    fn restore(&mut self, _index: Option<u64>, _snapshot: &[u8]) -> Result<(), String> {
        todo!("Configs::restore")
    }

    /// A snapshot of the state through `index` when the persisted Raft
    /// state nears `max_raft_state`; else `None`.
    fn snapshot(&mut self, _index: u64, _raft_state_bytes: usize) -> Option<Vec<u8>> {
        todo!("Configs::snapshot")
    }
}

/// One controller server (the lab's `shardctrler.StartServer`): a Raft
/// peer and the configurations it replicates. `T` is the lab's token for
/// answering a request. Every request is answered; every operation is
/// applied exactly once.
pub struct CtrlerServer<T> {
    /// Your Raft under the configurations.
    host: RaftHost<Raft, Configs>,
    /// Clerks waiting for their entry: (index, term, token).
    // The template never reads them: drop this allow once you do.
    #[allow(dead_code)]
    waiting: Vec<(u64, u64, T)>,
}

impl<T: 'static> ReplicatedServer<T> for CtrlerServer<T> {
    type Raft = Raft;
    type Request = Request;
    type Reply = Reply;

    /// Starts (or restarts) controller `config.me` from its persister.
    fn start(
        _config: PeerConfig,
        _persisted: Persisted<'_>,
        _max_raft_state: Option<usize>,
        _io: &mut impl ReplyIo<RaftRequest, T, Reply>,
    ) -> Result<Self, String> {
        todo!("CtrlerServer::start")
    }

    /// The server's Raft, for the lab's leader lookups.
    fn raft(&self) -> &Raft {
        self.host.raft()
    }

    fn raft_step(&self) -> Option<&contract::StepRecord> {
        Some(self.host.last_step())
    }

    /// A clerk's (or a group server's) request: started in Raft on a
    /// leader and answered once applied; `WrongLeader` elsewhere.
    fn handle_client(&mut self, _io: &mut impl ReplyIo<RaftRequest, T, Reply>, _token: T, _request: Request) {
        todo!("CtrlerServer::handle_client")
    }

    /// A Raft request from peer `from`: to the Raft, then answer the clerks
    /// whose entries it applied.
    fn handle_raft_request(
        &mut self,
        _io: &mut impl ReplyIo<RaftRequest, T, Reply>,
        _from: usize,
        _request: RaftRequest,
    ) -> RaftResponse {
        todo!("CtrlerServer::handle_raft_request")
    }

    /// Peer `from`'s response to a Raft request: to the Raft, then answer
    /// the clerks whose entries it applied.
    fn handle_raft_response(
        &mut self,
        _io: &mut impl ReplyIo<RaftRequest, T, Reply>,
        _from: usize,
        _response: RaftResponse,
    ) {
        todo!("CtrlerServer::handle_raft_response")
    }

    /// A Raft request to `peer` got no response: tell the Raft.
    fn raft_call_failed(&mut self, _io: &mut impl ReplyIo<RaftRequest, T, Reply>, _peer: usize) {
        todo!("CtrlerServer::raft_call_failed")
    }

    /// A timer fired: to the Raft; and answer the clerks whose requests can
    /// no longer commit here (see `KvServer::on_timer`).
    fn on_timer(&mut self, _io: &mut impl ReplyIo<RaftRequest, T, Reply>, _at_ms: u64) {
        todo!("CtrlerServer::on_timer")
    }
}

/// The controller's clerk (the lab's `shardctrler.MakeClerk`): each
/// operation retries until a controller applies it, as your kv clerk does.
// The template never reads them: drop this allow once you do.
#[allow(dead_code)]
pub struct Clerk<C> {
    /// The lab's ends to the controllers, by index.
    ends: C,
    /// How many controllers there are.
    servers: usize,
    /// This clerk's id, unique in the run.
    client_id: u64,
    /// The number of the last operation started (0 before the first).
    seq: u64,
    /// The controller that answered last: try it first.
    leader: usize,
}

impl<C> Clerk<C> {
    /// A clerk over `ends` to `servers` controllers.
    pub fn new(ends: C, servers: usize, client_id: u64) -> Clerk<C> {
        Clerk { ends, servers, client_id, seq: 0, leader: 0 }
    }
}

impl<C: Transport<Request = Request, Reply = Reply>> CtrlerClerk for Clerk<C> {
    /// Configuration `num` (-1, or past the latest: the latest).
    async fn query(&mut self, _num: i64) -> Config {
        todo!("shardctrler::Clerk::query")
    }

    /// Adds groups (gid -> server names).
    async fn join(&mut self, _servers: BTreeMap<Gid, Vec<String>>) {
        todo!("shardctrler::Clerk::join")
    }

    /// Removes groups.
    async fn leave(&mut self, _gids: Vec<Gid>) {
        todo!("shardctrler::Clerk::leave")
    }

    /// Gives `shard` to `gid`.
    async fn move_shard(&mut self, _shard: usize, _gid: Gid) {
        todo!("shardctrler::Clerk::move_shard")
    }
}

/// This shard controller, named to the lab (`type Ctrler` of
/// `crate::shardkv::ShardKvLab`): its messages, its server and its clerk,
/// over your Raft.
pub struct CtrlerLab;

impl contract::shardctrler::ShardCtrler for CtrlerLab {
    type Raft = Raft;
    type Request = Request;
    type Reply = Reply;
    type Server<T: 'static> = CtrlerServer<T>;
    type Clerk<C: Transport<Request = Request, Reply = Reply>> = Clerk<C>;

    /// The lab's `shardctrler.MakeClerk`.
    fn clerk<C: Transport<Request = Request, Reply = Reply>>(ends: C, servers: usize, client_id: u64) -> Clerk<C> {
        Clerk::new(ends, servers, client_id)
    }
}
