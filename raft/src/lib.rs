//! Raft as a sans-IO state machine.
//!
//! [`Raft`] takes inputs (a request or response from a peer, a timer tick, a
//! client command, a snapshot from the service) with the current time, and
//! leaves its effects in an [`Output`]: a delta of its durable image to
//! persist (and a snapshot to save with it), requests to send, and entries to
//! apply. The host persists before it sends or answers anything, so term,
//! vote and log are durable before any message that depends on them. Nothing
//! here knows about a network, a clock or a simulator.
//!
//! [`RaftPeer`] is this Raft as the lab's contract (`contract::Raft`) wants
//! it: it carries that order out through the lab's I/O, and offers the
//! read-only view (`contract::RaftView`) that turns the lab's observer on.
//! Services run over it, as over any Raft, through `contract::RaftHost`.
//!
//! Log indices start at 1. Followers reject AppendEntries with the
//! conflicting term, the first index of that term and their log length, so a
//! leader backs up a whole term per round trip.

pub mod flow;
pub mod log;
pub mod message;
pub mod node;
pub mod own_writes;
pub mod peer;
pub mod read;
pub mod storage;

pub use message::{Command, Conflict, Entry, Request, Response, Snapshot};
pub use node::{Apply, Config, Output, Raft, Role};
pub use peer::RaftPeer;
pub use storage::{decode, HardState, StateDelta, StorageError};
