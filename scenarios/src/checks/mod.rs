//! What the lab checks beyond each test's own checks: the Raft observer,
//! Figure 2's step rules and durability checks (after every step), and the clients' history (checked
//! for linearizability at the end of every kv and shardkv run).

pub mod history;
pub mod latency;
pub mod raft_observer;
pub mod raft_rules;

#[cfg(test)]
mod fake_peer;
