//! The Raft lab (2A-2D): the tester (the lab's `raft/config.go`), Raft
//! peers hosted with the lab's applier, and the 27 lab tests plus the chaos
//! and swarm scenarios.

pub mod host;
pub mod optimisations;
pub mod scenarios;
pub mod tester;
