//! Faults and other changes the tester makes to the world: crashes, pauses,
//! timer drift, link and network settings. Each is logged and folded into
//! the trace.

use crate::call::CallId;
use crate::event::TRACE_FAULT;
use crate::net::{LinkState, NetConfig};
use crate::node::{Addr, Node};
use crate::time;
use crate::world::{World, FAULT_LOG_LIMIT};

/// How a server dies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashMode {
    /// The process dies; everything written survives (the lab's crash).
    Process,
    /// The machine dies; writes never synced are lost.
    LoseUnsynced,
}

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
    pub(crate) fn code(&self) -> (u64, u64) {
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

impl<N: Node> World<N> {
    pub(crate) fn record_fault(&mut self, fault: &Fault) {
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
}
