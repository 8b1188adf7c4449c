//! Scenarios `kv/...`: the lab's 23 kvraft tests (3A: 14, 3B: 9), ported
//! from `kvraft/test_test.go` with their bounds, in virtual time.
//!
//! Harsher than the Go tests, on purpose:
//! - every test records every operation of every clerk and checks the
//!   history for linearizability with no budget (Go checks only the
//!   GenericTest family, and takes a 1 s time-out as a pass);
//! - TestOnePartition3A requires the minority's Get to complete after the
//!   heal, within the same 3 s as its Put (the Go test's `select` has a
//!   `default:` branch, so it never enforces it);
//! - every message takes time (see docs/architecture.md);
//! - `kv/chaos`, beyond the lab, adds duplicated requests, drifting clocks,
//!   paused servers and one-way cuts to the linearizable partition test.

use super::bench::{
    bench_10_clients, bench_10_clients_disk, bench_10_clients_read_heavy, bench_10_clients_read_heavy_unreliable,
    bench_10_clients_unreliable, bench_1_client, bench_1_client_disk, bench_1_client_unreliable,
};
use crate::labs::kv::tester::{
    check_clnt_appends, check_concurrent_appends, check_history, Check, Client, KvHistory, KvSetup, KvTester,
    TestResult, ELECTION_TIMEOUT, H,
};
use crate::runner::{simulate, Outcome, Run};
use crate::Scenario;
use checker::{report, KvModel};
use contract::kv::Kv;
use contract::kv::Operations;
use sim::{ms, secs, Fault, JoinHandle, Nanos, NetConfig};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

/// Runs one kv test: a cluster (`make_config`), the body, `end`;
/// then the history of every clerk's operations must be linearizable.
pub(super) fn kv_test<K: Kv, F: Future<Output = TestResult> + 'static>(
    run: &Run,
    setup: KvSetup,
    body: impl FnOnce(Rc<KvTester<K>>) -> F + 'static,
) -> Outcome {
    let history: Rc<RefCell<KvHistory>> = Rc::default();
    let recorded = history.clone();
    let outcome = simulate(run, move |h: H<K>| async move {
        let t = KvTester::new(&h, setup, recorded);
        body(t.clone()).await?;
        t.end()
    });
    let history = std::mem::take(&mut *history.borrow_mut());
    with_checked_history(outcome, history)
}

/// The outcome of a run with its clients' history, which must be
/// linearizable: an illegal history fails the run with its explanation (the
/// key and the operations) and keeps the counterexample for the drawing.
pub fn with_checked_history(mut outcome: Outcome, history: KvHistory) -> Outcome {
    if let Err(cx) = check_history(&history) {
        let why = format!(
            "history is not linearizable: {}",
            report::explain_in(&KvModel, &history, &cx, report::Times::Nanos)
        );
        outcome.result = match outcome.result {
            Ok(()) => Err(why),
            Err(reason) => Err(format!("{reason}; and the {why}")),
        };
        outcome.illegal = Some(cx);
    }
    outcome.history = Some(history);
    outcome
}

/// Fails the run at once (the lab's `t.Fatalf` from a client goroutine) and
/// returns the reason.
fn fatal<K: Kv, T>(t: &KvTester<K>, reason: String) -> TestResult<T> {
    t.h.fail(reason.clone());
    Err(reason)
}

// ----- GenericTest -----

/// The parameters of the lab's `GenericTest`, named.
#[derive(Clone, Copy, Debug)]
struct Generic {
    clients: usize,
    servers: usize,
    unreliable: bool,
    /// Restart every server after each iteration.
    crash: bool,
    /// Repartition the servers at random about once a second.
    partitions: bool,
    max_raft_state: Option<usize>,
    /// Clients use random keys (and some Puts) instead of one key each.
    random_keys: bool,
    /// Beyond the lab: duplicated requests, drifting clocks, paused servers
    /// and one-way cuts (see `chaos_loop`).
    chaos: bool,
}

impl Generic {
    fn new(clients: usize, servers: usize) -> Generic {
        Generic {
            clients,
            servers,
            unreliable: false,
            crash: false,
            partitions: false,
            max_raft_state: None,
            random_keys: false,
            chaos: false,
        }
    }
}

/// `GenericTest`: 3 iterations of clients working for 5 s, with the
/// network, partitions and crashes the parameters ask for; after each, every
/// client's appends are checked (exactly once, in order), and the logs and
/// snapshots against maxraftstate.
fn generic_test<K: Kv>(run: &Run, g: Generic) -> Outcome {
    let setup = KvSetup::servers(g.servers).unreliable_if(g.unreliable).max_raft_state(g.max_raft_state);
    kv_test::<K, _>(run, setup, move |t| async move {
        if g.chaos {
            t.bound_latency();
        }
        let mut ck = t.make_client(&t.all());
        if g.chaos {
            start_chaos(&t);
        }
        let mut pauses = 0;
        for _ in 0..3 {
            let done_clients = Rc::new(Cell::new(false));
            let done_partitioner = Rc::new(Cell::new(false));
            let clients: Vec<JoinHandle<TestResult<usize>>> = (0..g.clients)
                .map(|cli| t.h.spawn(format!("client-{cli}"), generic_client(t.clone(), cli, g, done_clients.clone())))
                .collect();
            let (mut partitioner, mut chaos) = (None, None);
            if g.partitions {
                // Allow the clients to perform some operations without
                // interruption.
                t.sleep(secs(1)).await;
                partitioner = Some(t.h.spawn("partitioner", partitioner_loop(t.clone(), done_partitioner.clone())));
            }
            if g.chaos {
                chaos = Some(t.h.spawn("chaos", chaos_loop(t.clone(), done_partitioner.clone())));
            }
            t.sleep(secs(5)).await;
            done_clients.set(true);
            done_partitioner.set(true);
            if let Some(c) = chaos {
                pauses += c.await;
            }
            if let Some(p) = partitioner {
                p.await;
                // Reconnect the network and wait for a quorum to appear.
                t.connect_all();
                t.sleep(ELECTION_TIMEOUT).await;
            }
            if g.crash {
                for i in 0..t.n {
                    t.shutdown_server(i);
                }
                // Wait for a while for servers to shut down, since shutdown
                // isn't a real crash and isn't instantaneous.
                t.sleep(ELECTION_TIMEOUT).await;
                for i in 0..t.n {
                    t.start_server(i);
                }
                t.connect_all();
            }
            let healed_at = t.h.now();
            for (i, client) in clients.into_iter().enumerate() {
                let j = client.await?;
                let v = ck.get(&i.to_string()).await;
                if !g.random_keys {
                    check_clnt_appends(i, &v, j)?;
                }
            }
            // Beyond the lab, the liveness phase: healed, the clients finish
            // and every key is read within the bound.
            let took = t.h.now() - healed_at;
            if g.chaos && took > LIVENESS_BOUND {
                return Err(format!("liveness after healing: the reads took {}", sim::time::format(took)));
            }
            t.check_sizes()?;
        }
        let duplicated = t.h.net_stats().requests_duplicated;
        if g.chaos && (pauses == 0 || duplicated == 0) {
            return Err(format!("the faults did not all happen: {pauses} pauses, {duplicated} duplicated requests"));
        }
        Ok(())
    })
}

/// Beyond the lab: 5% of requests delivered twice, and every server's clock
/// drifting by up to 10%.
fn start_chaos<K: Kv>(t: &KvTester<K>) {
    t.cluster.set_net(|c| NetConfig { duplicate_per_mille: 50, ..c });
    for i in 0..t.n {
        let ppm = t.rand(200_001) as i32 - 100_000;
        t.h.inject(Fault::TimerDrift { server: t.cluster.servers[i], ppm });
    }
}

/// Beyond the lab: every 200-600 ms, pause a live server for 50-400 ms, or
/// cut a link between two servers one way (the partitioner's next round, or
/// the heal, restores it). The first round always pauses. Returns how many
/// pauses happened.
async fn chaos_loop<K: Kv>(t: Rc<KvTester<K>>, done: Rc<Cell<bool>>) -> u32 {
    let mut pauses = 0;
    while !done.get() {
        let up: Vec<usize> = (0..t.n).filter(|&i| t.cluster.is_up(i)).collect();
        if !up.is_empty() && (pauses == 0 || t.rand(2) == 0) {
            let i = up[t.rand(up.len() as u64) as usize];
            t.cluster.pause(i);
            pauses += 1;
            t.sleep(ms(50 + t.rand(350))).await;
            t.cluster.resume(i);
        } else {
            let (a, b) = (t.rand(t.n as u64) as usize, t.rand(t.n as u64) as usize);
            if a != b {
                t.cluster.cut_one_way(a, b);
            }
        }
        t.sleep(ms(200 + t.rand(400))).await;
    }
    pauses
}

/// One GenericTest client: Appends (and with random keys some Puts) and
/// Gets until told to stop; without random keys every Get must see exactly
/// the client's own appends. Returns how many values it wrote.
async fn generic_client<K: Kv>(t: Rc<KvTester<K>>, cli: usize, g: Generic, done: Rc<Cell<bool>>) -> TestResult<usize> {
    let mut ck = t.make_client(&t.all());
    let mut last = String::new();
    let own_key = cli.to_string();
    if !g.random_keys {
        ck.put(&own_key, &last).await;
    }
    let mut j = 0;
    while !done.get() {
        let key = if g.random_keys { t.rand(g.clients as u64).to_string() } else { own_key.clone() };
        let nv = format!("x {cli} {j} y");
        if t.rand(1000) < 500 {
            ck.append(&key, &nv).await;
            if !g.random_keys {
                last.push_str(&nv);
            }
            j += 1;
        } else if g.random_keys && t.rand(1000) < 100 {
            ck.put(&key, &nv).await;
            j += 1;
        } else {
            let v = ck.get(&key).await;
            if !g.random_keys && v != last {
                return fatal(&t, format!("get wrong value, key {key:?}, wanted:\n{last:?}\n, got\n{v:?}"));
            }
        }
    }
    Ok(j)
}

/// Repartitions the servers at random (each side may be empty) every
/// second or so.
async fn partitioner_loop<K: Kv>(t: Rc<KvTester<K>>, done: Rc<Cell<bool>>) {
    while !done.get() {
        let mut sides = [Vec::new(), Vec::new()];
        for i in 0..t.n {
            sides[t.rand(2) as usize].push(i);
        }
        t.partition(&sides[0], &sides[1]);
        t.sleep(ELECTION_TIMEOUT + ms(t.rand(200))).await;
    }
}

/// The speed bound: better than one operation per heartbeat (100 ms);
/// three per heartbeat required.
const TIME_PER_OP: Nanos = ms(100) / 3;

/// `GenericTestSpeed`: 1,000 sequential Appends on 3 servers within
/// 1,000 x 33.3 ms.
fn generic_speed<K: Kv>(run: &Run, max_raft_state: Option<usize>) -> Outcome {
    kv_test::<K, _>(run, KvSetup::servers(3).max_raft_state(max_raft_state), |t| async move {
        let mut ck = t.make_client(&t.all());
        // Wait until the first operation completes (a leader exists).
        ck.get("x").await;
        const OPS: u64 = 1000;
        let start = t.h.now();
        for i in 0..OPS {
            ck.append("x", &format!("x 0 {i} y")).await;
        }
        let took = t.h.now() - start;
        check_clnt_appends(0, &ck.get("x").await, OPS as usize)?;
        let per_op = took / OPS;
        tracing::info!(target: "kv::speed", "{OPS} appends in {}: {} us of virtual time per operation", sim::time::format(took), per_op / 1000);
        if took > OPS * TIME_PER_OP {
            return Err(format!(
                "Operations completed too slowly {} us/op > {} us/op",
                per_op / 1000,
                TIME_PER_OP / 1000
            ));
        }
        Ok(())
    })
}

// ----- 3A -----

fn basic_3a<K: Kv>(run: &Run) -> Outcome {
    generic_test::<K>(run, Generic::new(1, 5))
}

fn speed_3a<K: Kv>(run: &Run) -> Outcome {
    generic_speed::<K>(run, None)
}

fn concurrent_3a<K: Kv>(run: &Run) -> Outcome {
    generic_test::<K>(run, Generic::new(5, 5))
}

fn unreliable_3a<K: Kv>(run: &Run) -> Outcome {
    generic_test::<K>(run, Generic { unreliable: true, ..Generic::new(5, 5) })
}

/// Five clients append ten values each to one key over an unreliable
/// network: each value exactly once, each client's in order.
fn unreliable_one_key_3a<K: Kv>(run: &Run) -> Outcome {
    kv_test::<K, _>(run, KvSetup::servers(3).unreliable_if(true), |t| async move {
        let mut ck = t.make_client(&t.all());
        ck.put("k", "").await;
        const CLIENTS: usize = 5;
        const UPTO: usize = 10;
        let clients: Vec<JoinHandle<()>> = (0..CLIENTS)
            .map(|me| {
                let t2 = t.clone();
                t.h.spawn(format!("client-{me}"), async move {
                    let mut myck = t2.make_client(&t2.all());
                    for n in 0..UPTO {
                        myck.append("k", &format!("x {me} {n} y")).await;
                    }
                })
            })
            .collect();
        for c in clients {
            c.await;
        }
        check_concurrent_appends(&ck.get("k").await, &[UPTO; CLIENTS])
    })
}

/// Submit a request in the minority partition and check that it does not
/// go through until the partition heals. The leader of the original view is
/// in the minority.
fn one_partition_3a<K: Kv>(run: &Run) -> Outcome {
    kv_test::<K, _>(run, KvSetup::servers(5), |t| async move {
        let mut ck = t.make_client(&t.all());
        ck.put("1", "13").await;
        // Progress in majority.
        let (p1, p2) = t.make_partition();
        t.partition(&p1, &p2);
        let mut ckp1 = t.make_client(&p1);
        let ckp2a = t.make_client(&p2);
        let ckp2b = t.make_client(&p2);
        ckp1.put("1", "14").await;
        ckp1.check("1", "14").await?;
        t.end()?;
        // No progress in minority (Go's begin here resets only what it
        // reports: the 120 s count from the test's start, not the part's).
        let (put_done, get_done) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
        let minority_put = spawn_op(&t, "minority-put", ckp2a, put_done.clone(), |mut c| async move {
            c.put("1", "15").await;
            c
        });
        let minority_get = spawn_op(&t, "minority-get", ckp2b, get_done.clone(), |mut c| async move {
            c.get("1").await;
            c
        });
        t.sleep(secs(1)).await;
        if put_done.get() {
            return Err("Put in minority completed".into());
        }
        if get_done.get() {
            return Err("Get in minority completed".into());
        }
        ckp1.check("1", "14").await?;
        ckp1.put("1", "16").await;
        ckp1.check("1", "16").await?;
        t.end()?;
        // Completion after heal: both the Put and (beyond the Go test,
        // which never enforces it) the Get.
        t.connect_all();
        let (ckp2a, ckp2b) = (minority_put.clerk_addr, minority_get.clerk_addr);
        t.cluster.connect_client(ckp2a, &t.all());
        t.cluster.connect_client(ckp2b, &t.all());
        t.sleep(ELECTION_TIMEOUT).await;
        for _ in 0..30 {
            if put_done.get() && get_done.get() {
                break;
            }
            t.sleep(ms(100)).await;
        }
        if !put_done.get() {
            return Err("Put did not complete".into());
        }
        if !get_done.get() {
            return Err("Get did not complete after the heal".into());
        }
        minority_put.task.await;
        minority_get.task.await;
        ck.check("1", "15").await
    })
}

/// A clerk's operation running in its own task, with its clerk's address.
struct Spawned<K: Kv> {
    task: JoinHandle<Client<K>>,
    clerk_addr: sim::Addr,
}

fn spawn_op<K: Kv, F: Future<Output = Client<K>> + 'static>(
    t: &Rc<KvTester<K>>,
    name: &str,
    client: Client<K>,
    done: Rc<Cell<bool>>,
    op: impl FnOnce(Client<K>) -> F + 'static,
) -> Spawned<K> {
    let clerk_addr = client.addr;
    let task = t.h.spawn(name.to_string(), async move {
        let client = op(client).await;
        done.set(true);
        client
    });
    Spawned { task, clerk_addr }
}

fn many_partitions_one_client_3a<K: Kv>(run: &Run) -> Outcome {
    generic_test::<K>(run, Generic { partitions: true, ..Generic::new(1, 5) })
}

fn many_partitions_many_clients_3a<K: Kv>(run: &Run) -> Outcome {
    generic_test::<K>(run, Generic { partitions: true, ..Generic::new(5, 5) })
}

fn persist_one_client_3a<K: Kv>(run: &Run) -> Outcome {
    generic_test::<K>(run, Generic { crash: true, ..Generic::new(1, 5) })
}

fn persist_concurrent_3a<K: Kv>(run: &Run) -> Outcome {
    generic_test::<K>(run, Generic { crash: true, ..Generic::new(5, 5) })
}

fn persist_concurrent_unreliable_3a<K: Kv>(run: &Run) -> Outcome {
    generic_test::<K>(run, Generic { unreliable: true, crash: true, ..Generic::new(5, 5) })
}

fn persist_partition_3a<K: Kv>(run: &Run) -> Outcome {
    generic_test::<K>(run, Generic { crash: true, partitions: true, ..Generic::new(5, 5) })
}

fn persist_partition_unreliable_3a<K: Kv>(run: &Run) -> Outcome {
    generic_test::<K>(run, Generic { unreliable: true, crash: true, partitions: true, ..Generic::new(5, 5) })
}

fn persist_partition_unreliable_linearizable_3a<K: Kv>(run: &Run) -> Outcome {
    let g = Generic { unreliable: true, crash: true, partitions: true, random_keys: true, ..Generic::new(15, 7) };
    generic_test::<K>(run, g)
}

// ----- 3B -----

/// The lab's maxraftstate for the 3B tests.
const MAX_RAFT_STATE: usize = 1000;

/// Check that snapshots decrease the size of the Raft state, and that a
/// lagging server catches up through InstallSnapshot.
fn snapshot_rpc_3b<K: Kv>(run: &Run) -> Outcome {
    kv_test::<K, _>(run, KvSetup::servers(3).max_raft_state(Some(MAX_RAFT_STATE)), |t| async move {
        let mut ck = t.make_client(&t.all());
        ck.put("a", "A").await;
        ck.check("a", "A").await?;
        // A bunch of puts into the majority partition.
        t.partition(&[0, 1], &[2]);
        {
            let mut ck1 = t.make_client(&[0, 1]);
            for i in 0..50 {
                ck1.put(&i.to_string(), &i.to_string()).await;
            }
            t.sleep(ELECTION_TIMEOUT).await;
            ck1.put("b", "B").await;
        }
        // The majority has thrown away most of its log entries.
        let size = t.log_size();
        if size > 8 * MAX_RAFT_STATE {
            return Err(format!("logs were not trimmed ({size} > 8*{MAX_RAFT_STATE})"));
        }
        // A group that needs the lagging server, so that it has to catch up.
        t.partition(&[0, 2], &[1]);
        {
            let mut ck1 = t.make_client(&[0, 2]);
            ck1.put("c", "C").await;
            ck1.put("d", "D").await;
            ck1.check("a", "A").await?;
            ck1.check("b", "B").await?;
            ck1.check("1", "1").await?;
            ck1.check("49", "49").await?;
        }
        // Now everybody.
        t.partition(&[0, 1, 2], &[]);
        ck.put("e", "E").await;
        ck.check("c", "C").await?;
        ck.check("e", "E").await?;
        ck.check("1", "1").await
    })
}

/// Are the snapshots not too huge? 500 bytes is a generous bound for the
/// operations this test performs.
fn snapshot_size_3b<K: Kv>(run: &Run) -> Outcome {
    const MAX_SNAPSHOT_STATE: usize = 500;
    kv_test::<K, _>(run, KvSetup::servers(3).max_raft_state(Some(MAX_RAFT_STATE)), |t| async move {
        let mut ck = t.make_client(&t.all());
        for _ in 0..200 {
            ck.put("x", "0").await;
            ck.check("x", "0").await?;
            ck.put("x", "1").await;
            ck.check("x", "1").await?;
        }
        let size = t.log_size();
        if size > 8 * MAX_RAFT_STATE {
            return Err(format!("logs were not trimmed ({size} > 8*{MAX_RAFT_STATE})"));
        }
        let snapshot = t.snapshot_size();
        if snapshot > MAX_SNAPSHOT_STATE {
            return Err(format!("snapshot too large ({snapshot} > {MAX_SNAPSHOT_STATE})"));
        }
        Ok(())
    })
}

fn speed_3b<K: Kv>(run: &Run) -> Outcome {
    generic_speed::<K>(run, Some(MAX_RAFT_STATE))
}

fn with_snapshots(g: Generic) -> Generic {
    Generic { max_raft_state: Some(MAX_RAFT_STATE), ..g }
}

fn snapshot_recover_3b<K: Kv>(run: &Run) -> Outcome {
    generic_test::<K>(run, with_snapshots(Generic { crash: true, ..Generic::new(1, 5) }))
}

fn snapshot_recover_many_clients_3b<K: Kv>(run: &Run) -> Outcome {
    generic_test::<K>(run, with_snapshots(Generic { crash: true, ..Generic::new(20, 5) }))
}

fn snapshot_unreliable_3b<K: Kv>(run: &Run) -> Outcome {
    generic_test::<K>(run, with_snapshots(Generic { unreliable: true, ..Generic::new(5, 5) }))
}

fn snapshot_unreliable_recover_3b<K: Kv>(run: &Run) -> Outcome {
    generic_test::<K>(run, with_snapshots(Generic { unreliable: true, crash: true, ..Generic::new(5, 5) }))
}

fn snapshot_unreliable_recover_concurrent_partition_3b<K: Kv>(run: &Run) -> Outcome {
    let g = Generic { unreliable: true, crash: true, partitions: true, ..Generic::new(5, 5) };
    generic_test::<K>(run, with_snapshots(g))
}

fn snapshot_unreliable_recover_concurrent_partition_linearizable_3b<K: Kv>(run: &Run) -> Outcome {
    let g = Generic { unreliable: true, crash: true, partitions: true, random_keys: true, ..Generic::new(15, 7) };
    generic_test::<K>(run, with_snapshots(g))
}

/// Beyond the lab: the linearizable partition test with snapshots, plus
/// duplicated requests (exactly-once must hold against the network's own
/// retries), drifting clocks, paused servers and one-way cuts; after each
/// heal, the clients' reads must complete within `LIVENESS_BOUND`.
fn chaos<K: Kv>(run: &Run) -> Outcome {
    let g = Generic {
        unreliable: true,
        crash: true,
        partitions: true,
        random_keys: true,
        chaos: true,
        ..Generic::new(7, 5)
    };
    generic_test::<K>(run, with_snapshots(g))
}

pub fn scenarios<K: Kv>() -> Vec<Scenario> {
    lab_scenarios!("kv", K: basic_3a, speed_3a, concurrent_3a, unreliable_3a, unreliable_one_key_3a, one_partition_3a, many_partitions_one_client_3a, many_partitions_many_clients_3a, persist_one_client_3a, persist_concurrent_3a, persist_concurrent_unreliable_3a, persist_partition_3a, persist_partition_unreliable_3a, persist_partition_unreliable_linearizable_3a, snapshot_rpc_3b, snapshot_size_3b, speed_3b, snapshot_recover_3b, snapshot_recover_many_clients_3b, snapshot_unreliable_3b, snapshot_unreliable_recover_3b, snapshot_unreliable_recover_concurrent_partition_3b, snapshot_unreliable_recover_concurrent_partition_linearizable_3b, chaos, swarm, isolated_leader, lease_drift, lease_partial_cut, bench_1_client, bench_10_clients, bench_1_client_unreliable, bench_10_clients_unreliable, bench_10_clients_read_heavy, bench_10_clients_read_heavy_unreliable, bench_1_client_disk, bench_10_clients_disk)
}

// ----- beyond the lab: swarm runs -----

/// How long a swarm run's chaos lasts, in virtual time.
const SWARM_CHAOS: Nanos = secs(10);
/// The liveness bound: once healed, an operation completes within this.
pub const LIVENESS_BOUND: Nanos = secs(10);

/// Swarm testing for kvraft: the seed draws its fault mix (see
/// `swarm::FaultMix`) and a nemesis injects it while 1 to 7 clerks (drawn
/// per seed; a shrunk schedule may cap them: `workload.rs`) Append, Put and
/// Get on 3 keys, on 5 servers that snapshot at 1,000 bytes. The history
/// must be linearizable, the Raft observer checks every step, and after the
/// heal a new clerk's Put and Get must each complete within 10 s.
fn swarm<K: Kv>(run: &Run) -> Outcome {
    let setup = KvSetup::servers(5).max_raft_state(Some(1000));
    let layers = run.project_layers(&[bugs::Layer::Raft, bugs::Layer::Kv]);
    kv_test::<K, _>(&run.drawing_optimisations(), setup, |t| async move {
        let nemesis = crate::swarm::Nemesis::new(&t.cluster, &layers);
        t.bound_latency();
        let done = Rc::new(Cell::new(false));
        let clerks = crate::workload::clients(1 + t.rand(7) as usize);
        let clients: Vec<JoinHandle<()>> = (0..clerks)
            .map(|cli| t.h.spawn(format!("client-{cli}"), swarm_client(t.clone(), cli, done.clone())))
            .collect();
        let started = t.h.now();
        while t.h.now() - started < SWARM_CHAOS {
            t.sleep(nemesis.pause_between()).await;
            nemesis.strike();
        }
        nemesis.heal();
        done.set(true);
        let mut ck = t.make_client(&t.all());
        let progress = async {
            ck.put("after heal", "1").await;
            ck.get("after heal").await
        };
        if t.h.timeout(LIVENESS_BOUND, progress).await.is_none() {
            return Err("liveness after healing: a Put and a Get did not complete within 10 s".to_string());
        }
        for client in clients {
            client.await;
        }
        Ok(())
    })
}

/// Beyond the lab: three times, the leader is cut off from the other
/// servers (not from the clerks) for 7 s, and a new clerk that tries that
/// leader first Puts a key, while 2 clerks keep working at a gentle pace.
/// The majority elects a leader and serves; a server that keeps the clerk
/// waiting on the cut-off leader until the cut heals breaks the latency
/// bound (5 s while a led majority can serve it), which swarm and chaos
/// cuts rarely last long enough to show.
fn isolated_leader<K: Kv>(run: &Run) -> Outcome {
    kv_test::<K, _>(run, KvSetup::servers(5), |t| async move {
        t.bound_latency();
        let done = Rc::new(Cell::new(false));
        let clients: Vec<JoinHandle<()>> =
            (0..2).map(|cli| t.h.spawn(format!("client-{cli}"), paced_client(t.clone(), cli, done.clone()))).collect();
        let mut cuts = 0;
        while cuts < 3 {
            t.sleep(secs(1)).await;
            let Some(leader) = t.leader() else { continue };
            let others: Vec<usize> = (0..t.n).filter(|&i| i != leader).collect();
            t.partition(&[leader], &others);
            let mut ck = t.make_client_trying_first(leader);
            let probe = t.h.spawn(format!("probe-{cuts}"), async move { ck.put("probe", "p").await });
            t.sleep(secs(7)).await;
            t.cluster.connect_all();
            probe.await;
            cuts += 1;
        }
        done.set(true);
        for client in clients {
            client.await;
        }
        Ok(())
    })
}

/// The largest clock drift the lab's faults give a server (10%), which the
/// reference's leases allow for (`raft::Config::max_clock_drift_ppm`).
pub const DRIFT_BOUND_PPM: i32 = 100_000;

/// Beyond the lab: leases with clocks at the drift bound (the Raft thesis,
/// 6.4.1; tikv#964). See [`lease_under_drift`]; here the leader's clock runs
/// 10% slow and its followers' 10% fast, the worst the lab's faults allow:
/// with lease reads on, a lease that allows for the drift never serves a
/// stale read; one that does not (`raft_lease_without_drift_margin`) does.
fn lease_drift<K: Kv>(run: &Run) -> Outcome {
    lease_under_drift::<K>(run, DRIFT_BOUND_PPM)
}

/// Twenty times: once a leader is elected, its clock is set `drift_ppm`
/// slow and the others' as fast; a reader reaching only that leader Gets a
/// key (renewing its lease), then the leader is cut off from the other two
/// servers for 800 ms, while a writer reaching only those Puts new values
/// and the reader keeps reading at the old leader. The history must be
/// linearizable: a leader that served a read after the majority's new
/// leader committed a Put serves it stale. Beyond the drift bound a
/// lease cannot be safe, and this scenario shows the stale read
/// (`reference/tests/harness/reads.rs`).
pub fn lease_under_drift<K: Kv>(run: &Run, drift_ppm: i32) -> Outcome {
    kv_test::<K, _>(run, KvSetup::servers(3), move |t| lease_rounds(t, LeaseCut::Isolate { drift_ppm }))
}

/// Beyond the lab: leases under a partial partition (the Raft thesis,
/// 6.4.1). Twenty times, once a leader is elected, the link between it and
/// one follower is cut both ways for 800 ms, while the other follower still
/// reaches both. A reader that reaches only the leader keeps reading, and a
/// writer that reaches only the two followers keeps Putting. The cut-off
/// follower campaigns; the follower in the middle has heard from the
/// leader within its lease, so it must refuse its vote until the lease is
/// over, or the new leader commits Puts the old leader's lease reads do not
/// see (`raft_lease_without_vote_block`). The history must be linearizable.
fn lease_partial_cut<K: Kv>(run: &Run) -> Outcome {
    kv_test::<K, _>(run, KvSetup::servers(3), |t| lease_rounds(t, LeaseCut::FromOneFollower))
}

/// How a lease scenario cuts its leader off, each round.
#[derive(Clone, Copy)]
enum LeaseCut {
    /// From both followers, with its clock `drift_ppm` slow and theirs as
    /// fast.
    Isolate { drift_ppm: i32 },
    /// From one follower only, both ways.
    FromOneFollower,
}

/// The rounds of the lease scenarios: once a leader is elected, a reader
/// that reaches only it Gets a key, then the leader is cut off as `cut`
/// says for 800 ms, while a writer that reaches only the followers Puts
/// new values and the reader keeps reading at the leader every 2 ms.
async fn lease_rounds<K: Kv>(t: Rc<KvTester<K>>, cut: LeaseCut) -> TestResult<()> {
    let mut writer = t.make_client(&t.all());
    let mut rounds = 0;
    while rounds < 20 {
        t.sleep(ms(300)).await;
        let Some(leader) = t.leader() else { continue };
        let others: Vec<usize> = (0..t.n).filter(|&i| i != leader).collect();
        if let LeaseCut::Isolate { drift_ppm } = cut {
            for i in 0..t.n {
                let ppm = if i == leader { drift_ppm } else { -drift_ppm };
                t.h.inject(Fault::TimerDrift { server: t.cluster.servers[i], ppm });
            }
        }
        let mut reader = t.make_client_trying_first(leader);
        t.connect_client(&reader, &[leader]);
        t.connect_client(&writer, &others);
        reader.get("k").await;
        match cut {
            LeaseCut::Isolate { .. } => t.partition(&[leader], &others),
            LeaseCut::FromOneFollower => t.cluster.set_both_ways(leader, others[1], false),
        }
        let (reader_addr, writer_addr) = (reader.addr, writer.addr);
        let cut_until = t.h.now() + ms(800);
        let tw = t.clone();
        let writes = t.h.spawn(format!("writer-{rounds}"), async move {
            let mut j = 0;
            while tw.h.now() < cut_until {
                writer.put("k", &format!("{rounds}.{j}")).await;
                j += 1;
            }
            writer
        });
        let tr = t.clone();
        let reads = t.h.spawn(format!("reader-{rounds}"), async move {
            while tr.h.now() < cut_until {
                reader.get("k").await;
                tr.sleep(ms(2)).await;
            }
        });
        t.sleep(ms(800)).await;
        t.cluster.connect_all();
        // The last Get may wait at the old leader, the last Put for
        // whichever server leads now.
        t.cluster.connect_client(reader_addr, &t.all());
        t.cluster.connect_client(writer_addr, &t.all());
        reads.await;
        writer = writes.await;
        rounds += 1;
    }
    Ok(())
}

/// A clerk that Appends and Gets on 3 keys with 10-30 ms between
/// operations, until told to stop.
async fn paced_client<K: Kv>(t: Rc<KvTester<K>>, cli: usize, done: Rc<Cell<bool>>) {
    let mut ck = t.make_client(&t.all());
    let mut j = 0;
    while !done.get() {
        let key = format!("k{}", t.rand(3));
        if t.rand(2) == 0 {
            ck.append(&key, &format!("x {cli} {j} y")).await;
        } else {
            ck.get(&key).await;
        }
        j += 1;
        t.sleep(ms(10 + t.rand(21))).await;
    }
}

/// A swarm clerk: random Appends, Puts and Gets on 3 shared keys until told
/// to stop (or until a shrunk schedule's cap: `workload.rs`).
async fn swarm_client<K: Kv>(t: Rc<KvTester<K>>, cli: usize, done: Rc<Cell<bool>>) {
    let mut ck = t.make_client(&t.all());
    let mut j = 0;
    while !done.get() && crate::workload::may_issue(j) {
        let key = format!("k{}", t.rand(3));
        match t.rand(10) {
            0..=3 => ck.append(&key, &format!("x {cli} {j} y")).await,
            4 => ck.put(&key, &format!("p {cli} {j}")).await,
            _ => {
                ck.get(&key).await;
            }
        }
        j += 1;
    }
}
