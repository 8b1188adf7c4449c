//! `labsim` over this implementation: `cargo run --release --bin labsim -- run raft/figure_8_2c --seed 3`.

fn main() -> std::process::ExitCode {
    labsim::main::<template::Student>()
}
