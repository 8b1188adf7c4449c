//! Scenarios `kv/bench_...`, beyond the lab: kvraft's speed in virtual
//! time. Five servers; one clerk or ten, each running operations back to
//! back for 5 s (half Gets, half Appends of 8 bytes, on 10 keys; nine Gets
//! in ten in the `read_heavy` ones), on the reliable or the unreliable
//! network; in the `disk` ones every server's disk takes 2 ms per write
//! (a synchronous write blocks its server that long; see `sim`'s
//! `disk.rs`), where asynchronous persistence has something to gain. Each
//! run notes its latency per
//! operation (p50, p99) and its throughput, for `labsim compare`, which
//! sets them side by side for every combination of the optimisations;
//! `labsim soak` gives the CPU per operation. Like every kv run, the
//! history must be linearizable.

use super::scenarios::kv_test;
use crate::labs::bench::{clerk_ops, note_speed, Gets, HALF_GETS};
use crate::labs::kv::tester::{KvSetup, KvTester};
use crate::runner::{Outcome, Run};
use contract::kv::{Kv, Operations};
use sim::{ms, secs, JoinHandle, Nanos};
use std::rc::Rc;

/// How long the clerks run, once a first operation has completed.
const BENCH_TIME: Nanos = secs(5);
const KEYS: u64 = 10;

/// Nine operations in ten are Gets.
const MOSTLY_GETS: Gets = Gets { in_every: 9, every: 10 };
/// The disk of the `disk` benchmarks: a write or flush takes this long
/// (an fsync on a network-attached cloud disk).
const DISK_WRITE: Nanos = ms(2);

/// One clerk on the reliable network.
pub fn bench_1_client<K: Kv>(run: &Run) -> Outcome {
    bench::<K>(run, 1, false, HALF_GETS, None)
}

/// Ten clerks on the reliable network.
pub fn bench_10_clients<K: Kv>(run: &Run) -> Outcome {
    bench::<K>(run, 10, false, HALF_GETS, None)
}

/// One clerk on the unreliable network.
pub fn bench_1_client_unreliable<K: Kv>(run: &Run) -> Outcome {
    bench::<K>(run, 1, true, HALF_GETS, None)
}

/// Ten clerks on the unreliable network.
pub fn bench_10_clients_unreliable<K: Kv>(run: &Run) -> Outcome {
    bench::<K>(run, 10, true, HALF_GETS, None)
}

/// Ten clerks, nine operations in ten Gets, on the reliable network.
pub fn bench_10_clients_read_heavy<K: Kv>(run: &Run) -> Outcome {
    bench::<K>(run, 10, false, MOSTLY_GETS, None)
}

/// Ten clerks, nine operations in ten Gets, on the unreliable network.
pub fn bench_10_clients_read_heavy_unreliable<K: Kv>(run: &Run) -> Outcome {
    bench::<K>(run, 10, true, MOSTLY_GETS, None)
}

/// One clerk on the reliable network, with disks that take time.
pub fn bench_1_client_disk<K: Kv>(run: &Run) -> Outcome {
    bench::<K>(run, 1, false, HALF_GETS, Some(DISK_WRITE))
}

/// Ten clerks on the reliable network, with disks that take time.
pub fn bench_10_clients_disk<K: Kv>(run: &Run) -> Outcome {
    bench::<K>(run, 10, false, HALF_GETS, Some(DISK_WRITE))
}

/// `clerks` clerks for `BENCH_TIME` after a first Get has found a leader,
/// on disks that take `disk_write` per write (`None`: no time).
fn bench<K: Kv>(run: &Run, clerks: usize, unreliable: bool, gets: Gets, disk_write: Option<Nanos>) -> Outcome {
    kv_test::<K, _>(run, KvSetup::servers(5).unreliable_if(unreliable), move |t| async move {
        if let Some(latency) = disk_write {
            for &server in &t.cluster.servers {
                t.h.inject(sim::Fault::DiskLatency { server, latency });
            }
        }
        t.make_client(&t.all()).get("k0").await;
        let start = t.h.now();
        let workers: Vec<JoinHandle<Vec<Nanos>>> = (0..clerks)
            .map(|c| t.h.spawn(format!("bench-{c}"), clerk_loop(t.clone(), start + BENCH_TIME, gets)))
            .collect();
        let mut latencies = Vec::new();
        for w in workers {
            latencies.extend(w.await);
        }
        note_speed(&t.h, latencies, t.h.now() - start);
        Ok(())
    })
}

/// One clerk's operations until `until`: their latencies.
async fn clerk_loop<K: Kv>(t: Rc<KvTester<K>>, until: Nanos, gets: Gets) -> Vec<Nanos> {
    let mut ck = t.make_client(&t.all());
    let id = ck.id;
    clerk_ops(&t.h, &mut ck, id, until, KEYS, gets).await
}
