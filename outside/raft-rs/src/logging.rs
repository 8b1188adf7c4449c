//! raft-rs logs through slog; the lab logs through `tracing`, inside each
//! node's span (virtual time, node). [`logger`] hands raft-rs's records to
//! `tracing` (target `raft_rs`), so `RUST_LOG=info labsim-raft-rs run ...`
//! shows raft-rs's own account of a run among the lab's lines. Nothing is
//! formatted unless a subscriber wants the record. (slog keeps debug
//! records only in builds with debug assertions, such as the tests'.)

use slog::{Drain, Key, Never, OwnedKVList, Record, KV};
use std::fmt::{self, Write as _};
use tracing::Level;

/// The logger every raft-rs node of the lab is given.
pub fn logger() -> slog::Logger {
    slog::Logger::root(ToTracing.fuse(), slog::o!())
}

struct ToTracing;

fn level(record: &Record) -> Level {
    match record.level() {
        slog::Level::Critical | slog::Level::Error => Level::ERROR,
        slog::Level::Warning => Level::WARN,
        slog::Level::Info => Level::INFO,
        slog::Level::Debug => Level::DEBUG,
        slog::Level::Trace => Level::TRACE,
    }
}

impl Drain for ToTracing {
    type Ok = ();
    type Err = Never;

    fn log(&self, record: &Record, values: &OwnedKVList) -> Result<(), Never> {
        let enabled = match level(record) {
            Level::ERROR => tracing::enabled!(target: "raft_rs", Level::ERROR),
            Level::WARN => tracing::enabled!(target: "raft_rs", Level::WARN),
            Level::INFO => tracing::enabled!(target: "raft_rs", Level::INFO),
            Level::DEBUG => tracing::enabled!(target: "raft_rs", Level::DEBUG),
            Level::TRACE => tracing::enabled!(target: "raft_rs", Level::TRACE),
        };
        if !enabled {
            return Ok(());
        }
        let mut line = Line(record.msg().to_string());
        let _ = record.kv().serialize(record, &mut line);
        let _ = values.serialize(record, &mut line);
        let line = line.0;
        match level(record) {
            Level::ERROR => tracing::error!(target: "raft_rs", "raft-rs: {line}"),
            Level::WARN => tracing::warn!(target: "raft_rs", "raft-rs: {line}"),
            Level::INFO => tracing::info!(target: "raft_rs", "raft-rs: {line}"),
            Level::DEBUG => tracing::debug!(target: "raft_rs", "raft-rs: {line}"),
            Level::TRACE => tracing::trace!(target: "raft_rs", "raft-rs: {line}"),
        }
        Ok(())
    }
}

/// A record's message, then its key-value pairs as ` key=value`.
struct Line(String);

impl slog::Serializer for Line {
    fn emit_arguments(&mut self, key: Key, value: &fmt::Arguments) -> slog::Result {
        let _ = write!(self.0, " {key}={value}");
        Ok(())
    }
}
