//! The lab's tests on this implementation, one test per lab: `lab_raft`,
//! `lab_kv`, `lab_shardctrler`, `lab_shardkv`. `cargo test` runs them all;
//! `cargo test lab_raft` one. Environment: SIM_SEEDS (seeds per scenario),
//! SIM_SEED (the first), SIM_CHECK_DETERMINISM=1 (run each seed twice and
//! compare). A failure names the scenario, the seed and the command that
//! replays it; a scenario that reaches a `todo!()` is one line.

scenarios::lab_tests!(template::Student);
