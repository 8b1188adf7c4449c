//! The lab: the MIT 6.824 lab tests as named scenarios, generic over the
//! implementation they test.
//!
//! An implementation meets the contract (the `contract` crate) and names
//! itself to the lab with an [`Implementation`]; the lab never names one.
//! A scenario is a function of a [`Run`] (a seed and how to run it) that
//! passes or fails with a reason. `registry::<I>()` lists them all as
//! `<lab>/<test_name>`; `runner` runs one (optionally twice, to check
//! determinism), `soak` runs many seeds on many threads, and `hunt` runs
//! the bug catalogue's hunts. The `labsim` crate is the command line over
//! these.
//!
//! Layout:
//! - `labs/`: one folder per lab (`sim`, `raft`, `kv`, `shardctrler`,
//!   `shardkv`), each with its tester (the lab's `config.go`), its hosts
//!   (a server of the contract as a simulator node) and its scenarios;
//! - `host/`: what every lab shares to host servers: the tester's cluster
//!   vocabulary, Raft's I/O over a node's context, clerks' ends;
//! - `checks/`: the Raft observer and durability checks, the clients'
//!   history;
//! - `swarm`: fault mixes drawn per seed and the nemesis that injects them;
//! - `runner`, `registry`, `soak`, `hunt`: running scenarios.

/// The scenarios of one lab, each named `<lab>/<function name>`:
/// `lab_scenarios!("sim": basic, partition)`, or, for a lab generic over
/// the implementation, `lab_scenarios!("kv", I: basic_3a, speed_3a)`.
macro_rules! lab_scenarios {
    ($lab:literal: $($test:ident),* $(,)?) => {
        vec![$($crate::Scenario { name: concat!($lab, "/", stringify!($test)), run: $test, ..$crate::Scenario::BLANK }),*]
    };
    ($lab:literal, $r:ident: $($test:ident),* $(,)?) => {
        vec![$($crate::Scenario { name: concat!($lab, "/", stringify!($test)), run: $test::<$r>, ..$crate::Scenario::BLANK }),*]
    };
}

pub mod about;
pub mod checks;
pub mod compare;
pub mod host;
pub mod hunt;
pub mod implementation;
pub mod labs;
pub mod optimisations;
pub mod registry;
pub mod runner;
pub mod shrink;
pub mod soak;
pub mod swarm;
pub mod testing;
pub mod workload;

pub use bugs::Layer;
pub use implementation::Implementation;
pub use registry::{find, matching, registry, Scenario};
pub use runner::{replay_command, run_scenario, Outcome, Run};
