//! The shard controller: numbered configurations, replicated with Raft.
//!
//! `Configs` is the replicated state (every configuration so far, and the
//! duplicate table), served as a `kv::Replicated` service. Join, Leave and
//! Move each make the next configuration (`rebalance`); Query reads one
//! through the log, so it is linearizable. A clerk numbers its operations,
//! so each change is made once however often it is retried.

use crate::config::{Config, Gid};
use crate::rebalance;
use kv::store::{decode_exact, encode_exact};
use kv::{Clerk, Replicated, Service, Transport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A controller operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CtrlerOp {
    Join {
        servers: BTreeMap<Gid, Vec<String>>,
    },
    Leave {
        gids: Vec<Gid>,
    },
    Move {
        shard: usize,
        gid: Gid,
    },
    /// Configuration `num`; -1, or any number past the latest: the latest.
    Query {
        num: i64,
    },
}

impl CtrlerOp {
    pub fn name(&self) -> &'static str {
        match self {
            CtrlerOp::Join { .. } => "Join",
            CtrlerOp::Leave { .. } => "Leave",
            CtrlerOp::Move { .. } => "Move",
            CtrlerOp::Query { .. } => "Query",
        }
    }
}

/// A clerk's `seq`-th operation (from 1). Queries need no number: shardkv
/// servers send theirs with `seq` 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtrlerRequest {
    pub client: u64,
    pub seq: u64,
    pub op: CtrlerOp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CtrlerReply {
    /// A Query's configuration.
    Config(Config),
    /// A Join, Leave or Move was applied (now or by an earlier copy).
    Done,
    WrongLeader,
    TimedOut,
}

/// The replicated state: every configuration, and per client the sequence
/// number of its last applied change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Configs {
    configs: Vec<Config>,
    last_seq: BTreeMap<u64, u64>,
}

impl Default for Configs {
    fn default() -> Configs {
        Configs { configs: vec![Config::default()], last_seq: BTreeMap::new() }
    }
}

impl Configs {
    pub fn latest(&self) -> &Config {
        self.configs.last().expect("configuration 0 is always there")
    }

    /// Configuration `num`; the latest for -1 or a number past it.
    pub fn query(&self, num: i64) -> &Config {
        usize::try_from(num).ok().and_then(|n| self.configs.get(n)).unwrap_or(self.latest())
    }

    fn is_applied(&self, client: u64, seq: u64) -> bool {
        self.last_seq.get(&client).is_some_and(|last| seq <= *last)
    }

    fn apply_request(&mut self, request: &CtrlerRequest) {
        let change = match &request.op {
            CtrlerOp::Query { .. } => return,
            _ if self.is_applied(request.client, request.seq) => return,
            CtrlerOp::Join { servers } => rebalance::join(self.latest(), servers),
            CtrlerOp::Leave { gids } => rebalance::leave(self.latest(), gids),
            CtrlerOp::Move { shard, gid } => rebalance::move_shard(self.latest(), *shard, *gid),
        };
        debug_assert_eq!(change.num as usize, self.configs.len(), "configurations are numbered in order");
        self.configs.push(change);
        self.last_seq.insert(request.client, request.seq);
    }
}

impl Service for Configs {
    type Request = CtrlerRequest;
    type Reply = CtrlerReply;
    const WRONG_LEADER: CtrlerReply = CtrlerReply::WrongLeader;
    const TIMED_OUT: CtrlerReply = CtrlerReply::TimedOut;

    fn apply(&mut self, _index: u64, command: &[u8], answer: bool) -> Result<Option<CtrlerReply>, String> {
        let request: CtrlerRequest = decode_exact(command, "controller entry")?;
        self.apply_request(&request);
        Ok(answer.then(|| match request.op {
            CtrlerOp::Query { num } => CtrlerReply::Config(self.query(num).clone()),
            _ => CtrlerReply::Done,
        }))
    }

    fn encode_request(request: &CtrlerRequest) -> Vec<u8> {
        encode_exact(request)
    }

    fn answer_at_once(&self, request: &CtrlerRequest) -> Option<CtrlerReply> {
        let is_change = !matches!(request.op, CtrlerOp::Query { .. });
        (is_change && self.is_applied(request.client, request.seq)).then_some(CtrlerReply::Done)
    }

    /// A Query reads: with a read path on (`--with read_index` and the
    /// like), the Raft confirms it and it is answered from the
    /// configurations applied so far, without a log entry.
    fn read_locally(&self, request: &CtrlerRequest) -> Option<CtrlerReply> {
        match request.op {
            CtrlerOp::Query { num } => Some(CtrlerReply::Config(self.query(num).clone())),
            _ => None,
        }
    }

    fn is_read(request: &CtrlerRequest) -> bool {
        matches!(request.op, CtrlerOp::Query { .. })
    }

    fn decode(snapshot: &[u8]) -> Result<Configs, String> {
        decode_exact(snapshot, "controller snapshot")
    }

    fn encode(&self) -> Vec<u8> {
        encode_exact(self)
    }
}

/// One shard controller server.
pub type CtrlerServer<R, T> = Replicated<R, Configs, T>;

impl contract::Message for CtrlerRequest {
    fn label(&self) -> &'static str {
        self.op.name()
    }
}

impl contract::Message for CtrlerReply {
    fn label(&self) -> &'static str {
        "Reply"
    }
}

/// This shard controller (server and clerk) over Raft `R`, for the lab.
pub struct CtrlerService<R>(std::marker::PhantomData<R>);

/// A controller clerk, as the lab's contract wants one.
pub struct CtrlerClient<C>(pub Clerk<C>);

impl<C: Transport<Request = CtrlerRequest, Reply = CtrlerReply>> contract::shardctrler::CtrlerClerk
    for CtrlerClient<C>
{
    async fn query(&mut self, num: i64) -> Config {
        self.0.query(num).await
    }
    async fn join(&mut self, servers: BTreeMap<Gid, Vec<String>>) {
        self.0.join(servers).await
    }
    async fn leave(&mut self, gids: Vec<Gid>) {
        self.0.leave(gids).await
    }
    async fn move_shard(&mut self, shard: usize, gid: Gid) {
        self.0.move_shard(shard, gid).await
    }
}

impl<R: contract::Raft> contract::shardctrler::ShardCtrler for CtrlerService<R> {
    type Raft = R;
    type Request = CtrlerRequest;
    type Reply = CtrlerReply;
    type Server<T: 'static> = CtrlerServer<R, T>;
    type Clerk<C: Transport<Request = CtrlerRequest, Reply = CtrlerReply>> = CtrlerClient<C>;

    fn clerk<C: Transport<Request = CtrlerRequest, Reply = CtrlerReply>>(
        ends: C,
        servers: usize,
        client_id: u64,
    ) -> CtrlerClient<C> {
        CtrlerClient(Clerk::new(ends, servers, client_id))
    }
}

/// The controller's clerk operations (the lab's `shardctrler.Clerk`), on the
/// kv clerk's retry loop.
// The clerks run on single-threaded runtimes: their futures need not be Send.
#[allow(async_fn_in_trait)]
pub trait CtrlerOps {
    async fn run_ctrler(&mut self, op: CtrlerOp) -> CtrlerReply;

    async fn query(&mut self, num: i64) -> Config {
        match self.run_ctrler(CtrlerOp::Query { num }).await {
            CtrlerReply::Config(config) => config,
            other => unreachable!("a query returns a configuration, not {other:?}"),
        }
    }

    async fn join(&mut self, servers: BTreeMap<Gid, Vec<String>>) {
        self.run_ctrler(CtrlerOp::Join { servers }).await;
    }

    async fn leave(&mut self, gids: Vec<Gid>) {
        self.run_ctrler(CtrlerOp::Leave { gids }).await;
    }

    async fn move_shard(&mut self, shard: usize, gid: Gid) {
        self.run_ctrler(CtrlerOp::Move { shard, gid }).await;
    }
}

impl<T: Transport<Request = CtrlerRequest, Reply = CtrlerReply>> CtrlerOps for Clerk<T> {
    async fn run_ctrler(&mut self, op: CtrlerOp) -> CtrlerReply {
        let request = CtrlerRequest { client: self.client(), seq: self.next_seq(), op };
        self.call_until(request, |reply| match reply {
            CtrlerReply::Config(_) | CtrlerReply::Done => Some(reply),
            CtrlerReply::WrongLeader | CtrlerReply::TimedOut => None,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(client: u64, seq: u64, op: CtrlerOp) -> CtrlerRequest {
        CtrlerRequest { client, seq, op }
    }

    #[test]
    fn changes_are_made_once_and_queries_read_any_configuration() {
        let mut configs = Configs::default();
        let join = CtrlerOp::Join { servers: BTreeMap::from([(5, vec!["a".to_string()])]) };
        let entry = encode_exact(&request(1, 1, join));
        assert_eq!(configs.apply(1, &entry, true), Ok(Some(CtrlerReply::Done)));
        assert_eq!(configs.apply(2, &entry, true), Ok(Some(CtrlerReply::Done)), "a duplicate");
        assert_eq!(configs.latest().num, 1, "the duplicate made no configuration");
        assert_eq!(configs.answer_at_once(&request(1, 1, CtrlerOp::Leave { gids: vec![] })), Some(CtrlerReply::Done));
        let query = |num| encode_exact(&request(2, 0, CtrlerOp::Query { num }));
        for (num, want) in [(-1, 1), (0, 0), (1, 1), (7, 1)] {
            let Ok(Some(CtrlerReply::Config(c))) = configs.apply(3, &query(num), true) else { panic!() };
            assert_eq!(c.num, want, "Query({num})");
        }
        assert_eq!(configs.query(0), &Config::default());
        let back = Configs::decode(&configs.encode()).unwrap();
        assert_eq!(back, configs);
        assert!(Configs::decode(&configs.encode()[..5]).unwrap_err().starts_with("corrupt controller snapshot"));
        assert!(configs.apply(9, b"\xff\xff", true).is_err());
    }
}
