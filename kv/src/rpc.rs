//! What clerks and servers say to each other, and what goes into the log.
//! A clerk numbers its operations (client id, sequence number from 1), so a
//! server applies each one once however often it is retried.

use serde::{Deserialize, Serialize};

pub use contract::kv::{Op, Outcome};

/// A clerk's request: its `seq`-th operation (from 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub client: u64,
    pub seq: u64,
    pub op: Op,
}

/// A server's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// The operation was applied (now or by an earlier copy of it).
    Ok(Outcome),
    /// This server does not lead, or lost leadership before the operation
    /// was applied at the index it was given: try another.
    WrongLeader,
    /// The operation did not commit in time (a leader cut off from its
    /// majority): try another server.
    TimedOut,
}

/// A log entry: the request, encoded with bincode.
pub fn encode_command(request: &Request) -> Vec<u8> {
    bincode::serde::encode_to_vec(request, bincode::config::standard()).expect("requests encode")
}

/// A log entry back; an error (never a panic) when it is corrupt, however
/// its lengths lie.
pub fn decode_command(bytes: &[u8]) -> Result<Request, String> {
    const LIMIT: usize = 1 << 24;
    bincode::serde::decode_from_slice(bytes, bincode::config::standard().with_limit::<LIMIT>())
        .map(|(r, _)| r)
        .map_err(|e| format!("a log entry is not a kv command: {e}"))
}

impl contract::Message for Request {
    fn label(&self) -> &'static str {
        self.op.name()
    }
}

impl contract::Message for Reply {
    fn label(&self) -> &'static str {
        "Reply"
    }
}
