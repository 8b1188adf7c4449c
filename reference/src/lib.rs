//! The project's own implementation, named to the lab: the Raft of `raft/`
//! (`raft::RaftPeer`, with its view) under the kv and shardkv services.
//! Its `labsim` binary is `src/bin/labsim.rs`; its lab tests are `tests/`.

/// The reference implementation.
pub struct Reference;

impl scenarios::Implementation for Reference {
    const NAME: &'static str = "reference";
    const REPLAY: &'static str = "scripts/labsim";
    type Raft = raft::RaftPeer;
}
