//! `labsim` over raft-rs.

fn main() -> std::process::ExitCode {
    labsim::main::<raft_rs_lab::RaftRsLab>()
}
