//! The labs, one folder each: the simulator's own scenarios (`sim`), and
//! the 6.824 labs (`raft`: 2A-2D; `kv`: 3A-3B; `shardctrler`: 4A;
//! `shardkv`: 4B and the challenges), each with its tester, hosts and
//! scenarios; and what the kv and shardkv benchmarks share (`bench`).

pub mod bench;
pub mod kv;
pub mod raft;
pub mod shardctrler;
pub mod shardkv;
pub mod sim;
