//! TiKV's raft-rs (crate `raft` 0.7, as published) through the lab's
//! contract, and the lab over it.
//!
//! - [`RaftRs`] is a raft-rs `RawNode` as a `contract::Raft`: raft-rs's
//!   messages travel as calls ([`wire`]), its log and state persist through
//!   the lab's persister in the adapter's `Storage` ([`log`]), its election
//!   timeouts come from the peer's seed ([`settings`]), and the lab sees
//!   commands numbered 1, 2, 3, ... with raft-rs's own entries hidden.
//! - [`RaftRsLab`] names it to the lab, under the project's kv and shardkv
//!   services; `src/bin/labsim.rs` is its `labsim`, `tests/` its lab tests.
//!
//! Nothing of raft-rs is copied or patched.

pub mod log;
mod logging;
mod node;
pub mod settings;
mod view;
pub mod wire;

pub use node::RaftRs;

/// raft-rs under the project's kv and shardkv services, as the lab runs it.
///
/// ```
/// use scenarios::Implementation;
/// assert_eq!(raft_rs_lab::RaftRsLab::NAME, "raft-rs");
/// ```
pub struct RaftRsLab;

impl scenarios::Implementation for RaftRsLab {
    const NAME: &'static str = "raft-rs";
    const REPLAY: &'static str = "scripts/labsim-raft-rs";
    type Raft = RaftRs;
    type Kv = kv::KvService<RaftRs>;
    type ShardKv = shardkv::ShardKvService<RaftRs>;
    /// Its Raft is raft-rs's own code; its services are the project's.
    const CATALOGUE_LAYERS: &'static [scenarios::Layer] = &[scenarios::Layer::Kv, scenarios::Layer::ShardKv];
    /// raft-rs's own `pre_vote` and `check_quorum` settings, batching and
    /// pipelining through `max_size_per_msg` and `max_inflight_msgs`, and
    /// ReadIndex and follower reads through `read_index` and its
    /// `ReadState`s, and asynchronous persistence of a leader's own entries
    /// through `advance_append_async` and `on_persist_ready`. Not lease
    /// reads: raft-rs's `LeaseBased` reads allow no margin for clock drift
    /// (TiKV keeps its lease outside raft-rs).
    const OPTIMISATIONS: contract::Optimisations = TIKV.union(contract::Optimisations::of(&[
        contract::Optimisation::ReadIndex,
        contract::Optimisation::FollowerRead,
        contract::Optimisation::AsyncPersist,
    ]));
    /// TiKV runs all four (see `settings::config`).
    const DEFAULT_OPTIMISATIONS: contract::Optimisations = TIKV;
}

const TIKV: contract::Optimisations = contract::Optimisations::of(&[
    contract::Optimisation::PreVote,
    contract::Optimisation::CheckQuorum,
    contract::Optimisation::Batching,
    contract::Optimisation::Pipelining,
]);
