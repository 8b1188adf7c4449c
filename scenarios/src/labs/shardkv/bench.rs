//! Scenarios `shardkv/bench_...`, beyond the lab: shardkv's speed in
//! virtual time. Three controllers and three groups of three servers, all
//! joined; ten clerks run operations back to back for 5 s (half Gets, half
//! Appends of 8 bytes, on 20 keys over the 10 shards) on the reliable
//! network. In `moving`, group 102 leaves and joins again every second, so
//! shards move under the clerks (what a reconfiguration costs them); in
//! `disk`, every server's disk takes 2 ms per write, where asynchronous
//! persistence has something to gain. Each run notes its latency per
//! operation (p50, p99) and its throughput, for `labsim compare`; `labsim
//! soak` gives the CPU per operation and the shards moved. Like every
//! shardkv run, the history must be linearizable.

use super::scenarios::{setup, shard_test};
use crate::labs::bench::{clerk_ops, note_speed, HALF_GETS};
use crate::labs::shardkv::tester::ShardTester;
use crate::runner::{Outcome, Run};
use contract::kv::Operations;
use contract::shardkv::ShardKv;
use sim::{ms, secs, JoinHandle, Nanos};
use std::rc::Rc;

/// How long the clerks run, once every group has joined and a first
/// operation has completed.
const BENCH_TIME: Nanos = secs(5);
const CLERKS: usize = 10;
const KEYS: u64 = 20;
/// The disk of the `disk` benchmark: a write or flush takes this long.
const DISK_WRITE: Nanos = ms(2);
/// How often group 102 leaves or joins in the `moving` benchmark.
const MOVE_EVERY: Nanos = secs(1);
/// The Raft state at which a server snapshots (the lab's 4B tests use 1000
/// or none).
const MAX_RAFT_STATE: usize = 1000;

/// Ten clerks, the groups as they joined.
pub fn bench_10_clients<S: ShardKv>(run: &Run) -> Outcome {
    bench::<S>(run, false, None)
}

/// Ten clerks while group 102 leaves and joins every second.
pub fn bench_10_clients_moving<S: ShardKv>(run: &Run) -> Outcome {
    bench::<S>(run, true, None)
}

/// Ten clerks, with disks that take time.
pub fn bench_10_clients_disk<S: ShardKv>(run: &Run) -> Outcome {
    bench::<S>(run, false, Some(DISK_WRITE))
}

/// The clerks for `BENCH_TIME` after the groups joined and a first Get was
/// served, on disks that take `disk_write` per write (`None`: no time),
/// with group 102 leaving and joining every `MOVE_EVERY` when `moving`.
fn bench<S: ShardKv>(run: &Run, moving: bool, disk_write: Option<Nanos>) -> Outcome {
    shard_test::<S, _>(run, setup(false, Some(MAX_RAFT_STATE)), move |t| async move {
        if let Some(latency) = disk_write {
            let servers = t.groups.iter().chain([&t.ctrlers.cluster]).flat_map(|c| c.servers.clone());
            for server in servers.collect::<Vec<_>>() {
                t.h.inject(sim::Fault::DiskLatency { server, latency });
            }
        }
        t.join(&[0, 1, 2]).await;
        t.make_client().get("k0").await;
        let start = t.h.now();
        let until = start + BENCH_TIME;
        let workers: Vec<JoinHandle<Vec<Nanos>>> =
            (0..CLERKS).map(|c| t.h.spawn(format!("bench-{c}"), clerk_loop(t.clone(), until))).collect();
        if moving {
            move_group(&t, until).await;
        }
        let mut latencies = Vec::new();
        for w in workers {
            latencies.extend(w.await);
        }
        note_speed(&t.h, latencies, t.h.now() - start);
        Ok(())
    })
}

/// Group 102 leaves, then joins again, each `MOVE_EVERY`, until `until`;
/// it ends joined.
async fn move_group<S: ShardKv>(t: &Rc<ShardTester<S>>, until: Nanos) {
    let mut joined = true;
    while t.h.now() + MOVE_EVERY <= until {
        t.sleep(MOVE_EVERY).await;
        match joined {
            true => t.leave(&[2]).await,
            false => t.join(&[2]).await,
        }
        joined = !joined;
    }
    if !joined {
        t.join(&[2]).await;
    }
}

/// One clerk's operations until `until`: their latencies.
async fn clerk_loop<S: ShardKv>(t: Rc<ShardTester<S>>, until: Nanos) -> Vec<Nanos> {
    let mut ck = t.make_client();
    let id = ck.id;
    clerk_ops(&t.h, &mut ck, id, until, KEYS, HALF_GETS).await
}
