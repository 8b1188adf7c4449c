//! How an implementation names itself to the lab: its Raft, what reports
//! call it, and the command that replays one of its runs.

/// An implementation the lab runs: a Raft, a kvraft and a shardkv (with its
/// shard controller) that meet the contract. Bring any of them: a Raft
/// alone runs the project's own services (`kv::KvService<MyRaft>`,
/// `shardkv::ShardKvService<MyRaft>`), or services of one's own run on any
/// Raft. One type per implementation; every scenario is compiled for it.
///
/// The reference implementation's (`reference/src/lib.rs`) is an example.
pub trait Implementation: 'static {
    /// What reports call it ("reference", "raft-rs").
    const NAME: &'static str;
    /// The command that runs this implementation's `labsim`, before its
    /// arguments (`run NAME --seed N`): printed with every failure as the
    /// way to replay it.
    const REPLAY: &'static str;
    /// The Raft of the Raft lab.
    type Raft: contract::Raft;
    /// The kvraft of the kv lab (over any Raft).
    type Kv: contract::kv::Kv;
    /// The shardkv and shard controller of the shardctrler and shardkv labs.
    type ShardKv: contract::shardkv::ShardKv;
    /// The layers of the project's own code (the bug catalogue's: `raft/`,
    /// `kv/`, `shardkv/`) that this implementation runs. Only their
    /// catalogued bugs can be switched on; asking for another is refused
    /// (it would switch on nothing). A Raft of one's own under the project's
    /// services runs `[Layer::Kv, Layer::ShardKv]`; none by default.
    const CATALOGUE_LAYERS: &'static [crate::Layer] = &[];
    /// The optimisations beyond Figure 2 its Raft honours when
    /// `PeerConfig::optimisations` asks for them (`labsim run --with`);
    /// asking for another is refused. None by default.
    const OPTIMISATIONS: contract::Optimisations = contract::Optimisations::NONE;
    /// Those it runs when a run names none: its production settings (a
    /// subset of [`OPTIMISATIONS`](Implementation::OPTIMISATIONS)).
    const DEFAULT_OPTIMISATIONS: contract::Optimisations = contract::Optimisations::NONE;
}
