//! What shardkv clerks, servers and groups say to each other, and what goes
//! into a group's log.

use crate::config::Config;
use kv::{Outcome, Store};
use serde::{Deserialize, Serialize};

/// A server's answer to a clerk (and to a group asking it to delete a shard).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShardReply {
    /// Applied, in the group's configuration `config`.
    Ok {
        outcome: Outcome,
        config: u64,
    },
    /// The group does not serve the key's shard (now, or when the operation
    /// was applied): ask the controller.
    WrongGroup,
    WrongLeader,
    TimedOut,
    /// The handed-off shard is deleted (or was already).
    Deleted,
    /// The group has not reached the configuration asked about yet.
    NotReady,
}

/// Asks the previous owner for a shard as it stood when it left that group
/// (in configuration `config`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchShard {
    pub config: u64,
    pub shard: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FetchReply {
    Shard(Store),
    NotReady,
}

/// Tells the previous owner that the new owner has the shard it handed off
/// in configuration `config`: it may delete its copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteShard {
    pub config: u64,
    pub shard: usize,
}

/// What one group's server asks another's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupRequest {
    Fetch(FetchShard),
    Delete(DeleteShard),
}

/// The answer to a `GroupRequest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupReply {
    Fetched(FetchReply),
    Deleted(ShardReply),
}

impl contract::Message for ShardReply {
    fn label(&self) -> &'static str {
        "Reply"
    }
}

impl contract::Message for GroupRequest {
    fn label(&self) -> &'static str {
        match self {
            GroupRequest::Fetch(_) => "FetchShard",
            GroupRequest::Delete(_) => "DeleteShard",
        }
    }
}

impl contract::Message for GroupReply {
    fn label(&self) -> &'static str {
        "Reply"
    }
}

/// An entry of a group's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// A clerk's operation.
    Client(kv::Request),
    /// The next configuration.
    Config(Config),
    /// A pulled shard, for configuration `config`.
    Install { config: u64, shard: usize, store: Store },
    /// Delete the shard handed off in configuration `config`.
    Delete { config: u64, shard: usize },
    /// The previous owner deleted the shard pulled in configuration `config`.
    Confirmed { config: u64, shard: usize },
    /// Nothing: a new leader's first entry, so that the entries of earlier
    /// terms commit even when no client writes (Raft commits an earlier
    /// term's entries only under one of the current term).
    Noop,
}
