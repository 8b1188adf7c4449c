//! The kvraft tester: a port of the lab's `kvraft/config.go` onto the shared
//! cluster vocabulary. Clerks are the implementation's own over the simulated
//! network; every operation any clerk completes is recorded in one history
//! (call and return in virtual time), which every test checks for
//! linearizability at its end, with no budget.

use crate::checks::history::Recorder;
use crate::checks::latency::{self, LatencyWatch};
use crate::host::cluster::{Cluster, MakeNode, NetOptions};
use crate::labs::kv::host::{kv_ends, KvNode, SimTransport};
use checker::{check, CheckOptions, Counterexample, KvModel, Verdict};
use contract::kv::Kv;
use contract::kv::{Op, Operations, Outcome};
use rand::seq::SliceRandom;
use rand::Rng;
use sim::{ms, Addr, Nanos, SimHandle};
use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;

/// The lab's assumption of how long an election takes.
pub const ELECTION_TIMEOUT: Nanos = ms(1000);

pub type H<K> = SimHandle<KvNode<K>>;
pub type TestResult<T = ()> = Result<T, String>;
pub use crate::checks::history::KvHistory;

/// How a kvraft test starts (the lab's `make_config(n, unreliable,
/// maxraftstate)`), with named options.
#[derive(Clone, Copy, Debug)]
pub struct KvSetup {
    pub servers: usize,
    pub unreliable: bool,
    /// Snapshot as Raft's state nears this many bytes; `None` is the lab's -1.
    pub max_raft_state: Option<usize>,
}

impl KvSetup {
    pub fn servers(servers: usize) -> KvSetup {
        KvSetup { servers, unreliable: false, max_raft_state: None }
    }

    pub fn unreliable_if(self, unreliable: bool) -> KvSetup {
        KvSetup { unreliable, ..self }
    }

    pub fn max_raft_state(self, bytes: Option<usize>) -> KvSetup {
        KvSetup { max_raft_state: bytes, ..self }
    }
}

/// One kvraft cluster under test, with its history.
pub struct KvTester<K: Kv> {
    pub h: H<K>,
    pub n: usize,
    pub cluster: Cluster<KvNode<K>>,
    pub max_raft_state: Option<usize>,
    recorder: Recorder,
    next_client: Cell<u64>,
    /// Set by `bound_latency`: clerks made after it report their
    /// operations and calls.
    latency: OnceCell<Rc<LatencyWatch>>,
}

impl<K: Kv> KvTester<K> {
    /// `make_config`: every server started and connected, then the network
    /// made unreliable if asked. `history` receives every operation.
    pub fn new(h: &H<K>, setup: KvSetup, history: Rc<RefCell<KvHistory>>) -> Rc<KvTester<K>> {
        let n = setup.servers;
        let servers: Rc<RefCell<Vec<Addr>>> = Rc::default();
        let (peers, max) = (servers.clone(), setup.max_raft_state);
        let make: MakeNode<KvNode<K>> = Rc::new(move |ctx, i| KvNode::start(ctx, i, peers.borrow().clone(), max));
        let cluster = Cluster::new(h, "kv", n, NetOptions::default(), make);
        *servers.borrow_mut() = cluster.servers.clone();
        for i in 0..n {
            cluster.restart(i);
        }
        cluster.connect_all();
        cluster.set_unreliable(setup.unreliable);
        Rc::new(KvTester {
            h: h.clone(),
            n,
            cluster,
            max_raft_state: setup.max_raft_state,
            recorder: Recorder::new(history, None),
            next_client: Cell::new(1),
            latency: OnceCell::new(),
        })
    }

    /// Bounds every operation's latency for the rest of the run, while a
    /// led majority of the servers can serve its clerk (see
    /// `checks::latency`); clerks made from now on are watched.
    pub fn bound_latency(&self) {
        if self.latency.get().is_some() {
            return; // one watch per run
        }
        let watch = self.latency.get_or_init(Rc::default).clone();
        let groups = vec![self.cluster.servers.clone()];
        drop(self.h.spawn("latency-watch", latency::watch(self.h.clone(), watch, groups)));
    }

    pub fn all(&self) -> Vec<usize> {
        (0..self.n).collect()
    }

    pub fn rand(&self, below: u64) -> u64 {
        self.h.with_rng(|r| r.random_range(0..below))
    }

    pub async fn sleep(&self, d: Nanos) {
        self.h.sleep(d).await
    }

    /// `makeClient(to)`: a clerk whose ends reach only the servers in `to`,
    /// knowing the servers in a shuffled order (the lab's `random_handles`).
    pub fn make_client(self: &Rc<Self>, to: &[usize]) -> Client<K> {
        let mut servers = self.cluster.servers.clone();
        self.h.with_rng(|r| servers.shuffle(r));
        self.make_client_with(to, servers)
    }

    /// A clerk reaching every server, knowing server `first` first (so its
    /// first call goes there) and the rest in a shuffled order.
    pub fn make_client_trying_first(self: &Rc<Self>, first: usize) -> Client<K> {
        let mut rest: Vec<Addr> =
            self.cluster.servers.iter().copied().filter(|&s| s != self.cluster.servers[first]).collect();
        self.h.with_rng(|r| rest.shuffle(r));
        rest.insert(0, self.cluster.servers[first]);
        self.make_client_with(&self.all(), rest)
    }

    fn make_client_with(self: &Rc<Self>, to: &[usize], servers: Vec<Addr>) -> Client<K> {
        let id = self.next_client.get();
        self.next_client.set(id + 1);
        let me = self.cluster.add_client(format!("clerk-{id}"), to);
        let transport = kv_ends(self.h.clone(), me, servers);
        Client { clerk: K::clerk(transport, self.n, id), id, addr: me, tester: self.clone() }
    }

    /// `ConnectClient`: the clerk's ends reach exactly the servers in `to`.
    pub fn connect_client(&self, client: &Client<K>, to: &[usize]) {
        self.cluster.connect_client(client.addr, to);
    }

    /// `partition(p1, p2)`; clients' ends are not touched.
    pub fn partition(&self, p1: &[usize], p2: &[usize]) {
        self.cluster.partition(&[p1, p2]);
    }

    /// `make_partition`: a majority of non-leaders, and a minority of the
    /// other non-leaders with the current leader last.
    pub fn make_partition(&self) -> (Vec<usize>, Vec<usize>) {
        let leader = self.leader().unwrap_or(0);
        let others: Vec<usize> = (0..self.n).filter(|&i| i != leader).collect();
        let (p1, rest) = others.split_at(self.n / 2 + 1);
        let mut p2 = rest.to_vec();
        p2.push(leader);
        (p1.to_vec(), p2)
    }

    /// `Leader`: the first server that believes it leads.
    pub fn leader(&self) -> Option<usize> {
        (0..self.n).find(|&i| self.h.with_node(self.cluster.servers[i], |n, _| n.leads()) == Some(true))
    }

    /// `ShutdownServer`.
    pub fn shutdown_server(&self, i: usize) {
        self.cluster.crash(i);
    }

    /// `StartServer`: a new instance on the saved state, not connected.
    pub fn start_server(&self, i: usize) {
        self.cluster.restart(i);
    }

    pub fn connect_all(&self) {
        self.cluster.connect_all();
    }

    /// `LogSize`: the largest raft state.
    pub fn log_size(&self) -> usize {
        (0..self.n).map(|i| self.cluster.raft_state_size(i)).max().unwrap_or(0)
    }

    /// `SnapshotSize`: the largest snapshot.
    pub fn snapshot_size(&self) -> usize {
        (0..self.n).map(|i| self.cluster.snapshot_size(i)).max().unwrap_or(0)
    }

    /// The lab's checks on the logs and snapshots after an iteration.
    pub fn check_sizes(&self) -> TestResult {
        match self.max_raft_state {
            Some(max) => {
                let size = self.log_size();
                if size > 8 * max {
                    return Err(format!("logs were not trimmed ({size} > 8*{max})"));
                }
            }
            None => {
                let size = self.snapshot_size();
                if size > 0 {
                    return Err(format!("snapshot too large ({size}), should not be used when maxraftstate = -1"));
                }
            }
        }
        Ok(())
    }

    /// `end`: the 120 s limit, in virtual time.
    pub fn end(&self) -> TestResult {
        self.cluster.end()
    }
}

/// A clerk whose operations go into the tester's history.
pub struct Client<K: Kv> {
    pub clerk: K::Clerk<SimTransport<K>>,
    /// The clerk's client id (unique in the run).
    pub id: u64,
    pub addr: Addr,
    tester: Rc<KvTester<K>>,
}

impl<K: Kv> Operations for Client<K> {
    /// Runs the operation with the clerk, recorded in the history from its
    /// call: one that never returns (the run stopped first) stays pending.
    async fn run_op(&mut self, op: Op) -> Outcome {
        let (recorder, latency) = (&self.tester.recorder, self.tester.latency.get());
        let at = recorder.call(self.tester.h.now(), self.id, &op);
        if let Some(watch) = latency {
            watch.op_called(self.addr, format!("{op:?}"), self.tester.h.now());
        }
        let outcome = self.clerk.run_op(op).await;
        if let Some(watch) = latency {
            watch.op_returned(self.addr);
        }
        recorder.ret(self.tester.h.now(), at, &outcome, None);
        outcome
    }
}

/// The lab's `check(ck, key, value)`, for any clerk (kv's or shardkv's).
// The clerks run on single-threaded runtimes: their futures need not be Send.
#[allow(async_fn_in_trait)]
pub trait Check: Operations {
    /// The key must hold exactly `value`.
    async fn check(&mut self, key: &str, value: &str) -> TestResult {
        let got = self.get(key).await;
        if got != value {
            return Err(format!("Get({key:?}): expected:\n{value:?}\nreceived:\n{got:?}"));
        }
        Ok(())
    }
}

impl<T: Operations> Check for T {}

/// `checkClntAppends`: every "x clnt j y" for j < count appears exactly once
/// in `v`, in increasing order. One pass over `v` (the Go test searches it
/// once per element, which is quadratic in the appends).
pub fn check_clnt_appends(clnt: usize, v: &str, count: usize) -> TestResult {
    let head = format!("x {clnt} ");
    // Offsets of every "x clnt j y" in v, by j.
    let mut offsets: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (at, _) in v.match_indices(&head) {
        let rest = &v[at + head.len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let Ok(j) = rest[..digits].parse::<usize>() else { continue };
        if j < count && rest[digits..].starts_with(" y") && (digits == 1 || !rest.starts_with('0')) {
            offsets[j].push(at);
        }
    }
    let mut last_offset = None;
    for (j, found) in offsets.iter().enumerate() {
        let wanted = format!("x {clnt} {j} y");
        match found.as_slice() {
            [] => return Err(format!("{clnt} missing element {wanted} in Append result {v}")),
            [offset] => {
                if last_offset.is_some_and(|last| *offset <= last) {
                    return Err(format!("wrong order for element {wanted} in Append result"));
                }
                last_offset = Some(*offset);
            }
            _ => return Err(format!("duplicate element {wanted} in Append result")),
        }
    }
    Ok(())
}

/// `checkConcurrentAppends`: client i's elements "x i j y" for j <
/// counts[i] appear exactly once each, in order.
pub fn check_concurrent_appends(v: &str, counts: &[usize]) -> TestResult {
    debug_assert!(counts.len() < 10, "one-digit client numbers keep \"x c \" heads distinct");
    for (i, &count) in counts.iter().enumerate() {
        check_clnt_appends(i, v, count)?;
    }
    Ok(())
}

/// The verdict on a history, with no budget: `Err` carries the
/// counterexample of an illegal one.
pub fn check_history(history: &KvHistory) -> Result<(), Counterexample> {
    match check(&KvModel, history, CheckOptions::default()) {
        Verdict::Linearizable => Ok(()),
        Verdict::NotLinearizable(cx) => Err(*cx),
        Verdict::Unknown => unreachable!("no budget was set"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_appends_must_appear_once_each_in_order() {
        assert_eq!(check_clnt_appends(3, "x 3 0 yx 3 1 yx 3 2 y", 3), Ok(()));
        assert_eq!(check_clnt_appends(3, "x 3 0 yx 3 1 yx 3 2 y", 2), Ok(()), "later elements are not asked for");
        let missing = check_clnt_appends(3, "x 3 0 yx 3 2 y", 3).unwrap_err();
        assert!(missing.contains("missing element x 3 1 y"), "{missing}");
        let twice = check_clnt_appends(3, "x 3 0 yx 3 1 yx 3 1 y", 2).unwrap_err();
        assert!(twice.contains("duplicate element x 3 1 y"), "{twice}");
        let order = check_clnt_appends(3, "x 3 1 yx 3 0 y", 2).unwrap_err();
        assert!(order.contains("wrong order for element x 3 1 y"), "{order}");
        assert_eq!(
            check_clnt_appends(1, "x 1 10 yx 1 1 y", 2).unwrap_err(),
            "1 missing element x 1 0 y in Append result x 1 10 yx 1 1 y"
        );
        assert_eq!(check_concurrent_appends("x 0 0 yx 1 0 yx 1 1 y", &[1, 2]), Ok(()));
    }
}
