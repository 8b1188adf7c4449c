//! The kvraft lab (3A-3B): the tester (the lab's `kvraft/config.go`), kv
//! servers hosted over the implementation's Raft, and the 23 lab tests plus
//! the chaos and swarm scenarios.

pub mod bench;
pub mod host;
pub mod scenarios;
pub mod tester;
