fn main() -> std::process::ExitCode {
    labsim::main::<textbook_raft::Textbook>()
}
