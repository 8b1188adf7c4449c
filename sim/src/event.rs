//! The event queue: what can happen at an instant (a task wakes, a request or
//! reply arrives, a call fails, a dead-server poll, a timer), ordered by
//! (time, sequence), and the tags under which events enter the trace.

use crate::call::CallId;
use crate::time::Nanos;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;

pub(crate) enum EventKind<M, T> {
    WakeTask(Waker),
    Request {
        call: CallId,
        msg: M,
    },
    Reply {
        call: CallId,
        msg: M,
    },
    Fail {
        call: CallId,
    },
    PollDead {
        call: CallId,
    },
    Timer {
        server: usize,
        incarnation: u32,
        timer: T,
    },
    /// A disk's flush ends (void if its generation passed).
    Flushed {
        server: usize,
        generation: u64,
    },
    /// A node hears that its writes through `ticket` are durable.
    Durable {
        server: usize,
        incarnation: u32,
        ticket: u64,
    },
    /// A server blocked on a synchronous write may go on.
    Unblock {
        server: usize,
    },
    /// The world heals a fault a schedule shortened (`schedule.rs`).
    Heal(Box<crate::schedule::Healing>),
}

/// The event queue: a heap of small (time, sequence, slot) keys, with each
/// event's payload in a slab, so that heap operations move 24 bytes rather
/// than whole messages.
pub(crate) struct EventQueue<M, T> {
    heap: BinaryHeap<Reverse<(Nanos, u64, u32)>>,
    payloads: Vec<Option<EventKind<M, T>>>,
    free: Vec<u32>,
}

impl<M, T> EventQueue<M, T> {
    pub(crate) fn new() -> Self {
        EventQueue { heap: BinaryHeap::new(), payloads: Vec::new(), free: Vec::new() }
    }

    pub(crate) fn push(&mut self, at: Nanos, seq: u64, kind: EventKind<M, T>) {
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
    pub(crate) fn pop(&mut self) -> Option<(Nanos, EventKind<M, T>)> {
        let Reverse((at, _, slot)) = self.heap.pop()?;
        let kind = self.payloads[slot as usize].take().expect("a queued slot holds its event");
        self.free.push(slot);
        Some((at, kind))
    }

    /// Events queued.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    pub(crate) fn peek_time(&self) -> Option<Nanos> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }
}

// Trace kind tags.
pub(crate) const TRACE_WAKE: u64 = 1;
pub(crate) const TRACE_REQUEST: u64 = 2;
pub(crate) const TRACE_REPLY: u64 = 3;
pub(crate) const TRACE_FAIL: u64 = 4;
pub(crate) const TRACE_POLL: u64 = 5;
pub(crate) const TRACE_TIMER: u64 = 6;
pub(crate) const TRACE_FAULT: u64 = 7;
pub(crate) const TRACE_FLUSHED: u64 = 8;
pub(crate) const TRACE_DURABLE: u64 = 9;
pub(crate) const TRACE_UNBLOCK: u64 = 10;
pub(crate) const TRACE_HEAL: u64 = 11;
