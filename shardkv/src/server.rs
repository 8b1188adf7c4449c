//! A shardkv server: a member of one replica group, a `kv::Replicated`
//! server over the group's state, plus the work only its leader does.
//!
//! The leader, every `TICK_MS` and whenever the group's state changed:
//! - when every shard has settled, asks the controller for the next
//!   configuration and puts it in the log;
//! - for each shard it gains, fetches the shard from the previous owner and
//!   puts it in the log (`Install`);
//! - for each shard installed, tells the previous owner to delete its copy,
//!   and logs that it did (`Confirmed`).
//!
//! A group keeps serving the shards it holds while others are in motion,
//! and answers `WrongGroup` for a shard it does not serve when the
//! operation is applied. Its effects go through `ShardIo`: calls to the
//! controllers and to other groups' servers (by name) come back through
//! `on_call_result` with the `Task` they were for.

use crate::config::Gid;
use crate::ctrler::{CtrlerOp, CtrlerReply, CtrlerRequest};
use crate::group::Group;
use crate::pick::Pick;
use crate::rpc::{DeleteShard, Entry, FetchReply, FetchShard, ShardReply};
use crate::shard::Status;
use contract::{PeerConfig, Persisted, Raft, RaftView};
use kv::{Replicated, ReplyIo};
use std::collections::BTreeMap;

/// How often the leader looks for migration work and polls the controller.
pub const TICK_MS: u64 = 100;

/// How long a task waits after its call before it may be sent again: the
/// call's answer, or the entry proposed on it, normally comes well before.
pub const TASK_RETRY_MS: u64 = 500;

/// A piece of migration work; a call made for it comes back with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Task {
    /// Ask the controller for configuration `next`.
    Query { next: u64 },
    /// Pull `shard`, gained in configuration `config`.
    Fetch { config: u64, shard: usize },
    /// Tell the previous owner of `shard` (pulled in `config`) to delete it.
    Delete { config: u64, shard: usize },
}

/// What an answer said of the server that gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Heard {
    Answered,
    NotMe,
    Failed,
}

/// A call a server makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// To controller `ctrler` (an index).
    Ctrler {
        ctrler: usize,
        request: CtrlerRequest,
    },
    Fetch {
        server: String,
        request: FetchShard,
    },
    Delete {
        server: String,
        request: DeleteShard,
    },
}

/// The answer to an `Outgoing` call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    Ctrler(CtrlerReply),
    Fetch(FetchReply),
    Delete(ShardReply),
}

/// Where a server's effects go: Raft's, the answers to clerks and groups,
/// calls, and the tick timer.
pub trait ShardIo<M, T>: ReplyIo<M, T, ShardReply> {
    fn call(&mut self, task: Task, call: Outgoing);
    /// Call `on_tick(at_ms)` when the clock reaches `at_ms`.
    fn set_tick(&mut self, at_ms: u64);
}

/// How a group is started: which it is, and the controllers' count.
#[derive(Clone, Copy, Debug)]
pub struct GroupSetup {
    pub gid: Gid,
    pub ctrlers: usize,
    /// Snapshot as Raft's state nears this many bytes (`None`: never).
    pub max_raft_state: Option<usize>,
}

pub struct ShardKvServer<R: Raft, T> {
    replicated: Replicated<R, Group, T>,
    setup: GroupSetup,
    /// Task -> when it may be sent again (a call is out, or its entry was
    /// proposed).
    busy_until_ms: BTreeMap<Task, u64>,
    /// The controller to call next, and per group the server.
    ctrler_pick: Pick,
    group_picks: BTreeMap<Gid, Pick>,
    /// Task -> the index (`Pick::current`) of the server last called for it.
    called: BTreeMap<Task, usize>,
    /// Whether a task already went out again at once since the last tick
    /// (after a "not me"): at most one such retry per tick.
    retried_since_tick: bool,
    /// `Group::changes` when the work was last looked at.
    driven_at_change: Option<u64>,
    tick_at_ms: Option<u64>,
    /// The term in which this server last proposed a `Noop` (over a Raft
    /// without a view, one per leadership).
    noop_term: Option<u64>,
}

impl<R: Raft, T> ShardKvServer<R, T> {
    /// Starts (or restarts) a server from its durable Raft image and
    /// snapshot. Corrupt state is an error naming the server.
    pub fn start(
        raft: PeerConfig,
        persisted: Persisted<'_>,
        setup: GroupSetup,
        io: &mut impl ShardIo<R::Request, T>,
    ) -> Result<ShardKvServer<R, T>, String> {
        assert!(setup.ctrlers > 0, "a group needs controllers");
        let group = Group::new(setup.gid);
        let replicated = Replicated::start(raft, persisted, group, setup.max_raft_state, io)?;
        let now_ms = io.now_ms();
        let mut server = ShardKvServer {
            replicated,
            setup,
            busy_until_ms: BTreeMap::new(),
            ctrler_pick: Pick::default(),
            group_picks: BTreeMap::new(),
            called: BTreeMap::new(),
            retried_since_tick: false,
            driven_at_change: None,
            tick_at_ms: None,
            noop_term: None,
        };
        server.schedule_tick(io, now_ms);
        Ok(server)
    }

    pub fn raft(&self) -> &R {
        self.replicated.raft()
    }

    /// The last input the host gave the Raft (for the lab's step rules).
    pub fn raft_step(&self) -> &contract::StepRecord {
        self.replicated.raft_step()
    }

    pub fn group(&self) -> &Group {
        self.replicated.service()
    }

    /// A clerk's operation: refused at once for a shard not served here
    /// (by the leader: a follower's view may lag), else through the log.
    pub fn handle_client(&mut self, io: &mut impl ShardIo<R::Request, T>, token: T, request: kv::Request, now_ms: u64) {
        if self.replicated.is_leader() && !self.group().serves(request.op.key()) {
            io.reply(token, ShardReply::WrongGroup);
            return;
        }
        self.replicated.handle_client(io, token, Entry::Client(request));
        self.after_input(io, now_ms);
    }

    /// Another group asks for a shard it gained (read-only: any replica
    /// that applied the configuration has the same frozen copy).
    pub fn handle_fetch(&self, request: &FetchShard) -> FetchReply {
        if bugs::buggify::fire(bugs::buggify::Site::ShardNotReadyToHandOver) {
            return FetchReply::NotReady;
        }
        self.group().fetch(request.config, request.shard)
    }

    /// Another group has a shard this one handed off: delete it, through
    /// the log.
    pub fn handle_delete(&mut self, io: &mut impl ShardIo<R::Request, T>, token: T, request: DeleteShard, now_ms: u64) {
        let entry = Entry::Delete { config: request.config, shard: request.shard };
        self.replicated.handle_client(io, token, entry);
        self.after_input(io, now_ms);
    }

    pub fn handle_raft_request(
        &mut self,
        io: &mut impl ShardIo<R::Request, T>,
        from: usize,
        request: R::Request,
        now_ms: u64,
    ) -> R::Response {
        let response = self.replicated.handle_raft_request(io, from, request);
        self.after_input(io, now_ms);
        response
    }

    pub fn handle_raft_response(
        &mut self,
        io: &mut impl ShardIo<R::Request, T>,
        from: usize,
        response: R::Response,
        now_ms: u64,
    ) {
        self.replicated.handle_raft_response(io, from, response);
        self.after_input(io, now_ms);
    }

    /// A Raft call to `peer` failed.
    pub fn raft_call_failed(&mut self, io: &mut impl ShardIo<R::Request, T>, peer: usize, now_ms: u64) {
        self.replicated.raft_call_failed(io, peer);
        self.after_input(io, now_ms);
    }

    pub fn on_raft_timer(&mut self, io: &mut impl ShardIo<R::Request, T>, at_ms: u64, now_ms: u64) {
        self.replicated.on_timer(io, at_ms);
        self.after_input(io, now_ms);
    }

    /// The Raft's asynchronous writes through `ticket` are durable.
    pub fn raft_persisted(&mut self, io: &mut impl ShardIo<R::Request, T>, ticket: u64, now_ms: u64) {
        self.replicated.raft_persisted(io, ticket);
        self.after_input(io, now_ms);
    }

    /// The tick timer fired (one superseded by another is ignored).
    pub fn on_tick(&mut self, io: &mut impl ShardIo<R::Request, T>, at_ms: u64, now_ms: u64) {
        if self.tick_at_ms != Some(at_ms) {
            return;
        }
        self.tick_at_ms = None;
        self.retried_since_tick = false;
        if !bugs::buggify::fire(bugs::buggify::Site::ShardSkipsAPoll) {
            self.drive(io, now_ms);
        }
        self.schedule_tick(io, now_ms);
    }

    /// The answer to a call made for `task` (`None`: the call failed).
    pub fn on_call_result(
        &mut self,
        io: &mut impl ShardIo<R::Request, T>,
        task: Task,
        answer: Option<Incoming>,
        now_ms: u64,
    ) {
        self.busy_until_ms.remove(&task);
        let called = self.called.remove(&task);
        let (heard, entry) = Self::read_answer(task, answer);
        if let Some(called) = called {
            let pick = self.pick_for(task);
            match heard {
                Heard::Answered => pick.answered(called),
                Heard::NotMe => pick.not_me(called),
                Heard::Failed => pick.failed(called),
            }
        }
        if let Some(entry) = entry {
            if self.replicated.propose(io, kv::store::encode_exact(&entry)) {
                self.busy_until_ms.insert(task, now_ms + TASK_RETRY_MS);
            }
        } else if heard != Heard::Answered && !self.retried_since_tick {
            // Ask again now (the next server may well be the leader; a lost
            // message is often just that) rather than a tick later.
            self.retried_since_tick = true;
            self.drive(io, now_ms);
        }
        self.after_input(io, now_ms);
    }

    /// What an answer says of the server asked, and the entry it brings.
    fn read_answer(task: Task, answer: Option<Incoming>) -> (Heard, Option<Entry>) {
        match (task, answer) {
            (_, None) => (Heard::Failed, None),
            (Task::Query { next }, Some(Incoming::Ctrler(CtrlerReply::Config(config)))) => {
                let skipping = bugs::on(bugs::Bug::ShardSkipsConfigurations) && config.num > next;
                let entry = (config.num == next || skipping).then_some(Entry::Config(config));
                (Heard::Answered, entry)
            }
            (Task::Fetch { config, shard }, Some(Incoming::Fetch(FetchReply::Shard(store)))) => {
                (Heard::Answered, Some(Entry::Install { config, shard, store }))
            }
            (Task::Delete { config, shard }, Some(Incoming::Delete(ShardReply::Deleted))) => {
                (Heard::Answered, Some(Entry::Confirmed { config, shard }))
            }
            // Not the leader, timed out, not there yet, or an answer that
            // does not fit: another server may do better.
            (_, Some(_)) => (Heard::NotMe, None),
        }
    }

    /// The pick of servers a task's calls go to.
    fn pick_for(&mut self, task: Task) -> &mut Pick {
        match task {
            Task::Query { .. } => &mut self.ctrler_pick,
            Task::Fetch { shard, .. } | Task::Delete { shard, .. } => {
                let gid = self.group().previous().shards[shard];
                self.group_picks.entry(gid).or_default()
            }
        }
    }

    /// Whether this leader should log a `Noop`: its log ends in an earlier
    /// term with entries not known committed (read from the Raft's view);
    /// over a Raft without a view, once at the start of each leadership.
    fn needs_noop(&self) -> bool {
        let term = self.raft().state().0;
        match self.raft().view() {
            Some(view) => {
                let last = view.last_log_index();
                view.term_at(last).is_some_and(|t| t < term) && view.commit_index() < last
            }
            None => self.noop_term != Some(term),
        }
    }

    fn schedule_tick(&mut self, io: &mut impl ShardIo<R::Request, T>, now_ms: u64) {
        let at = now_ms + TICK_MS;
        self.tick_at_ms = Some(at);
        io.set_tick(at);
    }

    /// Looks for work at once when the group's state changed.
    fn after_input(&mut self, io: &mut impl ShardIo<R::Request, T>, now_ms: u64) {
        if self.driven_at_change != Some(self.group().changes()) {
            self.drive(io, now_ms);
        }
    }

    /// The leader's migration work: the next configuration once settled,
    /// shards to pull, previous owners to tell.
    fn drive(&mut self, io: &mut impl ShardIo<R::Request, T>, now_ms: u64) {
        self.driven_at_change = Some(self.group().changes());
        if !self.replicated.is_leader() {
            return;
        }
        if self.needs_noop() {
            // Entries of earlier terms wait for one of this term to commit.
            self.noop_term = Some(self.raft().state().0);
            self.replicated.propose(io, kv::store::encode_exact(&Entry::Noop));
        }
        let config = self.group().config().num;
        self.busy_until_ms.retain(|_, until| *until > now_ms);
        self.called.retain(|task, _| match task {
            Task::Fetch { config: c, .. } | Task::Delete { config: c, .. } => *c == config,
            Task::Query { next } => *next == config + 1,
        });
        for task in self.due_tasks(config) {
            if let std::collections::btree_map::Entry::Vacant(slot) = self.busy_until_ms.entry(task) {
                slot.insert(now_ms + TASK_RETRY_MS);
                self.send(io, task);
            }
        }
    }

    /// The work the group's state asks for now.
    fn due_tasks(&self, config: u64) -> Vec<Task> {
        let mut tasks = Vec::new();
        if self.group().is_settled() {
            tasks.push(Task::Query { next: config + 1 });
        }
        for shard in 0..crate::NSHARDS {
            match self.group().shard(shard).status {
                Status::Pulling => tasks.push(Task::Fetch { config, shard }),
                Status::Confirming => tasks.push(Task::Delete { config, shard }),
                _ => {}
            }
        }
        tasks
    }

    fn send(&mut self, io: &mut impl ShardIo<R::Request, T>, task: Task) {
        let call = self.call_for(task);
        let current = self.pick_for(task).current();
        self.called.insert(task, current);
        io.call(task, call);
    }

    fn call_for(&self, task: Task) -> Outgoing {
        match task {
            Task::Query { next } => {
                let num = if bugs::on(bugs::Bug::ShardSkipsConfigurations) { -1 } else { next as i64 };
                let request = CtrlerRequest { client: 0, seq: 0, op: CtrlerOp::Query { num } };
                Outgoing::Ctrler { ctrler: self.ctrler_pick.next(self.setup.ctrlers), request }
            }
            Task::Fetch { config, shard } => {
                Outgoing::Fetch { server: self.previous_owner(shard), request: FetchShard { config, shard } }
            }
            Task::Delete { config, shard } => {
                Outgoing::Delete { server: self.previous_owner(shard), request: DeleteShard { config, shard } }
            }
        }
    }

    /// A server of the group that owned `shard` in the previous
    /// configuration, in turn.
    fn previous_owner(&self, shard: usize) -> String {
        let previous = self.group().previous();
        let gid = previous.shards[shard];
        let servers = &previous.groups[&gid];
        let pick = self.group_picks.get(&gid).copied().unwrap_or_default();
        servers[pick.next(servers.len())].clone()
    }
}

#[cfg(test)]
mod tests {
    //! The server alone: inputs in, calls and answers out.
    use super::*;
    use crate::config::Config as ShardConfig;
    use crate::rebalance;
    use contract::{HostIo, PersistedSize};
    use raft::{RaftPeer, Request as RaftRequest};
    use std::sync::Arc;

    type Server = ShardKvServer<RaftPeer, u32>;

    #[derive(Default)]
    struct Io {
        now_ms: u64,
        calls: Vec<(Task, Outgoing)>,
        replies: Vec<(u32, ShardReply)>,
        tick_at_ms: Option<u64>,
        raft_state: Vec<u8>,
    }

    impl HostIo<RaftRequest> for Io {
        fn now_ms(&self) -> u64 {
            self.now_ms
        }
        fn save_raft_state(&mut self, edit: impl FnOnce(&mut Vec<u8>)) {
            edit(&mut self.raft_state);
        }
        fn save_state_and_snapshot(&mut self, edit: impl FnOnce(&mut Vec<u8>), _snapshot: Arc<Vec<u8>>) {
            edit(&mut self.raft_state);
        }
        fn send(&mut self, _peer: usize, _request: RaftRequest) {}
        fn set_timer(&mut self, _at_ms: u64) {}
        fn fail(&mut self, reason: String) {
            panic!("the server failed: {reason}");
        }
    }

    impl PersistedSize for Io {
        fn raft_state_size(&self) -> usize {
            self.raft_state.len()
        }
    }

    impl ReplyIo<RaftRequest, u32, ShardReply> for Io {
        fn reply(&mut self, token: u32, reply: ShardReply) {
            self.replies.push((token, reply));
        }
    }

    impl ShardIo<RaftRequest, u32> for Io {
        fn call(&mut self, task: Task, call: Outgoing) {
            self.calls.push((task, call));
        }
        fn set_tick(&mut self, at_ms: u64) {
            self.tick_at_ms = Some(at_ms);
        }
    }

    /// A one-server group 101 that leads: every entry commits at once.
    fn leader(io: &mut Io) -> Server {
        let setup = GroupSetup { gid: 101, ctrlers: 3, max_raft_state: None };
        let config = PeerConfig { me: 0, peers: 1, rng_seed: 1, optimisations: contract::Optimisations::NONE };
        let mut s = Server::start(config, Persisted::EMPTY, setup, io).expect("fresh");
        let deadline = s.raft().raft().next_deadline_ms();
        io.now_ms = deadline;
        s.on_raft_timer(io, deadline, deadline);
        assert!(s.replicated.is_leader());
        s
    }

    fn tick(s: &mut Server, io: &mut Io) -> Vec<(Task, Outgoing)> {
        let at = io.tick_at_ms.expect("a tick is always set");
        s.on_tick(io, at, at);
        std::mem::take(&mut io.calls)
    }

    fn configs() -> (ShardConfig, ShardConfig) {
        let servers = |gid: Gid| (0..3).map(|i| format!("server-{gid}-{i}")).collect();
        let c1 = rebalance::join(&ShardConfig::default(), &BTreeMap::from([(100, servers(100))]));
        let c2 = rebalance::join(&c1, &BTreeMap::from([(101, servers(101))]));
        (c1, c2)
    }

    fn config_reply(config: &ShardConfig) -> Option<Incoming> {
        Some(Incoming::Ctrler(CtrlerReply::Config(config.clone())))
    }

    #[test]
    fn the_leader_polls_for_the_next_configuration_once_at_a_time() {
        let mut io = Io::default();
        let mut s = leader(&mut io);
        let calls = tick(&mut s, &mut io);
        let query = |next, ctrler| {
            let request = CtrlerRequest { client: 0, seq: 0, op: CtrlerOp::Query { num: next as i64 } };
            (Task::Query { next }, Outgoing::Ctrler { ctrler, request })
        };
        assert_eq!(calls, vec![query(1, 0)]);
        assert_eq!(tick(&mut s, &mut io), vec![], "the query is still out");
        s.on_call_result(&mut io, Task::Query { next: 1 }, None, 150);
        let again = std::mem::take(&mut io.calls);
        assert_eq!(again, vec![query(1, 0)], "one failed call may be the network's: ask again, at once");
        s.on_call_result(&mut io, Task::Query { next: 1 }, None, 151);
        assert_eq!(std::mem::take(&mut io.calls), vec![], "at most one retry at once per tick");
        assert_eq!(tick(&mut s, &mut io), vec![query(1, 1)], "two in a row: the next controller");
        let wrong = Some(Incoming::Ctrler(CtrlerReply::WrongLeader));
        s.on_call_result(&mut io, Task::Query { next: 1 }, wrong.clone(), 420);
        assert_eq!(std::mem::take(&mut io.calls), vec![query(1, 2)], "not the leader: the next one, at once");
        s.on_call_result(&mut io, Task::Query { next: 1 }, wrong, 421);
        assert_eq!(std::mem::take(&mut io.calls), vec![], "at most one retry at once per tick");
        assert_eq!(tick(&mut s, &mut io), vec![query(1, 0)]);
        let (c1, _) = configs();
        s.on_call_result(&mut io, Task::Query { next: 1 }, config_reply(&c1), 600);
        assert_eq!(s.group().config().num, 1, "committed and applied at once");
        assert_eq!(std::mem::take(&mut io.calls), vec![query(2, 0)], "new work is looked at at once, same controller");
    }

    #[test]
    fn gained_shards_are_fetched_from_the_previous_owner_moving_past_a_failing_server_once() {
        let mut io = Io::default();
        let mut s = leader(&mut io);
        tick(&mut s, &mut io);
        let (c1, c2) = configs();
        s.on_call_result(&mut io, Task::Query { next: 1 }, config_reply(&c1), 200);
        io.calls.clear();
        s.on_call_result(&mut io, Task::Query { next: 2 }, config_reply(&c2), 300);
        let fetches = std::mem::take(&mut io.calls);
        let gained: Vec<usize> = c2.shards_of(101).collect();
        assert_eq!(fetches.len(), gained.len(), "{fetches:?}");
        for (task, call) in &fetches {
            let Outgoing::Fetch { server, request } = call else { panic!("{call:?}") };
            assert_eq!(server, "server-100-0");
            assert_eq!(*task, Task::Fetch { config: 2, shard: request.shard });
        }
        for (task, _) in &fetches {
            s.on_call_result(&mut io, *task, None, 400);
        }
        // The first failure is retried at once, on the same server; the
        // second moves past it; the rest go out at the next tick.
        let at = io.tick_at_ms.unwrap();
        let retried = tick(&mut s, &mut io);
        assert_eq!(retried.len(), gained.len());
        let to = |server: &str| {
            retried.iter().filter(|(_, c)| matches!(c, Outgoing::Fetch { server: s, .. } if s == server)).count()
        };
        assert_eq!((to("server-100-0"), to("server-100-1")), (1, gained.len() - 1), "{retried:?}");
        let retried: Vec<_> = retried
            .into_iter()
            .filter(|(_, c)| matches!(c, Outgoing::Fetch { server, .. } if server == "server-100-1"))
            .collect();
        // A shard handed over is installed and then confirmed with a delete.
        let (task, _) = retried[0];
        let Task::Fetch { shard, .. } = task else { unreachable!() };
        s.on_call_result(&mut io, task, Some(Incoming::Fetch(FetchReply::Shard(kv::Store::default()))), at);
        assert_eq!(s.group().shard(shard).status, Status::Confirming);
        let delete = io.calls.iter().find(|(t, _)| matches!(t, Task::Delete { .. })).expect("a delete is sent at once");
        assert_eq!(delete.0, Task::Delete { config: 2, shard });
    }

    #[test]
    fn a_request_for_a_shard_not_served_is_refused_by_the_leader() {
        let mut io = Io::default();
        let mut s = leader(&mut io);
        let request = kv::Request { client: 1, seq: 1, op: kv::Op::Get { key: "k".into() } };
        s.handle_client(&mut io, 5, request, 10);
        assert_eq!(io.replies, vec![(5, ShardReply::WrongGroup)]);
    }
}
