//! Hosting sans-IO servers: the `Node` trait a server implements, its slot
//! in the world (instance, incarnation, persister, clock, stream), starting
//! it, running its handlers, and the `Ctx` through which it acts.

use crate::call::{CallId, ReplyToken, RpcError, Waiter};
use crate::event::EventKind;
use crate::persist::Persister;
use crate::rng::SimRng;
use crate::time::{self, Nanos};
use crate::world::World;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;

/// What travels over the network. Its wire size (for labrpc's byte counts) is
/// the size of its bincode encoding unless a type says otherwise.
pub trait Message: Clone + fmt::Debug + Serialize + 'static {
    fn wire_size(&self) -> usize {
        bincode_size(self)
    }
    /// A short name for the kind of message ("AppendEntries", "Get"), shown
    /// when a run stops with calls still open.
    fn label(&self) -> &'static str {
        "message"
    }
    /// A hash of the message's contents (of its bincode encoding), folded
    /// into the trace when a run is checked for determinism.
    fn content_hash(&self) -> u64 {
        let mut writer = HashWriter(0xcbf2_9ce4_8422_2325);
        bincode::serde::encode_into_writer(self, &mut writer, bincode::config::standard())
            .expect("values sent over the simulated network must encode with bincode");
        writer.0
    }
}

/// A bincode writer that keeps an FNV-1a hash of the bytes written.
struct HashWriter(u64);

impl bincode::enc::write::Writer for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        Ok(())
    }
}

impl Message for u32 {}
impl Message for u64 {}
impl Message for String {}
impl Message for Vec<u8> {}

/// A value that enters the determinism trace as one word (a node's timers).
pub trait TraceWord {
    fn trace_word(&self) -> u64;
}

impl TraceWord for u64 {
    fn trace_word(&self) -> u64 {
        *self
    }
}

impl TraceWord for () {
    fn trace_word(&self) -> u64 {
        0
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
    /// What a timer is for (a Raft deadline, a configuration poll, ...).
    type Timer: TraceWord + Copy + fmt::Debug + 'static;
    /// What a call is for; handed back with its outcome, so that a failed
    /// call (which carries no message) is still known.
    type CallPurpose: Copy + fmt::Debug + 'static;
    /// A request arrived. Answer with `ctx.reply(token, ..)`, now or later.
    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, from: Addr, token: ReplyToken, msg: Self::Msg);
    /// A call this node made came back, or failed (labrpc's `Call` returning
    /// false), with the purpose it was made for.
    fn on_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: Addr,
        purpose: Self::CallPurpose,
        reply: Result<Self::Msg, RpcError>,
    );
    /// Whether `on_reply` would do nothing with a failure of a call made
    /// for `purpose`: the world then gives the node no step for it (the
    /// failure is still an event of the run). `false` by default.
    fn ignores_failure(&self, _purpose: &Self::CallPurpose) -> bool {
        false
    }
    /// A timer set with `ctx.set_timer` fired.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Self::Timer);
    /// The writes this incarnation made with `ctx.write_async` through
    /// `ticket` are durable (only with a disk latency: see `disk.rs`).
    /// Nothing by default.
    fn on_durable(&mut self, _ctx: &mut Ctx<'_, Self>, _ticket: u64) {}
    /// What the node is now, for run views: a role and a term (a Raft
    /// node's "leader", 3). Looked at after each handler only while a run's
    /// events are recorded (`World::set_event_sink`).
    fn status(&self) -> Option<(&'static str, u64)> {
        None
    }
}

/// An event of a world of nodes `N`.
pub(crate) type Event<N> = EventKind<<N as Node>::Msg, <N as Node>::Timer>;

/// A network endpoint: a server or a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Addr(pub u32);

pub(crate) struct ServerSlot<N: Node> {
    pub(crate) addr: Addr,
    /// `None` when dead, and while the node is running a handler.
    pub(crate) node: Option<Box<N>>,
    pub(crate) alive: bool,
    /// Bumped at every start and kill: events for an older instance are void.
    pub(crate) incarnation: u32,
    pub(crate) persister: Persister,
    pub(crate) paused: bool,
    pub(crate) parked: Vec<Event<N>>,
    /// The node's own clock (drift survives restarts: it is the machine's).
    pub(crate) clock: crate::time::DriftingClock,
    pub(crate) rng: SimRng,
    /// labrpc's per-server count: requests handed to the handler.
    pub(crate) dispatched: u64,
    /// Dispatched requests not yet answered (for dead-server polling).
    pub(crate) pending: BTreeSet<CallId>,
    /// The node's last `Node::status` sent to the event sink.
    pub(crate) last_status: Option<(&'static str, u64)>,
    /// A crash point armed for the server's next persist.
    pub(crate) crash_point: Option<crate::fault::CrashPoint>,
    /// A crash point fired during the current step: the server dies as the
    /// step ends, and nothing it does meanwhile takes effect.
    pub(crate) crashing: bool,
    /// Checks run on the node after each of its steps (`add_inspector`).
    pub(crate) inspectors: Vec<Inspector<N>>,
    /// The machine's disk: its latency, its flush, a blocking write.
    pub(crate) disk: crate::disk::Disk,
}

impl<N: Node> ServerSlot<N> {
    /// Whether events for the server wait (paused, or blocked on its disk,
    /// or behind events that waited and are not yet handed over: a
    /// connection delivers in order).
    pub(crate) fn holds_events(&self, now: Nanos) -> bool {
        self.stalled(now) || !self.parked.is_empty()
    }

    /// Whether the server can take no step now (paused, or blocked on its
    /// disk since before this instant).
    pub(crate) fn stalled(&self, now: Nanos) -> bool {
        self.paused || (self.disk.blocked_until > now && self.disk.blocked_at < now)
    }
}

/// What an inspector sees of a server after one of its steps.
pub struct Inspected<'a, N> {
    pub server: Addr,
    /// Counts the server's starts: a new value is a restarted node.
    pub incarnation: u32,
    pub node: &'a N,
    pub persister: &'a Persister,
}

/// A check of a node's state after each step it takes; an `Err` fails the
/// run with that reason. Inspectors only read: they never change a run.
pub type Inspector<N> = Box<dyn FnMut(Inspected<'_, N>) -> Result<(), String>>;

impl<N: Node> World<N> {
    /// Adds a check that runs on `server`'s node after every event it
    /// handles, after the tester's direct calls into it, and once it has
    /// started: an observer of the node at every step.
    pub fn add_inspector(&mut self, server: Addr, inspector: Inspector<N>) {
        let index = self.server_index(server);
        self.servers[index].inspectors.push(inspector);
    }

    /// Runs server `index`'s inspectors on its node; the first complaint
    /// fails the run.
    fn inspect(&mut self, index: usize, node: &N) {
        let slot = &mut self.servers[index];
        if slot.inspectors.is_empty() {
            return;
        }
        let (server, incarnation) = (slot.addr, slot.incarnation);
        let persister = &slot.persister;
        let complaint = slot
            .inspectors
            .iter_mut()
            .find_map(|check| check(Inspected { server, incarnation, node, persister }).err());
        if let Some(reason) = complaint {
            let name = self.name(server).to_string();
            self.record_failure(format!("{name}: {reason}"));
        }
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
    /// motion (timers, calls) is void. In a run that follows a schedule, a
    /// start of a running server (whose crash the schedule left out) does
    /// nothing.
    pub fn try_start<E>(&mut self, server: Addr, make: impl FnOnce(&mut Ctx<'_, N>) -> Result<N, E>) -> Result<(), E> {
        let index = self.server_index(server);
        if self.follows_schedule() && self.servers[index].alive {
            return Ok(()); // the schedule left out the crash before this start
        }
        assert!(!self.servers[index].alive, "{} is already running", self.name(server));
        self.record_start(server);
        let slot = &mut self.servers[index];
        slot.alive = true;
        slot.incarnation += 1;
        let made = self.in_node_context(index, make);
        if self.choices.named() {
            self.collect_server_choices(index);
        }
        match made {
            Ok(node) => {
                if self.servers[index].crashing {
                    self.kill(server, crate::fault::CrashMode::Process);
                    return Ok(());
                }
                self.inspect(index, &node);
                self.servers[index].node = Some(Box::new(node));
                Ok(())
            }
            Err(e) => {
                let slot = &mut self.servers[index];
                slot.alive = false;
                slot.incarnation += 1;
                slot.crashing = false;
                slot.crash_point = None;
                Err(e)
            }
        }
    }

    /// Runs `f` on a live server's node with a context.
    pub(crate) fn in_node<R>(&mut self, index: usize, f: impl FnOnce(&mut N, &mut Ctx<'_, N>) -> R) -> Option<R> {
        let mut node = self.servers[index].node.take()?;
        let result = self.in_node_context(index, |ctx| f(&mut node, ctx));
        self.end_node_step(index, node);
        if self.choices.named() {
            // After the node is back: the choices are described with it.
            self.collect_server_choices(index);
        }
        Some(result)
    }

    /// After a step of server `index`: it crashes if a crash point fired,
    /// else its node goes back in its slot, inspected.
    fn end_node_step(&mut self, index: usize, node: Box<N>) {
        if self.servers[index].crashing {
            let addr = self.servers[index].addr;
            self.kill(addr, crate::fault::CrashMode::Process);
            return;
        }
        if self.event_sink.is_some() {
            self.note_status(index, node.status());
        }
        self.inspect(index, &node);
        let slot = &mut self.servers[index];
        if slot.alive {
            slot.node = Some(node);
        }
    }

    pub(crate) fn in_node_context<R>(&mut self, index: usize, f: impl FnOnce(&mut Ctx<'_, N>) -> R) -> R {
        if !self.log_enabled {
            return self.in_node_context_unlogged(index, f);
        }
        let slot = &self.servers[index];
        let _span = tracing::error_span!(target: "sim_context", "", t = %time::format(self.now), node = %self.endpoints[slot.addr.0 as usize].name)
            .entered();
        self.in_node_context_unlogged(index, f)
    }

    /// `in_node_context` without the log's span (most runs log nothing).
    fn in_node_context_unlogged<R>(&mut self, index: usize, f: impl FnOnce(&mut Ctx<'_, N>) -> R) -> R {
        // A synchronous write moves the step's clock on (`disk.rs`); the
        // world's clock stays where the event put it.
        let now = self.now;
        self.step_began_at = now;
        let mut ctx = Ctx { world: self, server: index };
        let result = f(&mut ctx);
        self.now = now;
        result
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
    pub(crate) world: &'a mut World<N>,
    pub(crate) server: usize,
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

    /// Whether the harness's own checks run (`SimConfig::harness_checks`).
    pub fn harness_checks(&self) -> bool {
        self.world.config.harness_checks
    }

    /// What this node's persister holds, read only.
    pub fn read_persister(&self) -> &Persister {
        &self.world.servers[self.server].persister
    }

    pub fn persister(&mut self) -> &mut Persister {
        &mut self.world.servers[self.server].persister
    }

    /// A synchronous write: `write` changes the persister, and the server
    /// waits for its disk (with a disk latency, what the step does next
    /// happens once the write is done).
    pub fn write_durably<R>(&mut self, write: impl FnOnce(&mut Persister) -> R) -> R {
        let result = write(&mut self.world.servers[self.server].persister);
        self.world.write_sync(self.server);
        result
    }

    /// An asynchronous write of the raft state: into the page cache now,
    /// durable when the disk's flush of it ends, which `Node::on_durable`
    /// reports with `ticket`. `true` when it is durable at once (a disk
    /// without latency).
    pub fn write_async(&mut self, ticket: u64, edit: impl FnOnce(&mut Vec<u8>)) -> bool {
        if self.world.write_async(self.server, ticket) {
            edit(self.world.servers[self.server].persister.raft_state_mut());
            return true;
        }
        self.world.servers[self.server].persister.edit_unsynced(edit);
        false
    }

    /// A crash point armed for this server, taken: the host calls this as
    /// it persists, and carries it out (skip the write or not, then
    /// `crash_now`).
    pub fn take_crash_point(&mut self) -> Option<crate::fault::CrashPoint> {
        self.world.servers[self.server].crash_point.take()
    }

    /// The server crashes as this step ends; calls, replies, timers it makes
    /// until then never happen.
    pub fn crash_now(&mut self) {
        self.world.servers[self.server].crashing = true;
    }

    /// Whether the server is crashing at the end of this step.
    pub fn is_crashing(&self) -> bool {
        self.world.servers[self.server].crashing
    }

    /// Calls the server `to`; the outcome arrives as `on_reply` with
    /// `purpose`. A crashing server's call never leaves (its id is
    /// `CallId::NEVER`).
    pub fn call(&mut self, to: Addr, msg: N::Msg, purpose: N::CallPurpose) -> CallId {
        if self.is_crashing() {
            return CallId::NEVER;
        }
        let me = self.me();
        self.world.send_call(me, to, msg, Waiter::Node(purpose))
    }

    /// Answers a request (a crashing server's answer never leaves).
    pub fn reply(&mut self, token: ReplyToken, msg: N::Msg) {
        if !self.is_crashing() {
            self.world.reply(token, msg);
        }
    }

    /// `on_timer(timer)` once this node's clock has advanced by `after`.
    pub fn set_timer(&mut self, after: Nanos, timer: N::Timer) {
        if self.is_crashing() {
            return;
        }
        let slot = &self.world.servers[self.server];
        let delay = slot.clock.virtual_delay(self.world.now, after);
        let (server, incarnation) = (self.server, slot.incarnation);
        let at = self.world.now + delay;
        self.world.schedule(at, EventKind::Timer { server, incarnation, timer });
    }

    /// Fails the run, as the lab's `log.Fatalf` from inside a server or applier.
    pub fn fail(&mut self, reason: impl Into<String>) {
        self.world.record_failure(reason.into());
    }
}
