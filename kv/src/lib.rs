//! kvraft: a key/value service replicated over any Raft that meets the
//! lab's contract (`contract::Raft`), linearizable and exactly-once, with
//! its clerk.
//!
//! - `rpc`: requests, replies and log entries.
//! - `store`: the replicated map and the duplicate table (in snapshots too).
//! - `replicated`: `Replicated<R, S>`, a `contract::RaftHost` over any service that
//!   answers clients once their entries apply (kv, the shard controller,
//!   shardkv).
//! - `server`: `KvServer`, a `Replicated` server over the store that answers a
//!   clerk once its entry is applied at the index it was given, in the same
//!   term; snapshots as Raft's state nears `maxraftstate`.
//! - `clerk`: `Clerk`, async over a small `Transport` trait, so that it runs
//!   on any runtime (the simulator's in the scenarios).
//!
//! Nothing here knows about a network, a clock or the simulator: the
//! server's effects go through `ReplyIo`, the clerk's through `Transport`.

pub mod clerk;
pub mod replicated;
pub mod rpc;
pub mod server;
pub mod store;

pub use clerk::{Clerk, Operations, Transport};
pub use replicated::{Replicated, ReplyIo, Service};
pub use rpc::{Op, Outcome, Reply, Request};
pub use server::{KvServer, KvService, REQUEST_TIMEOUT_MS};
pub use store::Store;
