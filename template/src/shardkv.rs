//! Lab 4B: the sharded key/value store. Replica groups (each a Raft
//! cluster of [`GroupServer`]s) each serve the shards the shard controller
//! (`crate::shardctrler`) gives them, and hand shards to one another as
//! configurations change.
//!
//! The pieces: the clerk's messages ([`Request`], [`Reply`]); what group
//! servers ask one another ([`GroupRequest`], [`GroupReply`]); what a call
//! was for ([`Purpose`]); the replicated state ([`Shards`]); the group
//! server ([`GroupServer`], a [`contract::shardkv::ShardKvServer`]); the
//! clerk ([`Clerk`]); and [`ShardKvLab`], which names them to the lab.
//!
//! A group server acts through a [`contract::shardkv::ShardIo`]: its Raft's
//! I/O, `reply` to clerks, `reply_group` to other groups' servers,
//! `call_ctrler` and `call_group` (whose answers come back to
//! `on_call_result` with the `Purpose` given), and `set_tick` for a timer
//! of its own (`on_tick`): poll the controller for the next configuration
//! about every 100 ms.

use crate::raft::{Raft, Request as RaftRequest, Response as RaftResponse};
use crate::shardctrler::{CtrlerLab, Reply as CtrlerReply, Request as CtrlerRequest};
use contract::kv::{Op, Outcome};
use contract::shardctrler::{Config, ShardCtrler};
use contract::shardkv::{Answer, GroupSetup, ShardClerk, ShardIo, ShardKvServer};
use contract::{NamedTransport, PeerConfig, Persisted, RaftHost, StateMachine, Transport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A clerk's request: one operation, numbered as your kv clerk numbers its
/// own (a suggestion).
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

/// A group server's answer to a clerk. Add the errors your design needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Reply {
    /// The operation was applied, by a group in configuration `config`.
    Ok { outcome: Outcome, config: u64 },
    /// This group does not serve the key's shard (yet, or any more): ask
    /// the controller for the latest configuration.
    WrongGroup,
    /// This server does not lead, or could not get the operation
    /// committed: try another server of the group.
    WrongLeader,
}

impl contract::Message for Reply {
    /// The kind of answer, for reports.
    fn label(&self) -> &'static str {
        match self {
            Reply::Ok { .. } => "Ok",
            Reply::WrongGroup => "WrongGroup",
            Reply::WrongLeader => "WrongLeader",
        }
    }
}

/// What one group's server asks another's. A suggestion: a group that gains
/// a shard in configuration `config` pulls it from its previous owner.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum GroupRequest {
    /// The data of `shard` as it stood when configuration `config` took it
    /// from the asked group.
    PullShard { config: u64, shard: usize },
}

impl contract::Message for GroupRequest {
    /// The kind of request, for reports.
    fn label(&self) -> &'static str {
        match self {
            GroupRequest::PullShard { .. } => "PullShard",
        }
    }
}

/// The answer to a [`GroupRequest`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum GroupReply {
    /// The shard's keys and its duplicate table (a shard moves with both,
    /// so a write retried at the new owner is not applied twice).
    Shard { config: u64, shard: usize, data: BTreeMap<String, String>, last_applied: BTreeMap<u64, (u64, Outcome)> },
    /// The asked group has not reached configuration `config` yet: ask
    /// again later.
    NotYet,
    /// The asked server does not lead its group: ask another.
    WrongLeader,
}

impl contract::Message for GroupReply {
    /// The kind of answer, for reports.
    fn label(&self) -> &'static str {
        match self {
            GroupReply::Shard { .. } => "Shard",
            GroupReply::NotYet => "NotYet",
            GroupReply::WrongLeader => "WrongLeader",
        }
    }
}

/// What a call a group server made was for: given with the call
/// (`call_ctrler`, `call_group`) and handed back with its answer
/// (`on_call_result`). A suggestion.
#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    /// Asked a controller for the configuration after the current one.
    PollConfig,
    /// Asked another group's server for `shard` of configuration `config`.
    PullShard { config: u64, shard: usize },
}

/// The state a group's Raft replicates. The fields are a suggestion.
// The template never reads them: drop this allow once you do.
#[allow(dead_code)]
#[derive(Debug, Default)]
pub struct Shards {
    /// The configuration this group has reached (configurations are taken
    /// one at a time, in order).
    config: Config,
    /// The configuration before `config`: who held the shards this group
    /// gained.
    previous: Config,
    /// Per shard this group holds, its keys and values.
    data: BTreeMap<usize, BTreeMap<String, String>>,
    /// Per client, the last `seq` applied and its outcome.
    last_applied: BTreeMap<u64, (u64, Outcome)>,
    /// What was applied since the server last looked: (index, term, the
    /// answer).
    answers: Vec<(u64, u64, Reply)>,
    /// Snapshot when the persisted Raft state nears this many bytes.
    max_raft_state: Option<usize>,
}

impl StateMachine for Shards {
    /// A committed entry, in log order: a clerk's operation (applied only
    /// if this group serves its shard in `config`, and once per client and
    /// `seq`), a new configuration, a shard received, ... Every server of
    /// the group applies the same entries in the same order and must reach
    /// the same state.
    fn apply(&mut self, _index: u64, _term: u64, _command: &[u8]) -> Result<(), String> {
        todo!("Shards::apply")
    }

    /// Replaces the state with a snapshot's (configurations, shards,
    /// duplicate table). A corrupt snapshot is an `Err`.
    fn restore(&mut self, _index: Option<u64>, _snapshot: &[u8]) -> Result<(), String> {
        todo!("Shards::restore")
    }

    /// A snapshot of the state through `index` when the persisted Raft
    /// state nears `max_raft_state`; else `None`.
    fn snapshot(&mut self, _index: u64, _raft_state_bytes: usize) -> Option<Vec<u8>> {
        todo!("Shards::snapshot")
    }
}

/// One group server (the lab's `shardkv.StartServer`): a Raft peer and the
/// shards it replicates. `T` is the lab's token for answering a request.
///
/// The lab's rules (the contract's `ShardKvServer`): serve only the keys
/// of shards this group owns in the configuration it has reached
/// (`WrongGroup` for the rest); take configurations in order; a shard
/// moves with its data and its duplicate table; every operation is applied
/// exactly once and the history is linearizable. Optionally, override
/// `describe` (printed when a test runs out of time) and
/// `shards_received` (for reports).
pub struct GroupServer<T> {
    /// Your Raft under the shards.
    host: RaftHost<Raft, Shards>,
    /// The group, how many controllers, the snapshot limit.
    // The template never reads them: drop this allow once you do.
    #[allow(dead_code)]
    setup: GroupSetup,
    /// Clerks waiting for their entry: (index, term, token).
    #[allow(dead_code)]
    waiting: Vec<(u64, u64, T)>,
}

impl<T: 'static> ShardKvServer<T> for GroupServer<T> {
    type Raft = Raft;
    type Request = Request;
    type Reply = Reply;
    type GroupRequest = GroupRequest;
    type GroupReply = GroupReply;
    type CtrlerRequest = CtrlerRequest;
    type CtrlerReply = CtrlerReply;
    type Purpose = Purpose;

    /// Starts (or restarts) a server of group `setup.gid` from its
    /// persister; set the first tick here (`io.set_tick`).
    fn start(
        _config: PeerConfig,
        _persisted: Persisted<'_>,
        _setup: GroupSetup,
        _io: &mut impl ShardIo<Self, T>,
    ) -> Result<Self, String> {
        todo!("GroupServer::start")
    }

    /// The server's Raft, for the lab's leader lookups.
    fn raft(&self) -> &Raft {
        self.host.raft()
    }

    /// A clerk's request, answered through `io.reply` once applied (or at
    /// once with `WrongGroup` / `WrongLeader`).
    fn handle_client(&mut self, _io: &mut impl ShardIo<Self, T>, _token: T, _request: Request) {
        todo!("GroupServer::handle_client")
    }

    /// Another group's server's request, answered through
    /// `io.reply_group`.
    fn handle_group_request(&mut self, _io: &mut impl ShardIo<Self, T>, _token: T, _request: GroupRequest) {
        todo!("GroupServer::handle_group_request")
    }

    /// A Raft request from peer `from` (a server of this group): to the
    /// Raft, then answer the clerks whose entries it applied.
    fn handle_raft_request(
        &mut self,
        _io: &mut impl ShardIo<Self, T>,
        _from: usize,
        _request: RaftRequest,
    ) -> RaftResponse {
        todo!("GroupServer::handle_raft_request")
    }

    /// Peer `from`'s response to a Raft request: to the Raft, then answer
    /// the clerks whose entries it applied.
    fn handle_raft_response(&mut self, _io: &mut impl ShardIo<Self, T>, _from: usize, _response: RaftResponse) {
        todo!("GroupServer::handle_raft_response")
    }

    /// A Raft request to `peer` got no response: tell the Raft.
    fn raft_call_failed(&mut self, _io: &mut impl ShardIo<Self, T>, _peer: usize) {
        todo!("GroupServer::raft_call_failed")
    }

    /// A timer the Raft set fired: to the Raft.
    fn on_raft_timer(&mut self, _io: &mut impl ShardIo<Self, T>, _at_ms: u64) {
        todo!("GroupServer::on_raft_timer")
    }

    /// The server's own timer (`io.set_tick`) fired: on the leader, poll the
    /// controller for the next configuration and pull the shards it is
    /// missing; answer the clerks whose requests can no longer commit here;
    /// set the next tick.
    fn on_tick(&mut self, _io: &mut impl ShardIo<Self, T>, _at_ms: u64) {
        todo!("GroupServer::on_tick")
    }

    /// The answer to a call made for `purpose` (`None`: the call failed):
    /// a configuration from a controller, or a shard from another group,
    /// to put in the log so every server of the group takes it at the same
    /// point.
    fn on_call_result(
        &mut self,
        _io: &mut impl ShardIo<Self, T>,
        _purpose: Purpose,
        _answer: Option<Answer<CtrlerReply, GroupReply>>,
    ) {
        todo!("GroupServer::on_call_result")
    }
}

/// A shardkv clerk (the lab's `shardkv.MakeClerk`): finds the group that
/// serves a key's shard (`contract::shardctrler::key2shard`) in the latest
/// configuration, and retries until some group applies the operation.
// The template never reads them: drop this allow once you do.
#[allow(dead_code)]
pub struct Clerk<C, G> {
    /// A controller clerk, for the latest configuration.
    ctrler: crate::shardctrler::Clerk<C>,
    /// The lab's ends to group servers, by name (`config.groups`).
    groups: G,
    /// This clerk's id, unique in the run.
    client_id: u64,
    /// The number of the last operation started (0 before the first).
    seq: u64,
    /// The latest configuration this clerk knows.
    config: Config,
}

impl<C, G> Clerk<C, G> {
    /// A clerk that asks `ctrler` for configurations and `groups` for keys.
    pub fn new(ctrler: crate::shardctrler::Clerk<C>, groups: G, client_id: u64) -> Clerk<C, G> {
        Clerk { ctrler, groups, client_id, seq: 0, config: Config::default() }
    }
}

impl<C, G> ShardClerk for Clerk<C, G>
where
    C: Transport<Request = CtrlerRequest, Reply = CtrlerReply>,
    G: NamedTransport<Request = Request, Reply = Reply>,
{
    /// Runs `op` to its outcome, and says which configuration the group
    /// that applied it was in (`None` if unknown). Ask the servers of the
    /// key's group in turn (`self.groups.call(name, request.clone())`);
    /// on `WrongGroup`, or when none answers, query the controller
    /// (`CtrlerClerk::query(&mut self.ctrler, -1)`) and try again, pausing
    /// between rounds (`self.groups.sleep_ms(..)`). Never gives up.
    async fn run(&mut self, _op: Op) -> (Outcome, Option<u64>) {
        todo!("shardkv::Clerk::run")
    }
}

/// This shardkv, named to the lab (`type ShardKv` in `crate::Student`): its
/// messages, its group server, its clerk, and its controller
/// ([`CtrlerLab`]), over your Raft.
pub struct ShardKvLab;

impl contract::shardkv::ShardKv for ShardKvLab {
    type Raft = Raft;
    type Ctrler = CtrlerLab;
    type Request = Request;
    type Reply = Reply;
    type GroupRequest = GroupRequest;
    type GroupReply = GroupReply;
    type Purpose = Purpose;
    type Server<T: 'static> = GroupServer<T>;
    type Clerk<C, G>
        = Clerk<C, G>
    where
        C: Transport<Request = CtrlerRequest, Reply = CtrlerReply>,
        G: NamedTransport<Request = Request, Reply = Reply>;

    /// The lab's `shardkv.MakeClerk`: a controller clerk over
    /// `ctrler_ends`, and `groups`.
    fn clerk<C, G>(ctrler_ends: C, ctrlers: usize, groups: G, client_id: u64) -> Clerk<C, G>
    where
        C: Transport<Request = CtrlerRequest, Reply = CtrlerReply>,
        G: NamedTransport<Request = Request, Reply = Reply>,
    {
        Clerk::new(CtrlerLab::clerk(ctrler_ends, ctrlers, client_id), groups, client_id)
    }
}
