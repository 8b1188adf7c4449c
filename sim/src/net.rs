//! The virtual network's settings and counters: the labrpc fault model
//! (reliable/unreliable, long delays, long reordering) and what goes beyond it
//! (per-link latency, clogged links, duplication). The mechanics of carrying
//! a call live in `world.rs`; this module owns the numbers and the draws.

use crate::rng::SimRng;
use crate::time::{ms, Nanos};
use rand::Rng;
use serde::Serialize;

/// The labrpc knobs plus duplication, for the whole network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct NetConfig {
    /// labrpc `Reliable`: when false, requests are delayed 0-26 ms, 10% of
    /// requests and 10% of replies (after the handler ran) are dropped.
    pub reliable: bool,
    /// labrpc `LongDelays`: a call to a disabled end or a dead server fails
    /// after 0-6999 ms instead of 0-99 ms.
    pub long_delays: bool,
    /// labrpc `LongReordering`: 2/3 of replies are held 200-2199 ms.
    pub long_reordering: bool,
    /// Per mille of delivered requests that are delivered a second time.
    pub duplicate_per_mille: u32,
    /// The duplicate arrives up to this long after the original.
    pub duplicate_delay_max: Nanos,
    /// The one-way latency of every delivered request and reply (beyond
    /// labrpc, which delivers in no time): no message is instantaneous.
    pub latency: Latency,
}

/// A datacenter network's one-way latency: mostly 150-650 us, and 2% of
/// messages 0.65-5 ms (a mean of about 0.45 ms; a round trip about 0.9 ms).
pub const DATACENTER_LATENCY: Latency =
    Latency::Tail { min: us(150), typical_max: us(650), tail_per_mille: 20, max: ms(5) };

const fn us(x: u64) -> Nanos {
    x * 1000
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            reliable: true,
            long_delays: false,
            long_reordering: false,
            duplicate_per_mille: 0,
            duplicate_delay_max: ms(50),
            latency: DATACENTER_LATENCY,
        }
    }
}

impl NetConfig {
    /// The settings in words, those that differ from the default only
    /// ("unreliable, long reordering, duplicates 50/1000").
    pub fn describe(&self) -> String {
        let default = NetConfig::default();
        let mut parts = vec![if self.reliable { "reliable" } else { "unreliable" }.to_string()];
        if self.long_delays {
            parts.push("long delays".into());
        }
        if self.long_reordering {
            parts.push("long reordering".into());
        }
        if self.duplicate_per_mille > 0 {
            parts.push(format!("duplicates {}/1000", self.duplicate_per_mille));
        }
        if self.latency != default.latency {
            parts.push(format!("latency {}", self.latency.describe()));
        }
        parts.join(", ")
    }
}

impl Latency {
    /// The latency in words, with units.
    pub fn describe(&self) -> String {
        let t = |n: &Nanos| crate::time::format(*n);
        match self {
            Latency::Zero => "none".into(),
            Latency::Fixed(d) => t(d),
            Latency::Uniform { min, max } => format!("{}-{}", t(min), t(max)),
            Latency::ExponentialTail { min, mean, max } => {
                format!("{} + exponential (mean {}) up to {}", t(min), t(mean), t(max))
            }
            Latency::Tail { min, typical_max, tail_per_mille, max } => {
                format!("{}-{} ({tail_per_mille}/1000 up to {})", t(min), t(typical_max), t(max))
            }
        }
    }
}

/// labrpc constants (LABSPEC.md section 7).
pub const UNRELIABLE_DELAY_MS_MAX: u64 = 26;
pub const UNRELIABLE_DROP_PER_MILLE: u32 = 100;
pub const DEAD_CALL_DELAY_MS_SHORT: u64 = 100;
pub const DEAD_CALL_DELAY_MS_LONG: u64 = 7000;
pub const DEAD_SERVER_POLL_INTERVAL: Nanos = ms(100);
pub const REORDER_PROBABILITY_NUMERATOR: u32 = 600;
pub const REORDER_PROBABILITY_DENOMINATOR: u32 = 900;
pub const REORDER_DELAY_MS_MIN: u64 = 200;
pub const REORDER_DELAY_MS_SPREAD: u64 = 2000;

/// One-way latency added on a link, beyond labrpc's own delays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
pub enum Latency {
    #[default]
    Zero,
    Fixed(Nanos),
    /// Uniform in `[min, max]`.
    Uniform {
        min: Nanos,
        max: Nanos,
    },
    /// `min` plus an exponential tail with the given mean, capped at `max`.
    ExponentialTail {
        min: Nanos,
        mean: Nanos,
        max: Nanos,
    },
    /// Uniform in `[min, typical_max]`, except `tail_per_mille` of samples
    /// uniform in `[typical_max, max]`: a bounded tail, drawn with integers
    /// only.
    Tail {
        min: Nanos,
        typical_max: Nanos,
        tail_per_mille: u32,
        max: Nanos,
    },
}

impl Latency {
    pub fn sample(self, rng: &mut SimRng) -> Nanos {
        match self {
            Latency::Zero => 0,
            Latency::Fixed(d) => d,
            Latency::Uniform { min, max } => rng.random_range(min..=max),
            Latency::ExponentialTail { min, mean, max } => {
                // Inverse-transform sampling; u in (0, 1].
                let u = 1.0 - rng.random::<f64>();
                let tail = -(u.ln()) * mean as f64;
                (min + tail as Nanos).min(max)
            }
            Latency::Tail { min, typical_max, tail_per_mille, max } => {
                if rng.random_range(0..1000) < tail_per_mille {
                    rng.random_range(typical_max..=max)
                } else {
                    rng.random_range(min..=typical_max)
                }
            }
        }
    }
}

/// State of the directed link from one endpoint to one server.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkState {
    /// labrpc's `Enable(end, bool)`.
    pub enabled: bool,
    /// Requests are held (not dropped) until the link is unclogged.
    pub clogged: bool,
    pub latency: Latency,
}

impl Default for LinkState {
    fn default() -> Self {
        LinkState { enabled: true, clogged: false, latency: Latency::Zero }
    }
}

/// labrpc's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Every call entered into the network (labrpc `GetTotalCount`).
    pub total_calls: u64,
    /// Request bytes at send plus reply bytes at delivery (`GetTotalBytes`),
    /// counted only after [`SimHandle::count_bytes`](crate::SimHandle::count_bytes).
    pub total_bytes: u64,
    /// Requests dropped, replies dropped, calls failed for a dead or disabled
    /// destination, replies held for reordering, duplicated requests.
    pub requests_dropped: u64,
    pub replies_dropped: u64,
    pub calls_to_dead: u64,
    pub replies_reordered: u64,
    pub requests_duplicated: u64,
}

/// What happens to a request at send time under the global config.
pub(crate) enum SendFate {
    /// Delivered after this delay.
    Deliver(Nanos),
    /// Dropped; the caller learns of it after this delay.
    Drop(Nanos),
}

impl NetConfig {
    /// Delay before a call to a dead or disabled server fails.
    pub(crate) fn dead_call_delay(&self, rng: &mut SimRng) -> Nanos {
        let max = if self.long_delays { DEAD_CALL_DELAY_MS_LONG } else { DEAD_CALL_DELAY_MS_SHORT };
        ms(rng.random_range(0..max))
    }

    /// labrpc's short delay and request drop.
    pub(crate) fn send_fate(&self, rng: &mut SimRng) -> SendFate {
        if self.reliable {
            return SendFate::Deliver(0);
        }
        let delay = ms(rng.random_range(0..=UNRELIABLE_DELAY_MS_MAX));
        if rng.random_range(0..1000) < UNRELIABLE_DROP_PER_MILLE {
            SendFate::Drop(delay)
        } else {
            SendFate::Deliver(delay)
        }
    }

    /// Whether an unreliable network drops this reply.
    pub(crate) fn drops_reply(&self, rng: &mut SimRng) -> bool {
        !self.reliable && rng.random_range(0..1000) < UNRELIABLE_DROP_PER_MILLE
    }

    /// The long-reordering hold for a reply, if any (`long_reordering` is the
    /// value seen when the call was sent, as labrpc snapshots it).
    pub(crate) fn reorder_delay(long_reordering: bool, rng: &mut SimRng) -> Option<Nanos> {
        if !long_reordering || rng.random_range(0..REORDER_PROBABILITY_DENOMINATOR) >= REORDER_PROBABILITY_NUMERATOR {
            return None;
        }
        let spread = rng.random_range(0..REORDER_DELAY_MS_SPREAD);
        Some(ms(REORDER_DELAY_MS_MIN + rng.random_range(0..=spread)))
    }

    /// Extra delay of a duplicate, if this request is duplicated.
    pub(crate) fn duplicate_delay(&self, rng: &mut SimRng) -> Option<Nanos> {
        if self.duplicate_per_mille == 0 || rng.random_range(0..1000) >= self.duplicate_per_mille {
            return None;
        }
        Some(rng.random_range(0..=self.duplicate_delay_max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};

    #[test]
    fn unreliable_fates_follow_labrpc_distribution() {
        let cfg = NetConfig { reliable: false, ..NetConfig::default() };
        let mut rng = stream(1, Stream::Network);
        let (mut drops, mut max_delay) = (0, 0);
        let n = 100_000;
        for _ in 0..n {
            match cfg.send_fate(&mut rng) {
                SendFate::Drop(d) => {
                    drops += 1;
                    max_delay = max_delay.max(d)
                }
                SendFate::Deliver(d) => max_delay = max_delay.max(d),
            }
        }
        assert!((9_000..11_000).contains(&drops), "drops {drops}");
        assert_eq!(max_delay, ms(26));
    }

    #[test]
    fn reorder_delays_stay_in_labrpc_range() {
        let mut rng = stream(2, Stream::Network);
        let mut held = 0;
        for _ in 0..30_000 {
            if let Some(d) = NetConfig::reorder_delay(true, &mut rng) {
                held += 1;
                assert!((ms(200)..=ms(2199)).contains(&d));
            }
        }
        assert!((19_000..21_000).contains(&held), "held {held}");
        assert!(NetConfig::reorder_delay(false, &mut rng).is_none());
    }

    #[test]
    fn datacenter_latency_has_a_sub_millisecond_mean_and_a_bounded_tail() {
        let mut rng = stream(4, Stream::Network);
        let samples: Vec<Nanos> = (0..100_000).map(|_| DATACENTER_LATENCY.sample(&mut rng)).collect();
        let mean = samples.iter().sum::<Nanos>() / samples.len() as Nanos;
        assert!((us(400)..us(500)).contains(&mean), "mean {mean}");
        assert!(samples.iter().all(|d| (us(150)..=ms(5)).contains(d)));
        let tail = samples.iter().filter(|d| **d > us(650)).count();
        assert!((1_500..2_500).contains(&tail), "tail {tail}");
    }

    #[test]
    fn latency_samples_stay_in_bounds() {
        let mut rng = stream(3, Stream::Network);
        for _ in 0..1000 {
            let u = Latency::Uniform { min: ms(1), max: ms(5) }.sample(&mut rng);
            assert!((ms(1)..=ms(5)).contains(&u));
            let e = Latency::ExponentialTail { min: ms(1), mean: ms(3), max: ms(40) }.sample(&mut rng);
            assert!((ms(1)..=ms(40)).contains(&e));
        }
    }
}
