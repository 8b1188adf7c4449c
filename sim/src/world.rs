//! The simulated world: the virtual clock, the event queue, the endpoints and
//! the sans-IO servers hosted on them, and the mechanics of a call through the
//! virtual network (labrpc semantics, see LABSPEC.md sections 1 and 7).
//!
//! Events run in (time, sequence) order. A server is a [`Node`]: the world
//! hands it requests, replies and timer firings, and the node acts through a
//! [`Ctx`] (call, reply, set a timer, persist). Tasks (the tester, clerks) use
//! the same world through `SimHandle` (handle.rs).

use crate::net::{LinkState, NetConfig, NetStats, SendFate, DEAD_SERVER_POLL_INTERVAL};
use crate::persist::Persister;
use crate::rng::{stream, SimRng, Stream};
use crate::time::{self, Nanos};
use crate::trace::{Trace, TraceMode};
use serde::Serialize;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};
use std::fmt;
use std::rc::Rc;
use std::task::Waker;

/// What travels over the network. Its wire size (for labrpc's byte counts) is
/// the size of its bincode encoding.
pub trait Message: Clone + fmt::Debug + 'static {
    fn wire_size(&self) -> usize;
}

impl<T: Serialize + Clone + fmt::Debug + 'static> Message for T {
    fn wire_size(&self) -> usize {
        bincode_size(self)
    }
}

/// The bincode (standard config) encoded size of a value.
pub fn bincode_size<T: Serialize + ?Sized>(value: &T) -> usize {
    let mut writer = bincode::enc::write::SizeWriter::default();
    bincode::serde::encode_into_writer(value, &mut writer, bincode::config::standard())
        .expect("values sent over the simulated network must encode with bincode");
    writer.bytes_written
}

/// A sans-IO server hosted by the simulator.
pub trait Node: Sized + 'static {
    type Msg: Message;
    /// A request arrived. Answer with `ctx.reply(token, ..)`, now or later.
    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, from: Addr, token: ReplyToken, msg: Self::Msg);
    /// A call this node made came back, or failed (labrpc's `Call` returning false).
    fn on_reply(&mut self, ctx: &mut Ctx<'_, Self>, from: Addr, call: CallId, reply: Result<Self::Msg, RpcError>);
    /// A timer set with `ctx.set_timer` fired.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, tag: u64);
}

/// A network endpoint: a server or a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Addr(pub u32);

/// One call through the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub u64);

/// The right to answer one request; consumed by `Ctx::reply`.
#[derive(Debug, PartialEq, Eq)]
pub struct ReplyToken {
    call: CallId,
}

/// Why a call returned no reply. labrpc reports all of these as `false`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RpcError {
    Failed,
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("call failed")
    }
}

/// How a server dies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashMode {
    /// The process dies; everything written survives (the lab's crash).
    Process,
    /// The machine dies; writes never synced are lost.
    LoseUnsynced,
}

pub(crate) struct CallSlot<M> {
    pub(crate) result: Option<Result<M, RpcError>>,
    pub(crate) waker: Option<Waker>,
}

pub(crate) enum Waiter<M> {
    /// The caller is a hosted node: it gets `on_reply`.
    Node,
    /// The caller is a task awaiting a `CallFuture`.
    Task(Rc<RefCell<CallSlot<M>>>),
    /// A duplicate of a task's call: its reply goes nowhere.
    Discard,
}

struct CallRecord<M> {
    caller: Addr,
    caller_incarnation: u32,
    server: usize,
    server_incarnation: u32,
    long_reordering: bool,
    dispatched_at: Option<Nanos>,
    /// The server answered (the outcome is scheduled).
    answered: bool,
    /// The handler returned without answering: the server's `pending` set
    /// holds the call until it is answered or the server is seen dead.
    deferred: bool,
    waiter: Waiter<M>,
}

/// Outstanding calls, indexed by id. Ids grow by one, so a deque with the
/// oldest live id at the front gives O(1) insert, lookup and removal.
struct CallTable<M> {
    first_id: u64,
    slots: VecDeque<Option<CallRecord<M>>>,
}

impl<M> CallTable<M> {
    fn insert(&mut self, record: CallRecord<M>) -> CallId {
        let id = self.first_id + self.slots.len() as u64;
        self.slots.push_back(Some(record));
        CallId(id)
    }
    fn get(&self, id: CallId) -> Option<&CallRecord<M>> {
        let i = id.0.checked_sub(self.first_id)?;
        self.slots.get(i as usize)?.as_ref()
    }
    fn get_mut(&mut self, id: CallId) -> Option<&mut CallRecord<M>> {
        let i = id.0.checked_sub(self.first_id)?;
        self.slots.get_mut(i as usize)?.as_mut()
    }
    fn remove(&mut self, id: CallId) -> Option<CallRecord<M>> {
        let i = id.0.checked_sub(self.first_id)?;
        let record = self.slots.get_mut(i as usize)?.take();
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.first_id += 1;
        }
        record
    }
}

enum EventKind<M> {
    WakeTask(Waker),
    Request { call: CallId, msg: M },
    Reply { call: CallId, msg: M },
    Fail { call: CallId },
    PollDead { call: CallId },
    Timer { server: usize, incarnation: u32, tag: u64 },
}

/// The event queue: a heap of small (time, sequence, slot) keys, with each
/// event's payload in a slab, so that heap operations move 24 bytes rather
/// than whole messages.
struct EventQueue<M> {
    heap: BinaryHeap<Reverse<(Nanos, u64, u32)>>,
    payloads: Vec<Option<EventKind<M>>>,
    free: Vec<u32>,
}

impl<M> EventQueue<M> {
    fn new() -> Self {
        EventQueue { heap: BinaryHeap::new(), payloads: Vec::new(), free: Vec::new() }
    }

    fn push(&mut self, at: Nanos, seq: u64, kind: EventKind<M>) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.payloads[slot as usize] = Some(kind);
                slot
            }
            None => {
                self.payloads.push(Some(kind));
                (self.payloads.len() - 1) as u32
            }
        };
        self.heap.push(Reverse((at, seq, slot)));
    }

    /// The earliest event: (time, payload).
    fn pop(&mut self) -> Option<(Nanos, EventKind<M>)> {
        let Reverse((at, _, slot)) = self.heap.pop()?;
        let kind = self.payloads[slot as usize].take().expect("a queued slot holds its event");
        self.free.push(slot);
        Some((at, kind))
    }

    fn peek_time(&self) -> Option<Nanos> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }
}

// Trace kind tags.
const TRACE_WAKE: u64 = 1;
const TRACE_REQUEST: u64 = 2;
const TRACE_REPLY: u64 = 3;
const TRACE_FAIL: u64 = 4;
const TRACE_POLL: u64 = 5;
const TRACE_TIMER: u64 = 6;
const TRACE_FAULT: u64 = 7;

/// Faults and other world changes made by the tester; each is a trace event.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    SetLink { from: Addr, to: Addr, state: LinkState },
    SetNet(NetConfig),
    Kill { server: Addr, mode: CrashMode },
    Start { server: Addr },
    Pause { server: Addr },
    Resume { server: Addr },
    TimerDrift { server: Addr, ppm: i32 },
}

impl Fault {
    fn code(&self) -> (u64, u64) {
        match self {
            Fault::SetLink { from, to, state } => (
                1,
                (u64::from(from.0) << 32)
                    | u64::from(to.0) ^ (u64::from(state.enabled) << 63) ^ (u64::from(state.clogged) << 62),
            ),
            Fault::SetNet(c) => (
                2,
                u64::from(c.reliable)
                    | u64::from(c.long_delays) << 1
                    | u64::from(c.long_reordering) << 2
                    | u64::from(c.duplicate_per_mille) << 3,
            ),
            Fault::Kill { server, mode } => (3, u64::from(server.0) | (*mode as u64) << 32),
            Fault::Start { server } => (4, u64::from(server.0)),
            Fault::Pause { server } => (5, u64::from(server.0)),
            Fault::Resume { server } => (6, u64::from(server.0)),
            Fault::TimerDrift { server, ppm } => (7, u64::from(server.0) | (*ppm as u32 as u64) << 32),
        }
    }
}

struct Endpoint {
    name: String,
    /// Index into `servers` when this endpoint is a server.
    server: Option<usize>,
}

struct ServerSlot<N: Node> {
    addr: Addr,
    /// `None` when dead, and while the node is running a handler.
    node: Option<Box<N>>,
    alive: bool,
    /// Bumped at every start and kill: events for an older instance are void.
    incarnation: u32,
    persister: Persister,
    paused: bool,
    parked: Vec<EventKind<N::Msg>>,
    /// The node's own clock (drift survives restarts: it is the machine's).
    clock: crate::time::DriftingClock,
    rng: SimRng,
    /// labrpc's per-server count: requests handed to the handler.
    dispatched: u64,
    /// Dispatched requests not yet answered (for dead-server polling).
    pending: BTreeSet<CallId>,
}

/// Settings of one simulation run.
#[derive(Clone, Copy, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub trace_mode: TraceMode,
    /// The run fails if virtual time would pass this.
    pub time_limit: Nanos,
    /// The run fails after this many events.
    pub event_limit: u64,
}

impl SimConfig {
    pub fn new(seed: u64) -> SimConfig {
        SimConfig { seed, trace_mode: TraceMode::HashOnly, time_limit: time::secs(3600), event_limit: 200_000_000 }
    }
}

/// Why a run stopped without finishing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimError {
    /// Every task waits and no event is pending.
    Deadlock {
        waiting_tasks: Vec<String>,
        at: Nanos,
    },
    TimeLimit {
        limit: Nanos,
    },
    EventLimit {
        limit: u64,
    },
    /// A task or a node called `fail`.
    Failed {
        reason: String,
        at: Nanos,
    },
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Deadlock { waiting_tasks, at } => write!(
                f,
                "deadlock at {}: every task waits and no event is pending; waiting tasks: {}",
                time::format(*at),
                waiting_tasks.join(", ")
            ),
            SimError::TimeLimit { limit } => write!(f, "virtual time limit of {} reached", time::format(*limit)),
            SimError::EventLimit { limit } => write!(f, "event limit of {limit} reached"),
            SimError::Failed { reason, at } => write!(f, "{reason} (at {})", time::format(*at)),
        }
    }
}

/// The whole state of one simulation.
pub struct World<N: Node> {
    config: SimConfig,
    now: Nanos,
    next_seq: u64,
    queue: EventQueue<N::Msg>,
    pub(crate) trace: Trace,
    net: NetConfig,
    stats: NetStats,
    net_rng: SimRng,
    pub(crate) workload_rng: SimRng,
    endpoints: Vec<Endpoint>,
    servers: Vec<ServerSlot<N>>,
    /// `links[from endpoint][to server index]`.
    links: Vec<Vec<LinkState>>,
    /// Requests held on clogged links: (from, to server index, event).
    clogged: Vec<(Addr, usize, EventKind<N::Msg>)>,
    calls: CallTable<N::Msg>,
    pub(crate) failure: Option<(String, Nanos)>,
    log_enabled: bool,
    /// Set when an event wakes a task; the run loop then polls tasks.
    woke_task: bool,
    /// The faults injected so far (at most `FAULT_LOG_LIMIT` kept).
    fault_log: Vec<(Nanos, Fault)>,
}

/// How many faults the fault log keeps; later ones are still traced.
pub const FAULT_LOG_LIMIT: usize = 100_000;

impl<N: Node> World<N> {
    pub fn new(config: SimConfig) -> World<N> {
        World {
            config,
            now: 0,
            next_seq: 0,
            queue: EventQueue::new(),
            trace: Trace::new(config.trace_mode),
            net: NetConfig::default(),
            stats: NetStats::default(),
            net_rng: stream(config.seed, Stream::Network),
            workload_rng: stream(config.seed, Stream::Workload),
            endpoints: Vec::new(),
            servers: Vec::new(),
            links: Vec::new(),
            clogged: Vec::new(),
            calls: CallTable { first_id: 0, slots: VecDeque::new() },
            failure: None,
            log_enabled: tracing::dispatcher::has_been_set(),
            woke_task: false,
            fault_log: Vec::new(),
        }
    }

    pub fn now(&self) -> Nanos {
        self.now
    }

    pub fn seed(&self) -> u64 {
        self.config.seed
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    fn schedule(&mut self, at: Nanos, kind: EventKind<N::Msg>) {
        debug_assert!(at >= self.now, "events are never scheduled in the past");
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push(at, seq, kind);
    }

    pub(crate) fn schedule_wake(&mut self, at: Nanos, waker: Waker) {
        self.schedule(at.max(self.now), EventKind::WakeTask(waker));
    }

    pub(crate) fn record_failure(&mut self, reason: String) {
        if self.failure.is_none() {
            self.failure = Some((reason, self.now));
        }
    }

    fn record_fault(&mut self, fault: &Fault) {
        let (code, arg) = fault.code();
        self.trace.fold(self.now, TRACE_FAULT, code, arg, || format!("fault {fault:?}"));
        if self.fault_log.len() < FAULT_LOG_LIMIT {
            self.fault_log.push((self.now, fault.clone()));
        }
        if self.log_enabled {
            tracing::debug!(target: "sim::fault", "{} {}", time::format(self.now), self.describe_fault(fault));
        }
    }

    /// A fault in words, with endpoint names.
    pub fn describe_fault(&self, fault: &Fault) -> String {
        let name = |a: &Addr| self.name(*a);
        match fault {
            Fault::SetLink { from, to, state } => format!(
                "link {} -> {}: enabled={} clogged={} latency={:?}",
                name(from),
                name(to),
                state.enabled,
                state.clogged,
                state.latency
            ),
            Fault::SetNet(c) => format!("network: {c:?}"),
            Fault::Kill { server, mode } => format!("kill {} ({mode:?})", name(server)),
            Fault::Start { server } => format!("start {}", name(server)),
            Fault::Pause { server } => format!("pause {}", name(server)),
            Fault::Resume { server } => format!("resume {}", name(server)),
            Fault::TimerDrift { server, ppm } => format!("timer drift of {}: {ppm} ppm", name(server)),
        }
    }

    // ----- endpoints and servers -----

    fn add_endpoint(&mut self, name: String, server: Option<usize>) -> Addr {
        let addr = Addr(self.endpoints.len() as u32);
        self.endpoints.push(Endpoint { name, server });
        self.links.push(vec![LinkState::default(); self.servers.len()]);
        addr
    }

    /// A new server endpoint, not started.
    pub fn add_server(&mut self, name: impl Into<String>) -> Addr {
        let index = self.servers.len();
        let addr = self.add_endpoint(name.into(), Some(index));
        self.servers.push(ServerSlot {
            addr,
            node: None,
            alive: false,
            incarnation: 0,
            persister: Persister::default(),
            paused: false,
            parked: Vec::new(),
            clock: crate::time::DriftingClock::default(),
            rng: stream(self.config.seed, Stream::Node(index as u32)),
            dispatched: 0,
            pending: BTreeSet::new(),
        });
        for row in &mut self.links {
            row.push(LinkState::default());
        }
        addr
    }

    /// A new client endpoint (a clerk or the tester).
    pub fn add_client(&mut self, name: impl Into<String>) -> Addr {
        self.add_endpoint(name.into(), None)
    }

    pub fn name(&self, addr: Addr) -> &str {
        &self.endpoints[addr.0 as usize].name
    }

    fn server_index(&self, addr: Addr) -> usize {
        self.endpoints[addr.0 as usize]
            .server
            .unwrap_or_else(|| panic!("{} is a client, not a server", self.name(addr)))
    }

    pub fn is_alive(&self, server: Addr) -> bool {
        self.servers[self.server_index(server)].alive
    }

    /// Starts (or restarts) a server; `make` builds the node and may use the
    /// context (persister, rng, timers, calls).
    pub fn start(&mut self, server: Addr, make: impl FnOnce(&mut Ctx<'_, N>) -> N) {
        let started = self.try_start(server, |ctx| Ok::<N, std::convert::Infallible>(make(ctx)));
        if let Err(never) = started {
            match never {}
        }
    }

    /// Like `start`, but `make` may refuse (say, persisted state that does
    /// not decode): the server then stays down, and whatever `make` set in
    /// motion (timers, calls) is void.
    pub fn try_start<E>(&mut self, server: Addr, make: impl FnOnce(&mut Ctx<'_, N>) -> Result<N, E>) -> Result<(), E> {
        let index = self.server_index(server);
        assert!(!self.servers[index].alive, "{} is already running", self.name(server));
        self.record_fault(&Fault::Start { server });
        let slot = &mut self.servers[index];
        slot.alive = true;
        slot.incarnation += 1;
        match self.in_node_context(index, make) {
            Ok(node) => {
                self.servers[index].node = Some(Box::new(node));
                Ok(())
            }
            Err(e) => {
                let slot = &mut self.servers[index];
                slot.alive = false;
                slot.incarnation += 1;
                Err(e)
            }
        }
    }

    /// Kills a server: its instance is dropped, in-flight and future calls to
    /// it fail, its pending timers are void.
    pub fn kill(&mut self, server: Addr, mode: CrashMode) {
        let index = self.server_index(server);
        self.record_fault(&Fault::Kill { server, mode });
        let now = self.now;
        let slot = &mut self.servers[index];
        if !slot.alive {
            return;
        }
        slot.alive = false;
        slot.node = None;
        slot.incarnation += 1;
        slot.paused = false;
        if mode == CrashMode::LoseUnsynced {
            slot.persister.lose_unsynced();
        }
        let parked = std::mem::take(&mut slot.parked);
        let pending = std::mem::take(&mut slot.pending);
        for kind in parked {
            self.schedule(now, kind);
        }
        for call in pending {
            self.schedule_dead_poll(call);
        }
    }

    /// labrpc polls a dispatched call's server every 100 ms from dispatch; the
    /// next such poll after now sees it dead.
    fn schedule_dead_poll(&mut self, call: CallId) {
        let Some(record) = self.calls.get(call) else { return };
        let dispatched = record.dispatched_at.expect("only dispatched calls are polled");
        let waited = self.now - dispatched;
        let polls = waited.div_ceil(DEAD_SERVER_POLL_INTERVAL).max(1);
        self.schedule(dispatched + polls * DEAD_SERVER_POLL_INTERVAL, EventKind::PollDead { call });
    }

    pub fn pause(&mut self, server: Addr) {
        let index = self.server_index(server);
        self.record_fault(&Fault::Pause { server });
        self.servers[index].paused = true;
    }

    /// Resumes a paused server; what arrived while paused is handed over now,
    /// in arrival order.
    pub fn resume(&mut self, server: Addr) {
        let index = self.server_index(server);
        self.record_fault(&Fault::Resume { server });
        let slot = &mut self.servers[index];
        slot.paused = false;
        let parked = std::mem::take(&mut slot.parked);
        let now = self.now;
        for kind in parked {
            self.schedule(now, kind);
        }
    }

    pub fn is_paused(&self, server: Addr) -> bool {
        self.servers[self.server_index(server)].paused
    }

    /// Makes the server's clock run at 1 / (1 + ppm / 1e6) of virtual time:
    /// its timers take (1 + ppm / 1e6) times longer, and the time it reads
    /// moves accordingly (see `DriftingClock`).
    pub fn set_timer_drift_ppm(&mut self, server: Addr, ppm: i32) {
        assert!(ppm > -1_000_000, "timer drift must leave timers positive");
        let index = self.server_index(server);
        self.record_fault(&Fault::TimerDrift { server, ppm });
        let now = self.now;
        self.servers[index].clock.set_ppm(now, ppm);
    }

    pub fn persister(&self, server: Addr) -> &Persister {
        &self.servers[self.server_index(server)].persister
    }

    pub fn persister_mut(&mut self, server: Addr) -> &mut Persister {
        let index = self.server_index(server);
        &mut self.servers[index].persister
    }

    /// labrpc `GetCount(server)`: requests dispatched to its handler.
    pub fn dispatched_count(&self, server: Addr) -> u64 {
        self.servers[self.server_index(server)].dispatched
    }

    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// The faults injected so far, with their times.
    pub fn fault_log(&self) -> &[(Nanos, Fault)] {
        &self.fault_log
    }

    // ----- links and network settings -----

    pub fn link(&self, from: Addr, to: Addr) -> LinkState {
        self.links[from.0 as usize][self.server_index(to)]
    }

    pub fn set_link(&mut self, from: Addr, to: Addr, state: LinkState) {
        let index = self.server_index(to);
        let old = self.links[from.0 as usize][index];
        if old == state {
            return;
        }
        self.record_fault(&Fault::SetLink { from, to, state });
        self.links[from.0 as usize][index] = state;
        if old.enabled && !state.enabled {
            // Dispatched calls on this link see a dead server at the next poll.
            let pending: Vec<CallId> = self.servers[index]
                .pending
                .iter()
                .copied()
                .filter(|c| self.calls.get(*c).is_some_and(|r| r.caller == from))
                .collect();
            for call in pending {
                self.schedule_dead_poll(call);
            }
        }
        if old.clogged && !state.clogged {
            let now = self.now;
            let (release, keep): (Vec<_>, Vec<_>) =
                std::mem::take(&mut self.clogged).into_iter().partition(|(f, t, _)| *f == from && *t == index);
            self.clogged = keep;
            for (_, _, kind) in release {
                self.schedule(now, kind);
            }
        }
    }

    pub fn set_enabled(&mut self, from: Addr, to: Addr, enabled: bool) {
        let state = LinkState { enabled, ..self.link(from, to) };
        self.set_link(from, to, state);
    }

    pub fn net_config(&self) -> NetConfig {
        self.net
    }

    pub fn set_net_config(&mut self, config: NetConfig) {
        if config != self.net {
            self.record_fault(&Fault::SetNet(config));
            self.net = config;
        }
    }

    // ----- calls -----

    /// Sends a call from `caller` to the server `to` (labrpc `Call`).
    pub(crate) fn send_call(&mut self, caller: Addr, to: Addr, msg: N::Msg, waiter: Waiter<N::Msg>) -> CallId {
        self.stats.total_calls += 1;
        self.stats.total_bytes += msg.wire_size() as u64;
        let index = self.server_index(to);
        let link = self.links[caller.0 as usize][index];
        let caller_incarnation = match self.endpoints[caller.0 as usize].server {
            Some(i) => self.servers[i].incarnation,
            None => 0,
        };
        let slot = &self.servers[index];
        let reachable = link.enabled && slot.alive;
        let record = CallRecord {
            caller,
            caller_incarnation,
            server: index,
            server_incarnation: slot.incarnation,
            long_reordering: self.net.long_reordering,
            dispatched_at: None,
            answered: false,
            deferred: false,
            waiter,
        };
        let is_task_call = matches!(record.waiter, Waiter::Task(_));
        let call = self.calls.insert(record);
        if !reachable {
            self.stats.calls_to_dead += 1;
            let delay = self.net.dead_call_delay(&mut self.net_rng);
            self.schedule(self.now + delay, EventKind::Fail { call });
            return call;
        }
        match self.net.send_fate(&mut self.net_rng) {
            SendFate::Drop(delay) => {
                self.stats.requests_dropped += 1;
                self.schedule(self.now + delay, EventKind::Fail { call });
            }
            SendFate::Deliver(delay) => {
                let delay = delay + link.latency.sample(&mut self.net_rng);
                if let Some(extra) = self.net.duplicate_delay(&mut self.net_rng) {
                    self.stats.requests_duplicated += 1;
                    let duplicate = CallRecord {
                        caller,
                        caller_incarnation,
                        server: index,
                        server_incarnation: self.servers[index].incarnation,
                        long_reordering: self.net.long_reordering,
                        dispatched_at: None,
                        answered: false,
                        deferred: false,
                        waiter: if is_task_call { Waiter::Discard } else { Waiter::Node },
                    };
                    let dup = self.calls.insert(duplicate);
                    self.send_request(caller, index, self.now + delay + extra, dup, msg.clone(), link.clogged);
                }
                self.send_request(caller, index, self.now + delay, call, msg, link.clogged);
            }
        }
        call
    }

    fn send_request(&mut self, caller: Addr, index: usize, at: Nanos, call: CallId, msg: N::Msg, clogged: bool) {
        let kind = EventKind::Request { call, msg };
        if clogged {
            self.clogged.push((caller, index, kind));
        } else {
            self.schedule(at, kind);
        }
    }

    fn server_is_dead_for(&self, record: &CallRecord<N::Msg>) -> bool {
        let slot = &self.servers[record.server];
        !slot.alive
            || slot.incarnation != record.server_incarnation
            || !self.links[record.caller.0 as usize][record.server].enabled
    }

    /// A node answers a request (labrpc: the handler returned).
    fn reply(&mut self, token: ReplyToken, msg: N::Msg) {
        let call = token.call;
        let Some(record) = self.calls.get_mut(call) else { return };
        record.answered = true;
        let record = self.calls.get(call).expect("just updated");
        let (server, long_reordering, caller) = (record.server, record.long_reordering, record.caller);
        if record.deferred {
            self.servers[server].pending.remove(&call);
        }
        if self.server_is_dead_for(record) {
            // The handler ran, but its server died or the end was disabled:
            // labrpc replies false so that no superseded state is reported.
            self.schedule(self.now, EventKind::Fail { call });
            return;
        }
        if self.net.drops_reply(&mut self.net_rng) {
            self.stats.replies_dropped += 1;
            self.schedule(self.now, EventKind::Fail { call });
            return;
        }
        let mut delay = self.links[caller.0 as usize][server].latency.sample(&mut self.net_rng);
        if let Some(hold) = NetConfig::reorder_delay(long_reordering, &mut self.net_rng) {
            self.stats.replies_reordered += 1;
            delay += hold;
        }
        self.schedule(self.now + delay, EventKind::Reply { call, msg });
    }

    // ----- the event loop -----

    /// Processes events until one wakes a task or fails the run. Returns
    /// false when no event is pending.
    pub(crate) fn run_until_task_wakes(&mut self) -> Result<bool, SimError> {
        self.woke_task = false;
        while !self.woke_task && self.failure.is_none() {
            if !self.step()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Processes the next event. Returns false when no event is pending.
    fn step(&mut self) -> Result<bool, SimError> {
        match self.queue.peek_time() {
            None => return Ok(false),
            Some(at) if at > self.config.time_limit => {
                return Err(SimError::TimeLimit { limit: self.config.time_limit })
            }
            Some(_) => {}
        }
        if self.trace.events() >= self.config.event_limit {
            return Err(SimError::EventLimit { limit: self.config.event_limit });
        }
        let (at, kind) = self.queue.pop().expect("peeked");
        debug_assert!(at >= self.now, "virtual time never goes back");
        self.now = at;
        self.trace_event(at, &kind);
        match kind {
            EventKind::WakeTask(waker) => {
                self.woke_task = true;
                waker.wake()
            }
            EventKind::Request { call, msg } => self.deliver_request(call, msg),
            EventKind::Reply { call, msg } => {
                self.stats.total_bytes += msg.wire_size() as u64;
                self.complete(call, Ok(msg));
            }
            EventKind::Fail { call } => self.complete(call, Err(RpcError::Failed)),
            EventKind::PollDead { call } => {
                let dead =
                    self.calls.get(call).is_some_and(|r| r.dispatched_at.is_some() && self.server_is_dead_for(r));
                if dead {
                    let server = self.calls.get(call).expect("checked above").server;
                    self.servers[server].pending.remove(&call);
                    self.complete(call, Err(RpcError::Failed));
                }
            }
            EventKind::Timer { server, incarnation, tag } => {
                let slot = &mut self.servers[server];
                if slot.alive && slot.incarnation == incarnation {
                    if slot.paused {
                        slot.parked.push(EventKind::Timer { server, incarnation, tag });
                    } else {
                        self.in_node(server, |node, ctx| node.on_timer(ctx, tag));
                    }
                }
            }
        }
        Ok(true)
    }

    fn trace_event(&mut self, at: Nanos, event: &EventKind<N::Msg>) {
        let (kind, a, b) = match event {
            EventKind::WakeTask(_) => (TRACE_WAKE, 0, 0),
            EventKind::Request { call, .. } => (TRACE_REQUEST, call.0, 0),
            EventKind::Reply { call, .. } => (TRACE_REPLY, call.0, 0),
            EventKind::Fail { call } => (TRACE_FAIL, call.0, 0),
            EventKind::PollDead { call } => (TRACE_POLL, call.0, 0),
            EventKind::Timer { server, incarnation, tag } => {
                (TRACE_TIMER, (*server as u64) << 32 | u64::from(*incarnation), *tag)
            }
        };
        let describe = || {
            let what = match event {
                EventKind::WakeTask(_) => "wake a task".to_string(),
                EventKind::Request { call, msg } => format!("request of call {} : {msg:?}", call.0),
                EventKind::Reply { call, msg } => format!("reply of call {} : {msg:?}", call.0),
                EventKind::Fail { call } => format!("failure of call {}", call.0),
                EventKind::PollDead { call } => format!("dead-server poll of call {}", call.0),
                EventKind::Timer { server, tag, .. } => format!("timer {tag} of server #{server}"),
            };
            format!("at {}: {what}", time::format(at))
        };
        self.trace.fold(at, kind, a, b, describe);
    }

    fn deliver_request(&mut self, call: CallId, msg: N::Msg) {
        let Some(record) = self.calls.get(call) else { return };
        let (server, caller) = (record.server, record.caller);
        let slot = &self.servers[server];
        if !slot.alive || slot.incarnation != record.server_incarnation {
            self.complete(call, Err(RpcError::Failed));
            return;
        }
        if slot.paused {
            self.servers[server].parked.push(EventKind::Request { call, msg });
            return;
        }
        let link_enabled = self.links[caller.0 as usize][server].enabled;
        self.calls.get_mut(call).expect("checked above").dispatched_at = Some(self.now);
        self.servers[server].dispatched += 1;
        self.in_node(server, |node, ctx| node.on_request(ctx, caller, ReplyToken { call }, msg));
        // Most handlers answer at once; only a deferred answer needs the
        // server's pending set, to fail the call if the server is seen dead.
        if let Some(record) = self.calls.get_mut(call) {
            if !record.answered {
                record.deferred = true;
                self.servers[server].pending.insert(call);
                if !link_enabled {
                    self.schedule_dead_poll(call);
                }
            }
        }
    }

    /// Hands a call's outcome to its caller.
    fn complete(&mut self, call: CallId, result: Result<N::Msg, RpcError>) {
        let Some(record) = self.calls.get(call) else { return };
        if let Waiter::Node = record.waiter {
            let caller = record.caller;
            let index = self.endpoints[caller.0 as usize].server.expect("node callers are servers");
            let slot = &self.servers[index];
            if !slot.alive || slot.incarnation != record.caller_incarnation {
                self.calls.remove(call);
                return;
            }
            if slot.paused {
                let kind = match result {
                    Ok(msg) => EventKind::Reply { call, msg },
                    Err(_) => EventKind::Fail { call },
                };
                // Reply bytes were counted already; a parked reply is re-counted
                // on resume, so take them off again.
                if let EventKind::Reply { msg, .. } = &kind {
                    self.stats.total_bytes -= msg.wire_size() as u64;
                }
                self.servers[index].parked.push(kind);
                return;
            }
        }
        let record = self.calls.remove(call).expect("checked above");
        let from = self.servers[record.server].addr;
        match record.waiter {
            Waiter::Task(slot) => {
                let waker = {
                    let mut slot = slot.borrow_mut();
                    slot.result = Some(result);
                    slot.waker.take()
                };
                if let Some(w) = waker {
                    self.woke_task = true;
                    w.wake();
                }
            }
            Waiter::Node => {
                let index = self.endpoints[record.caller.0 as usize].server.expect("node callers are servers");
                self.in_node(index, |node, ctx| node.on_reply(ctx, from, call, result));
            }
            Waiter::Discard => {}
        }
    }

    /// Runs `f` on a live server's node with a context.
    fn in_node<R>(&mut self, index: usize, f: impl FnOnce(&mut N, &mut Ctx<'_, N>) -> R) -> Option<R> {
        let mut node = self.servers[index].node.take()?;
        let result = self.in_node_context(index, |ctx| f(&mut node, ctx));
        let slot = &mut self.servers[index];
        if slot.alive {
            slot.node = Some(node);
        }
        Some(result)
    }

    fn in_node_context<R>(&mut self, index: usize, f: impl FnOnce(&mut Ctx<'_, N>) -> R) -> R {
        let _span = self.log_enabled.then(|| {
            let slot = &self.servers[index];
            tracing::error_span!(target: "sim_context", "", t = %time::format(self.now), node = %self.endpoints[slot.addr.0 as usize].name)
                .entered()
        });
        let mut ctx = Ctx { world: self, server: index };
        f(&mut ctx)
    }

    /// Runs `f` on a server's node from outside (the tester). `None` when the
    /// server is not running.
    pub fn with_node<R>(&mut self, server: Addr, f: impl FnOnce(&mut N, &mut Ctx<'_, N>) -> R) -> Option<R> {
        let index = self.server_index(server);
        if !self.servers[index].alive {
            return None;
        }
        self.in_node(index, f)
    }

    /// Read-only access to a running server's node.
    pub fn node(&self, server: Addr) -> Option<&N> {
        self.servers[self.server_index(server)].node.as_deref()
    }
}

/// What a node can do while it handles an event.
pub struct Ctx<'a, N: Node> {
    world: &'a mut World<N>,
    server: usize,
}

impl<N: Node> Ctx<'_, N> {
    /// This node's time: virtual time as seen by its own (maybe drifting)
    /// clock.
    pub fn now(&self) -> Nanos {
        self.world.servers[self.server].clock.local(self.world.now)
    }

    pub fn me(&self) -> Addr {
        self.world.servers[self.server].addr
    }

    pub fn name(&self) -> &str {
        self.world.name(self.me())
    }

    /// This node's own random stream (it continues across restarts).
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.world.servers[self.server].rng
    }

    pub fn persister(&mut self) -> &mut Persister {
        &mut self.world.servers[self.server].persister
    }

    /// Calls the server `to`; the outcome arrives as `on_reply` with this id.
    pub fn call(&mut self, to: Addr, msg: N::Msg) -> CallId {
        let me = self.me();
        self.world.send_call(me, to, msg, Waiter::Node)
    }

    /// Answers a request.
    pub fn reply(&mut self, token: ReplyToken, msg: N::Msg) {
        self.world.reply(token, msg);
    }

    /// `on_timer(tag)` once this node's clock has advanced by `after`.
    pub fn set_timer(&mut self, after: Nanos, tag: u64) {
        let slot = &self.world.servers[self.server];
        let delay = slot.clock.virtual_delay(self.world.now, after);
        let (server, incarnation) = (self.server, slot.incarnation);
        let at = self.world.now + delay;
        self.world.schedule(at, EventKind::Timer { server, incarnation, tag });
    }

    /// Fails the run, as the lab's `log.Fatalf` from inside a server or applier.
    pub fn fail(&mut self, reason: impl Into<String>) {
        self.world.record_failure(reason.into());
    }
}
