//! The shardkv lab (4B and both challenges): the tester (the lab's
//! `shardkv/config.go`), controllers and group servers in one world, and
//! the 13 lab tests plus the chaos and swarm scenarios, and the benchmarks.

pub mod bench;
pub mod host;
pub mod scenarios;
pub mod tester;
