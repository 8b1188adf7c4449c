//! A textbook Raft for the labsim lab, written from the lab's contract
//! alone (`contract`): Figure 2 of the Raft paper (elections with
//! randomized timeouts, log replication with a fast backup, the commit rule
//! for current-term entries) plus log compaction and InstallSnapshot
//! (section 7).
//!
//! - [`log`]: the log after the snapshot, and its on-disk encoding;
//! - [`message`]: the RPCs;
//! - [`raft`]: the peer itself, [`TextbookRaft`];
//! - [`Textbook`]: the implementation named to the lab, with the project's
//!   kvraft and shardkv running on this Raft.
//!
//! The peer offers the lab's read-only [`contract::RaftView`], so every run
//! has the lab's invariant observer and durability checks on.

pub mod log;
pub mod message;
pub mod raft;
mod view;

pub use message::{Request, Response};
pub use raft::TextbookRaft;

use contract::{PeerConfig, Persisted, RaftIo};

impl contract::Raft for TextbookRaft {
    type Request = Request;
    type Response = Response;
    type View = TextbookRaft;

    fn start(config: PeerConfig, persisted: Persisted<'_>, io: &mut impl RaftIo<Request>) -> Result<Self, String> {
        TextbookRaft::new(config, persisted, io)
    }

    fn state(&self) -> (u64, bool) {
        (self.term(), self.is_leader())
    }

    fn start_command(&mut self, io: &mut impl RaftIo<Request>, command: Vec<u8>) -> Option<(u64, u64)> {
        TextbookRaft::start_command(self, io, command)
    }

    fn snapshot(&mut self, io: &mut impl RaftIo<Request>, index: u64, snapshot: Vec<u8>) {
        self.take_snapshot(io, index, snapshot);
    }

    fn handle_request(&mut self, io: &mut impl RaftIo<Request>, _from: usize, request: Request) -> Response {
        self.clock_ms = io.now_ms();
        TextbookRaft::handle_request(self, io, request)
    }

    fn handle_response(&mut self, io: &mut impl RaftIo<Request>, from: usize, response: Response) {
        self.clock_ms = io.now_ms();
        TextbookRaft::handle_response(self, io, from, response);
    }

    fn on_timer(&mut self, io: &mut impl RaftIo<Request>, at_ms: u64) {
        self.clock_ms = io.now_ms();
        TextbookRaft::on_timer(self, io, at_ms);
    }

    fn view(&self) -> Option<&TextbookRaft> {
        Some(self)
    }
}

/// This Raft named to the lab, with the project's kvraft and shardkv on it.
pub struct Textbook;

impl scenarios::Implementation for Textbook {
    const NAME: &'static str = "textbook-raft";
    const REPLAY: &'static str = "cargo run --release --bin labsim --";
    type Raft = TextbookRaft;
    type Kv = kv::KvService<TextbookRaft>;
    type ShardKv = shardkv::ShardKvService<TextbookRaft>;
    const CATALOGUE_LAYERS: &'static [scenarios::Layer] = &[scenarios::Layer::Kv, scenarios::Layer::ShardKv];
}
