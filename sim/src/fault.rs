//! Faults: the changes a tester makes to the world (links, the network's
//! settings, crashes, pauses, timer drift), each a plain value handed to one
//! entry point, `World::inject`. A fault is logged and folded into the trace
//! from its encoding, so a schedule of faults can be drawn, stored, replayed
//! and shrunk as data.

use crate::call::CallId;
use crate::event::TRACE_FAULT;
use crate::net::{Latency, LinkState, NetConfig};
use crate::node::{Addr, Node};
use crate::time::{self, Nanos};
use crate::world::{World, FAULT_LOG_LIMIT};
use serde::Serialize;

/// How a server dies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CrashMode {
    /// The process dies; everything written survives (the lab's crash).
    Process,
    /// The machine dies; writes never synced are lost.
    LoseUnsynced,
}

/// Where a crash point stops a server: at its next write to its persister,
/// which is lost (before) or made (after); nothing the server does after
/// that point in the same step (calls, replies, timers, writes) happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CrashPoint {
    BeforePersist,
    AfterPersist,
}

/// One change to the world. Links are directed, from an endpoint to a
/// server: disabling one direction only is a one-way partition.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Fault {
    /// labrpc's `Enable(end, enabled)` for the link `from -> to`.
    Link {
        from: Addr,
        to: Addr,
        enabled: bool,
    },
    /// A clogged link holds requests (in order) until it is unclogged.
    Clog {
        from: Addr,
        to: Addr,
        clogged: bool,
    },
    /// Extra one-way latency on the link, beyond the network's own.
    Latency {
        from: Addr,
        to: Addr,
        latency: Latency,
    },
    /// The whole network's settings (labrpc's knobs, duplication, latency).
    Net(NetConfig),
    /// The server's instance dies (`start` brings up a new one).
    Kill {
        server: Addr,
        mode: CrashMode,
    },
    /// The server stalls: it handles nothing and fires no timer until resumed.
    Pause {
        server: Addr,
    },
    Resume {
        server: Addr,
    },
    /// The server's clock runs at 1 / (1 + ppm / 1e6) of virtual time.
    TimerDrift {
        server: Addr,
        ppm: i32,
    },
    /// Arms a crash point: the server crashes at its next persist, before
    /// or after the write (`None` disarms). The host carries it out (see
    /// `Ctx::take_crash_point`).
    CrashAtPersist {
        server: Addr,
        point: Option<CrashPoint>,
    },
    /// How long the server's disk takes per write or flush (0, the default:
    /// durable at once). See `disk.rs` for what a write then costs.
    DiskLatency {
        server: Addr,
        latency: Nanos,
    },
}

/// The trace code of a server start (not a fault, but traced beside them).
const START_CODE: u64 = 4;

impl Fault {
    /// Two trace words from the fault's encoding: its variant and a hash of
    /// its bytes.
    fn trace_words(&self) -> (u64, u64) {
        let bytes = bincode::serde::encode_to_vec(self, bincode::config::standard()).expect("faults encode");
        let hash =
            bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
        (u64::from(bytes[0]) + 16, hash)
    }
}

impl<N: Node> World<N> {
    /// Applies one fault. A change that changes nothing (enabling an enabled
    /// link, killing a dead server) is neither logged nor traced.
    /// When the run follows a schedule, a harmful fault it does not list
    /// is left out (`schedule.rs`).
    pub fn inject(&mut self, fault: Fault) {
        if !self.begin_injecting(&fault) {
            return;
        }
        let prior = if self.choices.named() { self.prior_of(&fault) } else { None };
        self.apply_fault(fault);
        self.end_injecting(prior);
    }

    pub(crate) fn apply_fault(&mut self, fault: Fault) {
        match fault {
            Fault::Link { from, to, enabled } => self.set_link(from, to, LinkState { enabled, ..self.link(from, to) }),
            Fault::Clog { from, to, clogged } => self.set_link(from, to, LinkState { clogged, ..self.link(from, to) }),
            Fault::Latency { from, to, latency } => {
                self.set_link(from, to, LinkState { latency, ..self.link(from, to) })
            }
            Fault::Net(config) => {
                if config != self.net {
                    self.record_fault(&fault);
                    self.net = config;
                }
            }
            Fault::Kill { server, mode } => self.kill(server, mode),
            Fault::Pause { server } => self.set_paused(server, true),
            Fault::Resume { server } => self.set_paused(server, false),
            Fault::CrashAtPersist { server, point } => {
                let index = self.server_index(server);
                if self.servers[index].crash_point != point {
                    self.record_fault(&fault);
                    self.servers[index].crash_point = point;
                }
            }
            Fault::DiskLatency { server, latency } => {
                let index = self.server_index(server);
                if self.servers[index].disk.latency != latency {
                    self.record_fault(&fault);
                    self.set_disk_latency(index, latency);
                }
            }
            Fault::TimerDrift { server, ppm } => {
                assert!(ppm > -1_000_000, "timer drift must leave timers positive");
                let index = self.server_index(server);
                self.record_fault(&fault);
                let now = self.now;
                self.servers[index].clock.set_ppm(now, ppm);
            }
        }
    }

    fn record_fault(&mut self, fault: &Fault) {
        self.note_change(fault);
        self.note_fault_made(fault);
        let (code, arg) = fault.trace_words();
        self.trace.fold(self.now, TRACE_FAULT, code, arg, || format!("fault {fault:?}"));
        if self.fault_log.len() < FAULT_LOG_LIMIT {
            self.fault_log.push((self.now, fault.clone()));
        }
        self.log_fault(fault);
        if self.log_enabled {
            tracing::debug!(target: "sim::fault", "{} {}", time::format(self.now), self.describe_fault(fault));
        }
    }

    /// A server start enters the trace beside the faults.
    pub(crate) fn record_start(&mut self, server: Addr) {
        self.trace.fold(self.now, TRACE_FAULT, START_CODE, u64::from(server.0), || format!("start {server:?}"));
        self.log_start(server);
        if self.log_enabled {
            tracing::debug!(target: "sim::fault", "{} start {}", time::format(self.now), self.name(server));
        }
    }

    /// A fault in words, with endpoint names.
    pub fn describe_fault(&self, fault: &Fault) -> String {
        let name = |a: &Addr| self.name(*a);
        match fault {
            Fault::Link { from, to, enabled } => format!("link {} -> {}: enabled={enabled}", name(from), name(to)),
            Fault::Clog { from, to, clogged } => format!("link {} -> {}: clogged={clogged}", name(from), name(to)),
            Fault::Latency { from, to, latency } => {
                format!("link {} -> {}: latency {}", name(from), name(to), latency.describe())
            }
            Fault::Net(c) => format!("network: {}", c.describe()),
            Fault::Kill { server, mode } => format!("kill {} ({mode:?})", name(server)),
            Fault::Pause { server } => format!("pause {}", name(server)),
            Fault::Resume { server } => format!("resume {}", name(server)),
            Fault::TimerDrift { server, ppm } => format!("timer drift of {}: {ppm} ppm", name(server)),
            Fault::CrashAtPersist { server, point: Some(point) } => {
                format!("{} crashes at its next persist ({point:?})", name(server))
            }
            Fault::CrashAtPersist { server, point: None } => format!("{}'s crash point disarmed", name(server)),
            Fault::DiskLatency { server, latency } => {
                format!("disk latency of {}: {}", name(server), time::format(*latency))
            }
        }
    }

    /// Kills a server: its instance is dropped, in-flight and future calls to
    /// it fail, its pending timers are void.
    pub(crate) fn kill(&mut self, server: Addr, mode: CrashMode) {
        let index = self.server_index(server);
        if !self.servers[index].alive {
            return;
        }
        self.record_fault(&Fault::Kill { server, mode });
        let now = self.now;
        let slot = &mut self.servers[index];
        slot.alive = false;
        slot.node = None;
        slot.incarnation += 1;
        slot.paused = false;
        slot.crash_point = None;
        slot.crashing = false;
        slot.disk.blocked_until = 0;
        if mode == CrashMode::LoseUnsynced {
            slot.persister.lose_unsynced();
            self.lose_disk_queue(index);
        }
        let slot = &mut self.servers[index];
        let parked = std::mem::take(&mut slot.parked);
        let pending = std::mem::take(&mut slot.pending);
        for kind in parked {
            self.schedule(now, kind);
        }
        for call in pending {
            self.schedule_dead_poll(call);
        }
    }

    /// Pauses or resumes a server; on resume, what arrived while it was
    /// paused is handed over now, in arrival order.
    fn set_paused(&mut self, server: Addr, paused: bool) {
        let index = self.server_index(server);
        if self.servers[index].paused == paused {
            return;
        }
        self.record_fault(&if paused { Fault::Pause { server } } else { Fault::Resume { server } });
        let slot = &mut self.servers[index];
        slot.paused = paused;
        let parked = std::mem::take(&mut slot.parked);
        let now = self.now;
        for kind in parked {
            self.schedule(now, kind);
        }
    }

    pub fn is_paused(&self, server: Addr) -> bool {
        self.servers[self.server_index(server)].paused
    }

    pub fn link(&self, from: Addr, to: Addr) -> LinkState {
        self.links[from.0 as usize][self.server_index(to)]
    }

    pub fn net_config(&self) -> NetConfig {
        self.net
    }

    fn set_link(&mut self, from: Addr, to: Addr, state: LinkState) {
        let index = self.server_index(to);
        let old = self.links[from.0 as usize][index];
        if old == state {
            return;
        }
        let fault = if old.enabled != state.enabled {
            Fault::Link { from, to, enabled: state.enabled }
        } else if old.clogged != state.clogged {
            Fault::Clog { from, to, clogged: state.clogged }
        } else {
            Fault::Latency { from, to, latency: state.latency }
        };
        self.record_fault(&fault);
        self.links[from.0 as usize][index] = state;
        if old.enabled && !state.enabled {
            self.poll_calls_on_disabled_link(from, index);
        }
        if old.clogged && !state.clogged {
            self.release_clogged(from, index);
        }
    }

    /// Dispatched calls on a link just disabled see a dead server at their
    /// next poll.
    fn poll_calls_on_disabled_link(&mut self, from: Addr, index: usize) {
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

    /// Requests held on an unclogged link go now, in the order they were sent.
    fn release_clogged(&mut self, from: Addr, index: usize) {
        let now = self.now;
        let (release, keep): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.clogged).into_iter().partition(|(f, t, _)| *f == from && *t == index);
        self.clogged = keep;
        for (_, _, kind) in release {
            self.schedule(now, kind);
        }
    }
}
