//! The simulated world: the virtual clock, the event queue and the loop that
//! runs it, the endpoints, and the counters. The other jobs live beside it:
//! hosting servers (`node.rs`), carrying calls with labrpc's semantics
//! (`call.rs`), faults (`fault.rs`) and the queue itself (`event.rs`).
//!
//! Events run in (time, sequence) order. Tasks (the tester, clerks) use the
//! same world through `SimHandle` (handle.rs).

use crate::call::{CallTable, Calls, RpcError};
use crate::event::{
    EventKind, EventQueue, TRACE_DURABLE, TRACE_FAIL, TRACE_FLUSHED, TRACE_HEAL, TRACE_POLL, TRACE_REPLY,
    TRACE_REQUEST, TRACE_TIMER, TRACE_UNBLOCK, TRACE_WAKE,
};
use crate::fault::Fault;
use crate::net::{LinkState, NetConfig, NetStats};
use crate::node::{Addr, Event, Message, Node, ServerSlot, TraceWord};
use crate::persist::Persister;
use crate::rng::{stream, SimRng, Stream};
use crate::time::{self, Nanos};
use crate::trace::{Trace, TraceMode};
use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::task::Waker;

pub(crate) struct Endpoint {
    pub(crate) name: String,
    /// Index into `servers` when this endpoint is a server.
    pub(crate) server: Option<usize>,
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
    /// Set from outside (a soak's wall-clock watchdog) to stop the run: it
    /// is looked at every `CANCEL_CHECK_EVENTS` events. It never changes
    /// what a run does, only whether it goes on.
    pub cancel: Option<&'static std::sync::atomic::AtomicBool>,
    /// The run fails when more events than this are queued at once, or the
    /// call table spans more calls (from the oldest open one): a bound on
    /// a run's memory, so a node that floods fails alone.
    pub max_queued_events: usize,
    pub max_open_calls: usize,
    /// Whether the harness's own checks run (a lab's observers and the
    /// checks it builds into its hosts): on, except to measure what a lab
    /// catches without them. Read by the lab through `Ctx::harness_checks`
    /// and `SimHandle::harness_checks`; the simulator itself ignores it.
    pub harness_checks: bool,
    /// Every server's disk latency at the start (`Fault::DiskLatency`
    /// changes it): 0, the lab's persister, makes writes durable at once.
    pub disk_latency: Nanos,
    /// A schedule's end of the run (`Schedule::stop_at`): no event after
    /// it runs, and the run ends with `SimError::Cut`.
    pub stop_at: Option<Nanos>,
}

/// How often (in events) a run looks at its cancel flag.
pub const CANCEL_CHECK_EVENTS: u64 = 4096;

impl SimConfig {
    pub fn new(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            trace_mode: TraceMode::HashOnly,
            time_limit: time::secs(3600),
            event_limit: 200_000_000,
            cancel: None,
            max_queued_events: 5_000_000,
            max_open_calls: 1_000_000,
            harness_checks: true,
            disk_latency: 0,
            stop_at: None,
        }
    }
}

/// Why a run stopped without finishing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// Every task waits and no event is pending.
    #[error("deadlock at {}: every task waits and no event is pending; {stuck}", time::format(*.at))]
    Deadlock { at: Nanos, stuck: Stuck },
    /// Virtual time would pass the limit.
    #[error("virtual time limit of {} reached; {stuck}", time::format(*.limit))]
    TimeLimit { limit: Nanos, stuck: Stuck },
    #[error("event limit of {limit} reached")]
    EventLimit { limit: u64 },
    /// Too many events queued or calls open at once (`SimConfig`'s bounds).
    #[error("more than {limit} {what} at virtual {} (a flood of messages?)", time::format(*.at))]
    MemoryLimit { what: &'static str, limit: usize, at: Nanos },
    /// Stopped from outside (`SimConfig::cancel`).
    #[error("stopped from outside at virtual {} after {events} events", time::format(*.at))]
    Cancelled { at: Nanos, events: u64 },
    /// The run reached the end its schedule gave it (`SimConfig::stop_at`):
    /// cut short, not failed.
    #[error("cut short at {}, where its schedule ends the run", time::format(*.at))]
    Cut { at: Nanos },
    /// A task or a node called `fail`.
    #[error("{reason} (at {})", time::format(*.at))]
    Failed { reason: String, at: Nanos },
}

/// What a run that could not finish was waiting for: its unfinished tasks
/// and the calls still open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stuck {
    pub waiting_tasks: Vec<String>,
    pub open_calls: Vec<String>,
}

/// How many open calls a stuck run lists.
pub const OPEN_CALLS_LISTED: usize = 20;

impl fmt::Display for Stuck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "waiting tasks: {}", self.waiting_tasks.join(", "))?;
        if self.open_calls.is_empty() {
            return f.write_str("; no call is open");
        }
        write!(f, "; open calls: {}", self.open_calls.join("; "))
    }
}

/// The whole state of one simulation.
pub struct World<N: Node> {
    pub(crate) config: SimConfig,
    pub(crate) now: Nanos,
    /// When the node step in progress began (a synchronous write moves
    /// `now` on within it: `disk.rs`).
    pub(crate) step_began_at: Nanos,
    pub(crate) next_seq: u64,
    pub(crate) queue: EventQueue<N::Msg, N::Timer>,
    pub(crate) trace: Trace,
    pub(crate) net: NetConfig,
    pub(crate) stats: NetStats,
    /// Whether messages' bytes are counted (`count_bytes`): sizing every
    /// message costs, and only a test of bandwidth reads the count.
    pub(crate) counting_bytes: bool,
    pub(crate) net_rng: SimRng,
    pub(crate) workload_rng: SimRng,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) servers: Vec<ServerSlot<N>>,
    /// `links[from endpoint][to server index]`.
    pub(crate) links: Vec<Vec<LinkState>>,
    /// `in_order[from endpoint][to server index]`: when the last request and
    /// the last reply on the link got through the network's latency (a
    /// connection delivers in order; see `call.rs`).
    pub(crate) in_order: Vec<Vec<[Nanos; 2]>>,
    /// Requests held on clogged links: (from, to server index, event).
    pub(crate) clogged: Vec<(Addr, usize, Event<N>)>,
    pub(crate) calls: Calls<N>,
    pub(crate) failure: Option<(String, Nanos)>,
    pub(crate) log_enabled: bool,
    /// Set when an event wakes a task; the run loop then polls tasks.
    pub(crate) woke_task: bool,
    /// The faults injected so far (at most `FAULT_LOG_LIMIT` kept).
    pub(crate) fault_log: Vec<(Nanos, Fault)>,
    /// Facts the run noted about itself (`note`), each once, in order.
    pub(crate) notes: Vec<String>,
    /// Where every event goes as a line (`labsim run --trace`), if anywhere.
    pub(crate) event_sink: Option<crate::event_log::EventSink>,
    /// The run's choices of faults, named, when it records or follows a
    /// schedule (`schedule.rs`).
    pub(crate) choices: crate::schedule::Choices,
    /// Describe the servers' state in words (roles, terms) beside each
    /// fault a schedule records (`add_describer`).
    pub(crate) describers: Vec<Describer<N>>,
    /// Gives the choices a server made in its step just run (its fault
    /// injection points firing), when the run names its choices
    /// (`watch_server_choices`).
    pub(crate) server_choices: Option<ServerChoices>,
}

/// Says in a few words how some servers stand (a lab's roles and terms).
pub type Describer<N> = Box<dyn Fn(&World<N>) -> String>;

/// Gives the choices made inside servers since it was last asked, each
/// with what it was in words (`World::watch_server_choices`).
pub type ServerChoices = Box<dyn FnMut() -> Vec<(crate::schedule::Choice, String)>>;

/// How many faults the fault log keeps; later ones are still traced.
pub const FAULT_LOG_LIMIT: usize = 100_000;

impl<N: Node> World<N> {
    pub fn new(config: SimConfig) -> World<N> {
        World {
            config,
            now: 0,
            step_began_at: 0,
            next_seq: 0,
            queue: EventQueue::new(),
            trace: Trace::new(config.trace_mode),
            net: NetConfig::default(),
            stats: NetStats::default(),
            counting_bytes: false,
            net_rng: stream(config.seed, Stream::Network),
            workload_rng: stream(config.seed, Stream::Workload),
            endpoints: Vec::new(),
            servers: Vec::new(),
            links: Vec::new(),
            in_order: Vec::new(),
            clogged: Vec::new(),
            calls: CallTable { first_id: 0, slots: VecDeque::new() },
            failure: None,
            log_enabled: tracing::dispatcher::has_been_set(),
            woke_task: false,
            fault_log: Vec::new(),
            notes: Vec::new(),
            event_sink: None,
            choices: crate::schedule::Choices::default(),
            describers: Vec::new(),
            server_choices: None,
        }
    }

    pub fn now(&self) -> Nanos {
        self.now
    }

    pub fn seed(&self) -> u64 {
        self.config.seed
    }

    /// Notes a fact about the run (a swarm run's fault mix), once: runners
    /// print it, and a failure's reason ends with it. Notes never change
    /// what a run does.
    pub fn note(&mut self, text: String) {
        if !self.notes.contains(&text) {
            self.notes.push(text);
        }
    }

    /// The run's notes, in the order they were first made.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    pub(crate) fn schedule(&mut self, at: Nanos, kind: Event<N>) {
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

    // ----- endpoints and servers -----

    fn add_endpoint(&mut self, name: String, server: Option<usize>) -> Addr {
        let addr = Addr(self.endpoints.len() as u32);
        self.endpoints.push(Endpoint { name, server });
        self.links.push(vec![LinkState::default(); self.servers.len()]);
        self.in_order.push(vec![[0; 2]; self.servers.len()]);
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
            last_status: None,
            crash_point: None,
            crashing: false,
            inspectors: Vec::new(),
            disk: crate::disk::Disk { latency: self.config.disk_latency, ..crate::disk::Disk::default() },
        });
        for row in &mut self.in_order {
            row.push([0; 2]);
        }
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

    pub(crate) fn server_index(&self, addr: Addr) -> usize {
        self.endpoints[addr.0 as usize]
            .server
            .unwrap_or_else(|| panic!("{} is a client, not a server", self.name(addr)))
    }

    pub fn is_alive(&self, server: Addr) -> bool {
        self.servers[self.server_index(server)].alive
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

    /// Counts the bytes of every message from now on
    /// ([`NetStats::total_bytes`] stays 0 until then).
    pub fn count_bytes(&mut self) {
        self.counting_bytes = true;
    }

    /// The faults injected so far, with their times.
    pub fn fault_log(&self) -> &[(Nanos, Fault)] {
        &self.fault_log
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
            Some(at) if self.config.stop_at.is_some_and(|stop| at > stop) => {
                self.now = self.config.stop_at.expect("checked");
                return Err(SimError::Cut { at: self.now });
            }
            Some(at) if at > self.config.time_limit => {
                return Err(SimError::TimeLimit { limit: self.config.time_limit, stuck: Stuck::default() })
            }
            Some(_) => {}
        }
        let events = self.trace.events();
        if events >= self.config.event_limit {
            return Err(SimError::EventLimit { limit: self.config.event_limit });
        }
        if self.queue.len() > self.config.max_queued_events {
            let limit = self.config.max_queued_events;
            return Err(SimError::MemoryLimit { what: "events queued", limit, at: self.now });
        }
        if self.calls.slots.len() > self.config.max_open_calls {
            let limit = self.config.max_open_calls;
            return Err(SimError::MemoryLimit { what: "calls open (from the oldest open one)", limit, at: self.now });
        }
        if events.is_multiple_of(CANCEL_CHECK_EVENTS)
            && self.config.cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        {
            return Err(SimError::Cancelled { at: self.now, events });
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
                if self.counting_bytes {
                    self.stats.total_bytes += msg.wire_size() as u64;
                }
                self.complete(call, Ok(msg));
            }
            EventKind::Fail { call } => self.complete(call, Err(RpcError::Failed)),
            EventKind::PollDead { call } => self.poll_dead(call),
            EventKind::Timer { server, incarnation, timer } => {
                let slot = &mut self.servers[server];
                if slot.alive && slot.incarnation == incarnation {
                    if slot.holds_events(at) {
                        slot.parked.push(EventKind::Timer { server, incarnation, timer });
                    } else {
                        self.in_node(server, |node, ctx| node.on_timer(ctx, timer));
                    }
                }
            }
            EventKind::Flushed { server, generation } => self.flush_ended(server, generation),
            EventKind::Durable { server, incarnation, ticket } => self.durable(server, incarnation, ticket),
            EventKind::Unblock { server } => self.unblock(server),
            EventKind::Heal(healing) => self.heal(*healing),
        }
        Ok(true)
    }

    /// Folds an event into the trace. When a run is checked for determinism
    /// (any mode but `HashOnly`), a message's contents are folded too (into
    /// the checked hash only: the run's hash stays what a plain run gives),
    /// so two runs that send different messages at the same instants part.
    fn trace_event(&mut self, at: Nanos, event: &Event<N>) {
        let contents = match event {
            EventKind::Request { msg, .. } | EventKind::Reply { msg, .. }
                if self.trace.mode() != TraceMode::HashOnly =>
            {
                msg.content_hash()
            }
            _ => 0,
        };
        let (kind, a, b) = match event {
            EventKind::WakeTask(_) => (TRACE_WAKE, 0, 0),
            EventKind::Request { call, .. } => (TRACE_REQUEST, call.0, 0),
            EventKind::Reply { call, .. } => (TRACE_REPLY, call.0, 0),
            EventKind::Fail { call } => (TRACE_FAIL, call.0, 0),
            EventKind::PollDead { call } => (TRACE_POLL, call.0, 0),
            EventKind::Timer { server, incarnation, timer } => {
                (TRACE_TIMER, (*server as u64) << 32 | u64::from(*incarnation), timer.trace_word())
            }
            EventKind::Flushed { server, generation } => (TRACE_FLUSHED, *server as u64, *generation),
            EventKind::Durable { server, incarnation, ticket } => {
                (TRACE_DURABLE, (*server as u64) << 32 | u64::from(*incarnation), *ticket)
            }
            EventKind::Unblock { server } => (TRACE_UNBLOCK, *server as u64, 0),
            EventKind::Heal(_) => (TRACE_HEAL, 0, 0),
        };
        let (endpoints, servers) = (&self.endpoints, &self.servers);
        let server_name = |index: usize| endpoints[servers[index].addr.0 as usize].name.as_str();
        let describe = || {
            let what = match event {
                EventKind::WakeTask(_) => "wake a task".to_string(),
                EventKind::Request { call, msg } => format!("request of call {} : {msg:?}", call.0),
                EventKind::Reply { call, msg } => format!("reply of call {} : {msg:?}", call.0),
                EventKind::Fail { call } => format!("failure of call {}", call.0),
                EventKind::PollDead { call } => format!("dead-server poll of call {}", call.0),
                EventKind::Timer { server, timer, .. } => format!("timer {timer:?} of {}", server_name(*server)),
                EventKind::Flushed { server, .. } => format!("disk flush of {} ends", server_name(*server)),
                EventKind::Durable { server, ticket, .. } => {
                    format!("{}'s writes through ticket {ticket} are durable", server_name(*server))
                }
                EventKind::Unblock { server } => format!("{}'s write is done", server_name(*server)),
                EventKind::Heal(healing) => format!("the schedule heals {healing:?}"),
            };
            format!("at {}: {what}", time::format(at))
        };
        self.trace.fold_with_contents(at, kind, a, b, contents, describe);
        self.log_event(at, event);
    }
}
