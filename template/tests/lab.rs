//! The lab's tests on this implementation, one test per lab: `raft_lab`,
//! `kv_lab`, `shardctrler_lab`, `shardkv_lab`. `cargo test` runs them all;
//! `cargo test raft_lab` one. Environment: SIM_SEEDS (seeds per scenario),
//! SIM_SEED (the first), SIM_CHECK_DETERMINISM=1 (run each seed twice and
//! compare). A failure names the scenario, the seed and the command that
//! replays it; a scenario that reaches a `todo!()` is one line.

scenarios::lab_tests!(template::Student);
