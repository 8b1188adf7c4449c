//! What the kv and shardkv benchmarks share: a clerk's operations back to
//! back until a deadline, and the notes a run leaves for `labsim compare`
//! (latency p50 and p99, throughput), all in virtual time.

use contract::kv::Operations;
use rand::Rng;
use sim::{ms, secs, Nanos, Node, SimHandle};

/// The share of a clerk's operations that are Gets (the rest Append).
#[derive(Clone, Copy)]
pub struct Gets {
    /// Gets among every `every` operations.
    pub in_every: u64,
    /// The operations `in_every` counts among.
    pub every: u64,
}

/// Half the operations are Gets.
pub const HALF_GETS: Gets = Gets { in_every: 1, every: 2 };

/// Clerk `ck` (client id `id`) runs operations on keys `k0`..`k{keys-1}`
/// until `until`: Gets as `gets` says, else Appends of 8 bytes. Returns
/// each operation's latency.
pub async fn clerk_ops<N: Node>(
    h: &SimHandle<N>,
    ck: &mut impl Operations,
    id: u64,
    until: Nanos,
    keys: u64,
    gets: Gets,
) -> Vec<Nanos> {
    let rand = |below: u64| h.with_rng(|r| r.random_range(0..below));
    let mut latencies = Vec::new();
    let mut n = 0;
    while h.now() < until {
        let key = format!("k{}", rand(keys));
        let called = h.now();
        if rand(gets.every) < gets.in_every {
            ck.get(&key).await;
        } else {
            ck.append(&key, &format!("{:04}{:04}", id % 10_000, n % 10_000)).await;
        }
        latencies.push(h.now() - called);
        n += 1;
    }
    latencies
}

/// Notes the run's latency p50 and p99 and its throughput over `elapsed`.
pub fn note_speed<N: Node>(h: &SimHandle<N>, mut latencies: Vec<Nanos>, elapsed: Nanos) {
    assert!(!latencies.is_empty(), "a benchmark completes operations");
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize] as f64 / ms(1) as f64;
    let note = |name: &str, value: f64| h.note(format!("measured {name}: {value:.2}"));
    note("latency p50 ms", at(0.5));
    note("latency p99 ms", at(0.99));
    note("operations per s", latencies.len() as f64 / (elapsed as f64 / secs(1) as f64));
}
