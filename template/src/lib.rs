//! The student template: the MIT 6.824 labs, to write against the lab's
//! contract (the `contract` crate) and run in its deterministic simulator.
//!
//! # What to implement, in order
//!
//! 1. [`raft`]: a Raft peer (labs 2A election, 2B log, 2C persistence,
//!    2D snapshots). Everything else runs on it.
//! 2. [`kv`]: a fault-tolerant key/value service over your Raft (labs 3A,
//!    and 3B with snapshots).
//! 3. [`shardctrler`]: the shard controller (lab 4A).
//! 4. [`shardkv`]: the sharded key/value store (lab 4B), over your Raft and
//!    your controller.
//!
//! Every method you write is a `todo!("Type::method")` for now. The rules
//! the lab checks are in the contract's rustdoc: `cargo doc --open -p
//! contract`.
//!
//! # How to run
//!
//! - `cargo test`: every lab (each lab is one test: `lab_raft`, `lab_kv`,
//!   `lab_shardctrler`, `lab_shardkv`), each scenario for several seeds.
//! - `cargo test lab_raft`: one lab. `SIM_SEEDS=200 cargo test lab_raft`:
//!   more seeds per scenario; `SIM_SEED=1000` picks the first one.
//! - `cargo run --release --bin labsim -- run raft/figure_8_2c --seed 3`:
//!   one run of one scenario (the command every failure prints, to replay
//!   it); `RUST_LOG=debug` for its log, add `--check-determinism` to run it
//!   twice and compare the two runs event by event.
//! - `cargo run --release --bin labsim -- list raft`: the scenarios.
//!
//! A scenario that reaches a `todo!()` is reported in one line, as
//! `raft/initial_election_2a: not implemented yet: Raft::start (...)`.
//!
//! # What never to use
//!
//! A run replays exactly from its seed, which is what makes a failure
//! debuggable. That holds only if your code is deterministic:
//! - no wall clock (`std::time::Instant`, `SystemTime`): time is
//!   `io.now_ms()`, the simulator's virtual clock;
//! - no `rand::thread_rng`, `rand::random` or any other source of entropy:
//!   all randomness comes from [`contract::PeerConfig::rng_seed`] (see
//!   [`raft::Rng`]);
//! - no iteration over a `HashMap` or `HashSet` with the default hasher
//!   (its order changes from run to run): use `BTreeMap`/`BTreeSet`, or a
//!   `Vec`;
//! - no threads, no sleeps, no blocking: every method is called with one
//!   input, acts through the `io` it is handed, and returns. Waiting is a
//!   timer (`io.set_timer`), and a clerk waits with `sleep_ms` on its
//!   transport.

pub mod kv;
pub mod raft;
pub mod shardctrler;
pub mod shardkv;

/// This implementation, named to the lab: `tests/lab.rs` runs the lab's
/// tests on it, and `src/bin/labsim.rs` is its `labsim` command.
///
/// Your kv, controller and shardkv run on your own Raft, so the labs go in
/// order: the kv tests need a working Raft first.
pub struct Student;

impl scenarios::Implementation for Student {
    const NAME: &'static str = "student";
    const REPLAY: &'static str = "cargo run --release --bin labsim --";
    type Raft = raft::Raft;
    type Kv = kv::KvLab;
    type ShardKv = shardkv::ShardKvLab;
}
