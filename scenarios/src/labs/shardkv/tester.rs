//! The shard controller's and shardkv's testers: ports of the lab's
//! `shardctrler/config.go` and `shardkv/config.go` onto the shared cluster
//! vocabulary. Controllers and group servers share one world (`LabNode<S>`);
//! group servers are named `server-<gid>-<i>` as in the lab, and reach each
//! other by name. Every operation of every shardkv clerk is recorded, with
//! the configuration it was served under, and the history is checked for
//! linearizability at the end of every test.

use crate::checks::history::Recorder;
use crate::checks::latency::{self, LatencyWatch};
use crate::host::cluster::{Cluster, MakeNode, NetOptions};
use crate::labs::kv::tester::{KvHistory, TestResult};
use crate::labs::shardkv::host::{ctrler_ends, CtrlerTransport, Directory, GroupEnds, LabNode};
use contract::kv::{Op, Operations, Outcome};
use contract::shardctrler::{Config, CtrlerClerk, Gid, ShardCtrler};
use contract::shardkv::{GroupSetup, ShardClerk, ShardKv, ShardKvServer};
use contract::Raft;
use rand::seq::SliceRandom;
use rand::Rng;
use sim::{Addr, Nanos, SimHandle};
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

pub type H<S> = SimHandle<LabNode<S>>;
/// A controller clerk of implementation `S`, over the lab's ends.
pub type CtrlerClient<S> = <<S as ShardKv>::Ctrler as ShardCtrler>::Clerk<CtrlerTransport<S>>;

/// The controllers: 3 servers, reliable, no snapshots.
pub struct Ctrlers<S: ShardKv> {
    pub h: H<S>,
    pub cluster: Cluster<LabNode<S>>,
    next_client: Cell<u64>,
}

impl<S: ShardKv> Ctrlers<S> {
    /// Every controller started and connected.
    pub fn new(h: &H<S>, n: usize) -> Ctrlers<S> {
        let peers: Rc<RefCell<Vec<Addr>>> = Rc::default();
        let known = peers.clone();
        let make: MakeNode<LabNode<S>> = Rc::new(move |ctx, i| LabNode::start_ctrler(ctx, i, known.borrow().clone()));
        let cluster = Cluster::new(h, "ctrler", n, NetOptions::default(), make);
        *peers.borrow_mut() = cluster.servers.clone();
        for i in 0..n {
            cluster.restart(i);
        }
        cluster.connect_all();
        Ctrlers { h: h.clone(), cluster, next_client: Cell::new(1) }
    }

    /// A clerk reaching every controller, in a shuffled order.
    pub fn make_client(&self) -> CtrlerClient<S> {
        let (id, ends) = self.make_ends();
        S::Ctrler::clerk(ends, self.cluster.n(), id)
    }

    /// A new client id, and ends from a new endpoint to every controller.
    fn make_ends(&self) -> (u64, CtrlerTransport<S>) {
        let id = self.next_client.get();
        self.next_client.set(id + 1);
        let me = self.h.add_client(format!("ctrler-clerk-{id}"));
        (id, self.transport(me))
    }

    /// Ends from `me` to every controller, in a shuffled order.
    fn transport(&self, me: Addr) -> CtrlerTransport<S> {
        let mut servers = self.cluster.servers.clone();
        self.h.with_rng(|r| servers.shuffle(r));
        ctrler_ends(self.h.clone(), me, servers)
    }

    /// `Leader`: the first controller that believes it leads.
    pub fn leader(&self) -> Option<usize> {
        (0..self.cluster.n()).find(|&i| self.h.with_node(self.cluster.servers[i], |n, _| n.leads()) == Some(true))
    }
}

/// `check(groups, ck)`: the latest configuration has exactly these groups,
/// every shard on one of them, and shard counts within one of each other.
pub async fn check_groups(ck: &mut impl CtrlerClerk, groups: &[Gid]) -> TestResult {
    let c = ck.query(-1).await;
    let present: Vec<Gid> = c.groups.keys().copied().collect();
    let mut wanted = groups.to_vec();
    wanted.sort_unstable();
    if present != wanted {
        return Err(format!("wanted groups {wanted:?}, configuration {} has {present:?}", c.num));
    }
    if !groups.is_empty() {
        if let Some(s) = c.shards.iter().position(|g| !c.groups.contains_key(g)) {
            return Err(format!("shard {s} -> invalid group {}", c.shards[s]));
        }
    }
    let counts: Vec<usize> = c.shard_counts().into_values().collect();
    let (min, max) = (counts.iter().min().copied().unwrap_or(0), counts.iter().max().copied().unwrap_or(0));
    if max > min + 1 {
        return Err(format!("max {max} too much larger than min {min} in configuration {}", c.num));
    }
    Ok(())
}

/// `check_same_config`.
pub fn check_same_config(want: &Config, got: &Config) -> TestResult {
    if want != got {
        return Err(format!("configurations differ:\n  wanted {want:?}\n  got    {got:?}"));
    }
    Ok(())
}

/// How a shardkv test starts (`make_config(n, unreliable, maxraftstate)`).
#[derive(Clone, Copy, Debug)]
pub struct ShardSetup {
    pub servers_per_group: usize,
    pub unreliable: bool,
    pub max_raft_state: Option<usize>,
}

/// The gids of the lab's three groups.
pub const GIDS: [Gid; 3] = [100, 101, 102];

/// A sharded deployment under test: 3 controllers, 3 groups (none joined),
/// the controller clerk `mck`, and the history of every clerk.
pub struct ShardTester<S: ShardKv> {
    pub h: H<S>,
    pub ctrlers: Ctrlers<S>,
    pub groups: Vec<Cluster<LabNode<S>>>,
    pub setup: ShardSetup,
    pub mck: RefCell<Option<CtrlerClient<S>>>,
    directory: Rc<Directory>,
    /// Every clerk operation, with the configuration it was served under.
    recorder: Recorder,
    /// Set by `bound_latency`: clerks made after it report their
    /// operations and calls.
    latency: OnceCell<Rc<LatencyWatch>>,
}

impl<S: ShardKv> ShardTester<S> {
    pub fn new(
        h: &H<S>,
        setup: ShardSetup,
        history: Rc<RefCell<KvHistory>>,
        served_under: Rc<RefCell<Vec<Option<u64>>>>,
    ) -> Rc<ShardTester<S>> {
        let ctrlers = Ctrlers::new(h, 3);
        let directory_cell: Rc<OnceCell<Rc<Directory>>> = Rc::default();
        let groups: Vec<Cluster<LabNode<S>>> = GIDS
            .iter()
            .map(|&gid| {
                let dir = directory_cell.clone();
                let group_setup = GroupSetup { gid, ctrlers: 3, max_raft_state: setup.max_raft_state };
                let n = setup.servers_per_group;
                let make: MakeNode<LabNode<S>> = Rc::new(move |ctx, i| {
                    let directory = dir.get().expect("the directory is built before any server starts").clone();
                    let peers = (0..n).map(|j| directory.servers[&server_name(gid, j)]).collect();
                    LabNode::start_group(ctx, i, peers, group_setup, directory)
                });
                Cluster::new(h, &format!("server-{gid}"), setup.servers_per_group, NetOptions::default(), make)
            })
            .collect();
        let mut directory = Directory { ctrlers: ctrlers.cluster.servers.clone(), servers: BTreeMap::new() };
        for (gi, group) in groups.iter().enumerate() {
            for (i, &addr) in group.servers.iter().enumerate() {
                directory.servers.insert(server_name(GIDS[gi], i), addr);
            }
        }
        let directory = Rc::new(directory);
        directory_cell.set(directory.clone()).expect("set once");
        for group in &groups {
            for i in 0..group.n() {
                group.restart(i);
            }
            group.connect_all();
        }
        let mck = ctrlers.make_client();
        let t = Rc::new(ShardTester {
            h: h.clone(),
            ctrlers,
            groups,
            setup,
            mck: RefCell::new(Some(mck)),
            directory,
            recorder: Recorder::new(history, Some(served_under)),
            latency: OnceCell::new(),
        });
        t.set_unreliable(setup.unreliable);
        t
    }

    pub fn set_unreliable(&self, unreliable: bool) {
        self.ctrlers.cluster.set_unreliable(unreliable);
    }

    pub fn rand(&self, below: u64) -> u64 {
        self.h.with_rng(|r| r.random_range(0..below))
    }

    pub async fn sleep(&self, d: Nanos) {
        self.h.sleep(d).await
    }

    /// Runs a controller operation with the tester's clerk `mck`.
    async fn with_mck<T>(&self, f: impl AsyncFnOnce(&mut CtrlerClient<S>) -> T) -> T {
        let mut mck = self.mck.borrow_mut().take().expect("one controller operation at a time");
        let out = f(&mut mck).await;
        *self.mck.borrow_mut() = Some(mck);
        out
    }

    fn group_servers(&self, gi: usize) -> Vec<String> {
        (0..self.setup.servers_per_group).map(|i| server_name(GIDS[gi], i)).collect()
    }

    /// `join(gi)` / `joinm(gis)`.
    pub async fn join(&self, gis: &[usize]) {
        let servers = gis.iter().map(|&gi| (GIDS[gi], self.group_servers(gi))).collect();
        self.with_mck(async |ck| ck.join(servers).await).await
    }

    /// `leave(gi)` / `leavem(gis)`.
    pub async fn leave(&self, gis: &[usize]) {
        let gids = gis.iter().map(|&gi| GIDS[gi]).collect();
        self.with_mck(async |ck| ck.leave(gids).await).await
    }

    /// `Move(shard, gid)` through the controller.
    pub async fn move_shard(&self, shard: usize, gid: Gid) {
        self.with_mck(async |ck| ck.move_shard(shard, gid).await).await
    }

    pub async fn query(&self) -> Config {
        self.with_mck(async |ck| ck.query(-1).await).await
    }

    /// `ShutdownServer(gi, i)`.
    pub fn shutdown_server(&self, gi: usize, i: usize) {
        self.groups[gi].crash(i);
    }

    /// `StartServer(gi, i)`: a new instance on its saved state, reaching its
    /// group.
    pub fn start_server(&self, gi: usize, i: usize) {
        self.groups[gi].restart(i);
        self.groups[gi].connect(i);
    }

    pub fn shutdown_group(&self, gi: usize) {
        for i in 0..self.setup.servers_per_group {
            self.shutdown_server(gi, i);
        }
    }

    pub fn start_group(&self, gi: usize) {
        for i in 0..self.setup.servers_per_group {
            self.start_server(gi, i);
        }
    }

    /// `checklogs`: Raft state within 8 x maxraftstate, or no snapshot at
    /// all without one.
    pub fn check_logs(&self) -> TestResult {
        for (gi, group) in self.groups.iter().enumerate() {
            for i in 0..group.n() {
                let (raft, snap) = (group.raft_state_size(i), group.snapshot_size(i));
                match self.setup.max_raft_state {
                    Some(max) if raft > 8 * max => {
                        return Err(format!(
                            "persister.RaftStateSize() {raft}, but maxraftstate {max} (server {gi}/{i})"
                        ))
                    }
                    None if snap > 0 => {
                        return Err(format!("maxraftstate is -1, but snapshot is non-empty ({snap} bytes)"))
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Raft state plus snapshot bytes over every group server.
    pub fn total_size(&self) -> usize {
        self.groups.iter().map(|g| (0..g.n()).map(|i| g.raft_state_size(i) + g.snapshot_size(i)).sum::<usize>()).sum()
    }

    /// A clerk whose operations go into the history (`makeClient`).
    pub fn make_client(self: &Rc<Self>) -> ShardClient<S> {
        let (id, ctrler_ends) = self.ctrlers.make_ends();
        let me = self.h.add_client(format!("shard-clerk-{id}"));
        if let Some(watch) = self.latency.get() {
            watch.alias(ctrler_ends.me, me);
        }
        let ends = GroupEnds { h: self.h.clone(), me, directory: self.directory.clone() };
        let clerk = S::clerk(ctrler_ends, self.ctrlers.cluster.n(), ends, id);
        ShardClient { clerk, id, addr: me, tester: self.clone() }
    }

    /// Bounds every operation's latency for the rest of the run, while a
    /// led majority of the controllers and of every group, all connected,
    /// can serve its clerk (see `checks::latency`); clerks made from now on
    /// are watched.
    pub fn bound_latency(&self) {
        if self.latency.get().is_some() {
            return; // one watch per run
        }
        let watch = self.latency.get_or_init(Rc::default).clone();
        let mut groups = vec![self.ctrlers.cluster.servers.clone()];
        groups.extend(self.groups.iter().map(|g| g.servers.clone()));
        drop(self.h.spawn("latency-watch", latency::watch(self.h.clone(), watch, groups)));
    }

    /// Shards in motion between groups so far: each shard a group pulled.
    pub fn shards_moved(&self) -> u64 {
        let pulled = |addr| self.h.with_node(addr, |n, _| n.group().map_or(0, |g| g.shards_received()));
        self.groups.iter().map(|g| g.servers.iter().filter_map(|&a| pulled(a)).max().unwrap_or(0)).sum()
    }
}

impl<S: ShardKv> ShardTester<S> {
    /// Where every live group server stands: its configuration, whether it
    /// leads, and each shard's status (for a test that got stuck).
    pub fn describe_groups(&self) -> String {
        let mut out = String::new();
        for (gi, group) in self.groups.iter().enumerate() {
            for (i, &addr) in group.servers.iter().enumerate() {
                let line = self.h.with_node(addr, |n, _| {
                    let Some(server) = n.group() else { return String::new() };
                    let lead = if server.raft().state().1 { " leader" } else { "" };
                    match server.describe() {
                        d if d.is_empty() => format!("up{lead}"),
                        d => d,
                    }
                });
                let line = line.unwrap_or_else(|| "down".into());
                out.push_str(&format!("\n  server-{}-{i}: {line}", GIDS[gi]));
            }
        }
        out
    }
}

fn server_name(gid: Gid, i: usize) -> String {
    format!("server-{gid}-{i}")
}

/// A shardkv clerk whose operations are recorded.
pub struct ShardClient<S: ShardKv> {
    pub clerk: S::Clerk<CtrlerTransport<S>, GroupEnds<S>>,
    /// The clerk's client id (unique in the run).
    pub id: u64,
    /// The clerk's end to the groups.
    pub addr: Addr,
    tester: Rc<ShardTester<S>>,
}

impl<S: ShardKv> Operations for ShardClient<S> {
    async fn run_op(&mut self, op: Op) -> Outcome {
        let (recorder, latency) = (&self.tester.recorder, self.tester.latency.get());
        let at = recorder.call(self.tester.h.now(), self.id, &op);
        if let Some(watch) = latency {
            watch.op_called(self.addr, format!("{op:?}"), self.tester.h.now());
        }
        let (outcome, config) = self.clerk.run(op).await;
        if let Some(watch) = latency {
            watch.op_returned(self.addr);
        }
        recorder.ret(self.tester.h.now(), at, &outcome, config);
        outcome
    }
}
