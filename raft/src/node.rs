//! The Raft state machine (Figure 2 and section 7 of the Raft paper). It
//! never blocks and owns no socket or clock: the host calls it with the time
//! and an input (a request, a response, a timer tick, a client command, a
//! snapshot) and then takes its `Output`: the state delta to persist first,
//! then messages to send and entries to apply.

use crate::flow::Window;
use crate::log::Log;
use crate::message::{Command, Conflict, Entry, Request, Response, Snapshot};
use crate::own_writes::OwnWrites;
use crate::read::{FollowerReads, Reader, Rounds};
use crate::storage::{decode, HardState, StateDelta, StorageError};
use bugs::buggify::{self, Site};
use bugs::{on, Bug};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use tracing::{debug, trace};

/// The largest cluster this implementation takes.
pub const MAX_PEERS: usize = 64;

/// Timing and identity of one peer.
#[derive(Clone, Debug)]
pub struct Config {
    pub id: usize,
    pub peers: usize,
    pub election_timeout_ms_min: u64,
    pub election_timeout_ms_max: u64,
    /// At most 1000 / heartbeat_interval_ms heartbeats per second per follower.
    pub heartbeat_interval_ms: u64,
    /// Most entries in one AppendEntries, with batching.
    pub max_entries_per_append: usize,
    /// Batching: an AppendEntries carries every entry the follower lacks,
    /// up to `max_entries_per_append`; without it, one entry.
    pub batching: bool,
    /// Pipelining: a leader sends a follower whose log matches up to
    /// `max_appends_in_flight` AppendEntries with entries before their
    /// answers come; without it, one at a time.
    pub pipelining: bool,
    /// The flow-control window with pipelining (`flow::Window`).
    pub max_appends_in_flight: usize,
    /// Seed of this incarnation's election timeouts (from the host's stream).
    pub rng_seed: u64,
    /// PreVote (thesis 9.6): a timed-out peer first asks a majority whether
    /// it would win, and campaigns (in a new term) only if so.
    pub pre_vote: bool,
    /// CheckQuorum (thesis 6.2, 4.2.3): a leader that has heard from no
    /// majority for the maximum election timeout steps down; a follower
    /// that heard from its leader since its election timer last restarted,
    /// and a leader that a majority answered within that timeout, refuse
    /// any vote, keeping their term.
    pub check_quorum: bool,
    /// ReadIndex (thesis 6.4): a leader serves reads without the log once
    /// an entry of its term has committed and a round of `Confirm`s to a
    /// majority, sent after the read came, says it still leads.
    pub read_index: bool,
    /// Lease reads (thesis 6.4.1): a leader serves reads at once within a
    /// lease that starts when a confirmed round was sent and lasts the
    /// minimum election timeout shortened by `max_clock_drift_ppm`; a
    /// follower grants no vote within the minimum election timeout of its
    /// leader's last message (nor after a restart, which may have forgotten
    /// one). Outside the lease, a read takes a round, which renews it.
    pub lease_read: bool,
    /// Follower reads: a follower asks its leader for a read index, which
    /// the leader confirms as for ReadIndex (or from its lease), and serves
    /// the read once it has applied through that index.
    pub follower_read: bool,
    /// Asynchronous persistence (thesis 10.2.1): a leader's writes of its
    /// own new entries go to disk while it sends them (`Output::ticket`),
    /// and it counts itself toward their commit once the host reports them
    /// durable (`Raft::persisted`).
    pub async_persist: bool,
    /// How far any peer's clock rate may stray from true time, in parts
    /// per million (the lab's faults drift clocks by at most 10%).
    pub max_clock_drift_ppm: u64,
}

impl Config {
    pub fn new(id: usize, peers: usize, rng_seed: u64) -> Config {
        Config {
            id,
            peers,
            election_timeout_ms_min: 300,
            election_timeout_ms_max: 600,
            heartbeat_interval_ms: 100,
            max_entries_per_append: 128,
            batching: true,
            pipelining: true,
            max_appends_in_flight: 64,
            rng_seed,
            pre_vote: false,
            check_quorum: false,
            read_index: false,
            lease_read: false,
            follower_read: false,
            async_persist: false,
            max_clock_drift_ppm: 100_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    /// Asking for PreVotes, still in its term.
    PreCandidate,
    Candidate,
    Leader,
}

/// How the leader sends to one follower (etcd's raft calls this Progress).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Replication {
    /// Where the follower's log matches is not known: one AppendEntries at a
    /// time (`waiting` while it is out), and next_index moves only on answers.
    /// Heartbeats still go out, so a lost probe is retried.
    Probe { waiting: bool },
    /// The follower matches: entries are pipelined, and next_index advances
    /// as they are sent.
    Replicate,
}

/// Something for the service to apply, in log order, each exactly once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Apply {
    Command {
        index: u64,
        term: u64,
        command: Command,
    },
    /// Replace the service state with this snapshot (from the leader).
    Snapshot {
        index: u64,
        term: u64,
        data: Snapshot,
    },
    /// The read `id` may be served from the state the applies before it
    /// left (it follows every commit made before the read came).
    Read {
        id: u64,
    },
    /// The read `id` will not be served (its leader refused it).
    ReadRefused {
        id: u64,
    },
}

/// What the host must do after a call, in this order: persist, then send,
/// then apply.
#[derive(Clone, Debug, Default)]
pub struct Output {
    pub persist: Option<StateDelta>,
    /// With asynchronous persistence: `persist` may be written without
    /// waiting, under this ticket (report it with `Raft::persisted`).
    pub ticket: Option<u64>,
    /// A snapshot to save together with the state delta.
    pub snapshot: Option<Snapshot>,
    pub messages: Vec<(usize, Request)>,
    pub applies: Vec<Apply>,
}

impl Output {
    pub fn is_empty(&self) -> bool {
        self.persist.is_none() && self.snapshot.is_none() && self.messages.is_empty() && self.applies.is_empty()
    }
}

/// One Raft peer.
pub struct Raft {
    config: Config,
    rng: ChaCha8Rng,
    hard: HardState,
    hard_dirty: bool,
    log: Log,
    role: Role,
    commit_index: u64,
    last_applied: u64,
    /// When the follower or candidate starts an election.
    election_deadline_ms: u64,
    /// When the election timer last restarted.
    election_started_ms: u64,
    /// The clock at the last input that told the time.
    clock_ms: u64,
    /// When the leader next sends heartbeats.
    heartbeat_due_ms: u64,
    /// The votes granted to this peer's election in its current term.
    votes: Vec<bool>,
    /// The PreVotes granted to its current PreVote round.
    pre_votes: Vec<bool>,
    /// The term of this peer's election that has not yet won, if this
    /// incarnation started one: its late votes still count.
    campaign_term: Option<u64>,
    next_index: Vec<u64>,
    match_index: Vec<u64>,
    /// Room to sort `match_index` in when the commit index may move.
    sorted_match: Vec<u64>,
    replication: Vec<Replication>,
    /// The AppendEntries with entries in flight to each follower that
    /// matches (`Replication::Replicate`).
    windows: Vec<Window>,
    /// Followers whose replication wedged (only with
    /// `Bug::RaftPipelineWedgesOnReject`): they get empty heartbeats only.
    wedged: Vec<bool>,
    /// The last term this node led (at most one leadership per term).
    led_term: Option<u64>,
    /// The latest snapshot, sent to followers that lag behind it.
    snapshot_data: Snapshot,
    /// Whether the host has yet to persist `snapshot_data`.
    snapshot_dirty: bool,
    /// When the leader last heard from each peer in its term (CheckQuorum,
    /// and `Bug::RaftMinorityLeaderBumpsTerm`).
    heard_ms: Vec<u64>,
    /// Whether this peer has heard from a leader of its term since it last
    /// campaigned (CheckQuorum's lease on votes).
    heard_leader: bool,
    /// When this peer last heard from a leader of its term (or restarted):
    /// with lease reads it grants no vote for the minimum election timeout
    /// after.
    leader_contact_ms: u64,
    /// Confirmation rounds and the reads waiting on them.
    rounds: Rounds,
    /// Until when (this leader's clock) it may serve reads at once.
    lease_until_ms: u64,
    /// The leader this peer follows in its term, once it has heard from it.
    leader_id: Option<usize>,
    /// This follower's reads, asked of its leader.
    follower_reads: FollowerReads,
    /// The leader's own writes not yet durable (asynchronous persistence).
    own_writes: OwnWrites,
    output: Output,
    /// The buffer of the next output's log tail (`recycle` hands it back).
    spare_log_tail: Vec<u8>,
}

impl Raft {
    /// A node with no durable state.
    pub fn new(config: Config, now_ms: u64) -> Raft {
        Raft::restart(config, now_ms, &[], &[]).expect("an empty image is a fresh node")
    }

    /// A node restarting from its durable image. It resumes applying at the
    /// snapshot's last index plus one; the host restores the service from
    /// the persisted snapshot itself.
    pub fn restart(config: Config, now_ms: u64, image: &[u8], snapshot: &[u8]) -> Result<Raft, StorageError> {
        assert!(config.id < config.peers, "the node is one of the peers");
        assert!(config.peers <= MAX_PEERS, "at most {MAX_PEERS} peers");
        assert!(config.election_timeout_ms_min > config.heartbeat_interval_ms, "elections wait for missed heartbeats");
        let restored = decode(image)?;
        let hard = restored.hard;
        let log = Log::restore(hard.snapshot_index, hard.snapshot_term, restored.entries);
        let n = config.peers;
        let mut raft = Raft {
            rng: ChaCha8Rng::seed_from_u64(config.rng_seed),
            commit_index: if on(Bug::RaftRestartIgnoresSnapshot) { 0 } else { hard.snapshot_index },
            last_applied: if on(Bug::RaftRestartIgnoresSnapshot) { 0 } else { hard.snapshot_index },
            hard,
            hard_dirty: false,
            log,
            role: Role::Follower,
            election_deadline_ms: 0,
            election_started_ms: 0,
            clock_ms: now_ms,
            heartbeat_due_ms: 0,
            votes: vec![false; n],
            pre_votes: vec![false; n],
            campaign_term: None,
            next_index: vec![1; n],
            replication: vec![Replication::Probe { waiting: false }; n],
            windows: vec![Window::new(if config.pipelining { config.max_appends_in_flight } else { 1 }); n],
            wedged: vec![false; n],
            match_index: vec![0; n],
            sorted_match: Vec::with_capacity(n),
            led_term: None,
            snapshot_data: Arc::new(snapshot.to_vec()),
            snapshot_dirty: false,
            heard_ms: vec![now_ms; n],
            heard_leader: false,
            leader_contact_ms: now_ms,
            rounds: Rounds::new(n),
            lease_until_ms: 0,
            leader_id: None,
            follower_reads: FollowerReads::new(config.rng_seed),
            own_writes: OwnWrites::default(),
            output: Output::default(),
            spare_log_tail: Vec::new(),
            config,
        };
        raft.reset_election_deadline(now_ms);
        Ok(raft)
    }

    // ----- queries -----

    /// Its timing, identity and optimisations.
    pub fn config(&self) -> &Config {
        &self.config
    }

    #[inline]
    pub fn id(&self) -> usize {
        self.config.id
    }

    /// (current term, whether this node believes it is the leader).
    #[inline]
    pub fn state(&self) -> (u64, bool) {
        (self.hard.term, self.role == Role::Leader)
    }

    /// The role and term, for views of a run: ("leader", 3).
    pub fn status(&self) -> (&'static str, u64) {
        let role = match self.role {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        };
        (role, self.hard.term)
    }

    #[inline]
    pub fn role(&self) -> Role {
        self.role
    }

    #[inline]
    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }

    pub fn last_applied(&self) -> u64 {
        self.last_applied
    }

    #[inline]
    pub fn last_log_index(&self) -> u64 {
        self.log.last_index()
    }

    /// The term of the last entry (or of the snapshot's, with no entries).
    #[inline]
    pub fn last_log_term(&self) -> u64 {
        self.log.last_term()
    }

    #[inline]
    pub fn snapshot_index(&self) -> u64 {
        self.log.snapshot_index()
    }

    /// The durable header fields (term, vote, snapshot index and term).
    #[inline]
    pub fn hard_state(&self) -> &HardState {
        &self.hard
    }

    /// Entry `index` (after the snapshot) and which append put it there
    /// (see `Log::append_number`), for observers of the log.
    #[inline]
    pub fn log_entry(&self, index: u64) -> Option<(&Entry, u64)> {
        Some((self.log.entry(index)?, self.log.append_number(index)?))
    }

    /// The term of entry `index`, or of the snapshot at exactly `index`.
    #[inline]
    pub fn term_at(&self, index: u64) -> Option<u64> {
        self.log.term_at(index)
    }

    /// The size of the latest snapshot, to compare with the persisted one.
    #[inline]
    pub fn snapshot_len(&self) -> usize {
        self.snapshot_data.len()
    }

    #[inline]
    pub fn snapshot_term(&self) -> u64 {
        self.log.snapshot_term()
    }

    /// The size in bytes of the durable image once the pending output is
    /// persisted (what the lab's `RaftStateSize` reads): a service decides
    /// when to snapshot from this, without asking its storage.
    #[inline]
    pub fn durable_size(&self) -> usize {
        crate::storage::HEADER_LEN + self.log.encoded_len()
    }

    /// When the host must call `tick` next.
    pub fn next_deadline_ms(&self) -> u64 {
        match self.role {
            Role::Leader => self.heartbeat_due_ms,
            _ => self.election_deadline_ms,
        }
    }

    /// Whether the host may have anything to do; when not, `take_output`
    /// would return an empty output. Many steps leave nothing (a refused
    /// Start, an answer that moves nothing), and the host then skips taking
    /// and handing back the output's buffers.
    #[inline]
    pub fn has_output(&self) -> bool {
        self.hard_dirty || self.snapshot_dirty || self.log.has_change() || !self.output.is_empty()
    }

    /// Takes what the host must do (persist, send, apply), in that order.
    pub fn take_output(&mut self) -> Output {
        self.spare_log_tail.clear();
        let log_change = if on(Bug::RaftLogNotPersisted) && self.role != Role::Leader && !self.hard_dirty {
            None // the follower's new entries wait for the next term or vote change
        } else {
            self.log.take_change_into(&mut self.spare_log_tail)
        };
        if self.hard_dirty || log_change.is_some() {
            if self.writes_asynchronously(log_change.is_some()) {
                let ticket = self.own_writes.write(self.log.last_index(), self.hard.term);
                self.output.ticket = Some(ticket);
            }
            self.hard_dirty = false;
            let log_keep = log_change.unwrap_or_else(|| self.log.encoded_len());
            let log_tail = std::mem::take(&mut self.spare_log_tail);
            self.output.persist = Some(StateDelta { header: self.hard.encode(), log_keep, log_tail });
        }
        if std::mem::take(&mut self.snapshot_dirty) {
            self.output.snapshot = Some(self.snapshot_data.clone());
        }
        std::mem::take(&mut self.output)
    }

    /// Hands back an output's messages, applies and written delta once
    /// carried out: their buffers are reused for the next output (a step
    /// allocates none then).
    pub fn recycle(
        &mut self,
        mut messages: Vec<(usize, Request)>,
        mut applies: Vec<Apply>,
        persisted: Option<StateDelta>,
    ) {
        if self.output.messages.capacity() == 0 {
            messages.clear();
            self.output.messages = messages;
        }
        if self.output.applies.capacity() == 0 {
            applies.clear();
            self.output.applies = applies;
        }
        if let Some(delta) = persisted {
            if self.spare_log_tail.capacity() == 0 {
                self.spare_log_tail = delta.log_tail;
            }
        }
    }

    /// Whether this step's write may go asynchronously: a leader's new
    /// entries alone (no term, vote or snapshot), with the switch on.
    fn writes_asynchronously(&self, log_changed: bool) -> bool {
        if !self.config.async_persist || self.snapshot_dirty {
            return false;
        }
        if on(Bug::RaftAsyncVote) && !log_changed {
            return true; // a term or vote alone, written without waiting
        }
        self.role == Role::Leader && !self.hard_dirty
    }

    /// The host made this peer's asynchronous writes through `ticket`
    /// durable: a leader counts itself toward its own entries up to there.
    pub fn persisted(&mut self, ticket: u64) {
        let Some((index, term)) = self.own_writes.durable(ticket) else { return };
        if self.role == Role::Leader && self.hard.term == term && index > self.match_index[self.config.id] {
            self.match_index[self.config.id] = index;
            self.advance_commit();
        }
    }

    // ----- client interface -----

    /// Appends a command if this node is the leader: (index, term). The new
    /// entry goes to the followers at once.
    pub fn start(&mut self, command: Vec<u8>) -> Option<(u64, u64)> {
        if self.role != Role::Leader {
            return None;
        }
        let term = self.hard.term;
        self.log.append(Entry { term, command: command.into() });
        let index = self.log.last_index();
        // With asynchronous persistence the leader counts itself once the
        // entry is durable (`persisted`).
        if !self.config.async_persist || on(Bug::RaftAsyncCountsUnsyncedEntries) {
            self.match_index[self.config.id] = index;
            if self.config.peers == 1 {
                self.advance_commit();
            }
        }
        trace!(index, term, "start");
        self.replicate_new_entries();
        Some((index, term))
    }

    /// The service has applied through `index` and `data` captures its state:
    /// the log up to `index` is dropped.
    pub fn snapshot(&mut self, index: u64, data: Vec<u8>) {
        assert!(
            index <= self.last_applied,
            "server {} (term {}): a snapshot through {index} covers only applied entries (applied through {})",
            self.id(),
            self.hard.term,
            self.last_applied
        );
        if index <= self.log.snapshot_index() {
            return;
        }
        let term = self.log.term_at(index).unwrap_or_else(|| {
            panic!("server {}: applied entry {index} after the snapshot is not in the log", self.id())
        });
        self.log.compact_to(index, term);
        self.set_snapshot_meta(index, term);
        self.snapshot_data = Arc::new(data);
        self.snapshot_dirty = !on(Bug::RaftSnapshotNotPersisted);
        debug!(index, term, "snapshot");
    }

    // ----- time -----

    fn reset_election_deadline(&mut self, now_ms: u64) {
        let (min, max) = (self.config.election_timeout_ms_min, self.config.election_timeout_ms_max);
        let timeout = if on(Bug::RaftTimeoutNotRandomized) {
            min
        } else if buggify::fire(Site::RaftLongElectionTimeout) {
            self.rng.random_range(max..2 * max)
        } else {
            self.rng.random_range(min..max)
        };
        self.election_deadline_ms = now_ms + timeout;
        self.election_started_ms = now_ms;
    }

    /// The election timer as the lab's view reads it: (started, now,
    /// timeout) in milliseconds. A leader has none; with CheckQuorum its
    /// lease stands in for it: from when a majority last answered, for the
    /// maximum election timeout.
    pub fn election_timer_ms(&self) -> (u64, u64, u64) {
        if self.role == Role::Leader && self.config.check_quorum {
            let lease = self.config.election_timeout_ms_max;
            return (self.majority_heard_ms(self.clock_ms), self.clock_ms, lease);
        }
        let started = self.election_started_ms;
        (started, self.clock_ms, self.election_deadline_ms - started)
    }

    /// Fires whatever timer is due.
    pub fn tick(&mut self, now_ms: u64) {
        self.clock_ms = now_ms;
        if on(Bug::RaftMinorityLeaderBumpsTerm) && self.role == Role::Leader {
            self.bump_term_without_quorum(now_ms);
        }
        if self.config.check_quorum && self.role == Role::Leader && self.quorum_lost(now_ms) {
            debug!(term = self.hard.term, "no majority heard from: stepping down");
            self.become_follower(self.hard.term, now_ms);
        }
        match self.role {
            Role::Leader if now_ms >= self.heartbeat_due_ms => {
                if buggify::fire(Site::RaftLeaderStepsDown) {
                    self.become_follower(self.hard.term, now_ms); // it may not lead this term again
                } else {
                    self.broadcast_append(now_ms);
                    self.retry_lost_rounds(now_ms);
                }
            }
            Role::Follower | Role::PreCandidate | Role::Candidate if now_ms >= self.election_deadline_ms => {
                if self.config.pre_vote && self.config.peers > 1 {
                    self.start_pre_vote(now_ms);
                } else {
                    self.start_election(now_ms);
                }
            }
            _ => {}
        }
    }

    /// When a majority (counting this leader) was last heard from: the
    /// majority's oldest contact.
    fn majority_heard_ms(&self, now_ms: u64) -> u64 {
        let mut heard = [0u64; MAX_PEERS];
        let heard = &mut heard[..self.config.peers];
        heard.copy_from_slice(&self.heard_ms);
        heard[self.config.id] = now_ms;
        heard.sort_unstable_by(|a, b| b.cmp(a));
        heard[self.config.peers / 2]
    }

    /// CheckQuorum: no majority has answered this leader within the
    /// maximum election timeout (six heartbeats: with labrpc's long
    /// reordering holding replies up to 2.2 s, the minimum timeout's three
    /// made leaders step down over and over, and the lab's Figure 8
    /// Unreliable found no agreement in 10 s).
    fn quorum_lost(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.majority_heard_ms(now_ms)) >= self.config.election_timeout_ms_max
    }

    /// CheckQuorum's lease: a follower that has heard from a leader of its
    /// term, and whose election timer has not run out since, believes the
    /// leader lives and refuses to help depose it; so does a leader that a
    /// majority answered within the maximum election timeout (as in etcd
    /// and raft-rs, where a leader is led by itself).
    fn in_lease(&self, now_ms: u64) -> bool {
        let led = self.heard_leader && now_ms < self.election_deadline_ms;
        self.config.check_quorum
            && match self.role {
                Role::Leader => !self.quorum_lost(now_ms),
                Role::Follower => led,
                Role::PreCandidate => led && on(Bug::RaftPreCandidateKeepsLeader),
                Role::Candidate => false,
            }
    }

    /// `Bug::RaftMinorityLeaderBumpsTerm` only: a leader that has not heard
    /// from a majority for an election timeout steps down, and into the
    /// next term, without an election.
    fn bump_term_without_quorum(&mut self, now_ms: u64) {
        if now_ms.saturating_sub(self.majority_heard_ms(now_ms)) > self.config.election_timeout_ms_max {
            self.become_follower(self.hard.term + 1, now_ms);
            self.heard_ms.fill(now_ms);
        }
    }

    // ----- roles -----

    fn set_term(&mut self, term: u64) {
        assert!(term >= self.hard.term, "server {}: terms never decrease ({} -> {term})", self.id(), self.hard.term);
        if term > self.hard.term {
            self.hard.term = term;
            self.hard.voted_for = None;
            self.leader_id = None;
            self.follower_reads.clear();
            if !on(Bug::RaftTermNotPersisted) {
                self.hard_dirty = true;
            }
        }
    }

    fn set_snapshot_meta(&mut self, index: u64, term: u64) {
        self.hard.snapshot_index = index;
        self.hard.snapshot_term = term;
        self.hard_dirty = true;
    }

    fn become_follower(&mut self, term: u64, now_ms: u64) {
        let was_leader = self.role == Role::Leader;
        if term > self.hard.term {
            self.heard_leader = false;
        }
        self.set_term(term);
        self.role = Role::Follower;
        if was_leader {
            self.reset_election_deadline(now_ms);
        }
    }

    fn start_election(&mut self, now_ms: u64) {
        let term = self.hard.term + 1;
        self.set_term(term);
        self.role = Role::Candidate;
        self.heard_leader = false;
        self.hard.voted_for = Some(self.config.id);
        self.hard_dirty = true;
        self.votes.fill(false);
        self.votes[self.config.id] = true;
        self.campaign_term = Some(term);
        self.reset_election_deadline(now_ms);
        debug!(term, "election");
        if self.config.peers == 1 {
            self.become_leader(now_ms);
            return;
        }
        self.broadcast(Request::RequestVote {
            term,
            candidate: self.config.id,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        });
    }

    /// Sends `request` to every other peer.
    fn broadcast(&mut self, request: Request) {
        for peer in self.others() {
            self.output.messages.push((peer, request.clone()));
        }
    }

    /// PreVote: ask every peer whether it would vote for this peer in the
    /// next term; the term and vote stay as they are.
    fn start_pre_vote(&mut self, now_ms: u64) {
        self.role = Role::PreCandidate;
        if !on(Bug::RaftPreCandidateKeepsLeader) {
            self.heard_leader = false; // it no longer believes in a leader
        }
        self.pre_votes.fill(false);
        self.pre_votes[self.config.id] = true;
        self.reset_election_deadline(now_ms);
        let term = self.hard.term + 1;
        debug!(term, "pre-vote");
        self.broadcast(Request::PreVote {
            term,
            candidate: self.config.id,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        });
    }

    fn become_leader(&mut self, now_ms: u64) {
        assert!(
            self.led_term.is_none_or(|t| t < self.hard.term),
            "server {}: at most one leadership per term (led term {:?}, now term {})",
            self.id(),
            self.led_term,
            self.hard.term
        );
        self.led_term = Some(self.hard.term);
        self.campaign_term = None;
        self.role = Role::Leader;
        let next = self.log.last_index() + 1;
        self.next_index.fill(next);
        self.replication.fill(Replication::Probe { waiting: false });
        self.windows.iter_mut().for_each(Window::clear);
        self.wedged.fill(false);
        self.match_index.fill(0);
        self.match_index[self.config.id] = self.log.last_index();
        self.heard_ms.fill(now_ms);
        self.rounds.reset();
        self.lease_until_ms = 0;
        debug!(term = self.hard.term, "leader");
        self.broadcast_append(now_ms);
    }

    fn others(&self) -> impl Iterator<Item = usize> {
        let me = self.config.id;
        (0..self.config.peers).filter(move |&p| p != me)
    }

    // ----- sending -----

    /// Heartbeats, carrying any entries followers lack.
    fn broadcast_append(&mut self, now_ms: u64) {
        self.heartbeat_due_ms = now_ms + self.config.heartbeat_interval_ms;
        for peer in self.others() {
            self.send_append(peer, true);
        }
    }

    /// New entries, to the followers that are not being probed.
    fn replicate_new_entries(&mut self) {
        for peer in self.others() {
            self.send_append(peer, false);
        }
    }

    /// Sends what `peer` lacks. A heartbeat goes even to a follower with a
    /// probe outstanding or a full window (without entries then); anything
    /// else waits for an answer.
    fn send_append(&mut self, peer: usize, heartbeat: bool) {
        if self.wedged[peer] {
            return self.send_wedged_heartbeat(peer, heartbeat);
        }
        let window_full = self.replication[peer] == Replication::Replicate && self.windows[peer].is_full();
        match self.replication[peer] {
            Replication::Probe { waiting: true } if !heartbeat => return,
            Replication::Probe { .. } => self.replication[peer] = Replication::Probe { waiting: true },
            Replication::Replicate if window_full && !heartbeat => return,
            Replication::Replicate if window_full && on(Bug::RaftFullWindowHeartbeatAtMatch) => {
                return self.send_wedged_heartbeat(peer, heartbeat);
            }
            Replication::Replicate => {}
        }
        if on(Bug::RaftQuorumCheckCountsSends) {
            self.heard_ms[peer] = self.clock_ms;
        }
        let next = self.next_index[peer];
        if next <= self.log.snapshot_index() {
            self.output.messages.push((
                peer,
                Request::InstallSnapshot {
                    term: self.hard.term,
                    leader: self.config.id,
                    last_included_index: self.log.snapshot_index(),
                    last_included_term: self.log.snapshot_term(),
                    data: self.snapshot_data.clone(),
                },
            ));
            return;
        }
        let prev_log_index = next - 1;
        let prev_log_term = self.log.term_at(prev_log_index).unwrap_or_else(|| {
            panic!(
                "server {} (term {}): prev index {prev_log_index} is neither the snapshot nor in the log",
                self.id(),
                self.hard.term
            )
        });
        let batch = if window_full {
            0 // a heartbeat at the last index sent
        } else if !self.config.batching || buggify::fire(Site::RaftOneEntryPerAppend) {
            1
        } else {
            self.config.max_entries_per_append
        };
        let entries = self.log.entries_from(next, batch);
        debug!(peer, prev_log_index, prev_log_term, entries = entries.len(), commit = self.commit_index, "append sent");
        if self.replication[peer] == Replication::Replicate && !entries.is_empty() && !on(Bug::RaftNextIndexNotAdvanced)
        {
            // Pipelining: assume the entries arrive; a rejection resets this.
            self.windows[peer].sent(next + entries.len() as u64 - 1);
            self.next_index[peer] = next + entries.len() as u64;
        }
        self.push_append(peer, prev_log_index, prev_log_term, entries);
    }

    /// Queues an AppendEntries of this term to `peer`.
    fn push_append(&mut self, peer: usize, prev_log_index: u64, prev_log_term: u64, entries: Vec<Entry>) {
        let request = Request::AppendEntries {
            term: self.hard.term,
            leader: self.config.id,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: self.commit_index,
        };
        self.output.messages.push((peer, request));
    }

    /// `Bug::RaftPipelineWedgesOnReject`: the replication to `peer` is
    /// stuck, so only the heartbeats go, empty, at the last index known to
    /// match (as with `Bug::RaftFullWindowHeartbeatAtMatch` while the window
    /// is full).
    fn send_wedged_heartbeat(&mut self, peer: usize, heartbeat: bool) {
        if !heartbeat {
            return;
        }
        let prev_log_index = self.match_index[peer].max(self.log.snapshot_index());
        let prev_log_term = self.log.term_at(prev_log_index).expect("the snapshot's index or after has a term");
        self.push_append(peer, prev_log_index, prev_log_term, Vec::new());
    }

    // ----- requests -----

    /// Handles a request from `from` and returns the response. Persist the
    /// output's state delta before sending the response.
    pub fn handle_request(&mut self, from: usize, request: Request, now_ms: u64) -> Response {
        self.clock_ms = now_ms;
        match request {
            Request::PreVote { term, candidate, last_log_index, last_log_term } => {
                debug_assert_eq!(candidate, from);
                self.pre_vote(term, candidate, (last_log_term, last_log_index), now_ms)
            }
            Request::RequestVote { term, candidate, .. } if term > self.hard.term && self.in_lease(now_ms) => {
                debug!(term, candidate, "vote refused: the leader was heard from within the lease");
                Response::RequestVote { term: self.hard.term, granted: false }
            }
            Request::RequestVote { term, candidate, last_log_index, last_log_term } => {
                debug_assert_eq!(candidate, from);
                if term > self.hard.term {
                    self.become_follower(term, now_ms);
                }
                let up_to_date = self.up_to_date(last_log_term, last_log_index);
                let free = self.hard.voted_for.is_none_or(|v| v == candidate) || on(Bug::RaftVoteTwice);
                let leased = self.lease_blocks_vote(now_ms);
                let granted =
                    term == self.hard.term && free && up_to_date && !leased && !buggify::fire(Site::RaftVoteWithheld);
                if granted {
                    if self.role == Role::PreCandidate {
                        self.role = Role::Follower; // another campaigns in this term
                    }
                    if self.hard.voted_for != Some(candidate) {
                        self.hard.voted_for = Some(candidate);
                        if !on(Bug::RaftVoteNotPersisted) {
                            self.hard_dirty = true;
                        }
                    }
                    if !on(Bug::RaftVoteKeepsTimer) {
                        self.reset_election_deadline(now_ms);
                    }
                } else if on(Bug::RaftRefusedVoteResetsTimer) && self.role == Role::Follower {
                    self.reset_election_deadline(now_ms);
                }
                debug!(term, candidate, granted, up_to_date, free, "vote");
                Response::RequestVote { term: self.hard.term, granted }
            }
            Request::AppendEntries { term, leader, prev_log_index, prev_log_term, entries, leader_commit } => {
                debug_assert_eq!(leader, from);
                if term < self.hard.term {
                    if on(Bug::RaftAcceptsStaleLeader) {
                        return self.append_entries(prev_log_index, prev_log_term, entries, leader_commit);
                    }
                    return Response::AppendEntries { term: self.hard.term, match_index: None, conflict: None };
                }
                self.accept_leader(term, leader, now_ms);
                self.append_entries(prev_log_index, prev_log_term, entries, leader_commit)
            }
            Request::InstallSnapshot { term, leader, last_included_index, last_included_term, data } => {
                debug_assert_eq!(leader, from);
                if term >= self.hard.term {
                    self.accept_leader(term, leader, now_ms);
                    self.install_snapshot(last_included_index, last_included_term, data);
                }
                Response::InstallSnapshot { term: self.hard.term, last_included_index }
            }
            Request::Confirm { term, leader, round } => {
                debug_assert_eq!(leader, from);
                if term >= self.hard.term {
                    self.accept_leader(term, leader, now_ms);
                }
                Response::Confirm { term: self.hard.term, round }
            }
            Request::ReadIndex { term, read } => self.read_index_asked(from, term, read, now_ms),
            Request::ReadReady { term, leader, read, index } => {
                debug_assert_eq!(leader, from);
                if term >= self.hard.term {
                    if term == self.hard.term {
                        self.follower_reads.ready(read, index); // before it could be asked again
                    }
                    self.accept_leader(term, leader, now_ms);
                    self.serve_applied_follower_reads();
                }
                Response::ReadReady { term: self.hard.term }
            }
        }
    }

    /// Lease reads: this peer heard from a leader (or restarted) within the
    /// minimum election timeout, so that leader's lease may still run.
    fn lease_blocks_vote(&self, now_ms: u64) -> bool {
        self.config.lease_read
            && now_ms < self.leader_contact_ms + self.config.election_timeout_ms_min
            && !on(Bug::RaftLeaseWithoutVoteBlock)
    }

    /// A PreVote for `term` (the candidate's next): granted to a log at
    /// least as up to date, for a term above this peer's, outside
    /// CheckQuorum's lease. Nothing changes here either way.
    fn pre_vote(&mut self, term: u64, candidate: usize, candidate_last: (u64, u64), now_ms: u64) -> Response {
        if on(Bug::RaftPreVoteTakesTerm) && term > self.hard.term {
            self.become_follower(term, now_ms);
        }
        let up_to_date = self.up_to_date(candidate_last.0, candidate_last.1);
        let in_lease = self.in_lease(now_ms);
        let fresh = term > self.hard.term || (on(Bug::RaftPreVoteTakesTerm) && term == self.hard.term);
        let granted = fresh && up_to_date && !in_lease;
        debug!(term, candidate, granted, up_to_date, in_lease, "pre-vote answered");
        Response::PreVote { term: if granted { term } else { self.hard.term }, granted }
    }

    /// Whether a candidate's log, ending at (`last_term`, `last_index`), is
    /// at least as up to date as this peer's (5.4.1), for votes and
    /// PreVotes alike (so a mistake here is made in both).
    fn up_to_date(&self, last_term: u64, last_index: u64) -> bool {
        if on(Bug::RaftVoteWithoutLogCheck) {
            true
        } else if on(Bug::RaftUpToDateByLength) {
            last_index >= self.log.last_index()
        } else {
            (last_term, last_index) >= (self.log.last_term(), self.log.last_index())
        }
    }

    /// A valid leader for `term` exists: follow it.
    fn accept_leader(&mut self, term: u64, leader: usize, now_ms: u64) {
        if term > self.hard.term || self.role != Role::Follower {
            assert!(
                !(self.role == Role::Leader && term == self.hard.term),
                "server {}: two leaders in term {term} (this one leads it too)",
                self.id()
            );
            self.become_follower(term, now_ms);
        }
        if !on(Bug::RaftHeartbeatKeepsTimer) {
            self.reset_election_deadline(now_ms);
        }
        self.heard_leader = true;
        self.leader_contact_ms = now_ms;
        self.leader_id = Some(leader);
        if self.config.follower_read {
            self.ask_again(leader, now_ms);
        }
        self.campaign_term = None; // the term has its leader: this campaign lost
    }

    fn append_entries(
        &mut self,
        prev_log_index: u64,
        prev_log_term: u64,
        entries: Vec<Entry>,
        leader_commit: u64,
    ) -> Response {
        let term = self.hard.term;
        let log_len = self.log.last_index();
        if prev_log_index > log_len {
            let conflict = Conflict { term: None, first_index: log_len + 1, log_len };
            return Response::AppendEntries { term, match_index: None, conflict: Some(conflict) };
        }
        // Entries at or before our snapshot are committed, so they match.
        let snapshot_index = self.log.snapshot_index();
        let (prev_log_index, entries) = if prev_log_index < snapshot_index {
            let skip = (snapshot_index - prev_log_index) as usize;
            if skip >= entries.len() {
                return Response::AppendEntries { term, match_index: Some(snapshot_index), conflict: None };
            }
            (snapshot_index, entries[skip..].to_vec())
        } else {
            match self.log.term_at(prev_log_index) {
                Some(t) if t == prev_log_term || on(Bug::RaftSkipsPrevTermCheck) => (prev_log_index, entries),
                Some(t) => {
                    let first_index = self.log.first_index_of_term_run(prev_log_index, t);
                    let conflict = Conflict { term: Some(t), first_index, log_len };
                    return Response::AppendEntries { term, match_index: None, conflict: Some(conflict) };
                }
                None => unreachable!("prev is within the log and not before the snapshot"),
            }
        };
        let last_new = prev_log_index + entries.len() as u64;
        for (k, entry) in entries.into_iter().enumerate() {
            let index = prev_log_index + 1 + k as u64;
            match self.log.term_at(index) {
                Some(t) if t == entry.term => continue,
                Some(_) => {
                    assert!(
                        index > self.commit_index,
                        "server {} (term {}): committed entry {index} (commit index {}) is being overwritten",
                        self.id(),
                        self.hard.term,
                        self.commit_index
                    );
                    if on(Bug::RaftOverwritesWithoutTruncating) {
                        self.log.replace(index, entry);
                        continue;
                    }
                    self.log.truncate_from(index);
                    self.log.append(entry);
                }
                None => self.log.append(entry),
            }
        }
        if on(Bug::RaftTruncatesMatchingEntries) && last_new > self.commit_index {
            self.log.truncate_from(last_new + 1);
        }
        if leader_commit > self.commit_index {
            let vouched = if on(Bug::RaftCommitPastNewEntries) { self.log.last_index() } else { last_new };
            self.set_commit(leader_commit.min(vouched));
        }
        Response::AppendEntries { term, match_index: Some(last_new), conflict: None }
    }

    fn install_snapshot(&mut self, index: u64, term: u64, data: Snapshot) {
        if index <= self.commit_index {
            if on(Bug::RaftInstallsOlderSnapshot) {
                self.roll_back_to(index, term, data);
            }
            return; // we have all of it; the service snapshots on its own
        }
        self.log.compact_to(index, term);
        self.set_snapshot_meta(index, term);
        self.commit_index = index;
        self.last_applied = index;
        self.snapshot_data = data.clone();
        self.snapshot_dirty = true;
        self.output.applies.push(Apply::Snapshot { index, term, data });
        debug!(index, term, "installed snapshot");
    }

    /// `Bug::RaftInstallsOlderSnapshot` only: a follower that installs
    /// every snapshot takes the service and its commit point back to an old
    /// one.
    fn roll_back_to(&mut self, index: u64, term: u64, data: Snapshot) {
        if index > self.log.snapshot_index() {
            self.log.compact_to(index, term);
            self.set_snapshot_meta(index, term);
            self.snapshot_data = data.clone();
            self.snapshot_dirty = true;
        }
        self.commit_index = index;
        self.last_applied = index;
        self.output.applies.push(Apply::Snapshot { index, term, data });
    }

    // ----- responses -----

    /// Handles the response of `from` to an earlier request.
    pub fn handle_response(&mut self, from: usize, response: Response, now_ms: u64) {
        self.clock_ms = now_ms;
        if let Response::PreVote { term, granted } = response {
            return self.pre_vote_answered(from, term, granted, now_ms);
        }
        let term = match &response {
            Response::RequestVote { term, .. }
            | Response::AppendEntries { term, .. }
            | Response::InstallSnapshot { term, .. }
            | Response::PreVote { term, .. }
            | Response::Confirm { term, .. }
            | Response::ReadIndex { term, .. }
            | Response::ReadReady { term } => *term,
        };
        let keeps_leading = on(Bug::RaftReplyTermIgnored)
            && self.role == Role::Leader
            && matches!(response, Response::AppendEntries { .. });
        if term > self.hard.term && !keeps_leading {
            self.become_follower(term, now_ms);
            return;
        }
        if term > self.hard.term {
            return; // the bug: the reply's term is dropped with the reply
        }
        let stale_vote_counted = on(Bug::RaftCountsStaleVotes) && matches!(response, Response::RequestVote { .. });
        if term < self.hard.term && !stale_vote_counted {
            return; // an answer to an older term
        }
        self.heard_ms[from] = now_ms;
        match response {
            Response::PreVote { .. } => unreachable!("answered above"),
            Response::Confirm { round, .. } => {
                if self.role == Role::Leader {
                    self.round_answered(from, round);
                }
            }
            Response::ReadIndex { read, taken: false, .. } => {
                if let Some(id) = self.follower_reads.refused(read) {
                    self.output.applies.push(Apply::ReadRefused { id });
                }
            }
            Response::ReadIndex { taken: true, .. } => {}
            Response::ReadReady { .. } => {}
            Response::RequestVote { granted, .. } => {
                debug!(peer = from, granted, "vote answered");
                // A candidate whose timer ran out before its grants arrived
                // is a pre-candidate of the same term, with its vote still
                // its own: the grants still elect it in this term. Not
                // once it led the term, nor after a restart: a term's
                // leader is elected once.
                let campaigning = self.role == Role::Candidate
                    || (self.role == Role::PreCandidate && self.campaign_term == Some(self.hard.term));
                if campaigning && granted {
                    self.votes[from] = true;
                    if self.votes.iter().filter(|v| **v).count() * 2 > self.config.peers {
                        self.become_leader(now_ms);
                    }
                }
            }
            Response::AppendEntries { match_index, conflict, .. } => {
                if self.role != Role::Leader {
                    return;
                }
                debug!(peer = from, ?match_index, ?conflict, "append answered");
                if let Some(m) = match_index {
                    self.windows[from].answered(m);
                    if m > self.match_index[from] {
                        self.match_index[from] = m;
                        self.advance_commit();
                    }
                    self.replication[from] = Replication::Replicate;
                    if on(Bug::RaftNextIndexNotAdvanced) {
                        return; // the next heartbeat sends the same entries again
                    }
                    self.next_index[from] = self.next_index[from].max(m + 1);
                    if self.next_index[from] <= self.log.last_index() {
                        self.send_append(from, false); // keep catching up at once
                    }
                } else if let Some(c) = conflict {
                    let next = match c.term.and_then(|t| self.log.last_index_of_term(t)) {
                        Some(last_of_term) => last_of_term + 1,
                        None => c.first_index,
                    };
                    self.next_index[from] = next.min(c.log_len + 1).max(self.match_index[from] + 1).max(1);
                    if on(Bug::RaftBackupOvershoots) && c.term.is_none() {
                        self.next_index[from] = (c.log_len + 2).min(self.log.last_index() + 1);
                    }
                    if on(Bug::RaftPipelineWedgesOnReject) && self.replication[from] == Replication::Replicate {
                        self.wedged[from] = true;
                    }
                    self.replication[from] = Replication::Probe { waiting: false };
                    self.windows[from].clear();
                    self.send_append(from, false);
                }
            }
            Response::InstallSnapshot { last_included_index, .. } => {
                if self.role != Role::Leader {
                    return;
                }
                if last_included_index > self.match_index[from] {
                    self.match_index[from] = last_included_index;
                    self.advance_commit();
                }
                self.next_index[from] = self.next_index[from].max(last_included_index + 1);
                // (Empty while probing: entering a probe clears it.)
                self.windows[from].answered(last_included_index);
                self.replication[from] = Replication::Replicate;
                if self.next_index[from] <= self.log.last_index() {
                    self.send_append(from, false);
                }
            }
        }
    }

    /// A PreVote's answer: a refusal of a higher term is that term; a
    /// grant of this round counts, and a majority starts the campaign.
    fn pre_vote_answered(&mut self, from: usize, term: u64, granted: bool, now_ms: u64) {
        debug!(peer = from, term, granted, "pre-vote result");
        if !granted && term > self.hard.term {
            self.become_follower(term, now_ms);
            return;
        }
        if self.role != Role::PreCandidate || !granted || term != self.hard.term + 1 {
            return;
        }
        self.pre_votes[from] = true;
        if self.pre_votes.iter().filter(|v| **v).count() * 2 > self.config.peers {
            self.start_election(now_ms);
        }
    }

    // ----- reads without the log -----

    /// Asks to serve read `id` without the log (ReadIndex or a lease):
    /// true when an `Apply::Read` for it will follow (at once within the
    /// lease, or once a round confirms this peer still leads, if it still
    /// does then); false when it must go through the log: this peer does
    /// not lead, neither read path is on, or no entry of its term has
    /// committed yet (its commit index may lag the last leader's).
    pub fn read(&mut self, id: u64, now_ms: u64) -> bool {
        self.clock_ms = now_ms;
        if self.role == Role::Follower && self.config.follower_read {
            return self.ask_leader_to_read(id);
        }
        let on_for_reads = self.config.read_index || self.config.lease_read || self.config.follower_read;
        if self.role != Role::Leader || !on_for_reads || !self.can_serve_reads() {
            return false;
        }
        self.confirm_read(Reader::Local { id }, now_ms);
        true
    }

    /// A leader knows its commit index once an entry of its term has
    /// committed (thesis 6.4, step 1).
    fn can_serve_reads(&self) -> bool {
        let own_term_committed = self.log.term_at(self.commit_index) == Some(self.hard.term);
        own_term_committed || on(Bug::RaftReadIndexBeforeOwnCommit)
    }

    /// Serves `reader` at this leader's commit index: at once within the
    /// lease (or alone), else once a new round is confirmed.
    fn confirm_read(&mut self, reader: Reader, now_ms: u64) {
        debug_assert_eq!(self.last_applied, self.commit_index, "this Raft applies as it commits");
        if self.config.peers == 1 || (self.config.lease_read && now_ms < self.lease_until_ms) {
            trace!(?reader, lease_until_ms = self.lease_until_ms, "read served at once");
            return self.serve(reader);
        }
        let round = self.rounds.start(self.config.id, now_ms);
        self.rounds.wait(reader, round);
        self.broadcast(Request::Confirm { term: self.hard.term, leader: self.config.id, round });
    }

    /// A confirmed read: the leader's own is applied, a follower's read
    /// index is sent to it.
    fn serve(&mut self, reader: Reader) {
        match reader {
            Reader::Local { id } => self.output.applies.push(Apply::Read { id }),
            Reader::Follower { peer, read, index } => {
                let ready = Request::ReadReady { term: self.hard.term, leader: self.config.id, read, index };
                self.output.messages.push((peer, ready));
            }
        }
    }

    /// Follower reads: asks the leader this follower heard from in its
    /// term for a read index (false: it knows no leader yet).
    fn ask_leader_to_read(&mut self, id: u64) -> bool {
        let Some(leader) = self.leader_id else { return false };
        let read = self.follower_reads.ask(id, self.clock_ms);
        self.output.messages.push((leader, Request::ReadIndex { term: self.hard.term, read }));
        true
    }

    /// Reads waiting on a round that may have been lost get a new one with
    /// each heartbeat: confirming it confirms every read before it.
    fn retry_lost_rounds(&mut self, now_ms: u64) {
        if self.rounds.any_waiting() {
            let round = self.rounds.start(self.config.id, now_ms);
            self.broadcast(Request::Confirm { term: self.hard.term, leader: self.config.id, round });
        }
    }

    /// Follower reads unanswered for a heartbeat interval (the question or
    /// the answer was lost) are asked again of the leader just heard from.
    fn ask_again(&mut self, leader: usize, now_ms: u64) {
        for read in self.follower_reads.ask_again(now_ms, self.config.heartbeat_interval_ms) {
            self.output.messages.push((leader, Request::ReadIndex { term: self.hard.term, read }));
        }
    }

    /// A follower's `ReadIndex`: taken by the leader of its term that can
    /// serve reads, at its commit index now.
    fn read_index_asked(&mut self, from: usize, term: u64, read: u64, now_ms: u64) -> Response {
        if term > self.hard.term {
            self.become_follower(term, now_ms);
        }
        let taken = term == self.hard.term && self.role == Role::Leader && self.can_serve_reads();
        if taken {
            self.confirm_read(Reader::Follower { peer: from, read, index: self.commit_index }, now_ms);
        }
        Response::ReadIndex { term: self.hard.term, read, taken }
    }

    /// Follower reads whose index this follower has applied are served.
    fn serve_applied_follower_reads(&mut self) {
        let served = self.follower_reads.take_applied(self.last_applied, on(Bug::RaftFollowerReadWithoutApply));
        self.output.applies.extend(served.into_iter().map(|id| Apply::Read { id }));
    }

    /// How long a lease lasts on this leader's clock: the minimum election
    /// timeout, as slow as a follower's clock may run it, over as fast as
    /// this one may (so it ends, in true time, before any follower that
    /// answered the round can vote again).
    fn lease_ms(&self) -> u64 {
        let min = self.config.election_timeout_ms_min;
        if on(Bug::RaftLeaseWithoutDriftMargin) {
            return min;
        }
        let drift = self.config.max_clock_drift_ppm;
        assert!(drift < 1_000_000, "clocks run forward");
        min * (1_000_000 - drift) / (1_000_000 + drift)
    }

    /// Peer `from` answered confirmation round `round`: the reads a
    /// majority has now confirmed are served, and the lease renewed from
    /// when the round went out.
    fn round_answered(&mut self, from: usize, round: u64) {
        let Some(sent_ms) = self.rounds.answered(from, round) else { return };
        if self.config.lease_read {
            self.lease_until_ms = self.lease_until_ms.max(sent_ms + self.lease_ms());
        }
        let ready: Vec<Reader> = self.rounds.take_ready().collect();
        trace!(round, reads = ready.len(), "round confirmed");
        for reader in ready {
            self.serve(reader);
        }
    }

    // ----- commit and apply -----

    /// Commits the highest index of this term that a majority holds.
    fn advance_commit(&mut self) {
        let matched = &mut self.sorted_match;
        matched.clear();
        matched.extend_from_slice(&self.match_index);
        matched.sort_unstable();
        // Sorted ascending: `matched[k]` is held by peers - k servers.
        let n = self.config.peers;
        let quorum_at = if on(Bug::RaftCommitWithoutMajority) { n - n / 2 } else { (n - 1) / 2 };
        let majority_index = matched[quorum_at.min(n - 1)];
        let this_term = self.log.term_at(majority_index) == Some(self.hard.term);
        if majority_index > self.commit_index && (this_term || on(Bug::RaftCommitsOldTermByCount)) {
            self.set_commit(majority_index);
        }
    }

    fn set_commit(&mut self, index: u64) {
        if index <= self.commit_index {
            return;
        }
        assert!(
            index <= self.log.last_index(),
            "server {} (term {}): commit index {index} passes the last log index {}",
            self.id(),
            self.hard.term,
            self.log.last_index()
        );
        debug!(from = self.commit_index, to = index, term = self.hard.term, "commit");
        self.commit_index = index;
        debug!(from = self.last_applied + 1, to = index, "apply"); // applied never passes the old commit
        while self.last_applied < self.commit_index {
            let next = self.last_applied + 1;
            let entry = self
                .log
                .entry(next)
                .unwrap_or_else(|| panic!("server {}: committed, unapplied entry {next} is not in the log", self.id()));
            self.output.applies.push(Apply::Command { index: next, term: entry.term, command: entry.command.clone() });
            self.last_applied = next;
        }
        debug_assert!(self.last_applied <= self.commit_index, "applied never passes commit");
        if self.follower_reads.applying() {
            self.serve_applied_follower_reads();
        }
    }
}
