//! A Raft peer after Figure 2 of the Raft paper, with log compaction and
//! InstallSnapshot (section 7), as a sans-IO state machine for the lab's
//! contract.
//!
//! Every entry point does its work, persists what changed before sending
//! anything that depends on it, and applies newly committed entries last.

use crate::log::{self, Entry, Log};
use crate::message::{Request, Response};
use contract::{ApplyMsg, PeerConfig, Persisted, RaftIo, Role};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::Arc;
use tracing::debug;

/// How often a leader sends heartbeats, in milliseconds.
const HEARTBEAT_MS: u64 = 100;
/// The range election timeouts are drawn from, in milliseconds.
const ELECTION_TIMEOUT_MS: std::ops::Range<u64> = 300..600;
/// The most entries one AppendEntries carries.
const MAX_ENTRIES_PER_MESSAGE: usize = 256;

/// One Raft peer.
#[derive(Debug)]
pub struct TextbookRaft {
    me: usize,
    peers: usize,
    /// The only source of randomness, seeded from `PeerConfig::rng_seed`.
    rng: ChaCha8Rng,
    // Persistent state (Figure 2), plus the snapshot.
    term: u64,
    voted_for: Option<usize>,
    log: Log,
    snapshot: Arc<Vec<u8>>,
    // Volatile state.
    role: Role,
    commit_index: u64,
    last_applied: u64,
    /// The peers that granted their vote in this term (a candidate's).
    votes: BTreeSet<usize>,
    // A leader's state.
    next_index: Vec<u64>,
    match_index: Vec<u64>,
    // Timers.
    election_deadline: u64,
    /// When the election timer last restarted, and the clock at the last
    /// input (for the lab's view of the timer).
    pub(crate) election_started: u64,
    pub(crate) clock_ms: u64,
    heartbeat_due: u64,
    /// Timers set and not yet fired, so that only one chain is kept.
    pending_timers: BTreeSet<u64>,
    /// How far the lab's durability check verified the disk copy of the
    /// log (see [`log::compare_encoded`]).
    pub(crate) durable_verified: Cell<log::Verified>,
}

impl TextbookRaft {
    /// Starts a peer from its persisted state (empty for a new one).
    pub fn new(config: PeerConfig, persisted: Persisted<'_>, io: &mut impl RaftIo<Request>) -> Result<Self, String> {
        let durable = log::decode(persisted.raft_state)?;
        if durable.log.snapshot_index() > 0 && persisted.snapshot.is_empty() {
            return Err(format!(
                "raft state says a snapshot through {}, but none is saved",
                durable.log.snapshot_index()
            ));
        }
        let start_index = durable.log.snapshot_index();
        let mut raft = TextbookRaft {
            me: config.me,
            peers: config.peers,
            rng: ChaCha8Rng::seed_from_u64(config.rng_seed),
            term: durable.term,
            voted_for: durable.voted_for,
            log: durable.log,
            snapshot: Arc::new(persisted.snapshot.to_vec()),
            role: Role::Follower,
            commit_index: start_index,
            last_applied: start_index,
            votes: BTreeSet::new(),
            next_index: vec![0; config.peers],
            match_index: vec![0; config.peers],
            election_deadline: 0,
            election_started: 0,
            clock_ms: io.now_ms(),
            heartbeat_due: 0,
            pending_timers: BTreeSet::new(),
            durable_verified: Cell::default(),
        };
        if persisted.raft_state.is_empty() {
            raft.persist_all(io);
        }
        raft.reset_election_deadline(io);
        raft.arm_timer(io);
        Ok(raft)
    }

    // ---- Reading the state -------------------------------------------

    /// The current term.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// Whether this peer believes it leads.
    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }

    /// This peer's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The vote cast in the current term.
    pub fn voted_for(&self) -> Option<usize> {
        self.voted_for
    }

    /// When a follower or candidate next campaigns.
    pub fn election_deadline(&self) -> u64 {
        self.election_deadline
    }

    /// The highest index known committed.
    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }

    /// The log after the snapshot.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The snapshot's bytes (empty: none).
    pub fn snapshot_bytes(&self) -> &[u8] {
        &self.snapshot
    }

    /// How many peers make a majority.
    fn majority(&self) -> usize {
        self.peers / 2 + 1
    }

    // ---- Persistence ---------------------------------------------------

    /// Rewrites the whole raft state.
    fn persist_all(&self, io: &mut impl RaftIo<Request>) {
        io.save_raft_state(|state| log::encode(state, self.term, self.voted_for, &self.log));
    }

    /// Rewrites the header only (term and vote changed).
    fn persist_header(&self, io: &mut impl RaftIo<Request>) {
        io.save_raft_state(|state| log::write_header(state, self.term, self.voted_for, &self.log));
    }

    /// Appends the entries from `from` on to the disk copy, whose log ends
    /// just before `from`.
    fn persist_appended(&self, io: &mut impl RaftIo<Request>, from: u64) {
        let entries = self.log.entries_from(from, usize::MAX);
        io.save_raft_state(|state| log::append_entries(state, entries.iter()));
    }

    /// Writes the whole raft state together with the snapshot.
    fn persist_with_snapshot(&self, io: &mut impl RaftIo<Request>) {
        let (term, vote, log) = (self.term, self.voted_for, &self.log);
        io.save_state_and_snapshot(|state| log::encode(state, term, vote, log), self.snapshot.clone());
    }

    // ---- Timers -------------------------------------------------------

    /// Draws a new election deadline from now.
    fn reset_election_deadline(&mut self, io: &impl RaftIo<Request>) {
        self.election_started = io.now_ms();
        self.election_deadline = self.election_started + self.rng.random_range(ELECTION_TIMEOUT_MS);
    }

    /// Makes sure a timer fires by the next deadline this peer has (its
    /// heartbeat as leader, else its election deadline). A timer that fires
    /// early only re-arms.
    fn arm_timer(&mut self, io: &mut impl RaftIo<Request>) {
        let want = if self.is_leader() { self.heartbeat_due } else { self.election_deadline };
        if self.pending_timers.first().is_some_and(|&t| t <= want) {
            return;
        }
        self.pending_timers.insert(want);
        io.set_timer(want);
    }

    /// A timer fired: heartbeat or start an election if one is due.
    pub fn on_timer(&mut self, io: &mut impl RaftIo<Request>, at_ms: u64) {
        self.pending_timers.remove(&at_ms);
        let now = io.now_ms();
        if self.is_leader() && now >= self.heartbeat_due {
            self.broadcast_append(io);
        } else if !self.is_leader() && now >= self.election_deadline {
            self.start_election(io);
        }
        self.arm_timer(io);
        self.apply_committed(io);
    }

    // ---- Terms and roles -----------------------------------------------

    /// Adopts a newer term seen in a message: follower, no vote, durable.
    fn observe_term(&mut self, io: &mut impl RaftIo<Request>, term: u64) {
        if term <= self.term {
            return;
        }
        debug!(me = self.me, term, "newer term seen; following");
        let was_leader = self.is_leader();
        self.term = term;
        self.voted_for = None;
        self.role = Role::Follower;
        self.persist_header(io);
        if was_leader {
            self.reset_election_deadline(io);
            self.arm_timer(io);
        }
    }

    /// Starts an election: a new term, a vote for itself (durable), then
    /// RequestVote to every other peer.
    fn start_election(&mut self, io: &mut impl RaftIo<Request>) {
        self.term += 1;
        self.role = Role::Candidate;
        self.voted_for = Some(self.me);
        self.votes = BTreeSet::from([self.me]);
        self.reset_election_deadline(io);
        self.persist_header(io);
        debug!(me = self.me, term = self.term, "election timeout; standing");
        let request = Request::RequestVote {
            term: self.term,
            candidate: self.me,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        };
        for peer in self.others() {
            io.send(peer, request.clone());
        }
        self.maybe_win(io);
    }

    /// Becomes leader once a majority voted for this candidate.
    fn maybe_win(&mut self, io: &mut impl RaftIo<Request>) {
        if self.role != Role::Candidate || self.votes.len() < self.majority() {
            return;
        }
        debug!(me = self.me, term = self.term, "won the election");
        self.role = Role::Leader;
        self.next_index = vec![self.log.last_index() + 1; self.peers];
        self.match_index = vec![0; self.peers];
        self.match_index[self.me] = self.log.last_index();
        self.broadcast_append(io);
        self.advance_commit();
    }

    /// Every peer but this one.
    fn others(&self) -> impl Iterator<Item = usize> + use<> {
        let me = self.me;
        (0..self.peers).filter(move |&p| p != me)
    }

    // ---- Votes ------------------------------------------------------------

    /// RequestVote: grant if the term is current, no other vote was cast in
    /// it, and the candidate's log is at least as up to date (5.4.1).
    fn handle_request_vote(
        &mut self,
        io: &mut impl RaftIo<Request>,
        term: u64,
        candidate: usize,
        last_log_index: u64,
        last_log_term: u64,
    ) -> Response {
        self.observe_term(io, term);
        let up_to_date = (last_log_term, last_log_index) >= (self.log.last_term(), self.log.last_index());
        let free = self.voted_for.is_none() || self.voted_for == Some(candidate);
        let granted = term == self.term && free && up_to_date;
        if granted && self.voted_for.is_none() {
            self.voted_for = Some(candidate);
            self.persist_header(io);
        }
        if granted {
            self.reset_election_deadline(io);
        }
        debug!(me = self.me, term = self.term, candidate, granted, up_to_date, "vote asked");
        Response::Vote { term: self.term, granted }
    }

    /// A vote came back: count it if it is for this candidacy.
    fn handle_vote(&mut self, io: &mut impl RaftIo<Request>, from: usize, term: u64, granted: bool) {
        if granted && term == self.term && self.role == Role::Candidate {
            self.votes.insert(from);
            self.maybe_win(io);
        }
    }

    // ---- Replication, leader side ----------------------------------------

    /// Sends every follower what it lacks (or a heartbeat).
    fn broadcast_append(&mut self, io: &mut impl RaftIo<Request>) {
        self.heartbeat_due = io.now_ms() + HEARTBEAT_MS;
        for peer in self.others() {
            self.send_append(io, peer);
        }
    }

    /// Sends `peer` the entries from its next index on, or the snapshot if
    /// they were compacted away.
    fn send_append(&mut self, io: &mut impl RaftIo<Request>, peer: usize) {
        let next = self.next_index[peer];
        if next <= self.log.snapshot_index() {
            self.send_snapshot(io, peer);
            return;
        }
        let prev_log_index = next - 1;
        let request = Request::AppendEntries {
            term: self.term,
            leader: self.me,
            prev_log_index,
            prev_log_term: self.log.term_at(prev_log_index).expect("prev is in the log or the snapshot"),
            entries: self.log.entries_from(next, MAX_ENTRIES_PER_MESSAGE),
            leader_commit: self.commit_index,
        };
        io.send(peer, request);
    }

    /// Sends `peer` the snapshot.
    fn send_snapshot(&mut self, io: &mut impl RaftIo<Request>, peer: usize) {
        let request = Request::InstallSnapshot {
            term: self.term,
            leader: self.me,
            last_included_index: self.log.snapshot_index(),
            last_included_term: self.log.snapshot_term(),
            data: self.snapshot.clone(),
        };
        io.send(peer, request);
    }

    /// The follower's log matches through `match_index`: record it, commit
    /// what a majority holds, and send what remains.
    fn follower_matched(&mut self, io: &mut impl RaftIo<Request>, peer: usize, match_index: u64) {
        let before = self.match_index[peer];
        self.match_index[peer] = before.max(match_index);
        self.next_index[peer] = self.next_index[peer].max(match_index + 1);
        self.advance_commit();
        if match_index > before && self.next_index[peer] <= self.log.last_index() {
            self.send_append(io, peer);
        }
    }

    /// The follower refused: back up past the conflicting term at once
    /// (the fast backup of the 6.824 notes), and try again.
    fn follower_refused(&mut self, io: &mut impl RaftIo<Request>, peer: usize, conflict: (u64, Option<u64>)) {
        let (conflict_index, conflict_term) = conflict;
        let next = match conflict_term.and_then(|t| self.log.last_index_of_term(t)) {
            Some(last_of_term) => last_of_term + 1,
            None => conflict_index,
        };
        let next = next.clamp(self.match_index[peer] + 1, self.log.last_index() + 1);
        if next < self.next_index[peer] {
            self.next_index[peer] = next;
            self.send_append(io, peer);
        }
    }

    /// Commits the highest index of the current term a majority holds
    /// (5.3, 5.4.2: entries of older terms commit only with it).
    fn advance_commit(&mut self) {
        if !self.is_leader() {
            return;
        }
        self.match_index[self.me] = self.log.last_index();
        let mut n = self.log.last_index();
        while n > self.commit_index && self.log.term_at(n) == Some(self.term) {
            let holders = self.match_index.iter().filter(|&&m| m >= n).count();
            if holders >= self.majority() {
                debug!(me = self.me, term = self.term, index = n, "committed");
                self.commit_index = n;
                return;
            }
            n -= 1;
        }
    }

    /// An AppendEntries answer from `peer`.
    fn handle_append_response(&mut self, io: &mut impl RaftIo<Request>, peer: usize, response: Response) {
        let Response::Append { term, success, match_index, conflict_index, conflict_term } = response else {
            return;
        };
        if term != self.term || !self.is_leader() {
            return;
        }
        if success {
            self.follower_matched(io, peer, match_index);
        } else {
            self.follower_refused(io, peer, (conflict_index, conflict_term));
        }
    }

    // ---- Replication, follower side -----------------------------------

    /// Acknowledges a leader of the current term: follow it, and reset the
    /// election timer.
    fn follow_leader(&mut self, io: &mut impl RaftIo<Request>, term: u64) -> bool {
        self.observe_term(io, term);
        if term < self.term {
            return false;
        }
        self.role = Role::Follower;
        self.reset_election_deadline(io);
        true
    }

    /// AppendEntries (Figure 2, receiver steps 1-5).
    fn handle_append_entries(&mut self, io: &mut impl RaftIo<Request>, request: Request) -> Response {
        let Request::AppendEntries { term, prev_log_index, prev_log_term, entries, leader_commit, .. } = request else {
            unreachable!("only AppendEntries comes here");
        };
        let refuse = |term, conflict_index, conflict_term| Response::Append {
            term,
            success: false,
            match_index: 0,
            conflict_index,
            conflict_term,
        };
        if !self.follow_leader(io, term) {
            return refuse(self.term, 0, None);
        }
        let matched = prev_log_index + entries.len() as u64;
        let (prev, entries) = self.skip_compacted(prev_log_index, prev_log_term, entries);
        if let Err((conflict_index, conflict_term)) = self.check_prev(prev.0, prev.1) {
            return refuse(self.term, conflict_index, conflict_term);
        }
        self.merge(io, prev.0, entries);
        let commit = leader_commit.min(matched);
        if commit > self.commit_index {
            self.commit_index = commit;
        }
        Response::Append {
            term: self.term,
            success: true,
            match_index: matched,
            conflict_index: 0,
            conflict_term: None,
        }
    }

    /// Drops the entries the snapshot already covers (they are committed,
    /// so they match), moving `prev` up to the snapshot.
    fn skip_compacted(&self, prev_index: u64, prev_term: u64, mut entries: Vec<Entry>) -> ((u64, u64), Vec<Entry>) {
        let snapshot_index = self.log.snapshot_index();
        if prev_index >= snapshot_index {
            return ((prev_index, prev_term), entries);
        }
        let covered = ((snapshot_index - prev_index) as usize).min(entries.len());
        entries.drain(..covered);
        ((snapshot_index, self.log.snapshot_term()), entries)
    }

    /// Whether the log holds `prev_term` at `prev_index`; if not, where the
    /// leader should back up to.
    fn check_prev(&self, prev_index: u64, prev_term: u64) -> Result<(), (u64, Option<u64>)> {
        if prev_index > self.log.last_index() {
            return Err((self.log.last_index() + 1, None));
        }
        match self.log.term_at(prev_index) {
            Some(t) if t == prev_term => Ok(()),
            Some(t) => Err((self.log.first_index_of_term_run(t, prev_index), Some(t))),
            None => unreachable!("prev is at or after the snapshot"),
        }
    }

    /// Appends the entries after `prev`, truncating the log only at the
    /// first entry that conflicts (never entries that match), and makes the
    /// result durable.
    fn merge(&mut self, io: &mut impl RaftIo<Request>, prev: u64, entries: Vec<Entry>) {
        let first_new =
            entries.iter().enumerate().position(|(k, e)| self.log.term_at(prev + 1 + k as u64) != Some(e.term));
        let Some(skip) = first_new else {
            return;
        };
        let from = prev + 1 + skip as u64;
        let truncating = from <= self.log.last_index();
        if truncating {
            self.log.truncate_from(from);
        }
        for entry in entries.into_iter().skip(skip) {
            self.log.push(entry);
        }
        if truncating {
            self.persist_all(io);
        } else {
            self.persist_appended(io, from);
        }
    }

    /// InstallSnapshot (section 7): take a snapshot newer than what is
    /// committed, keep the log after it if it matches, and hand it to the
    /// service.
    fn handle_install_snapshot(&mut self, io: &mut impl RaftIo<Request>, request: Request) -> Response {
        let Request::InstallSnapshot { term, last_included_index, last_included_term, data, .. } = request else {
            unreachable!("only InstallSnapshot comes here");
        };
        if !self.follow_leader(io, term) {
            return Response::Snapshot { term: self.term, match_index: 0 };
        }
        if last_included_index > self.commit_index {
            debug!(me = self.me, index = last_included_index, "installing a leader's snapshot");
            self.log.install_snapshot(last_included_index, last_included_term);
            self.snapshot = data.clone();
            self.commit_index = last_included_index;
            self.last_applied = last_included_index;
            self.persist_with_snapshot(io);
            io.apply(ApplyMsg::Snapshot { index: last_included_index, term: last_included_term, snapshot: data });
        }
        Response::Snapshot { term: self.term, match_index: last_included_index }
    }

    // ---- Applying and snapshots -------------------------------------------

    /// Hands the service every committed entry not yet applied, in order.
    fn apply_committed(&mut self, io: &mut impl RaftIo<Request>) {
        while self.last_applied < self.commit_index {
            self.last_applied += 1;
            let entry = self.log.entry(self.last_applied).expect("committed entries after the snapshot are in the log");
            io.apply(ApplyMsg::Command { index: self.last_applied, term: entry.term, command: entry.command.clone() });
        }
    }

    /// The service's snapshot through `index`: drop the log through it and
    /// persist the two together.
    pub fn take_snapshot(&mut self, io: &mut impl RaftIo<Request>, index: u64, snapshot: Vec<u8>) {
        if index <= self.log.snapshot_index() || index > self.commit_index {
            return;
        }
        self.log.compact_through(index);
        self.snapshot = Arc::new(snapshot);
        self.persist_with_snapshot(io);
    }

    // ---- The entry points -------------------------------------------------

    /// The lab's `Start`.
    pub fn start_command(&mut self, io: &mut impl RaftIo<Request>, command: Vec<u8>) -> Option<(u64, u64)> {
        if !self.is_leader() {
            return None;
        }
        let index = self.log.last_index() + 1;
        self.log.push(Entry::new(self.term, command.into()));
        self.persist_appended(io, index);
        for peer in self.others() {
            if self.next_index[peer] == index {
                self.send_append(io, peer);
            }
        }
        self.advance_commit();
        self.apply_committed(io);
        Some((index, self.term))
    }

    /// A request from peer `from`.
    pub fn handle_request(&mut self, io: &mut impl RaftIo<Request>, request: Request) -> Response {
        let response = match request {
            Request::RequestVote { term, candidate, last_log_index, last_log_term } => {
                self.handle_request_vote(io, term, candidate, last_log_index, last_log_term)
            }
            Request::AppendEntries { .. } => self.handle_append_entries(io, request),
            Request::InstallSnapshot { .. } => self.handle_install_snapshot(io, request),
        };
        self.arm_timer(io);
        self.apply_committed(io);
        response
    }

    /// Peer `from`'s answer to an earlier request.
    pub fn handle_response(&mut self, io: &mut impl RaftIo<Request>, from: usize, response: Response) {
        self.observe_term(io, response.term());
        match response {
            Response::Vote { term, granted } => self.handle_vote(io, from, term, granted),
            Response::Append { .. } => self.handle_append_response(io, from, response),
            Response::Snapshot { term, match_index } => {
                if term == self.term && self.is_leader() {
                    self.follower_matched(io, from, match_index);
                }
            }
        }
        self.arm_timer(io);
        self.apply_committed(io);
    }
}
