//! What the lab checks beyond each test's own checks: the Raft observer and
//! durability checks (after every step), and the clients' history (checked
//! for linearizability at the end of every kv and shardkv run).

pub mod history;
pub mod raft_observer;
