//! The project's own implementation, named to the lab: the Raft of `raft/`
//! (`raft::RaftPeer`, with its view) under the kv and shardkv services.
//! Its `labsim` binary is `src/bin/labsim.rs`; its lab tests are `tests/`.

/// The reference implementation: every lab's scenarios, compiled for it.
///
/// ```
/// use scenarios::Implementation;
/// assert_eq!(reference::Reference::NAME, "reference");
/// let lab = scenarios::registry::<reference::Reference>();
/// assert!(lab.iter().any(|s| s.name == "shardkv/concurrent3_4b" && s.implementation == "reference"));
/// ```
pub struct Reference;

impl scenarios::Implementation for Reference {
    const NAME: &'static str = "reference";
    const REPLAY: &'static str = "scripts/labsim";
    type Raft = raft::RaftPeer;
    type Kv = kv::KvService<raft::RaftPeer>;
    type ShardKv = shardkv::ShardKvService<raft::RaftPeer>;
    const CATALOGUE_LAYERS: &'static [scenarios::Layer] =
        &[scenarios::Layer::Raft, scenarios::Layer::Kv, scenarios::Layer::ShardKv];
    /// Every optimisation, each a switch (`raft::Config`; kv serves its
    /// Gets through the read paths).
    const OPTIMISATIONS: contract::Optimisations = contract::Optimisations::of(contract::Optimisation::ALL);
    /// Batching and pipelining only, so the lab runs Figure 2's protocol
    /// as written, sending as a production Raft does.
    const DEFAULT_OPTIMISATIONS: contract::Optimisations = raft::peer::DEFAULT_OPTIMISATIONS;
}
