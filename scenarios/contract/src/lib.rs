//! The contract between the lab and the code it tests.
//!
//! The lab (the `scenarios` crate) runs the MIT 6.824 lab tests, swarm runs,
//! an invariant observer and durability checks on *any* implementation that
//! meets this contract; it never names one. An implementation depends on
//! this crate only: never on the simulator, which hosts it through the I/O
//! traits below, as a real runtime could.
//!
//! The pieces, after the lab's own interfaces:
//!
//! | 6.824 (Go)                                  | here                                   |
//! |---------------------------------------------|----------------------------------------|
//! | `Make(peers, me, persister, applyCh)`       | [`Raft::start`] with a [`PeerConfig`] and [`Persisted`] |
//! | `Start(command)`                            | [`Raft::start_command`]                |
//! | `GetState()`                                | [`Raft::state`]                        |
//! | `Snapshot(index, snapshot)`                 | [`Raft::snapshot`]                     |
//! | RPC handlers, `labrpc` calls                | [`Raft::handle_request`], [`Raft::handle_response`], [`HostIo::send`] |
//! | `time.Sleep` loops (ticker)                 | [`HostIo::set_timer`], [`Raft::on_timer`] |
//! | `persister.Save(state, snapshot)`           | [`HostIo::save_raft_state`], [`HostIo::save_state_and_snapshot`] |
//! | `applyCh <- ApplyMsg`                       | [`RaftIo::apply`] with an [`ApplyMsg`]  |
//! | `Kill()`                                    | the lab drops the value: a crash       |
//! | 6.5840's `rsm` (`DoOp`, `Snapshot`, `Restore`) | [`StateMachine`] on a [`RaftHost`]  |
//!
//! A Raft is sans-IO: every input is a method call, and every effect goes
//! out through the [`RaftIo`] it is handed, in the one safe order: make
//! what a message depends on durable, then send, then apply. Randomness
//! comes only from [`PeerConfig::rng_seed`], and time only from
//! [`HostIo::now_ms`]: a Raft that reads the wall clock, uses
//! `thread_rng`, or iterates a `HashMap` with a random hasher makes a run
//! that does not replay from its seed.
//!
//! A read-only [`RaftView`] is optional: with it, the lab checks the Raft
//! paper's invariants after every step of every peer and that nothing is
//! sent before what it rests on is durable; without it ([`NoView`]) every
//! lab test, every history check and the determinism check still run.
//!
//! # Example
//!
//! The smallest Raft that meets the contract: a cluster of one peer, which
//! leads from the start and commits every command at once. (A real one has
//! peers, elections and a log; the lab's tests need more than one peer.)
//!
//! ```
//! use contract::{ApplyMsg, PeerConfig, Persisted, Raft, RaftIo, NoView};
//!
//! struct Alone { term: u64, last_index: u64 }
//!
//! impl Raft for Alone {
//!     type Request = ();
//!     type Response = ();
//!     type View = NoView;
//!
//!     fn start(config: PeerConfig, persisted: Persisted<'_>, io: &mut impl RaftIo<()>) -> Result<Alone, String> {
//!         assert_eq!(config.peers, 1, "a cluster of one");
//!         let last_index = match persisted.raft_state {
//!             [] => 0,
//!             bytes => u64::from_le_bytes(bytes.try_into().map_err(|_| "corrupt state")?),
//!         };
//!         io.save_raft_state(|state| *state = last_index.to_le_bytes().to_vec());
//!         Ok(Alone { term: 1, last_index })
//!     }
//!     fn state(&self) -> (u64, bool) {
//!         (self.term, true)
//!     }
//!     fn start_command(&mut self, io: &mut impl RaftIo<()>, command: Vec<u8>) -> Option<(u64, u64)> {
//!         self.last_index += 1;
//!         let index = self.last_index;
//!         io.save_raft_state(|state| *state = index.to_le_bytes().to_vec()); // durable first,
//!         io.apply(ApplyMsg::Command { index, term: self.term, command: command.into() }); // then applied
//!         Some((index, self.term))
//!     }
//!     fn snapshot(&mut self, _io: &mut impl RaftIo<()>, _index: u64, _snapshot: Vec<u8>) {}
//!     fn handle_request(&mut self, _io: &mut impl RaftIo<()>, _from: usize, _request: ()) {}
//!     fn handle_response(&mut self, _io: &mut impl RaftIo<()>, _from: usize, _response: ()) {}
//!     fn on_timer(&mut self, _io: &mut impl RaftIo<()>, _at_ms: u64) {}
//! }
//!
//! // Run it by hand with the test I/O that records every effect.
//! let mut io = contract::testing::RecordingIo::default();
//! let config = PeerConfig { me: 0, peers: 1, rng_seed: 7, optimisations: contract::Optimisations::NONE };
//! let mut raft = Alone::start(config, Persisted::EMPTY, &mut io).unwrap();
//! assert_eq!(raft.start_command(&mut io, b"x".to_vec()), Some((1, 1)));
//! assert_eq!(io.applied.len(), 1);
//! assert_eq!(io.raft_state, 1u64.to_le_bytes());
//! ```

#![deny(missing_docs)]

pub mod host;
pub mod kv;
pub mod message;
pub mod optimisation;
pub mod raft;
pub mod service;
pub mod shardctrler;
pub mod shardkv;
pub mod step;
pub mod testing;
pub mod view;

pub use host::{PersistedSize, RaftHost, StateMachine};
pub use message::Message;
pub use optimisation::{AskedOptimisations, Optimisation, Optimisations};
pub use raft::{ApplyMsg, HostIo, PeerConfig, Persisted, Raft, RaftIo};
pub use service::{NamedTransport, ReplicatedServer, ReplyIo, Transport};
pub use step::{ElectionTimer, RpcView, StepInput, StepRecord};
pub use view::{EntryView, NoView, RaftView, Role};
