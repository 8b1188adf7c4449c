//! The Raft tester: a port of the lab's `raft/config.go` onto the simulator.
//! Its checks keep the lab's semantics and bounds, in virtual time:
//! checkOneLeader, checkTerms, checkNoLeader, nCommitted with its
//! cross-server comparison, one(), wait(), crash and restart with the
//! persister, connect and disconnect, RPC and byte counts, the 120 s limit.

use crate::host::cluster::{Cluster, MakeNode, NetOptions};
use crate::labs::raft::host::{Applier, Cmd, RaftNode};
use contract::Raft;
use rand::Rng;
use sim::{ms, secs, Addr, Nanos, SimHandle};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// The lab's assumption of how long an election takes.
pub const ELECTION_TIMEOUT: Nanos = ms(1000);
/// The 2D bound on the raft state (MAXLOGSIZE).
pub const MAX_LOG_SIZE: usize = 2000;

pub type TestResult<T = ()> = Result<T, String>;

/// The handle of a world of `R` peers.
pub type H<R> = SimHandle<RaftNode<R>>;

/// How a raft lab test starts (the lab's `make_config(n, unreliable,
/// snapshot)`), with named options: `Setup::servers(5).unreliable()`.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    pub servers: usize,
    pub unreliable: bool,
    /// The applier snapshots every 10 entries (2D's `applierSnap`).
    pub snapshots: bool,
}

impl Setup {
    pub fn servers(servers: usize) -> Setup {
        Setup { servers, unreliable: false, snapshots: false }
    }

    pub fn unreliable(self) -> Setup {
        Setup { unreliable: true, ..self }
    }

    pub fn reliable_if(self, reliable: bool) -> Setup {
        Setup { unreliable: !reliable, ..self }
    }

    pub fn snapshots(self) -> Setup {
        Setup { snapshots: true, ..self }
    }
}

/// One cluster of Raft `R` under test.
pub struct Tester<R: Raft> {
    pub h: H<R>,
    pub n: usize,
    pub servers: Vec<Addr>,
    pub cluster: Cluster<RaftNode<R>>,
    pub applier: Rc<RefCell<Applier>>,
}

impl<R: Raft> Tester<R> {
    /// `make_config`: the servers, all started and connected; long delays
    /// on, as in the raft lab.
    pub fn new(h: &H<R>, setup: Setup) -> Rc<Tester<R>> {
        let n = setup.servers;
        let applier = Rc::new(RefCell::new(Applier::new(n, setup.snapshots)));
        let servers: Rc<RefCell<Vec<Addr>>> = Rc::default();
        let (peers, app) = (servers.clone(), applier.clone());
        let make: MakeNode<RaftNode<R>> =
            Rc::new(move |ctx, i| RaftNode::start(ctx, i, peers.borrow().clone(), app.clone()));
        let net = NetOptions { unreliable: setup.unreliable, long_delays: true };
        let cluster = Cluster::new(h, "raft", n, net, make);
        *servers.borrow_mut() = cluster.servers.clone();
        let t = Rc::new(Tester { h: h.clone(), n, servers: cluster.servers.clone(), cluster, applier });
        for i in 0..n {
            t.start1(i);
            t.connect(i);
        }
        t
    }

    pub fn rand(&self, below: u64) -> u64 {
        self.h.with_rng(|r| r.random_range(0..below))
    }

    /// A random command value (the lab's `rand.Int()`).
    pub fn rand_cmd(&self) -> Cmd {
        Cmd::Int(self.h.with_rng(|r| r.random_range(0..i64::MAX)))
    }

    pub async fn sleep(&self, d: Nanos) {
        self.h.sleep(d).await
    }

    // ----- membership (the shared vocabulary, under the lab's names) -----

    pub fn is_up(&self, i: usize) -> bool {
        self.cluster.is_up(i)
    }

    pub fn is_connected(&self, i: usize) -> bool {
        self.cluster.is_connected(i)
    }

    /// `crash1`.
    pub fn crash1(&self, i: usize) {
        self.cluster.crash(i);
    }

    /// `start1`: a new instance on the same persister, not connected.
    pub fn start1(&self, i: usize) {
        self.cluster.restart(i);
    }

    pub fn connect(&self, i: usize) {
        self.cluster.connect(i);
    }

    pub fn disconnect(&self, i: usize) {
        self.cluster.disconnect(i);
    }

    pub fn set_unreliable(&self, unreliable: bool) {
        self.cluster.set_unreliable(unreliable);
    }

    pub fn set_long_reordering(&self, on: bool) {
        self.cluster.set_long_reordering(on);
    }

    // ----- talking to rafts -----

    /// `GetState` of a running server.
    pub fn get_state(&self, i: usize) -> Option<(u64, bool)> {
        self.h.read_node(self.servers[i], |n| n.raft().state())
    }

    /// `Start` on a running server: (index, term, is_leader).
    pub fn start(&self, i: usize, cmd: &Cmd) -> Option<(u64, u64, bool)> {
        self.start_encoded(i, cmd.encode())
    }

    /// `Start` of an encoded `Cmd` (a command offered to every server is
    /// encoded once).
    pub fn start_encoded(&self, i: usize, command: Vec<u8>) -> Option<(u64, u64, bool)> {
        self.h.with_node(self.servers[i], |n, ctx| match n.start_command(ctx, command) {
            Some((index, term)) => (index, term, true),
            None => {
                let (term, _) = n.raft().state();
                (0, term, false)
            }
        })
    }

    /// `Start` on a server that must be the leader; its index.
    pub fn start_on_leader(&self, leader: usize, cmd: &Cmd) -> TestResult<u64> {
        match self.start(leader, cmd) {
            Some((index, _, true)) => Ok(index),
            _ => Err("leader rejected Start()".into()),
        }
    }

    // ----- checks -----

    /// Nothing may be committed at `index` (no majority could agree).
    pub fn expect_no_commit(&self, index: u64) -> TestResult {
        match self.n_committed(index)? {
            (0, _) => Ok(()),
            (nd, _) => Err(format!("{nd} committed but no majority")),
        }
    }

    /// `one`, which must land at `index`.
    pub async fn one_at(&self, index: u64, cmd: Cmd, expected: usize) -> TestResult {
        match self.one(cmd, expected, false).await? {
            got if got == index => Ok(()),
            got => Err(format!("got index {got} but expected {index}")),
        }
    }

    /// `checkOneLeader`: up to 10 rounds of 450-549 ms; fails if a term has
    /// two leaders; returns the leader of the highest term.
    pub async fn check_one_leader(&self) -> TestResult<usize> {
        for _ in 0..10 {
            let pause = 450 + self.rand(100);
            self.sleep(ms(pause)).await;
            let mut leaders: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
            for i in 0..self.n {
                if self.is_connected(i) {
                    if let Some((term, true)) = self.get_state(i) {
                        leaders.entry(term).or_default().push(i);
                    }
                }
            }
            for (term, ls) in &leaders {
                if ls.len() > 1 {
                    return Err(format!("term {term} has {} (>1) leaders", ls.len()));
                }
            }
            if let Some((_, ls)) = leaders.iter().next_back() {
                return Ok(ls[0]);
            }
        }
        Err("expected one leader, got none".into())
    }

    /// `checkTerms`: every connected server is in the same term.
    pub fn check_terms(&self) -> TestResult<u64> {
        let mut term = None;
        for i in 0..self.n {
            if self.is_connected(i) {
                if let Some((t, _)) = self.get_state(i) {
                    match term {
                        None => term = Some(t),
                        Some(t0) if t0 != t => return Err("servers disagree on term".into()),
                        _ => {}
                    }
                }
            }
        }
        Ok(term.unwrap_or(0))
    }

    /// `checkNoLeader`: no connected server thinks it leads.
    pub fn check_no_leader(&self) -> TestResult {
        for i in 0..self.n {
            if self.is_connected(i) && self.get_state(i).is_some_and(|(_, leader)| leader) {
                return Err(format!("expected no leader among connected servers, but {i} claims to be leader"));
            }
        }
        Ok(())
    }

    /// `nCommitted`: how many servers applied `index`, and what. All servers
    /// count, crashed ones too (the record survives restarts).
    pub fn n_committed(&self, index: u64) -> TestResult<(usize, Option<Cmd>)> {
        let applier = self.applier.borrow();
        if let Some(e) = &applier.error {
            return Err(e.clone());
        }
        let mut count = 0;
        let mut cmd: Option<&Cmd> = None;
        for i in 0..self.n {
            if let Some(c) = applier.get(i, index) {
                if let Some(seen) = cmd {
                    if seen != c {
                        return Err(format!("committed values do not match: index {index}, {seen:?}, {c:?}"));
                    }
                }
                count += 1;
                cmd = Some(c);
            }
        }
        Ok((count, cmd.cloned()))
    }

    /// `wait`: until `n` servers applied `index`; `Cmd::Int(-1)` if a server
    /// moved past `start_term` (when it is set).
    pub async fn wait(&self, index: u64, n: usize, start_term: Option<u64>) -> TestResult<Cmd> {
        let mut pause = ms(10);
        for _ in 0..30 {
            let (nd, _) = self.n_committed(index)?;
            if nd >= n {
                break;
            }
            self.sleep(pause).await;
            if pause < secs(1) {
                pause *= 2;
            }
            if let Some(start) = start_term {
                for i in 0..self.n {
                    if self.get_state(i).is_some_and(|(t, _)| t > start) {
                        return Ok(Cmd::Int(-1));
                    }
                }
            }
        }
        let (nd, cmd) = self.n_committed(index)?;
        if nd < n {
            return Err(format!("only {nd} decided for index {index}; wanted {n}"));
        }
        Ok(cmd.expect("decided by at least one server"))
    }

    /// `one`: submit `cmd` to a leader and wait until `expected` servers
    /// applied it at the index Start returned; 10 s in all, 2 s per try.
    pub async fn one(&self, cmd: Cmd, expected: usize, retry: bool) -> TestResult<u64> {
        let t0 = self.h.now();
        let mut starts = 0;
        while self.h.now() - t0 < secs(10) {
            let mut index = None;
            for _ in 0..self.n {
                starts = (starts + 1) % self.n;
                if self.is_connected(starts) {
                    if let Some((i, _, true)) = self.start(starts, &cmd) {
                        index = Some(i);
                        break;
                    }
                }
            }
            if let Some(index) = index {
                let t1 = self.h.now();
                while self.h.now() - t1 < secs(2) {
                    let (nd, got) = self.n_committed(index)?;
                    if nd > 0 && nd >= expected && got.as_ref() == Some(&cmd) {
                        return Ok(index);
                    }
                    self.sleep(ms(20)).await;
                }
                if !retry {
                    return Err(format!("one({cmd:?}) failed to reach agreement"));
                }
            } else {
                self.sleep(ms(50)).await;
            }
        }
        Err(format!("one({cmd:?}) failed to reach agreement"))
    }

    // ----- accounting -----

    /// Sum of the per-server dispatched counts (what TestCount2B uses).
    pub fn rpc_count(&self, i: usize) -> u64 {
        self.cluster.rpc_count(i)
    }

    pub fn rpc_total(&self) -> u64 {
        (0..self.n).map(|i| self.rpc_count(i)).sum()
    }

    /// labrpc's `GetTotalBytes`: counted only after `h.count_bytes()`.
    pub fn bytes_total(&self) -> u64 {
        self.h.net_stats().total_bytes
    }

    /// `LogSize`: the largest raft state among the persisters.
    pub fn log_size(&self) -> usize {
        (0..self.n).map(|i| self.cluster.raft_state_size(i)).max().unwrap_or(0)
    }

    /// `end`: the 120 s limit, in virtual time.
    pub fn end(&self) -> TestResult {
        self.cluster.end()
    }
}
