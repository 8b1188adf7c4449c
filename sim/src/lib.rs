//! `sim`: a single-threaded, deterministic discrete-event simulator for
//! consensus systems.
//!
//! One [`Sim`] runs one seed: a virtual clock and an event queue ordered by
//! (time, sequence) drive sans-IO servers ([`Node`]) over a virtual network
//! with labrpc's faults and more (see `net.rs`), and async tasks (the tester,
//! clerks) on a small executor. Every event is folded into a trace hash, so
//! that two runs of one seed can be compared event by event (`trace.rs`).
//! Nothing here reads the real clock, sleeps, or spawns threads.

pub mod call;
mod disk;
pub mod event;
pub mod event_log;
pub mod executor;
pub mod fault;
pub mod handle;
pub mod log;
pub mod net;
pub mod node;
pub mod persist;
pub mod rng;
pub mod schedule;
pub mod testing;
pub mod time;
pub mod trace;
pub mod world;

pub use call::{CallId, OpenCall, ReplyToken, RpcError};
pub use executor::JoinHandle;
pub use fault::{CrashMode, CrashPoint, Fault};
pub use handle::{CallFuture, RunStats, Sim, SimHandle, Sleep, Timeout};
pub use net::{Latency, LinkState, NetConfig, NetStats};
pub use node::{bincode_size, Addr, Ctx, Inspected, Inspector, Message, Node, TraceWord};
pub use persist::Persister;
pub use rng::{SimRng, Stream};
pub use schedule::{Choice, Schedule};
pub use time::{ms, secs, Nanos};
pub use trace::{check_determinism, Divergence, Trace, TraceMode};
pub use world::{SimConfig, SimError, Stuck, World, CANCEL_CHECK_EVENTS};
