//! An I/O for driving a Raft by hand in unit tests and examples: it records
//! every effect in order and keeps the persisted state in memory.

use crate::host::PersistedSize;
use crate::raft::{ApplyMsg, HostIo, RaftIo};
use std::sync::Arc;

/// One effect, in the order the Raft made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect<M> {
    /// A write; `snapshot` when it saved one too.
    Persist {
        /// Whether a snapshot was saved with it.
        snapshot: bool,
    },
    /// A request to a peer.
    Send {
        /// The peer.
        peer: usize,
        /// The request.
        request: M,
    },
    /// Something handed to the service.
    Apply(ApplyMsg),
    /// A timer asked for.
    Timer {
        /// When it fires.
        at_ms: u64,
    },
    /// The Raft gave up.
    Fail(String),
}

/// Records a Raft's effects; its clock is `now_ms`, set by the test.
#[derive(Debug)]
pub struct RecordingIo<M> {
    /// The clock the Raft reads (set it in a test).
    pub now_ms: u64,
    /// Every effect, in order.
    pub effects: Vec<Effect<M>>,
    /// The persisted raft state.
    pub raft_state: Vec<u8>,
    /// The persisted snapshot.
    pub snapshot: Arc<Vec<u8>>,
    /// Every apply, in order (also in `effects`).
    pub applied: Vec<ApplyMsg>,
    /// When set, an asynchronous write is not durable at once: it is made
    /// (and recorded as a `Persist`), and its ticket joins
    /// `pending_tickets`, for the test to hand to [`Raft::persisted`]
    /// when it chooses. Unset (the default): durable at once.
    ///
    /// [`Raft::persisted`]: crate::Raft::persisted
    ///
    /// ```
    /// use contract::HostIo;
    /// let mut io = contract::testing::RecordingIo::<()> { slow_disk: true, ..Default::default() };
    /// assert!(!io.save_raft_state_async(|state| state.push(7), 4), "durable later");
    /// assert_eq!((io.raft_state.as_slice(), io.pending_tickets.as_slice()), (&[7u8][..], &[4u64][..]));
    /// ```
    pub slow_disk: bool,
    /// The tickets of asynchronous writes not yet durable (`slow_disk`).
    pub pending_tickets: Vec<u64>,
}

impl<M> Default for RecordingIo<M> {
    fn default() -> Self {
        RecordingIo {
            now_ms: 0,
            effects: Vec::new(),
            raft_state: Vec::new(),
            snapshot: Arc::default(),
            applied: Vec::new(),
            slow_disk: false,
            pending_tickets: Vec::new(),
        }
    }
}

impl<M> RecordingIo<M> {
    /// The effects recorded since the last call.
    pub fn take_effects(&mut self) -> Vec<Effect<M>> {
        std::mem::take(&mut self.effects)
    }
}

impl<M> HostIo<M> for RecordingIo<M> {
    fn now_ms(&self) -> u64 {
        self.now_ms
    }
    fn save_raft_state(&mut self, edit: impl FnOnce(&mut Vec<u8>)) {
        edit(&mut self.raft_state);
        self.effects.push(Effect::Persist { snapshot: false });
    }
    fn save_state_and_snapshot(&mut self, edit: impl FnOnce(&mut Vec<u8>), snapshot: Arc<Vec<u8>>) {
        edit(&mut self.raft_state);
        self.snapshot = snapshot;
        self.effects.push(Effect::Persist { snapshot: true });
    }
    fn save_raft_state_async(&mut self, edit: impl FnOnce(&mut Vec<u8>), ticket: u64) -> bool {
        self.save_raft_state(edit);
        if self.slow_disk {
            self.pending_tickets.push(ticket);
        }
        !self.slow_disk
    }
    fn send(&mut self, peer: usize, request: M) {
        self.effects.push(Effect::Send { peer, request });
    }
    fn set_timer(&mut self, at_ms: u64) {
        self.effects.push(Effect::Timer { at_ms });
    }
    fn fail(&mut self, reason: String) {
        self.effects.push(Effect::Fail(reason));
    }
}

impl<M> RaftIo<M> for RecordingIo<M> {
    fn apply(&mut self, msg: ApplyMsg) {
        self.applied.push(msg.clone());
        self.effects.push(Effect::Apply(msg));
    }
}

impl<M> PersistedSize for RecordingIo<M> {
    fn raft_state_size(&self) -> usize {
        self.raft_state.len()
    }
}
