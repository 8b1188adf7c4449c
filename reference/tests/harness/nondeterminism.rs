//! A user's Raft that reads the wall clock (a student's classic: election
//! timeouts seeded from the time) makes runs that do not replay;
//! `--check-determinism` (`run_checking_determinism`) must say so in
//! words, name the first event where two runs part, and list the usual
//! causes.

use contract::{PeerConfig, Persisted, Raft, RaftIo};
use raft::{RaftPeer, Request, Response};
use scenarios::{Implementation, Run};

/// The reference Raft, but seeded from the wall clock.
struct WallClockRaft(RaftPeer);

impl Raft for WallClockRaft {
    type Request = Request;
    type Response = Response;
    type View = RaftPeer;

    fn start(config: PeerConfig, persisted: Persisted<'_>, io: &mut impl RaftIo<Request>) -> Result<Self, String> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_nanos();
        let config = PeerConfig { rng_seed: config.rng_seed ^ nanos as u64, ..config };
        RaftPeer::start(config, persisted, io).map(WallClockRaft)
    }
    fn state(&self) -> (u64, bool) {
        self.0.state()
    }
    fn start_command(&mut self, io: &mut impl RaftIo<Request>, command: Vec<u8>) -> Option<(u64, u64)> {
        self.0.start_command(io, command)
    }
    fn snapshot(&mut self, io: &mut impl RaftIo<Request>, index: u64, snapshot: Vec<u8>) {
        self.0.snapshot(io, index, snapshot);
    }
    fn handle_request(&mut self, io: &mut impl RaftIo<Request>, from: usize, request: Request) -> Response {
        self.0.handle_request(io, from, request)
    }
    fn handle_response(&mut self, io: &mut impl RaftIo<Request>, from: usize, response: Response) {
        self.0.handle_response(io, from, response);
    }
    fn on_timer(&mut self, io: &mut impl RaftIo<Request>, at_ms: u64) {
        self.0.on_timer(io, at_ms);
    }
    fn view(&self) -> Option<&RaftPeer> {
        Some(&self.0)
    }
}

struct WallClock;

impl Implementation for WallClock {
    const NAME: &'static str = "wall-clock";
    const REPLAY: &'static str = "labsim";
    type Raft = WallClockRaft;
    type Kv = kv::KvService<WallClockRaft>;
    type ShardKv = shardkv::ShardKvService<WallClockRaft>;
    const CATALOGUE_LAYERS: &'static [scenarios::Layer] = &[scenarios::Layer::Kv, scenarios::Layer::ShardKv];
}

#[test]
fn a_raft_that_reads_the_wall_clock_is_named_not_deterministic() {
    let scenario = scenarios::find::<WallClock>("raft/initial_election_2a").expect("registered");
    let outcome = scenarios::runner::run_checking_determinism(&scenario, &Run::new(3));
    let reason = outcome.result.expect_err("two runs must part");
    assert!(reason.starts_with("NOT DETERMINISTIC: two runs of seed 3 did not replay each other"), "{reason}");
    assert!(reason.contains("first run:") && reason.contains("second run:"), "{reason}");
    assert!(reason.contains("timer") && reason.contains("of raft-"), "the event names its server: {reason}");
    for cause in ["wall clock", "rand::thread_rng", "HashMap", "PeerConfig::rng_seed"] {
        assert!(reason.contains(cause), "the hint names {cause}: {reason}");
    }
}

#[test]
fn the_same_raft_without_the_clock_replays() {
    let scenario = scenarios::find::<reference::Reference>("raft/initial_election_2a").expect("registered");
    let outcome = scenarios::runner::run_checking_determinism(&scenario, &Run::new(3));
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
}
