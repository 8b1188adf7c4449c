//! Configurations: which replica group owns which shard, and the servers of
//! each group. They are the lab's definitions, so they live in the contract
//! (`contract::shardctrler`): configuration 0 has no groups and every shard
//! on gid 0 (no one); keys map to shards by their first byte.

pub use contract::shardctrler::{key2shard, Config, Gid, NSHARDS};
