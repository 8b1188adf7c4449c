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

/// The event queue: a heap of keys, each one number ordered as (time,
/// sequence), with each event's payload in a slab, so that heap operations
/// compare one `u128` and move 16 bytes rather than whole messages.
pub(crate) struct EventQueue<M, T> {
    heap: BinaryHeap<Reverse<u128>>,
    payloads: Vec<Option<EventKind<M, T>>>,
    free: Vec<u32>,
}

/// Bits of a key below the time: the sequence number, then the slot.
const SLOT_BITS: u32 = 24;
const SEQ_BITS: u32 = 64 - SLOT_BITS;

impl<M, T> EventQueue<M, T> {
    pub(crate) fn new() -> Self {
        EventQueue { heap: BinaryHeap::new(), payloads: Vec::new(), free: Vec::new() }
    }

    /// Queues `kind` at `at`; `seq` orders events of one instant (each
    /// event has its own).
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
        assert!(slot < 1 << SLOT_BITS, "more than 2^{SLOT_BITS} events queued at once");
        assert!(seq < 1 << SEQ_BITS, "more than 2^{SEQ_BITS} events in one run");
        let key = (u128::from(at) << 64) | u128::from(seq << SLOT_BITS | u64::from(slot));
        self.heap.push(Reverse(key));
    }

    /// The earliest event: (time, payload).
    pub(crate) fn pop(&mut self) -> Option<(Nanos, EventKind<M, T>)> {
        let Reverse(key) = self.heap.pop()?;
        let slot = (key as u64 & ((1 << SLOT_BITS) - 1)) as u32;
        let kind = self.payloads[slot as usize].take().expect("a queued slot holds its event");
        self.free.push(slot);
        Some(((key >> 64) as Nanos, kind))
    }

    /// Events queued.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    pub(crate) fn peek_time(&self) -> Option<Nanos> {
        self.heap.peek().map(|Reverse(key)| (key >> 64) as Nanos)
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
