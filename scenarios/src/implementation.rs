//! How an implementation names itself to the lab: its Raft, what reports
//! call it, and the command that replays one of its runs.

/// An implementation the lab runs: a Raft that meets the contract (the
/// kv, shard controller and shardkv labs run the project's own services on
/// it). One type per implementation; every scenario is compiled for it.
///
/// ```
/// # use contract::{NoView, PeerConfig, Persisted, RaftIo};
/// # struct MyRaft;
/// # impl contract::Raft for MyRaft {
/// #     type Request = (); type Response = (); type View = NoView;
/// #     fn start(_: PeerConfig, _: Persisted<'_>, _: &mut impl RaftIo<()>) -> Result<Self, String> { Ok(MyRaft) }
/// #     fn state(&self) -> (u64, bool) { (0, false) }
/// #     fn start_command(&mut self, _: &mut impl RaftIo<()>, _: Vec<u8>) -> Option<(u64, u64)> { None }
/// #     fn snapshot(&mut self, _: &mut impl RaftIo<()>, _: u64, _: Vec<u8>) {}
/// #     fn handle_request(&mut self, _: &mut impl RaftIo<()>, _: usize, _: ()) {}
/// #     fn handle_response(&mut self, _: &mut impl RaftIo<()>, _: usize, _: ()) {}
/// #     fn on_timer(&mut self, _: &mut impl RaftIo<()>, _: u64) {}
/// # }
/// struct Mine;
/// impl scenarios::Implementation for Mine {
///     const NAME: &'static str = "my-raft";
///     const REPLAY: &'static str = "cargo run --release --bin labsim --";
///     type Raft = MyRaft;
/// }
/// let lab = scenarios::registry::<Mine>();
/// assert!(lab.iter().any(|s| s.name == "raft/figure_8_unreliable_2c"));
/// ```
pub trait Implementation: 'static {
    /// What reports call it ("reference", "raft-rs").
    const NAME: &'static str;
    /// The command that runs this implementation's `labsim`, before its
    /// arguments (`run NAME --seed N`): printed with every failure as the
    /// way to replay it.
    const REPLAY: &'static str;
    /// The Raft every Raft-backed lab runs.
    type Raft: contract::Raft;
}
