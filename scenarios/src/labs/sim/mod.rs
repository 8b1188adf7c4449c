//! The simulator's own scenarios: its faults, timing and determinism.

pub mod scenarios;
