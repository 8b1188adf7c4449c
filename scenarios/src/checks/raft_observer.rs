//! An observer of every Raft peer of a cluster, run after each step any of
//! them takes (a `sim` inspector), that checks the paper's invariants as they
//! happen rather than when a tester happens to poll:
//!
//! - election safety: at most one leader per term, and a term begins only
//!   with an election (a peer first seen in a term is its candidate);
//! - log matching: two entries with the same index and term carry the same
//!   command and follow entries of the same term (checked entry by entry as
//!   logs change, which by induction is the whole property);
//! - leader completeness: a new leader holds every entry committed in an
//!   earlier term (a leader of an old term, elected by votes cast before the
//!   newer terms began, need not);
//! - state machine safety: every peer commits the same entry at an index,
//!   and a peer's commit index never goes back while it runs;
//! - the commit rule: a leader commits only an entry of its own term, and
//!   only one a majority holds at that moment (a peer that acknowledged an
//!   entry keeps it, on disk, unless a leader without it replaced it);
//! - durability: after every step the peer's term and vote are on its disk,
//!   and its log and snapshot are what its persister holds (a leader's own
//!   new entries may still be in the page cache, written asynchronously),
//!   so nothing it sent or answered rests on state a crash would lose.
//!
//! - Figure 2's rules on each step (`raft_rules`), and a leader's own log
//!   only growing while it leads (Leader Append-Only).
//!
//! It reads each peer through the contract's `RaftView`, so it watches any
//! implementation that offers one.

use super::raft_rules::{self, Ballots, Seen};
use contract::{Raft, RaftView, Role, StepRecord};
use sim::{Addr, Inspected, Node, SimHandle};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A node type that hosts a Raft peer.
pub trait HostsRaft {
    type Raft: Raft;
    fn hosted_raft(&self) -> &Self::Raft;
    /// The last input its host gave the Raft, if the server shows it.
    fn last_step(&self) -> Option<&StepRecord>;
    /// Whether the server's service can serve what it owns: always for a
    /// replicated service without shards (the default).
    fn serving(&self) -> Serving {
        Serving::Always
    }
}

/// What a server's service can serve now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serving {
    /// Everything it owns, always (kv, the shard controller).
    Always,
    /// Everything it owns in this configuration (a shardkv group settled in
    /// it).
    Settled(u64),
    /// Not yet all it owns (shards on their way), or it does not say.
    Moving,
}

/// The view of Raft `R`.
type ViewOf<R> = <R as Raft>::View;

/// What the observer last saw of one peer.
#[derive(Default)]
struct PeerView {
    incarnation: u32,
    /// `log[i]`: (append number, term) of the entry seen at index i.
    log: Vec<(u64, u64)>,
    snapshot_index: u64,
    commit_index: u64,
    /// The term this peer was last seen leading.
    led_term: Option<u64>,
    /// The peer as the step rules last saw it.
    seen: Option<Seen>,
    snapshot_term: u64,
    /// The host's input count at the last step seen.
    step_seq: u64,
    ballots: Ballots,
}

/// The term of the entry at `index` in a peer's log as last seen, after
/// its snapshot through `snapshot` (index, term): the snapshot's at its
/// index; `None` before it or past the log.
fn term_in(log: &[(u64, u64)], snapshot: (u64, u64), index: u64) -> Option<u64> {
    match index {
        i if i == snapshot.0 => Some(snapshot.1),
        i if i < snapshot.0 => None,
        i => log.get(i as usize).map(|e| e.1),
    }
}

/// The invariants' state for one Raft cluster.
pub struct RaftObserver {
    cluster: String,
    views: Vec<PeerView>,
    /// Term -> the peer that led it.
    leaders: BTreeMap<u64, usize>,
    /// The highest term any peer has been seen in.
    highest_term: u64,
    entries: EntryTable,
    /// `committed[i]`: the entry committed at index i, once any peer did.
    committed: Vec<Option<Committed>>,
    /// The last index on the inspected peer's disk, while its disk lags
    /// its page cache (`None`: all it wrote is durable).
    own_durable_last_index: Option<u64>,
}

/// What is known of each (index, term): (command hash, term of the entry
/// before it). Logs rarely hold two terms at one index, so the first one
/// seen lives in a vector and any other in a map (ordered: no hashing).
#[derive(Default)]
struct EntryTable {
    /// `first[i]`: (term, command hash, previous term); term 0 is none yet.
    first: Vec<(u64, u64, u64)>,
    others: BTreeMap<(u64, u64), (u64, u64)>,
}

impl EntryTable {
    /// Records what a log holds at (index, term); returns what was
    /// recorded there before when it differs.
    fn record(&mut self, index: u64, term: u64, this: (u64, u64)) -> Option<(u64, u64)> {
        let i = index as usize;
        if self.first.len() <= i {
            self.first.resize(i + 1, (0, 0, 0));
        }
        let (first_term, hash, prev) = self.first[i];
        let before = if first_term == 0 {
            self.first[i] = (term, this.0, this.1);
            None
        } else if first_term == term {
            Some((hash, prev))
        } else {
            self.others.insert((index, term), this)
        };
        before.filter(|b| *b != this)
    }
}

/// An entry some peer committed (log matching makes its term name it).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Committed {
    entry_term: u64,
    /// The lowest current term of a peer seen committing it: every leader
    /// of a later term must hold it.
    in_term: u64,
}

/// Watches the Raft peers at `peers` (peer i at `peers[i]`) for the rest of
/// the run; a broken invariant fails the run, naming the cluster. Nothing
/// for an implementation without a view.
pub fn watch<N: Node + HostsRaft>(h: &SimHandle<N>, cluster: &str, peers: &[Addr]) {
    if !<ViewOf<N::Raft> as RaftView<<N::Raft as Raft>::Request, <N::Raft as Raft>::Response>>::PRESENT {
        return;
    }
    let observer = Rc::new(RefCell::new(RaftObserver::new(cluster, peers.len())));
    for (peer, &server) in peers.iter().enumerate() {
        let observer = observer.clone();
        h.add_inspector(server, Box::new(move |seen: Inspected<'_, N>| observer.borrow_mut().inspect(peer, seen)));
    }
}

impl RaftObserver {
    pub fn new(cluster: &str, peers: usize) -> RaftObserver {
        RaftObserver {
            cluster: cluster.to_string(),
            views: (0..peers).map(|_| PeerView::default()).collect(),
            leaders: BTreeMap::new(),
            highest_term: 0,
            entries: EntryTable::default(),
            committed: vec![None],
            own_durable_last_index: None,
        }
    }

    /// Peer `peer` took a step.
    fn inspect<N: HostsRaft>(&mut self, peer: usize, seen: Inspected<'_, N>) -> Result<(), String> {
        let Some(raft) = seen.node.hosted_raft().view() else { return Ok(()) };
        let view = &self.views[peer];
        if seen.node.last_step().is_some_and(|record| {
            view.incarnation == seen.incarnation && record.seq == view.step_seq && view.seen.is_some()
        }) {
            // No input reached the Raft since the last look: neither it nor
            // what it persisted changed (its disk only catches up).
            return Ok(());
        }
        let mut unchanged = false;
        if let Some(record) = seen.node.last_step() {
            unchanged = self
                .check_rules(peer, seen.incarnation, raft, record)
                .map_err(|e| format!("raft rule broken in cluster {}: {e}", self.cluster))?;
        }
        if unchanged && self.same_last_entry(peer, raft) {
            // The invariants check what changed, from the last entry back:
            // nothing did (a Start refused by a follower, most often).
            return self
                .check_durable(peer, raft, seen.persister)
                .map_err(|e| format!("raft invariant broken in cluster {}: {e}", self.cluster));
        }
        // A leader counts itself toward a commit only through what is on
        // its disk (asynchronous writes may still be in the page cache);
        // read only when a leader's commit moves (it walks the image).
        let moved = raft.role() == Role::Leader && raft.commit_index() > self.views[peer].commit_index;
        self.own_durable_last_index = if !moved || seen.persister.is_synced() {
            None
        } else {
            <ViewOf<N::Raft> as RaftView<_, _>>::persisted_last_index(seen.persister.durable_raft_state())
        };
        self.check_durable(peer, raft, seen.persister)
            .and_then(|()| self.step(peer, seen.incarnation, raft))
            .map_err(|e| format!("raft invariant broken in cluster {}: {e}", self.cluster))
    }

    /// Whether the last entry is the same append the observer saw there.
    fn same_last_entry<M, R, V: RaftView<M, R>>(&self, peer: usize, raft: &V) -> bool {
        let last = raft.last_log_index();
        raft.entry(last).map(|e| e.written) == self.views[peer].log.get(last as usize).map(|e| e.0)
    }

    /// Figure 2's rules on the step just taken, when it was one input to
    /// the Raft (not a restart); then remembers the peer as it is now.
    /// `Ok(true)`: one step of the same incarnation that left the peer's
    /// term, vote, role, commit, snapshot and last index and term as they
    /// were.
    fn check_rules<M, R, V: RaftView<M, R>>(
        &mut self,
        peer: usize,
        incarnation: u32,
        raft: &V,
        record: &StepRecord,
    ) -> Result<bool, String> {
        let peers = self.views.len();
        // Borrowed field by field: the rules read the last look and the
        // seen log while they update the ballots, and nothing is copied.
        let PeerView {
            incarnation: seen_incarnation, log, snapshot_index, snapshot_term, seen, step_seq, ballots, ..
        } = &mut self.views[peer];
        let same_incarnation = *seen_incarnation == incarnation;
        if !same_incarnation {
            *ballots = Ballots::default();
        }
        let now = Seen::of(raft);
        let mut unchanged = false;
        if let (true, Some(before)) = (same_incarnation && record.seq == *step_seq + 1, seen.as_ref()) {
            if raft_rules::nothing_to_check(record, before, &now) {
                // A Start refused by a follower, most often: every rule
                // holds of a step that changed nothing.
                *step_seq = record.seq;
                return Ok(true);
            }
            let log_before = |index: u64| term_in(log, (*snapshot_index, *snapshot_term), index);
            let step = raft_rules::Step { peer, peers, before, after: &now, log_before: &log_before, record };
            raft_rules::check(&step, ballots, raft)?;
            let shown = |s: &Seen| (s.term, s.vote, s.role, s.commit, s.snapshot_index, s.last_index, s.last_term);
            unchanged = shown(before) == shown(&now);
        }
        *step_seq = record.seq;
        *seen = Some(now);
        Ok(unchanged)
    }

    fn step<M, R, V: RaftView<M, R>>(&mut self, peer: usize, incarnation: u32, raft: &V) -> Result<(), String> {
        let view = &mut self.views[peer];
        let restarted = view.incarnation != incarnation;
        if restarted {
            // A restart: the log comes back from disk; commit starts over.
            let (seen, step_seq, ballots) = (view.seen, view.step_seq, view.ballots);
            let mut log = std::mem::take(&mut view.log);
            log.clear(); // keeps its room: the log comes back as long
            *view = PeerView {
                incarnation,
                log,
                commit_index: raft.commit_index(),
                seen,
                step_seq,
                ballots,
                ..PeerView::default()
            };
        }
        let led = view.led_term == Some(raft.term()) && raft.role() == Role::Leader;
        self.check_term_birth(peer, raft, restarted)?;
        self.check_log(peer, raft, led)?;
        self.check_leader(peer, raft)?;
        self.check_commit(peer, raft)
    }

    /// Durability: what the peer holds in memory is what its disk holds:
    /// term and vote, compared here; the rest by the implementation.
    fn check_durable<M, R, V: RaftView<M, R>>(
        &self,
        peer: usize,
        raft: &V,
        persister: &sim::Persister,
    ) -> Result<(), String> {
        let state = persister.raft_state();
        let (term, vote) = (raft.term(), raft.voted_for());
        // Term and vote must be on disk itself; the log may be in the page
        // cache still (a leader's asynchronous writes of its own entries).
        let (persisted_term, persisted_vote) = V::persisted_term_and_vote(persister.durable_raft_state());
        if (persisted_term, persisted_vote) != (term, vote) {
            return Err(format!(
                "peer {peer} holds term {term} and vote {vote:?} but persisted term {persisted_term} and vote \
                 {persisted_vote:?}"
            ));
        }
        raft.check_durable(state, persister.snapshot())
    }

    /// Log matching, for the entries that changed since the last look; and
    /// a leader that `led` this term before the step changed none of its
    /// entries (Leader Append-Only).
    fn check_log<M, R, V: RaftView<M, R>>(&mut self, peer: usize, raft: &V, led: bool) -> Result<(), String> {
        let (snapshot, last) = (raft.snapshot_index(), raft.last_log_index());
        let view = &mut self.views[peer];
        let unchanged = |i: u64| {
            let seen = view.log.get(i as usize).map(|(n, _)| *n);
            seen.is_some() && raft.entry(i).map(|e| e.written) == seen
        };
        let mut first_new = last + 1;
        while first_new - 1 > snapshot && !unchanged(first_new - 1) {
            first_new -= 1;
        }
        let last_before = (view.log.len() as u64).saturating_sub(1);
        if led && (first_new <= last_before.min(last) || last < last_before) {
            return Err(format!(
                "leader append-only: peer {peer}, leading term {}, changed its entry at index {first_new} (its log \
                 ended at {last_before}, now at {last})",
                raft.term()
            ));
        }
        view.log.resize(last as usize + 1, (0, 0));
        view.snapshot_index = snapshot;
        view.snapshot_term = raft.term_at(snapshot).unwrap_or(0);
        for index in first_new..=last {
            let entry = raft.entry(index).expect("within the log");
            view.log[index as usize] = (entry.written, entry.term);
            let prev_term = raft.term_at(index - 1).expect("the entry before is in the log or the snapshot");
            let this = (command_hash(entry.command), prev_term);
            if let Some(before) = self.entries.record(index, entry.term, this) {
                return Err(format!(
                    "log matching: peer {peer} has an entry at index {index}, term {} unlike another peer's \
                     (command hash {:x} after term {}, elsewhere {:x} after term {})",
                    entry.term, this.0, this.1, before.0, before.1
                ));
            }
        }
        Ok(())
    }

    /// A term no peer was seen in before begins with its candidate's own
    /// vote (every other peer learns it from a message, and a message
    /// leaves only after the step that sent it was seen). A restarted peer
    /// may bring a term from disk that it began as a candidate just before
    /// it crashed (a crash point stops that step from being seen).
    fn check_term_birth<M, R, V: RaftView<M, R>>(
        &mut self,
        peer: usize,
        raft: &V,
        restarted: bool,
    ) -> Result<(), String> {
        let term = raft.term();
        if term <= self.highest_term {
            return Ok(());
        }
        let own_vote = raft.voted_for() == Some(peer);
        let campaigning = raft.role() != Role::Follower || restarted;
        if !(own_vote && campaigning) {
            return Err(format!(
                "term {term} begins at peer {peer} without an election (it is a {}, voted for {:?}; the highest term \
                 seen was {})",
                raft.role().name(),
                raft.voted_for(),
                self.highest_term
            ));
        }
        self.highest_term = term;
        Ok(())
    }

    /// Election safety, and leader completeness when a peer starts leading.
    fn check_leader<M, R, V: RaftView<M, R>>(&mut self, peer: usize, raft: &V) -> Result<(), String> {
        let (term, leads) = (raft.term(), raft.role() == Role::Leader);
        if !leads || self.views[peer].led_term == Some(term) {
            return Ok(());
        }
        self.views[peer].led_term = Some(term);
        if let Some(other) = self.leaders.insert(term, peer).filter(|p| *p != peer) {
            return Err(format!("election safety: peers {other} and {peer} both lead term {term}"));
        }
        let highest = self.committed.len() as u64 - 1;
        for index in raft.snapshot_index() + 1..=highest {
            let Some(committed) = self.committed[index as usize].filter(|c| c.in_term < term) else { continue };
            if raft.term_at(index) != Some(committed.entry_term) {
                return Err(format!(
                    "leader completeness: peer {peer} leads term {term} without the entry committed at index \
                     {index} in term {} (an entry of term {}); its log ends at {}",
                    committed.in_term,
                    committed.entry_term,
                    raft.last_log_index()
                ));
            }
        }
        Ok(())
    }

    /// State machine safety: what the peer newly committed is what every
    /// peer committed there.
    fn check_commit<M, R, V: RaftView<M, R>>(&mut self, peer: usize, raft: &V) -> Result<(), String> {
        let (commit, term) = (raft.commit_index(), raft.term());
        if commit < raft.snapshot_index() {
            return Err(format!(
                "peer {peer}'s commit index {commit} is behind its snapshot through {} (a snapshot holds only \
                 committed entries)",
                raft.snapshot_index()
            ));
        }
        let before = self.views[peer].commit_index;
        if commit < before {
            return Err(format!("peer {peer}'s commit index went back from {before} to {commit}"));
        }
        self.views[peer].commit_index = commit;
        if commit > before && raft.role() == Role::Leader && self.views[peer].led_term == Some(term) {
            self.check_commit_rule(peer, raft, commit)?;
        }
        let first = before.max(raft.snapshot_index()) + 1;
        if self.committed.len() <= commit as usize {
            self.committed.resize(commit as usize + 1, None);
        }
        for index in first..=commit {
            let entry = raft.entry(index).expect("committed entries after the snapshot are in the log");
            // Same index and term: the same command (log matching, checked).
            let this = Committed { entry_term: entry.term, in_term: term };
            match &mut self.committed[index as usize] {
                slot @ None => *slot = Some(this),
                Some(other) if other.entry_term != this.entry_term => {
                    return Err(format!(
                        "state machine safety: peer {peer} commits term {}'s entry at index {index}, where term \
                         {}'s entry was committed",
                        this.entry_term, other.entry_term
                    ));
                }
                Some(other) => other.in_term = other.in_term.min(term),
            }
        }
        Ok(())
    }
}

impl RaftObserver {
    /// A leader's new commit index is an entry of its term that a majority
    /// holds now (in the log, or in a snapshot past it).
    fn check_commit_rule<M, R, V: RaftView<M, R>>(&self, peer: usize, raft: &V, commit: u64) -> Result<(), String> {
        let term = raft.term();
        let entry_term = raft.term_at(commit);
        if entry_term != Some(term) {
            return Err(format!(
                "commit rule: leader {peer} of term {term} commits index {commit}, an entry of term {entry_term:?} \
                 (a leader counts replicas only of its own term's entries)"
            ));
        }
        let holds =
            |v: &PeerView| v.snapshot_index >= commit || v.log.get(commit as usize).is_some_and(|e| e.1 == term);
        let on_disk = |p: usize| p != peer || self.own_durable_last_index.is_none_or(|last| last >= commit);
        let holders: Vec<usize> = (0..self.views.len()).filter(|p| holds(&self.views[*p]) && on_disk(*p)).collect();
        if holders.len() * 2 <= self.views.len() {
            return Err(format!(
                "commit rule: leader {peer} of term {term} commits index {commit}, which only peers {holders:?} \
                 of {} hold (on disk, for the leader itself)",
                self.views.len()
            ));
        }
        Ok(())
    }
}

/// A fast hash of a command (FxHash's mixing, eight bytes at a time): the
/// observer hashes every entry each peer receives.
fn command_hash(command: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |h: u64, word: u64| (h.rotate_left(5) ^ word).wrapping_mul(K);
    let mut chunks = command.chunks_exact(8);
    let mut h = mix(0, command.len() as u64);
    for chunk in &mut chunks {
        h = mix(h, u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    mix(h, u64::from_le_bytes(tail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::fake_peer::Peer;
    use contract::{ElectionTimer, StepInput};

    fn leader(log: Vec<u64>) -> Peer {
        let timer = ElectionTimer { started: 0, now: 0, timeout: 300 };
        Peer { term: 3, vote: Some(0), role: Role::Leader, commit: 0, snapshot: (0, 0), log, timer }
    }

    fn follower(log: Vec<u64>) -> Peer {
        let timer = ElectionTimer { started: 0, now: 0, timeout: 300 };
        // It began term 3 itself (a campaign it lost), before the crash the
        // observer's first look counts as.
        Peer { term: 3, vote: Some(1), role: Role::Follower, commit: 0, snapshot: (0, 0), log, timer }
    }

    fn start(seq: u64) -> StepRecord {
        StepRecord { seq, input: Some(StepInput::Command), received: vec![], answered: vec![] }
    }

    #[test]
    fn a_refused_start_shows_no_change_and_one_that_appends_breaks_the_rule() {
        let mut observer = RaftObserver::new("test", 3);
        let before = follower(vec![1, 3]);
        assert!(!observer.check_rules(1, 1, &before, &start(1)).expect("first look"));
        observer.step(1, 1, &before).expect("first look");
        let mut later = before.clone();
        later.timer.now = 50; // time passes: still nothing changed
        assert!(observer.check_rules(1, 1, &later, &start(2)).expect("a refused Start"));
        assert!(observer.same_last_entry(1, &later));
        let mut appended = later.clone();
        appended.log.push(3);
        let error = observer.check_rules(1, 1, &appended, &start(3)).expect_err("a follower appended a command");
        assert!(error.contains("only a leader appends"), "{error}");
    }

    #[test]
    fn a_leader_only_appends_to_its_own_log() {
        let mut observer = RaftObserver::new("test", 3);
        observer.step(0, 1, &leader(vec![1, 3])).expect("a new leader");
        observer.step(0, 1, &leader(vec![1, 3, 3])).expect("appends");
        let error = observer.step(0, 1, &leader(vec![1, 2])).expect_err("an entry of its own replaced");
        assert!(error.contains("leader append-only"), "{error}");
        let mut observer = RaftObserver::new("test", 3);
        observer.step(0, 1, &leader(vec![1, 3, 3])).expect("a new leader");
        let error = observer.step(0, 1, &leader(vec![1, 3])).expect_err("its own last entry dropped");
        assert!(error.contains("leader append-only"), "{error}");
    }
}
