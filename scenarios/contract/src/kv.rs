//! kvraft (lab 3): the operations a clerk runs, and what an implementation
//! of the key/value service brings: its messages, its server and its clerk.

use crate::message::Message;
use crate::raft::Raft;
use crate::service::{ReplicatedServer, Transport};
use serde::{Deserialize, Serialize};

/// A key/value operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Reads `key`'s value ("" if never written).
    Get {
        /// The key.
        key: String,
    },
    /// Sets `key` to `value`.
    Put {
        /// The key.
        key: String,
        /// Its new value.
        value: String,
    },
    /// Appends `value` to `key`'s value.
    Append {
        /// The key.
        key: String,
        /// What to append.
        value: String,
    },
}

impl Op {
    /// The key the operation reads or writes.
    pub fn key(&self) -> &str {
        match self {
            Op::Get { key } | Op::Put { key, .. } | Op::Append { key, .. } => key,
        }
    }

    /// "Get", "Put" or "Append".
    pub fn name(&self) -> &'static str {
        match self {
            Op::Get { .. } => "Get",
            Op::Put { .. } => "Put",
            Op::Append { .. } => "Append",
        }
    }
}

/// What applying an operation gave: a Get's value (the empty string for a
/// key never written), or done for Put and Append.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// A Get's value.
    Value(String),
    /// A Put or Append was applied.
    Done,
}

/// Get, Put and Append, for anything that runs one operation at a time to
/// its outcome (a clerk, or the lab's recording wrapper around one). A
/// clerk retries until some server applies the operation: the lab's clerks
/// never give up.
// The clerks run on single-threaded runtimes: their futures need not be Send.
#[allow(async_fn_in_trait)]
pub trait Operations {
    /// Runs one operation to its outcome.
    async fn run_op(&mut self, op: Op) -> Outcome;

    /// The value of `key` ("" if it was never written).
    async fn get(&mut self, key: &str) -> String {
        match self.run_op(Op::Get { key: key.to_string() }).await {
            Outcome::Value(v) => v,
            // A write's answer to a Get (a server replying for another
            // entry) carries no value, like the Go clerk's empty Value; the
            // history records the answer as it came, and the checker rejects it.
            Outcome::Done => String::new(),
        }
    }

    /// Sets `key` to `value`.
    async fn put(&mut self, key: &str, value: &str) {
        self.run_op(Op::Put { key: key.to_string(), value: value.to_string() }).await;
    }

    /// Appends `value` to `key`'s value.
    async fn append(&mut self, key: &str, value: &str) {
        self.run_op(Op::Append { key: key.to_string(), value: value.to_string() }).await;
    }
}

/// An implementation of kvraft over Raft `Raft`: the lab's `StartKVServer`
/// (`Server`) and `MakeClerk` (`clerk`), and the messages between them.
pub trait Kv: 'static {
    /// The Raft its servers run on.
    type Raft: Raft;
    /// A clerk's request.
    type Request: Message;
    /// A server's reply.
    type Reply: Message;
    /// The server, for any runtime token `T`.
    type Server<T: 'static>: ReplicatedServer<T, Raft = Self::Raft, Request = Self::Request, Reply = Self::Reply>;
    /// The clerk over the lab's ends `C`.
    type Clerk<C: Transport<Request = Self::Request, Reply = Self::Reply>>: Operations;

    /// `MakeClerk`: a clerk over `ends` to `servers` servers (ends in the
    /// clerk's own order), with a `client_id` unique in the run.
    fn clerk<C: Transport<Request = Self::Request, Reply = Self::Reply>>(
        ends: C,
        servers: usize,
        client_id: u64,
    ) -> Self::Clerk<C>;
}
