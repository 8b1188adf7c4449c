//! The shard controller (lab 4A): configurations, the lab's definitions
//! around them, and what an implementation of the controller brings.

use crate::message::Message;
use crate::raft::Raft;
use crate::service::{ReplicatedServer, Transport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The number of shards (the lab's `NShards`).
pub const NSHARDS: usize = 10;

/// A replica group's id; 0 is "no group".
pub type Gid = u64;

/// The lab's `key2shard`: the first byte modulo the shard count ("" -> 0).
///
/// ```
/// assert_eq!(contract::shardctrler::key2shard("a"), 97 % 10);
/// assert_eq!(contract::shardctrler::key2shard(""), 0);
/// ```
pub fn key2shard(key: &str) -> usize {
    key.as_bytes().first().map_or(0, |&b| b as usize % NSHARDS)
}

/// One numbered configuration (the lab's `Config`). Configuration 0 has no
/// groups and every shard on gid 0.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The configuration's number: 0, then one more for each change.
    pub num: u64,
    /// Shard -> the gid that owns it (0: none).
    pub shards: [Gid; NSHARDS],
    /// Gid -> the names of its servers, in order.
    pub groups: BTreeMap<Gid, Vec<String>>,
}

impl Config {
    /// How many shards each present group owns (0 for a group with none).
    pub fn shard_counts(&self) -> BTreeMap<Gid, usize> {
        let mut counts: BTreeMap<Gid, usize> = self.groups.keys().map(|&g| (g, 0)).collect();
        for gid in self.shards {
            if let Some(c) = counts.get_mut(&gid) {
                *c += 1;
            }
        }
        counts
    }

    /// The shards that `gid` owns.
    pub fn shards_of(&self, gid: Gid) -> impl Iterator<Item = usize> + '_ {
        (0..NSHARDS).filter(move |&s| self.shards[s] == gid)
    }
}

/// The controller clerk's operations (the lab's `shardctrler.Clerk`). Each
/// retries until a controller applies it.
// The clerks run on single-threaded runtimes: their futures need not be Send.
#[allow(async_fn_in_trait)]
pub trait CtrlerClerk {
    /// Configuration `num`; -1, or any number past the latest: the latest.
    async fn query(&mut self, num: i64) -> Config;
    /// Adds groups (gid -> server names); rebalances.
    async fn join(&mut self, servers: BTreeMap<Gid, Vec<String>>);
    /// Removes groups; rebalances.
    async fn leave(&mut self, gids: Vec<Gid>);
    /// Gives `shard` to `gid`.
    async fn move_shard(&mut self, shard: usize, gid: Gid);
}

/// An implementation of the shard controller over Raft `Raft`: its server,
/// its clerk (the lab's `MakeClerk`), and the messages between them.
pub trait ShardCtrler: 'static {
    /// The Raft its servers run on.
    type Raft: Raft;
    /// A clerk's request.
    type Request: Message;
    /// A server's reply.
    type Reply: Message;
    /// The controller server, for any runtime token `T`.
    type Server<T: 'static>: ReplicatedServer<T, Raft = Self::Raft, Request = Self::Request, Reply = Self::Reply>;
    /// The clerk over the lab's ends `C`.
    type Clerk<C: Transport<Request = Self::Request, Reply = Self::Reply>>: CtrlerClerk;

    /// A clerk over `ends` to `servers` controllers, with a `client_id`
    /// unique in the run.
    fn clerk<C: Transport<Request = Self::Request, Reply = Self::Reply>>(
        ends: C,
        servers: usize,
        client_id: u64,
    ) -> Self::Clerk<C>;
}
