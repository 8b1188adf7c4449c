//! The shard controller and the sharded key/value store, on `raft` and `kv`.
//!
//! Not built yet: this crate exists so that the workspace has the layout and
//! the dependency direction of DESIGN.md (raft <- kv <- shardkv).
