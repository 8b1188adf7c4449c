//! The sharded store's clerk: finds the key's group in its latest
//! configuration, tries that group's servers (from the one that answered
//! last), and after a round in which none applied the operation (each
//! server refused, answered `WrongGroup` or failed) waits 100 ms and asks
//! the controller for the latest configuration (the lab's clerk, except
//! that a `WrongGroup` does not end the round).
//! Operations are numbered per clerk, for exactly-once across groups.

use crate::config::{key2shard, Config, Gid};
use crate::ctrler::{CtrlerOps, CtrlerReply, CtrlerRequest};
use crate::rpc::ShardReply;
use kv::{Clerk, Op, Operations, Outcome, Transport};
use std::collections::BTreeMap;

/// How long a clerk waits before asking the controller again.
pub const REQUERY_MS: u64 = 100;

/// How a clerk reaches group servers (by name) and waits.
pub trait GroupTransport: contract::NamedTransport<Request = kv::Request, Reply = ShardReply> {}

impl<G: contract::NamedTransport<Request = kv::Request, Reply = ShardReply>> GroupTransport for G {}

pub struct ShardClerk<C: Transport, G> {
    ctrler: Clerk<C>,
    groups: G,
    client: u64,
    seq: u64,
    config: Config,
    /// Per group, the server that answered last.
    leaders: BTreeMap<Gid, usize>,
}

impl<C, G> ShardClerk<C, G>
where
    C: Transport<Request = CtrlerRequest, Reply = CtrlerReply>,
    G: GroupTransport,
{
    /// A clerk with a unique `client` id; `ctrler` is a controller clerk.
    pub fn new(ctrler: Clerk<C>, groups: G) -> ShardClerk<C, G> {
        let client = ctrler.client();
        ShardClerk { ctrler, groups, client, seq: 0, config: Config::default(), leaders: BTreeMap::new() }
    }

    pub fn client(&self) -> u64 {
        self.client
    }

    /// Runs one operation until a group applies it: its outcome, and the
    /// configuration the group applied it in. Retries forever.
    pub async fn run(&mut self, op: Op) -> (Outcome, u64) {
        self.seq += 1;
        let request = kv::Request { client: self.client, seq: self.seq, op };
        if self.config.num == 0 {
            self.config = self.ctrler.query(-1).await;
        }
        loop {
            if let Some(done) = self.try_group(&request).await {
                return done;
            }
            self.groups.sleep_ms(REQUERY_MS).await;
            self.config = self.ctrler.query(-1).await;
        }
    }

    /// One round over the servers of the key's group; `None` when none
    /// applied it.
    ///
    /// A `WrongGroup` does not end the round, as it does in the lab's
    /// clerk: it speaks for the answering server's configuration, and a
    /// leader cut off from its group (still believing it leads) is stuck in
    /// an old one. Ending the round there sent the clerk back to that
    /// server after every query, so an operation waited until the cut
    /// healed while the group's majority could serve it (`shardkv/swarm`
    /// seed 724065, the latency bound). A server that really no longer
    /// serves the shard costs the round its other servers' refusals.
    async fn try_group(&mut self, request: &kv::Request) -> Option<(Outcome, u64)> {
        let gid = self.config.shards[key2shard(request.op.key())];
        let servers = self.config.groups.get(&gid)?;
        let first = self.leaders.get(&gid).copied().unwrap_or(0);
        for i in 0..servers.len() {
            let at = (first + i) % servers.len();
            if let Some(ShardReply::Ok { outcome, config }) = self.groups.call(&servers[at], request.clone()).await {
                self.leaders.insert(gid, at);
                return Some((outcome, config));
            }
        }
        None
    }
}

impl<C, G> Operations for ShardClerk<C, G>
where
    C: Transport<Request = CtrlerRequest, Reply = CtrlerReply>,
    G: GroupTransport,
{
    async fn run_op(&mut self, op: Op) -> Outcome {
        self.run(op).await.0
    }
}

impl<C, G> contract::shardkv::ShardClerk for ShardClerk<C, G>
where
    C: Transport<Request = CtrlerRequest, Reply = CtrlerReply>,
    G: GroupTransport,
{
    async fn run(&mut self, op: Op) -> (Outcome, Option<u64>) {
        let (outcome, config) = ShardClerk::run(self, op).await;
        (outcome, Some(config))
    }
}
