//! Tests of the harness itself on the reference implementation: the
//! `labsim` command line, determinism, hunting, shrinking, soaks, the
//! registry, the read paths and the run view. One test binary with a
//! module each, so that the reference's scenarios are compiled once for
//! all of them rather than once per file (the lab's own scenarios are
//! `tests/scenarios.rs`; `tests/kv_drawing.rs` stays apart because it sets
//! an environment variable).

mod cli;
mod determinism;
mod hunt;
mod kv;
mod nondeterminism;
mod reads;
mod registry;
mod run_view;
mod shrink;
mod soak;

use std::process::Command;

/// Runs the `labsim` binary built beside these tests; returns its exit code,
/// standard output and standard error.
fn labsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_labsim")).args(args).output().expect("labsim runs");
    (
        out.status.code().expect("labsim exited with a code, not killed by a signal"),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}
