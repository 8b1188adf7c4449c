//! A run's events as data, for `labsim run --trace FILE.jsonl`: every event
//! the world processes (a task woken, a request or reply delivered, a call
//! failed, a dead-server poll, a timer) and every fault and server start,
//! with its virtual time, the nodes involved and a summary of the message.
//! Off unless a sink is set; the sink only observes.

use crate::call::CallId;
use crate::event::EventKind;
use crate::fault::Fault;
use crate::node::{Message, Node};
use crate::time::Nanos;
use crate::world::World;
use serde::Serialize;

/// The longest message summary kept (longer ones are cut).
pub const SUMMARY_CHARS: usize = 240;

/// One event.
#[derive(Clone, Debug, Serialize)]
pub struct EventLine {
    /// Virtual nanoseconds.
    pub at: Nanos,
    /// "wake", "request", "reply", "fail", "poll", "timer", "fault" or
    /// "start".
    pub kind: &'static str,
    /// The node the event happens at (the receiver of a message, the owner
    /// of a timer, the server started).
    pub node: Option<String>,
    /// The other end of a message.
    pub peer: Option<String>,
    pub call: Option<u64>,
    /// The message's kind (`Message::label`).
    pub label: Option<&'static str>,
    /// The message, timer or fault, as text (cut at `SUMMARY_CHARS`).
    pub summary: String,
    /// A "status" line's role and term (`Node::status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<u64>,
}

impl EventLine {
    /// A line of this kind at this time, with nothing else said.
    pub fn new(at: Nanos, kind: &'static str) -> EventLine {
        EventLine {
            at,
            kind,
            node: None,
            peer: None,
            call: None,
            label: None,
            summary: String::new(),
            role: None,
            term: None,
        }
    }
}

/// Where a world sends its event lines.
pub type EventSink = Box<dyn FnMut(&EventLine)>;

fn cut(mut text: String) -> String {
    if let Some((at, _)) = text.char_indices().nth(SUMMARY_CHARS) {
        text.truncate(at);
        text.push('…');
    }
    text
}

impl<N: Node> World<N> {
    /// Sends every later event to `sink`.
    pub fn set_event_sink(&mut self, sink: EventSink) {
        self.event_sink = Some(sink);
    }

    /// The (caller, server) names of a call still in the table.
    fn call_ends(&self, call: CallId) -> (Option<String>, Option<String>) {
        match self.calls.get(call) {
            Some(r) => {
                (Some(self.name(r.caller).to_string()), Some(self.name(self.servers[r.server].addr).to_string()))
            }
            None => (None, None),
        }
    }

    pub(crate) fn log_event(&mut self, at: Nanos, event: &EventKind<N::Msg, N::Timer>) {
        if self.event_sink.is_none() {
            return;
        }
        let message = |kind, call: &CallId, msg: &N::Msg, (caller, server): (Option<String>, Option<String>)| {
            let (node, peer) = if kind == "request" { (server, caller) } else { (caller, server) };
            let summary = cut(format!("{msg:?}"));
            EventLine { node, peer, call: Some(call.0), label: Some(msg.label()), summary, ..EventLine::new(at, kind) }
        };
        let line = match event {
            EventKind::WakeTask(_) => EventLine::new(at, "wake"),
            EventKind::Request { call, msg } => message("request", call, msg, self.call_ends(*call)),
            EventKind::Reply { call, msg } => message("reply", call, msg, self.call_ends(*call)),
            EventKind::Fail { call } | EventKind::PollDead { call } => {
                let (node, peer) = self.call_ends(*call);
                let kind = if matches!(event, EventKind::Fail { .. }) { "fail" } else { "poll" };
                EventLine { node, peer, call: Some(call.0), ..EventLine::new(at, kind) }
            }
            EventKind::Timer { server, timer, .. } => {
                let node = Some(self.name(self.servers[*server].addr).to_string());
                EventLine { node, summary: format!("{timer:?}"), ..EventLine::new(at, "timer") }
            }
            EventKind::Flushed { server, .. } => {
                let node = Some(self.name(self.servers[*server].addr).to_string());
                EventLine { node, ..EventLine::new(at, "flushed") }
            }
            EventKind::Durable { server, ticket, .. } => {
                let node = Some(self.name(self.servers[*server].addr).to_string());
                EventLine { node, summary: format!("durable through {ticket}"), ..EventLine::new(at, "durable") }
            }
            EventKind::Unblock { server } => {
                let node = Some(self.name(self.servers[*server].addr).to_string());
                EventLine { node, ..EventLine::new(at, "unblock") }
            }
            EventKind::Heal(healing) => EventLine { summary: format!("{healing:?}"), ..EventLine::new(at, "heal") },
        };
        self.emit(line);
    }

    /// A server start.
    pub(crate) fn log_start(&mut self, server: crate::node::Addr) {
        if self.event_sink.is_some() {
            let node = Some(self.name(server).to_string());
            let line = EventLine { node, ..EventLine::new(self.now, "start") };
            self.emit(line);
        }
    }

    /// A fault, with what it is as its label ("kill", "link cut", ...) and
    /// the servers it touches as node (and peer, for a link).
    pub(crate) fn log_fault(&mut self, fault: &Fault) {
        if self.event_sink.is_none() {
            return;
        }
        let name = |a: &crate::node::Addr| Some(self.name(*a).to_string());
        let (label, node, peer) = match fault {
            Fault::Link { from, to, enabled } => (if *enabled { "link up" } else { "link cut" }, name(from), name(to)),
            Fault::Clog { from, to, .. } => ("clog", name(from), name(to)),
            Fault::Latency { from, to, .. } => ("latency", name(from), name(to)),
            Fault::Net(c) => (if c.reliable { "reliable" } else { "unreliable" }, None, None),
            Fault::Kill { server, .. } => ("kill", name(server), None),
            Fault::Pause { server } => ("pause", name(server), None),
            Fault::Resume { server } => ("resume", name(server), None),
            Fault::TimerDrift { server, .. } => ("timer drift", name(server), None),
            Fault::CrashAtPersist { server, .. } => ("crash point", name(server), None),
            Fault::DiskLatency { server, .. } => ("disk latency", name(server), None),
        };
        let summary = self.describe_fault(fault);
        let line = EventLine { node, peer, label: Some(label), summary, ..EventLine::new(self.now, "fault") };
        self.emit(line);
    }

    /// A "status" line when server `index`'s status changed.
    pub(crate) fn note_status(&mut self, index: usize, status: Option<(&'static str, u64)>) {
        if status.is_none() || self.servers[index].last_status == status {
            return;
        }
        self.servers[index].last_status = status;
        let (role, term) = status.expect("checked");
        let node = Some(self.name(self.servers[index].addr).to_string());
        let (at, summary) = (self.now, format!("{role} {term}"));
        let line = EventLine { node, summary, role: Some(role), term: Some(term), ..EventLine::new(at, "status") };
        self.emit(line);
    }

    fn emit(&mut self, line: EventLine) {
        if let Some(sink) = self.event_sink.as_mut() {
            sink(&line);
        }
    }
}
