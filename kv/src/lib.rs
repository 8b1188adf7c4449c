//! kvraft: a key/value service replicated with `raft`.
//!
//! Not built yet: this crate exists so that the workspace has the layout and
//! the dependency direction of DESIGN.md (raft <- kv <- shardkv).
