//! The shard controller lab (4A): its two tests and their eleven
//! sub-tests, on the shardkv lab's hosts.

pub mod scenarios;
