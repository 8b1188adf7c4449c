//! `labsim` over the reference implementation.

fn main() -> std::process::ExitCode {
    labsim::main::<reference::Reference>()
}
