//! The shard controller and the sharded key/value store, on `raft` and `kv`.
//!
//! - `config`: configurations (shard -> group, group -> servers), `key2shard`.
//! - `rebalance`: Join, Leave and Move: even, minimal, deterministic.
//! - `ctrler`: the shard controller, a `kv::Replicated` service of numbered
//!   configurations, and its clerk's operations.
//! - `rpc`: messages between clerks, servers and groups; log entries.
//! - `group`: a group's replicated state (configurations, shards).
//! - `shard`: one shard's data and duplicate table, and where it stands
//!   (serving, being pulled in, being handed off).
//! - `server`: a shardkv group member: serves the shards its group owns,
//!   learns configurations in order, pulls shards from their previous
//!   owners and tells them when to delete them.
//! - `pick`: which server of a set a leader calls next.
//! - `clerk`: the sharded store's clerk.
//! - `contract_server`: the group server, the controller and the clerk as
//!   the lab's contract wants them (`ShardKvService`, over any Raft).
//!
//! Like `kv`, nothing here knows about a network, a clock or the simulator.

pub mod clerk;
pub mod config;
pub mod contract_server;
pub mod ctrler;
pub mod group;
pub mod pick;
pub mod rebalance;
pub mod rpc;
pub mod server;
pub mod shard;

pub use clerk::{GroupTransport, ShardClerk};
pub use config::{key2shard, Config, Gid, NSHARDS};
pub use contract_server::{Asker, GroupServer, ShardKvService};
pub use ctrler::{Configs, CtrlerClient, CtrlerOp, CtrlerOps, CtrlerReply, CtrlerRequest, CtrlerServer, CtrlerService};
pub use rpc::{DeleteShard, Entry, FetchReply, FetchShard, GroupReply, GroupRequest, ShardReply};
pub use server::{GroupSetup, Incoming, Outgoing, ShardIo, ShardKvServer, Task};
