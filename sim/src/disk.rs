//! A server's disk, when it takes time (`Fault::DiskLatency`; none by
//! default, and then every write is durable the moment it is made).
//!
//! - A synchronous write (the lab's `SaveRaftState`) blocks its server for
//!   the latency, after the writes already queued: what the step does after
//!   the write (sends, replies, timers) happens once the write is done, and
//!   events for the server that arrive later wait until then, as for a
//!   paused server. The step's later writes, the events of the instant it
//!   blocked and the events released together when it unblocks join the
//!   same flush (group commit, as a server's loop that writes what it
//!   gathered with one fsync); an event of that instant that writes nothing
//!   sends at once. The write is durable at once (a crash before it ends is
//!   one after it: what the step sends still leaves, as if the crash came
//!   just after the write), and so is every earlier write.
//! - An asynchronous write goes to the page cache now and is durable when
//!   the disk's flush of it ends: one flush at a time, each making durable
//!   what was written before it began (group commit). A machine crash loses
//!   what no flush finished; the node hears of each finished flush through
//!   `Node::on_durable` with the ticket of the last write it covered.

use crate::event::EventKind;
use crate::node::Node;
use crate::time::Nanos;
use crate::world::World;

/// One server's disk (it survives restarts: it is the machine's).
#[derive(Clone, Debug, Default)]
pub(crate) struct Disk {
    /// How long a write or a flush takes (0: no disk time at all).
    pub(crate) latency: Nanos,
    /// When the writes queued so far are done.
    pub(crate) free_at: Nanos,
    /// Bumped when the flush in progress is void (a machine crash, or a
    /// synchronous write that made everything durable).
    pub(crate) generation: u64,
    /// The flush in progress: the ticket it carries and who wrote it.
    pub(crate) flushing: Option<Ticket>,
    /// The last asynchronous write since that flush began: the next one's.
    pub(crate) queued: Option<Ticket>,
    /// The server is blocked on a synchronous write until then.
    pub(crate) blocked_until: Nanos,
    /// When it blocked: the events of that instant still run, and their
    /// writes join the same flush.
    pub(crate) blocked_at: Nanos,
}

/// An asynchronous write's ticket, and the incarnation that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) ticket: u64,
    pub(crate) incarnation: u32,
}

impl<N: Node> World<N> {
    /// Sets a server's disk latency (the fault).
    pub(crate) fn set_disk_latency(&mut self, index: usize, latency: Nanos) {
        self.servers[index].disk.latency = latency;
    }

    /// A synchronous write by server `index` during its step: with a disk
    /// latency, the step's clock moves to when the write is done, the server
    /// is blocked until then, and a flush it overtook is settled with it.
    pub(crate) fn write_sync(&mut self, index: usize) {
        let step_began = self.step_began_at;
        let disk = &mut self.servers[index].disk;
        if disk.latency == 0 {
            return;
        }
        // Writes of the instant the server blocked (this step's earlier
        // ones too) share its flush.
        let joins = disk.blocked_until > step_began && disk.blocked_at == step_began;
        let done = if joins { disk.blocked_until } else { disk.free_at.max(self.now) + disk.latency };
        if !joins {
            disk.free_at = done;
            disk.blocked_until = done;
            disk.blocked_at = step_began;
            self.schedule(done, EventKind::Unblock { server: index });
        }
        let disk = &mut self.servers[index].disk;
        let (queued, flushing) = (disk.queued.take(), disk.flushing.take());
        let settled = queued.or(flushing);
        disk.generation += 1;
        if let Some(Ticket { ticket, incarnation }) = settled {
            self.schedule(done, EventKind::Durable { server: index, incarnation, ticket });
        }
        self.now = self.now.max(done);
    }

    /// An asynchronous write by server `index`, before its edit is made:
    /// `true` when it is durable at once (no disk latency).
    pub(crate) fn write_async(&mut self, index: usize, ticket: u64) -> bool {
        let slot = &mut self.servers[index];
        if slot.disk.latency == 0 {
            return true;
        }
        let ticket = Ticket { ticket, incarnation: slot.incarnation };
        if slot.disk.flushing.is_some() {
            slot.persister.hold_flush_image();
            slot.disk.queued = Some(ticket);
        } else {
            self.begin_flush(index, ticket);
        }
        false
    }

    fn begin_flush(&mut self, index: usize, ticket: Ticket) {
        let disk = &mut self.servers[index].disk;
        let ends = disk.free_at.max(self.now) + disk.latency;
        disk.free_at = ends;
        disk.flushing = Some(ticket);
        let generation = disk.generation;
        self.schedule(ends, EventKind::Flushed { server: index, generation });
    }

    /// A flush ended: what it covered is durable, its writer hears so, and
    /// the writes made meanwhile are flushed next.
    pub(crate) fn flush_ended(&mut self, index: usize, generation: u64) {
        let slot = &mut self.servers[index];
        if slot.disk.generation != generation {
            return;
        }
        slot.persister.finish_flush();
        let done = slot.disk.flushing.take().expect("a flush in progress ends");
        if let Some(next) = slot.disk.queued.take() {
            self.begin_flush(index, next);
        }
        self.durable(index, done.incarnation, done.ticket);
    }

    /// Tells the server's node that its writes through `ticket` are durable
    /// (if it is still the incarnation that made them).
    pub(crate) fn durable(&mut self, index: usize, incarnation: u32, ticket: u64) {
        let slot = &mut self.servers[index];
        if !slot.alive || slot.incarnation != incarnation {
            return;
        }
        if slot.holds_events(self.now) {
            slot.parked.push(EventKind::Durable { server: index, incarnation, ticket });
            return;
        }
        self.in_node(index, |node, ctx| node.on_durable(ctx, ticket));
    }

    /// A blocked server's write is done: what waited for it is handed over
    /// now, in arrival order (unless a pause holds it still).
    pub(crate) fn unblock(&mut self, index: usize) {
        let slot = &mut self.servers[index];
        if slot.stalled(self.now) {
            return;
        }
        let parked = std::mem::take(&mut slot.parked);
        let now = self.now;
        for kind in parked {
            self.schedule(now, kind);
        }
    }

    /// A machine crash: the flush in progress and the writes after it are
    /// gone with the page cache.
    pub(crate) fn lose_disk_queue(&mut self, index: usize) {
        let disk = &mut self.servers[index].disk;
        disk.generation += 1;
        disk.flushing = None;
        disk.queued = None;
        disk.free_at = self.now;
    }
}
