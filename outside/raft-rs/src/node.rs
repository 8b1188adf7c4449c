//! `RaftRs`: one raft-rs `RawNode` as the lab's `contract::Raft`. Every
//! input (a message, a tick, a proposal, a failed call) is handed to
//! raft-rs, and then every `Ready` it has is carried out at once: a
//! leader's messages, persist (snapshot, entries, hard state), the messages
//! that wait for persistence, apply, advance. (raft-rs's guide applies
//! committed entries before persisting new ones; applying after is stricter
//! and what the contract asks.)
//!
//! With asynchronous persistence (`async_persist`), a `Ready` that keeps
//! term and vote, installs no snapshot and has no message waiting for its
//! write (a leader's own new entries, most often) is written to the page
//! cache and handed back with raft-rs's `advance_append_async`; the disk's
//! word that it is durable comes back through `persisted`, which tells
//! raft-rs (`on_persist_ready`). raft-rs then counts the leader's own
//! entries toward a commit, and applies only what is durable. Every other
//! `Ready` is written synchronously (which makes the earlier asynchronous
//! writes durable too, as raft-rs's `advance` then assumes).

use crate::log::{proposal, LabLog};
use crate::settings::{self, Pacing};
use crate::wire::{is_response, Envelope, Replies};
use contract::{ApplyMsg, HostIo, PeerConfig, Persisted, RaftIo};
use raft_rs::eraftpb::{Entry, EntryType, Message, Snapshot};
use raft_rs::{ProgressState, RawNode, SnapshotStatus, StateRole};
use std::sync::Arc;

/// A raft-rs peer in the lab.
pub struct RaftRs {
    pub(crate) node: RawNode<LabLog>,
    pacing: Pacing,
    /// The time of the tick this peer waits for (older timers are ignored).
    next_tick_ms: u64,
    /// Ticks given to raft-rs in this incarnation: the clock of its election
    /// timer, as the lab's view reads it.
    pub(crate) ticks: u64,
    /// While a call from a peer is handled: that peer, and the responses
    /// to it that ride on the call's reply.
    answering: Option<(usize, Vec<Message>)>,
    /// The reads this peer may take without the log, as its run asked.
    reads: ReadPaths,
    /// This peer's incarnation, as its reads' contexts name it.
    asker: Asker,
    /// Whether it writes a leader's own entries asynchronously (the run's
    /// `async_persist`).
    async_persist: bool,
    /// The number of the last `Ready` written asynchronously and not yet
    /// durable, if any.
    unsynced: Option<u64>,
    /// The number of the last `Ready` taken.
    last_ready: u64,
    /// Reads raft-rs confirmed, by the raft index to apply before each is
    /// served (raft-rs hands a follower the leader's commit index and
    /// leaves the waiting to the application: tikv#16069 is the read
    /// that does not wait).
    confirmed_reads: Vec<(u64, u64)>,
}

/// Which reads a peer serves without the log (raft-rs's
/// `ReadOnlyOption::Safe`: the leader confirms a read index with a round
/// of heartbeats).
#[derive(Clone, Copy, Debug, Default)]
struct ReadPaths {
    /// A leader's own reads (`read_index`).
    leader: bool,
    /// A follower's, through its leader (`follower_read`).
    follower: bool,
}

/// Who asked a read, as its context for raft-rs says: the asking peer and
/// its incarnation (drawn from the run's seed), so that no two peers', and
/// no two incarnations', reads share a context. raft-rs keys pending reads
/// by context and ignores a second read with the same one; and the service
/// numbers its reads from 0 again after a restart, so an answer to a read
/// from before a crash would otherwise serve a new read at an index
/// confirmed before it was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Asker {
    peer: u64,
    incarnation: u64,
}

impl Asker {
    /// The context of read `id`.
    fn context(self, id: u64) -> Vec<u8> {
        [self.peer.to_be_bytes(), self.incarnation.to_be_bytes(), id.to_be_bytes()].concat()
    }

    /// The read id in `context`, if this asker made it.
    fn read_of(self, context: &[u8]) -> Option<u64> {
        let word = |k: usize| context.get(8 * k..8 * k + 8).map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")));
        (word(0)? == self.peer && word(1)? == self.incarnation).then_some(word(2)?)
    }
}

/// raft-rs names peers 1..=n; the lab 0..n.
fn raft_id(peer: usize) -> u64 {
    peer as u64 + 1
}

pub(crate) fn peer_of(id: u64) -> usize {
    assert!(id > 0, "raft-rs ids start at 1");
    (id - 1) as usize
}

/// A vote as the lab names peers (raft-rs's 0 is no vote).
pub(crate) fn voted_peer(vote: u64) -> Option<usize> {
    (vote != 0).then(|| peer_of(vote))
}

impl RaftRs {
    fn leads(&self) -> bool {
        self.node.raft.state == StateRole::Leader
    }

    /// Carries out every `Ready` raft-rs has, then notes where its election
    /// count stands (the tick pacing).
    fn drive(&mut self, io: &mut impl RaftIo<Envelope>) {
        while self.node.has_ready() {
            let ready = self.node.ready();
            if self.carry_out(io, ready).is_none() {
                return; // the run fails: a leader's snapshot was unreadable
            }
        }
        self.serve_applied_reads(io);
        self.pacing.observe(self.node.raft.election_elapsed);
    }

    /// Carries out one `Ready`: a leader's messages, the write, the messages
    /// that wait for it, apply; then hands it back to raft-rs. `None` when
    /// a leader's snapshot in it is unreadable.
    fn carry_out(&mut self, io: &mut impl RaftIo<Envelope>, mut ready: raft_rs::Ready) -> Option<()> {
        // A leader's appends leave before its own write, as raft-rs allows
        // (the thesis's 10.2.1: the leader counts itself only once the
        // entries are durable); a crash point between the two tests that
        // claim.
        self.send_all(io, ready.take_messages());
        let installed = match ready.snapshot().is_empty() {
            true => None,
            false => Some(self.install_snapshot(io, ready.snapshot())?),
        };
        let durable = self.write_ready(io, &ready);
        self.send_all(io, ready.take_persisted_messages());
        if let Some(snapshot) = installed {
            io.apply(snapshot);
        }
        self.apply_all(io, ready.take_committed_entries());
        let asker = self.asker;
        let confirmed = ready.take_read_states().into_iter();
        self.confirmed_reads.extend(confirmed.filter_map(|r| Some((r.index, asker.read_of(&r.request_ctx)?))));
        self.hand_back(io, ready, durable);
        Some(())
    }

    /// Hands a carried-out `Ready` back to raft-rs: as persisted when
    /// everything written so far is `durable` (then what raft-rs held back
    /// for the write comes at once, in a `LightReady`), else to hear of the
    /// write through `persisted` (what it held back comes in a later
    /// `Ready`).
    fn hand_back(&mut self, io: &mut impl RaftIo<Envelope>, ready: raft_rs::Ready, durable: bool) {
        if !durable {
            self.node.advance_append_async(ready);
            self.node.advance_apply();
            return;
        }
        let mut light = self.node.advance(ready);
        if let Some(commit) = light.commit_index() {
            self.node.mut_store().set_commit(commit);
            self.persist(io, &[], None);
        }
        self.send_all(io, light.take_messages());
        self.apply_all(io, light.take_committed_entries());
        self.node.advance_apply();
    }

    /// Makes entries and the hard state durable (the header always: it
    /// carries the commit index too).
    fn persist(
        &mut self,
        io: &mut impl HostIo<Envelope>,
        entries: &[Entry],
        hard_state: Option<raft_rs::eraftpb::HardState>,
    ) {
        let from = self.store(entries, hard_state);
        let log = self.node.store();
        io.save_raft_state(|state| log.write_tail(state, from));
    }

    /// `persist`, through the page cache: `true` when the host says the
    /// write is durable already, with every earlier one (a disk that takes
    /// no time).
    fn persist_async(
        &mut self,
        io: &mut impl HostIo<Envelope>,
        entries: &[Entry],
        hard_state: Option<raft_rs::eraftpb::HardState>,
        ticket: u64,
    ) -> bool {
        let from = self.store(entries, hard_state);
        let log = self.node.store();
        io.save_raft_state_async(|state| log.write_tail(state, from), ticket)
    }

    /// Puts entries and the hard state in the adapter's log (raft-rs reads
    /// them there at once); returns where the persisted entries must be
    /// rewritten from.
    fn store(&mut self, entries: &[Entry], hard_state: Option<raft_rs::eraftpb::HardState>) -> usize {
        let log = self.node.mut_store();
        let from = log.append(entries);
        if let Some(hard_state) = hard_state {
            log.set_hard_state(hard_state);
        }
        from
    }

    /// Writes what `ready` changed, synchronously or not; returns whether
    /// everything written so far is durable (and raft-rs may hear so with
    /// `advance`). A `Ready` that writes nothing after an asynchronous
    /// write that is not durable yet must not tell raft-rs otherwise:
    /// `advance` would count the pending write as persisted.
    fn write_ready(&mut self, io: &mut impl HostIo<Envelope>, ready: &raft_rs::Ready) -> bool {
        self.last_ready = ready.number();
        if ready.entries().is_empty() && ready.hs().is_none() {
            if !ready.snapshot().is_empty() {
                self.unsynced = None; // `install_snapshot` wrote it synchronously
            }
            return self.unsynced.is_none();
        }
        if self.may_write_async(ready) {
            let durable = self.persist_async(io, ready.entries(), ready.hs().cloned(), ready.number());
            self.unsynced = (!durable).then_some(ready.number());
            return durable;
        }
        // A synchronous write makes every earlier write durable with it.
        self.persist(io, ready.entries(), ready.hs().cloned());
        self.unsynced = None;
        true
    }

    /// Whether `ready` may be written asynchronously: the run asked for it,
    /// the write keeps term and vote (the lab checks after every step that
    /// they are on disk), and no message waits for it (a vote, or an
    /// answer to an append: those leave only once what they promise is
    /// durable, else a crash forgets a promise already made).
    fn may_write_async(&self, ready: &raft_rs::Ready) -> bool {
        let kept = self.node.store().hard_state();
        self.async_persist
            && ready.snapshot().is_empty()
            && ready.persisted_messages().is_empty()
            && ready.hs().is_none_or(|hs| hs.term == kept.term && hs.vote == kept.vote)
    }

    /// A leader's snapshot replaces the log, durably with the service's
    /// bytes; returns what the service is handed once messages are out.
    fn install_snapshot(&mut self, io: &mut impl HostIo<Envelope>, snapshot: &Snapshot) -> Option<ApplyMsg> {
        let term = snapshot.get_metadata().term;
        let (index, service) = match self.node.mut_store().install_snapshot(snapshot) {
            Ok(installed) => installed,
            Err(e) => {
                io.fail(format!("raft-rs: a leader's snapshot is unreadable: {e}"));
                return None;
            }
        };
        let service = Arc::new(service.to_vec());
        let log = self.node.store();
        io.save_state_and_snapshot(|state| log.write_all(state), service.clone());
        Some(ApplyMsg::Snapshot { index, term, snapshot: service })
    }

    fn send_all(&mut self, io: &mut impl HostIo<Envelope>, messages: Vec<Message>) {
        for message in messages {
            let peer = peer_of(message.to);
            match &mut self.answering {
                Some((caller, replies)) if *caller == peer && is_response(&message) => replies.push(message),
                _ => io.send(peer, Envelope(message)),
            }
        }
    }

    /// Hands committed commands to the service under their lab indices;
    /// raft-rs's own entries are not the service's.
    fn apply_all(&mut self, io: &mut impl RaftIo<Envelope>, entries: Vec<Entry>) {
        for entry in entries {
            debug_assert_eq!(entry.get_entry_type(), EntryType::EntryNormal, "the lab changes no membership");
            if !crate::log::is_command(&entry) {
                continue;
            }
            let index = self.node.store().lab_index(entry.index);
            io.apply(ApplyMsg::Command { index, term: entry.term, command: Arc::from(&entry.data[..]) });
        }
    }

    /// Serves every confirmed read whose index this peer has applied, after
    /// the commands before it.
    fn serve_applied_reads(&mut self, io: &mut impl RaftIo<Envelope>) {
        let applied = self.node.raft.raft_log.applied;
        self.confirmed_reads.retain(|&(index, id)| {
            let ready = index <= applied;
            if ready {
                io.apply(ApplyMsg::Read { id });
            }
            !ready
        });
    }

    fn step_all(&mut self, messages: Vec<Message>) {
        for message in messages {
            // raft-rs refuses only local message types and responses from
            // peers it does not know: neither comes from the lab.
            let stepped = self.node.step(message);
            debug_assert!(stepped.is_ok(), "raft-rs refused a message: {stepped:?}");
        }
    }
}

impl contract::Raft for RaftRs {
    type Request = Envelope;
    type Response = Replies;
    type View = RaftRs;

    fn start(config: PeerConfig, persisted: Persisted<'_>, io: &mut impl RaftIo<Envelope>) -> Result<RaftRs, String> {
        let log = LabLog::decode(config.peers, persisted.raft_state, persisted.snapshot)?;
        let applied = log.snapshot_index();
        let node = RawNode::new(
            &settings::config(raft_id(config.me), applied, config.optimisations),
            log,
            &crate::logging::logger(),
        )
        .map_err(|e| format!("raft-rs does not start from the persisted state: {e}"))?;
        let mut pacing = Pacing::new(config.rng_seed);
        let next_tick_ms = io.now_ms() + pacing.first_tick_ms();
        io.set_timer(next_tick_ms);
        let asked = config.optimisations;
        let reads = ReadPaths {
            leader: asked.contains(contract::Optimisation::ReadIndex),
            follower: asked.contains(contract::Optimisation::FollowerRead),
        };
        let asker = Asker { peer: raft_id(config.me), incarnation: config.rng_seed };
        let confirmed_reads = Vec::new();
        let async_persist = asked.contains(contract::Optimisation::AsyncPersist);
        let mut raft = RaftRs {
            node,
            pacing,
            next_tick_ms,
            ticks: 0,
            answering: None,
            reads,
            asker,
            confirmed_reads,
            async_persist,
            unsynced: None,
            last_ready: 0,
        };
        raft.drive(io); // a restarted peer applies what it committed
        Ok(raft)
    }

    fn state(&self) -> (u64, bool) {
        (self.node.raft.term, self.leads())
    }

    fn start_command(&mut self, io: &mut impl RaftIo<Envelope>, command: Vec<u8>) -> Option<(u64, u64)> {
        if !self.leads() {
            return None;
        }
        let last = self.node.raft.raft_log.last_index();
        debug_assert_eq!(last, self.node.store().last_index(), "every Ready was carried out");
        let (context, data) = proposal(command);
        self.node.propose(context, data).ok()?;
        assert_eq!(self.node.raft.raft_log.last_index(), last + 1, "a proposal appends one entry");
        let index = self.node.store().lab_index(last) + 1;
        let term = self.node.raft.term;
        self.drive(io);
        Some((index, term))
    }

    fn snapshot(&mut self, io: &mut impl RaftIo<Envelope>, index: u64, snapshot: Vec<u8>) {
        let log = self.node.store();
        if index <= log.snapshot_lab_index() {
            return; // a leader's snapshot already covers it
        }
        let Some(raft_index) = log.command_index(index) else {
            io.fail(format!("raft-rs adapter: the service snapshots at index {index}, which is not in the log"));
            return;
        };
        assert!(raft_index <= self.node.raft.raft_log.applied, "a service snapshots only what it was given");
        self.node.mut_store().compact(raft_index, index, &snapshot);
        let log = self.node.store();
        io.save_state_and_snapshot(|state| log.write_all(state), Arc::new(snapshot));
    }

    fn handle_request(&mut self, io: &mut impl RaftIo<Envelope>, from: usize, request: Envelope) -> Replies {
        self.answering = Some((from, Vec::new()));
        self.step_all(vec![request.0]);
        self.drive(io);
        let (_, replies) = self.answering.take().expect("set above");
        Replies(replies)
    }

    fn handle_response(&mut self, io: &mut impl RaftIo<Envelope>, _from: usize, response: Replies) {
        self.step_all(response.0);
        self.drive(io);
    }

    /// A call got no reply: a snapshot in flight to that peer is reported
    /// failed (else raft-rs waits for it forever: etcd #10225), and the
    /// peer unreachable otherwise, as raft-rs asks of a transport.
    fn call_failed(&mut self, io: &mut impl RaftIo<Envelope>, peer: usize) {
        let id = raft_id(peer);
        let sending_snapshot = self.node.raft.prs().get(id).is_some_and(|p| p.state == ProgressState::Snapshot);
        if sending_snapshot {
            self.node.report_snapshot(id, SnapshotStatus::Failure);
        } else {
            self.node.report_unreachable(id);
        }
        self.drive(io);
    }

    /// The asynchronous writes through `ticket` (a `Ready`'s number) are
    /// durable: raft-rs may count them now.
    ///
    /// Once the last one is, every `Ready` taken since is persisted too:
    /// none of them wrote anything (a write since would have been the last
    /// one, or synchronous and cleared it).
    fn persisted(&mut self, io: &mut impl RaftIo<Envelope>, ticket: u64) {
        match self.unsynced {
            Some(last) if ticket >= last => {
                self.unsynced = None;
                self.node.on_persist_ready(self.last_ready);
            }
            _ => self.node.on_persist_ready(ticket),
        }
        self.drive(io);
    }

    fn on_timer(&mut self, io: &mut impl RaftIo<Envelope>, at_ms: u64) {
        if at_ms != self.next_tick_ms {
            return; // not this peer's tick
        }
        self.ticks += 1;
        self.node.tick();
        self.drive(io);
        self.next_tick_ms = io.now_ms().max(at_ms) + self.pacing.tick_ms(self.leads());
        io.set_timer(self.next_tick_ms);
    }

    /// A read without the log, through raft-rs's `read_index`: a leader's
    /// once an entry of its term has committed (raft-rs drops a read asked
    /// before, so the service sends it through the log instead), a
    /// follower's while it knows a leader (raft-rs forwards it; a leader
    /// that drops it leaves it to the service's deadline).
    fn read(&mut self, io: &mut impl RaftIo<Envelope>, id: u64) -> bool {
        let raft = &self.node.raft;
        let can = match self.leads() {
            true => self.reads.leader && raft.commit_to_current_term(),
            false => self.reads.follower && raft.leader_id != raft_rs::INVALID_ID,
        };
        if can {
            self.node.read_index(self.asker.context(id));
            self.drive(io);
        }
        can
    }

    fn view(&self) -> Option<&RaftRs> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::testing::{Effect, RecordingIo};
    use contract::Raft;

    /// Fires this peer's timers until it leads (a one-peer cluster elects
    /// itself).
    fn until_leader(raft: &mut RaftRs, io: &mut RecordingIo<Envelope>) {
        for _ in 0..100 {
            if raft.state().1 {
                return;
            }
            let at_ms = io
                .take_effects()
                .iter()
                .rev()
                .find_map(|e| match e {
                    Effect::Timer { at_ms } => Some(*at_ms),
                    _ => None,
                })
                .unwrap_or(raft.next_tick_ms);
            io.now_ms = at_ms;
            raft.on_timer(io, at_ms);
        }
        panic!("a one-peer cluster elects itself within 100 ticks");
    }

    fn command(msg: &ApplyMsg) -> (u64, Vec<u8>) {
        match msg {
            ApplyMsg::Command { index, command, .. } => (*index, command.to_vec()),
            other => panic!("a command, not {other:?}"),
        }
    }

    #[test]
    fn commands_are_numbered_as_the_lab_numbers_them_across_a_snapshot_and_a_restart() {
        let config = PeerConfig { me: 0, peers: 1, rng_seed: 7, optimisations: contract::Optimisations::NONE };
        let mut io = RecordingIo::default();
        let mut raft = RaftRs::start(config, Persisted::EMPTY, &mut io).expect("starts");
        until_leader(&mut raft, &mut io);
        // raft-rs's log holds the leader's empty entry at index 1.
        assert_eq!(raft.node.store().last_index(), 1);
        let term = raft.state().0;
        assert_eq!(raft.start_command(&mut io, b"x".to_vec()), Some((1, term)));
        assert_eq!(raft.start_command(&mut io, Vec::new()), Some((2, term)), "an empty command is a command");
        let applied: Vec<_> = io.applied.iter().map(command).collect();
        assert_eq!(applied, vec![(1, b"x".to_vec()), (2, Vec::new())]);

        raft.snapshot(&mut io, 1, b"state through 1".to_vec());
        assert_eq!(raft.node.store().snapshot_lab_index(), 1);
        let persisted = Persisted { raft_state: &io.raft_state, snapshot: &io.snapshot };
        let mut again = RecordingIo::default();
        let restarted = RaftRs::start(config, persisted, &mut again).expect("restarts");
        let reapplied: Vec<_> = again.applied.iter().map(command).collect();
        assert_eq!(reapplied, vec![(2, Vec::new())], "only what follows the snapshot is applied again");
        assert_eq!(restarted.node.store().lab_index(3), 2);
    }

    #[test]
    fn a_corrupt_state_is_refused_not_a_panic() {
        let config = PeerConfig { me: 0, peers: 3, rng_seed: 1, optimisations: contract::Optimisations::NONE };
        let persisted = Persisted { raft_state: b"not raft-rs state", snapshot: &[] };
        let err = RaftRs::start(config, persisted, &mut RecordingIo::default()).err().expect("refused");
        assert!(err.contains("header"), "{err}");
        let mut tagless = vec![0u8; crate::log::HEADER_LEN];
        tagless[..4].copy_from_slice(b"junk");
        let persisted = Persisted { raft_state: &tagless, snapshot: &[] };
        let err = RaftRs::start(config, persisted, &mut RecordingIo::default()).err().expect("refused");
        assert!(err.contains("tag"), "{err}");
    }

    #[test]
    fn a_read_context_names_its_peer_and_incarnation() {
        let asker = Asker { peer: 2, incarnation: 77 };
        assert_eq!(asker.read_of(&asker.context(5)), Some(5));
        let restarted = Asker { incarnation: 78, ..asker };
        assert_eq!(restarted.read_of(&asker.context(5)), None, "an answer from before a restart serves nothing");
        let other = Asker { peer: 3, ..asker };
        assert_eq!(other.read_of(&asker.context(5)), None);
        assert_eq!(asker.read_of(b"short"), None);
    }

    /// Peer 0 of `peers`, writing asynchronously to a disk whose flushes
    /// end only when the test says.
    fn on_slow_disk(peers: usize) -> (RaftRs, RecordingIo<Envelope>) {
        let optimisations = contract::Optimisations::of(&[contract::Optimisation::AsyncPersist]);
        let config = PeerConfig { me: 0, peers, rng_seed: 7, optimisations };
        let mut io = RecordingIo { slow_disk: true, ..RecordingIo::default() };
        let raft = RaftRs::start(config, Persisted::EMPTY, &mut io).expect("starts");
        (raft, io)
    }

    #[test]
    fn a_leader_writing_asynchronously_commits_and_applies_only_once_its_write_is_durable() {
        let (mut raft, mut io) = on_slow_disk(1);
        until_leader(&mut raft, &mut io);
        assert!(io.pending_tickets.is_empty(), "a new term and vote are written synchronously");
        let committed = raft.node.raft.raft_log.committed;
        let term = raft.state().0;
        assert_eq!(raft.start_command(&mut io, b"x".to_vec()), Some((1, term)));
        let ticket = io.pending_tickets.pop().expect("the leader's own entry went to the page cache");
        assert_eq!(raft.node.raft.raft_log.committed, committed, "a leader counts itself only once durable");
        assert!(io.applied.is_empty(), "nothing is applied before it is durable: {:?}", io.applied);
        raft.persisted(&mut io, ticket);
        assert_eq!(raft.node.raft.raft_log.committed, committed + 1);
        let applied: Vec<_> = io.applied.iter().map(command).collect();
        assert_eq!(applied, vec![(1, b"x".to_vec())]);
        raft.persisted(&mut io, ticket); // a ticket heard twice changes nothing
        assert_eq!(io.applied.len(), 1);
    }

    #[test]
    fn a_follower_writing_asynchronously_still_answers_an_append_only_after_a_synchronous_write() {
        use raft_rs::eraftpb::MessageType;
        let (mut raft, mut io) = on_slow_disk(3);
        // A leader of term 1, peer 1 (raft id 2), appends entry 1, then 2:
        // the first append brings the new term (written synchronously for
        // that alone); the second keeps term and vote, so only its answer
        // makes its write synchronous.
        let append = |index: u64| {
            let mut m = Message::default();
            m.set_msg_type(MessageType::MsgAppend);
            (m.from, m.to, m.term, m.index, m.log_term) = (2, 1, 1, index - 1, u64::from(index > 1));
            let entry = Entry { term: 1, index, data: vec![b'x'; index as usize].into(), ..Entry::default() };
            m.set_entries(vec![entry].into());
            crate::wire::Envelope(m)
        };
        raft.handle_request(&mut io, 1, append(1));
        assert_eq!(raft.state().0, 1);
        let replies = raft.handle_request(&mut io, 1, append(2));
        assert!(io.pending_tickets.is_empty(), "the answer promises the entry: written synchronously");
        let answer = replies.0.iter().find(|m| m.get_msg_type() == MessageType::MsgAppendResponse);
        assert!(answer.is_some_and(|m| !m.reject && m.index == 2), "{:?}", replies.0);
        assert_eq!(crate::log::persisted_last_index(&io.raft_state), Some(2), "the entry is on disk");
    }

    #[test]
    fn followers_refuse_commands() {
        let config = PeerConfig { me: 1, peers: 3, rng_seed: 1, optimisations: contract::Optimisations::NONE };
        let mut io = RecordingIo::default();
        let mut raft = RaftRs::start(config, Persisted::EMPTY, &mut io).expect("starts");
        assert_eq!(raft.start_command(&mut io, b"x".to_vec()), None);
        assert_eq!(raft.node.store().last_index(), 0, "nothing appended");
    }
}
