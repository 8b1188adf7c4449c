//! One tester vocabulary for every lab: a cluster of servers of any node
//! type, and the verbs the lab testers use on it (connect, disconnect,
//! partition, crash, restart, pause, one-way cuts, the network's settings,
//! clients with their own ends). The raft, kv and shardkv testers are built
//! on it, so a verb means the same thing in every lab.
//!
//! Links follow labrpc: they are directed (endpoint -> server), and a call's
//! reply travels back over the caller's link, so cutting the servers apart
//! never touches a client's ends.

use crate::checks::raft_observer::HostsRaft;
use sim::{Addr, CrashMode, Ctx, Fault, Nanos, NetConfig, Node, SimHandle};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Builds (or rebuilds, on restart) server `i`'s node from its context.
pub type MakeNode<N> = Rc<dyn Fn(&mut Ctx<'_, N>, usize) -> Result<N, String>>;

/// The network settings a cluster starts with, named.
#[derive(Clone, Copy, Debug, Default)]
pub struct NetOptions {
    /// labrpc's unreliable network: delays, 10% of requests and replies lost.
    pub unreliable: bool,
    /// Calls to a dead or disabled end fail after up to 7 s, not 100 ms (the
    /// raft lab's setting).
    pub long_delays: bool,
}

/// A cluster of `n` servers named `<prefix>-<i>`.
pub struct Cluster<N: Node> {
    pub h: SimHandle<N>,
    pub servers: Vec<Addr>,
    /// Whether server i is connected (the raft tester's `connected[i]`).
    connected: RefCell<Vec<bool>>,
    make: MakeNode<N>,
    /// When the cluster was made (Go's `cfg.start`).
    test_started_at: Cell<Nanos>,
}

/// How each server stands, in a few words: `raft-0 L3` leads term 3,
/// `raft-1 F3` follows in term 3, `raft-2 down`, `raft-3 paused F2`.
fn describe_servers<N: Node + HostsRaft>(w: &sim::World<N>, servers: &[Addr]) -> String {
    let one = |&server: &Addr| {
        let name = w.name(server);
        let Some(node) = w.node(server) else { return format!("{name} down") };
        let (term, leads) = contract::Raft::state(node.hosted_raft());
        let paused = if w.is_paused(server) { "paused " } else { "" };
        format!("{name} {paused}{}{term}", if leads { "L" } else { "F" })
    };
    servers.iter().map(one).collect::<Vec<_>>().join(" ")
}

/// The lab's per-test limit (checked in virtual time).
pub const TEST_TIME_LIMIT: Nanos = sim::secs(120);

impl<N: Node + HostsRaft> Cluster<N> {
    /// Adds the servers; none is started or connected yet. An observer
    /// checks Raft's invariants on them after every step they take.
    pub fn new(h: &SimHandle<N>, prefix: &str, n: usize, net: NetOptions, make: MakeNode<N>) -> Cluster<N> {
        let servers = (0..n).map(|i| h.add_server(format!("{prefix}-{i}"))).collect();
        let cluster = Cluster {
            h: h.clone(),
            servers,
            connected: RefCell::new(vec![false; n]),
            make,
            test_started_at: Cell::new(h.now()),
        };
        if h.harness_checks() {
            crate::checks::raft_observer::watch(h, prefix, &cluster.servers);
        }
        let servers = cluster.servers.clone();
        h.with_world(|w| w.add_describer(Box::new(move |w| describe_servers(w, &servers))));
        cluster.set_net(|c| NetConfig { long_delays: net.long_delays, ..c });
        cluster.set_unreliable(net.unreliable);
        cluster
    }

    pub fn n(&self) -> usize {
        self.servers.len()
    }

    // ----- the test's clock -----

    /// The lab's `end`: the 120 s limit (`checkTimeout`), in virtual time,
    /// counted from the cluster's making (Go's `cfg.start`, set in
    /// `make_config`): the lab's `begin` of a test's later part resets only
    /// what it reports, so a test in parts gets 120 s in all, not per part.
    pub fn end(&self) -> Result<(), String> {
        let took = self.h.now() - self.test_started_at.get();
        if took > TEST_TIME_LIMIT {
            return Err(format!("test took longer than 120 seconds ({})", sim::time::format(took)));
        }
        Ok(())
    }

    // ----- servers -----

    pub fn is_up(&self, i: usize) -> bool {
        self.h.is_alive(self.servers[i])
    }

    /// Starts server i on its persister (a new instance if one runs: the old
    /// one is crashed first). It is not connected. A node that refuses to
    /// start (corrupt state) fails the run with its reason.
    pub fn restart(&self, i: usize) {
        if self.is_up(i) {
            self.crash(i);
        }
        let make = self.make.clone();
        if let Err(e) = self.h.try_start(self.servers[i], move |ctx| make(ctx, i)) {
            self.h.fail(e);
        }
    }

    /// The lab's crash (raft `crash1`, kv `ShutdownServer`): disconnect, then
    /// kill the instance; the persister keeps what was written.
    pub fn crash(&self, i: usize) {
        self.crash_with(i, CrashMode::Process);
    }

    /// A crash that loses the writes that were never synced.
    pub fn crash_with(&self, i: usize, mode: CrashMode) {
        self.disconnect(i);
        self.h.inject(Fault::Kill { server: self.servers[i], mode });
    }

    /// The server stalls (handles nothing, fires no timer) until resumed.
    pub fn pause(&self, i: usize) {
        self.h.inject(Fault::Pause { server: self.servers[i] });
    }

    /// Whether server i is paused (it takes no step until resumed).
    pub fn is_paused(&self, i: usize) -> bool {
        self.h.with_world(|w| w.is_paused(self.servers[i]))
    }

    pub fn resume(&self, i: usize) {
        self.h.inject(Fault::Resume { server: self.servers[i] });
    }

    // ----- links between servers -----

    pub fn is_connected(&self, i: usize) -> bool {
        self.connected.borrow()[i]
    }

    /// Links between i and every connected server, both ways (raft's
    /// `connect`).
    pub fn connect(&self, i: usize) {
        self.connected.borrow_mut()[i] = true;
        for j in 0..self.n() {
            if self.is_connected(j) {
                self.set_both_ways(i, j, true);
            }
        }
    }

    /// Every server connected to every other (kv's `ConnectAll`).
    pub fn connect_all(&self) {
        for i in 0..self.n() {
            self.connect(i);
        }
    }

    /// No links to or from i.
    pub fn disconnect(&self, i: usize) {
        self.connected.borrow_mut()[i] = false;
        for j in 0..self.n() {
            self.set_both_ways(i, j, false);
        }
    }

    /// Servers in one group reach each other, and no one in another group.
    /// Every server must be in at most one group; one left out is cut off.
    pub fn partition(&self, groups: &[&[usize]]) {
        let mut group_of = vec![None; self.n()];
        for (g, members) in groups.iter().enumerate() {
            for &i in *members {
                assert!(group_of[i].is_none(), "server {i} is in two groups");
                group_of[i] = Some(g);
            }
        }
        for i in 0..self.n() {
            self.connected.borrow_mut()[i] = group_of[i].is_some();
            for j in 0..self.n() {
                let together = group_of[i].is_some() && group_of[i] == group_of[j];
                self.h.inject(Fault::Link { from: self.servers[i], to: self.servers[j], enabled: together });
            }
        }
    }

    /// A one-way cut: calls from i to j fail; j still reaches i.
    pub fn cut_one_way(&self, from: usize, to: usize) {
        self.h.inject(Fault::Link { from: self.servers[from], to: self.servers[to], enabled: false });
    }

    /// The link between servers i and j, both ways, up or down.
    pub fn set_both_ways(&self, i: usize, j: usize, enabled: bool) {
        let (a, b) = (self.servers[i], self.servers[j]);
        self.h.inject(Fault::Link { from: a, to: b, enabled });
        self.h.inject(Fault::Link { from: b, to: a, enabled });
    }

    // ----- clients -----

    /// A client endpoint whose ends reach only the servers in `to` (kv's
    /// `makeClient`).
    pub fn add_client(&self, name: impl Into<String>, to: &[usize]) -> Addr {
        let client = self.h.add_client(name);
        self.connect_client(client, to);
        client
    }

    /// The client's ends reach exactly the servers in `to`.
    pub fn connect_client(&self, client: Addr, to: &[usize]) {
        for (i, &server) in self.servers.iter().enumerate() {
            self.h.inject(Fault::Link { from: client, to: server, enabled: to.contains(&i) });
        }
    }

    // ----- the network -----

    pub fn set_unreliable(&self, unreliable: bool) {
        self.set_net(|c| NetConfig { reliable: !unreliable, ..c });
    }

    pub fn set_long_reordering(&self, on: bool) {
        self.set_net(|c| NetConfig { long_reordering: on, ..c });
    }

    /// Changes the network's settings.
    pub fn set_net(&self, change: impl FnOnce(NetConfig) -> NetConfig) {
        let config = change(self.h.net_config());
        self.h.inject(Fault::Net(config));
    }

    /// labrpc's per-server count: requests dispatched to server i.
    pub fn rpc_count(&self, i: usize) -> u64 {
        self.h.dispatched_count(self.servers[i])
    }

    /// The raft state size of server i's persister.
    pub fn raft_state_size(&self, i: usize) -> usize {
        self.h.with_persister(self.servers[i], |p| p.raft_state_size())
    }

    pub fn snapshot_size(&self, i: usize) -> usize {
        self.h.with_persister(self.servers[i], |p| p.snapshot_size())
    }
}
