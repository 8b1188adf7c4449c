//! How the adapter configures raft-rs for the lab, and paces its ticks.
//!
//! raft-rs counts time in ticks and draws each election timeout from
//! `rand::thread_rng()`, which no seed reaches. The adapter takes that draw
//! away: the minimum and maximum election ticks are one apart, so every
//! draw is the same number ([`ELECTION_TICKS`]); the randomness comes from
//! the length of a non-leader's ticks instead, drawn from the peer's seed
//! once per election period (whenever raft-rs has just restarted its
//! election count). A leader ticks every [`TICK_MS`].

use raft_rs::{Config, ReadOnlyOption};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A leader's tick.
pub const TICK_MS: u64 = 50;
/// A follower's or candidate's tick lasts from this...
pub const FOLLOWER_TICK_MS_MIN: u64 = 33;
/// ... to this, drawn once per election period.
pub const FOLLOWER_TICK_MS_MAX: u64 = 66;
/// A leader's heartbeat interval in ticks (100 ms: the lab's limit is ten
/// heartbeats a second).
pub const HEARTBEAT_TICKS: usize = 2;
/// The election timeout in ticks. A non-leader's tick lasts 33 to 66 ms,
/// so an election starts 265 to 594 ms after the leader was last heard
/// (the first tick after a heartbeat comes when the chain was due, then
/// eight whole ticks).
///
/// A leader with CheckQuorum asks, once per election timeout of its own
/// ticks (450 ms), whether a majority answered since it last asked, so a
/// cut-off leader steps down 450 to 900 ms after the cut (the lab's
/// election timeout is 1 s). With 6 ticks of 50 ms (a 300 ms window),
/// labrpc's long reordering, which holds replies for up to 2.2 s, made
/// leaders step down over and over, and `raft/figure_8_unreliable_2c`
/// found no agreement within 10 s on 9 seeds in 20,000.
pub const ELECTION_TICKS: usize = 9;
/// Entries per MsgAppend are bounded by size, not by count (TiKV's 1 MiB).
pub const MAX_SIZE_PER_MSG: u64 = 1024 * 1024;
/// MsgAppends in flight to one follower.
pub const MAX_INFLIGHT_MSGS: usize = 256;

/// raft-rs's configuration for peer `id` (1-based) restarting with its
/// log applied through raft index `applied`: TiKV's production choices
/// (its raftstore's `Peer::new`): PreVote and CheckQuorum on, and no
/// broadcast of a commit alone (followers learn it with the next append or
/// heartbeat). (The adapter proposes only on a leader: raft-rs would
/// forward a follower's proposal, where the lab's `Start` refuses it.)
///
/// The run's optimisations decide `pre_vote` and `check_quorum`, and
/// batching and pipelining (all four on unless the run says otherwise):
/// without batching a message carries one entry (raft-rs keeps at least
/// one whatever `max_size_per_msg` says), without pipelining one message
/// is in flight to a follower at a time.
pub fn config(id: u64, applied: u64, optimisations: contract::Optimisations) -> Config {
    Config {
        id,
        election_tick: ELECTION_TICKS,
        heartbeat_tick: HEARTBEAT_TICKS,
        min_election_tick: ELECTION_TICKS,
        max_election_tick: ELECTION_TICKS + 1,
        applied,
        max_size_per_msg: if optimisations.contains(contract::Optimisation::Batching) { MAX_SIZE_PER_MSG } else { 0 },
        max_inflight_msgs: if optimisations.contains(contract::Optimisation::Pipelining) {
            MAX_INFLIGHT_MSGS
        } else {
            1
        },
        check_quorum: optimisations.contains(contract::Optimisation::CheckQuorum),
        pre_vote: optimisations.contains(contract::Optimisation::PreVote),
        read_only_option: ReadOnlyOption::Safe,
        skip_bcast_commit: true,
        batch_append: false,
        ..Config::default()
    }
}

/// The seeded pacing of one peer's ticks.
pub struct Pacing {
    rng: ChaCha8Rng,
    /// A non-leader's tick in this election period.
    period_tick_ms: u64,
    /// Whether `period_tick_ms` was drawn since the election count last
    /// restarted.
    drawn: bool,
}

impl Pacing {
    pub fn new(rng_seed: u64) -> Pacing {
        let mut rng = ChaCha8Rng::seed_from_u64(rng_seed);
        let period_tick_ms = rng.random_range(FOLLOWER_TICK_MS_MIN..=FOLLOWER_TICK_MS_MAX);
        Pacing { rng, period_tick_ms, drawn: true }
    }

    /// When the first tick comes after a start: within one tick.
    pub fn first_tick_ms(&mut self) -> u64 {
        self.rng.random_range(1..=self.period_tick_ms)
    }

    /// The next tick's distance for a peer that leads or not.
    pub fn tick_ms(&self, leads: bool) -> u64 {
        if leads {
            TICK_MS
        } else {
            self.period_tick_ms
        }
    }

    /// After each step: a new period's tick is drawn once raft-rs restarts
    /// the election count (`election_elapsed` back at 0).
    pub fn observe(&mut self, election_elapsed: usize) {
        if election_elapsed > 0 {
            self.drawn = false;
        } else if !self.drawn {
            self.period_tick_ms = self.rng.random_range(FOLLOWER_TICK_MS_MIN..=FOLLOWER_TICK_MS_MAX);
            self.drawn = true;
        }
    }
}
