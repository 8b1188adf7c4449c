//! Logging. Simulated code logs with `tracing`; each node event runs inside a
//! span carrying the virtual time and the node's name, created only when a
//! subscriber is installed, so nothing is formatted when logging is off.
//! `init_from_env` installs a subscriber filtered by RUST_LOG.

use tracing_subscriber::EnvFilter;

/// Installs a stderr subscriber filtered by RUST_LOG (e.g. `RUST_LOG=debug`,
/// or `RUST_LOG=raft=trace`). Does nothing when RUST_LOG is unset or empty.
/// The node/time span (target `sim_context`) is always let through so that
/// every line says when and where it happened. Colours only on a terminal.
/// Returns whether logging is on.
pub fn init_from_env() -> bool {
    let Ok(spec) = std::env::var("RUST_LOG") else { return false };
    if spec.trim().is_empty() {
        return false;
    }
    let filter = match EnvFilter::try_new(&spec) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("warning: RUST_LOG={spec:?} is not a valid filter ({e}); logging stays off");
            return false;
        }
    };
    let filter = filter.add_directive("sim_context=error".parse().expect("a valid directive"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init()
        .is_ok()
}
