//! The lab testers and every lab test as a named scenario.
//!
//! A scenario is a function of a seed that passes or fails with a reason.
//! `registry()` lists them all as `<lab>/<test_name>`; `runner` runs one
//! (optionally twice, to check determinism) and `soak` runs many seeds on
//! many threads. The `labsim` binary (main.rs) is the command line over these.

/// The scenarios of one lab, each named `<lab>/<function name>`:
/// `lab_scenarios!("sim": basic, partition)`, or, for a lab generic over
/// the implementation, `lab_scenarios!("kv", R: basic_3a, speed_3a)`.
macro_rules! lab_scenarios {
    ($lab:literal: $($test:ident),* $(,)?) => {
        vec![$($crate::Scenario { name: concat!($lab, "/", stringify!($test)), run: $test }),*]
    };
    ($lab:literal, $r:ident: $($test:ident),* $(,)?) => {
        vec![$($crate::Scenario { name: concat!($lab, "/", stringify!($test)), run: $test::<$r> }),*]
    };
}

pub mod cluster;
pub mod hunt;
pub mod hunt_cli;
pub mod kv_host;
pub mod kv_scenarios;
pub mod kv_tester;
pub mod raft_host;
pub mod raft_io;
pub mod raft_observer;
pub mod raft_scenarios;
pub mod raft_tester;
pub mod recorder;
pub mod registry;
pub mod run_cli;
pub mod run_view;
pub mod runner;
pub mod shard_host;
pub mod shard_tester;
pub mod shardctrler_scenarios;
pub mod shardkv_scenarios;
pub mod sim_ends;
pub mod sim_scenarios;
pub mod soak;
pub mod soak_cli;
pub mod swarm;

pub use registry::{find, matching, registry, Scenario};
pub use runner::{replay_command, run_scenario, Outcome, Run};
