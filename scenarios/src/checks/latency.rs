//! A bound on every client operation's latency while the system can serve
//! it, for the chaos and swarm scenarios. The partition tests only count
//! fewer operations, and a swarm run's liveness phase starts after the
//! heal: neither sees a server that keeps a clerk waiting on a leader cut
//! off from its majority until the partition ends. This does.
//!
//! The system can serve a client while every group it needs (a kv cluster;
//! for shardkv the controller and every group) has a majority that is up
//! (alive, not paused), connected both ways among itself and with the other
//! groups' majorities, reachable from the client, and led: one of its
//! servers believes it leads, in a term no other member is past, and (for
//! shardkv) is settled in the configuration the other leaders are settled
//! in, no shard on its way. An
//! operation in flight through such a stretch must complete within
//! [`LATENCY_BOUND`] of it; a stretch that breaks starts the count again.
//! What counts is the time a server keeps the clerk waiting, and the
//! clerk's own pauses between calls: not a request or a reply on its way
//! (labrpc holds replies up to 2.2 s), nor a call to a server that is
//! paused or down (labrpc fails it only after a while; a stalled server
//! answers when it resumes), none of which the server chose.

use crate::checks::raft_observer::{HostsRaft, Serving};
use contract::Raft;
use sim::{ms, secs, Addr, Nanos, Node, SimHandle};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// How long an operation may wait while the system can serve it. Over
/// 4,300 runs of the chaos, swarm and isolated-leader scenarios the longest
/// counted wait was 2.6 s on our servers (1.0 s on raft-rs): a few request
/// timeouts (500 ms) at a leader that cannot commit in time. A server that
/// holds a request until a cut heals waits as long as the cut.
pub const LATENCY_BOUND: Nanos = secs(5);

/// How often the watch looks.
const SAMPLE_EVERY: Nanos = ms(50);

/// The clients' operations in flight, as the testers report them.
#[derive(Default)]
pub struct LatencyWatch {
    clients: RefCell<BTreeMap<Addr, Waiting>>,
    /// A client's other end (a shardkv clerk's end to the controllers).
    aliases: RefCell<BTreeMap<Addr, Addr>>,
}

#[derive(Default)]
struct Waiting {
    /// The operation in flight, and when it was called.
    op: Option<(String, Nanos)>,
    /// How long the operation has waited in the current stretch in which
    /// the system could serve it.
    waited: Nanos,
    /// The majorities that could serve it at the last look: a change of
    /// leader or members starts a new stretch (an election may fall
    /// between two looks).
    serving: Vec<Majority>,
}

impl LatencyWatch {
    /// A clerk called an operation.
    pub fn op_called(&self, client: Addr, what: String, now: Nanos) {
        let mut clients = self.clients.borrow_mut();
        let waiting = clients.entry(client).or_default();
        (waiting.op, waiting.waited) = (Some((what, now)), 0);
    }

    /// The operation returned.
    pub fn op_returned(&self, client: Addr) {
        if let Some(waiting) = self.clients.borrow_mut().get_mut(&client) {
            (waiting.op, waiting.waited) = (None, 0);
        }
    }

    /// The clerk at `client` also calls from `end` (a shardkv clerk's end
    /// to the controllers).
    pub fn alias(&self, end: Addr, client: Addr) {
        self.aliases.borrow_mut().insert(client, end);
    }

    /// Whether the clerk at `client` is waiting on a server's handler, or
    /// on nothing but itself (between calls): not on a message on its way,
    /// nor on a server that is paused or down.
    fn kept_waiting_by_server<N: Node>(&self, h: &SimHandle<N>, client: Addr) -> bool {
        let alias = self.aliases.borrow().get(&client).copied();
        let call = h.with_world(|w| w.open_call_from(client).or_else(|| alias.and_then(|a| w.open_call_from(a))));
        match call {
            None => true,
            Some(call) => call.at_handler && h.is_alive(call.server) && !h.with_world(|w| w.is_paused(call.server)),
        }
    }

    /// One look: every operation in flight waits on (if the system can
    /// serve its client), and one past the bound fails the run.
    fn sample<N: Node + HostsRaft>(&self, h: &SimHandle<N>, groups: &[Vec<Addr>]) -> Result<(), String> {
        let mut clients = self.clients.borrow_mut();
        for (&client, waiting) in clients.iter_mut() {
            let Some((what, called_at)) = &waiting.op else { continue };
            let Some(serving) = serving_majorities(h, groups, client) else {
                waiting.waited = 0;
                continue;
            };
            if serving != waiting.serving {
                waiting.waited = 0;
                waiting.serving = serving.clone();
            }
            if !self.kept_waiting_by_server(h, client) {
                continue; // a message on its way, or a server that cannot answer
            }
            waiting.waited += SAMPLE_EVERY;
            if waiting.waited > LATENCY_BOUND {
                return Err(format!(
                    "latency bound: {}'s {what}, called at {}, has waited {} while the servers {} (a led majority \
                     of each group, up, connected and reachable from it) could serve it",
                    h.with_world(|w| w.name(client).to_string()),
                    sim::time::format(*called_at),
                    sim::time::format(waiting.waited),
                    describe(h, &serving),
                ));
            }
        }
        Ok(())
    }
}

/// Watches for the rest of the run: every 50 ms, each operation in flight
/// is checked against the bound, for the groups of servers `groups`.
pub async fn watch<N: Node + HostsRaft>(h: SimHandle<N>, latency: Rc<LatencyWatch>, groups: Vec<Vec<Addr>>) {
    loop {
        h.sleep(SAMPLE_EVERY).await;
        if let Err(reason) = latency.sample(&h, &groups) {
            h.fail(reason);
            return;
        }
    }
}

/// Whether `server` is up and the link from `from` to it is open.
fn reachable<N: Node>(h: &SimHandle<N>, from: Addr, server: Addr) -> bool {
    let link = h.link(from, server);
    link.enabled && !link.clogged && h.is_alive(server) && !h.with_world(|w| w.is_paused(server))
}

/// Both ways between two servers.
fn connected<N: Node>(h: &SimHandle<N>, a: Addr, b: Addr) -> bool {
    a == b || (reachable(h, a, b) && reachable(h, b, a))
}

/// A majority of each group that can serve `client`, all of them connected
/// to each other; `None` when there is none.
fn serving_majorities<N: Node + HostsRaft>(
    h: &SimHandle<N>,
    groups: &[Vec<Addr>],
    client: Addr,
) -> Option<Vec<Majority>> {
    let candidates: Vec<Vec<Majority>> = groups.iter().map(|g| led_majorities(h, g, client)).collect();
    let mut chosen = Vec::new();
    choose(h, &candidates, &mut chosen).then_some(chosen)
}

/// A led majority of one group: its members, its leader and the leader's
/// term, and what the leader serves.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Majority {
    members: Vec<Addr>,
    leader: (Addr, u64),
    serving: Serving,
}

/// Picks one candidate per group, each connected to those picked before
/// and settled in the same configuration.
fn choose<N: Node>(h: &SimHandle<N>, candidates: &[Vec<Majority>], chosen: &mut Vec<Majority>) -> bool {
    let Some(options) = candidates.get(chosen.len()) else { return true };
    for option in options {
        let same_config = chosen.iter().all(|m| match (m.serving, option.serving) {
            (Serving::Settled(a), Serving::Settled(b)) => a == b,
            _ => true,
        });
        let linked =
            chosen.iter().flat_map(|m| &m.members).all(|&a| option.members.iter().all(|&b| connected(h, a, b)));
        if same_config && linked {
            chosen.push(option.clone());
            if choose(h, candidates, chosen) {
                return true;
            }
            chosen.pop();
        }
    }
    false
}

/// Every majority of `group` that is up, reachable from `client`, connected
/// within, and led by a server whose service serves what it owns.
fn led_majorities<N: Node + HostsRaft>(h: &SimHandle<N>, group: &[Addr], client: Addr) -> Vec<Majority> {
    let usable: Vec<(Addr, (u64, bool), Serving)> = group
        .iter()
        .filter(|&&s| reachable(h, client, s))
        .filter_map(|&s| h.with_world(|w| w.node(s).map(|node| (s, node.hosted_raft().state(), node.serving()))))
        .collect();
    assert!(usable.len() < 32, "groups are small");
    let mut found = Vec::new();
    for mask in 1u32..(1 << usable.len()) {
        let members: Vec<&(Addr, (u64, bool), Serving)> =
            usable.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, m)| m).collect();
        if members.len() * 2 <= group.len() {
            continue;
        }
        let top_term = members.iter().map(|(_, (term, _), _)| *term).max().unwrap_or(0);
        let leader = members.iter().find(|(_, (term, leads), _)| *leads && *term == top_term);
        let Some(&&(leader, (term, _), serving)) = leader.filter(|(_, _, serving)| *serving != Serving::Moving) else {
            continue;
        };
        let linked = members.iter().all(|(a, _, _)| members.iter().all(|(b, _, _)| connected(h, *a, *b)));
        if linked {
            let members = members.iter().map(|(s, _, _)| *s).collect();
            found.push(Majority { members, leader: (leader, term), serving });
        }
    }
    found
}

fn describe<N: Node>(h: &SimHandle<N>, majorities: &[Majority]) -> String {
    h.with_world(|w| {
        let names: Vec<String> = majorities
            .iter()
            .map(|m| m.members.iter().map(|s| w.name(*s).to_string()).collect::<Vec<_>>().join(", "))
            .collect();
        names.join("; ")
    })
}
