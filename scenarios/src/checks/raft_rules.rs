//! Figure 2's rules (and Figure 13's, for InstallSnapshot), checked on every
//! step of every Raft peer: what the peer was before the step, what the step
//! gave it (as its view describes the messages), and what it is after. The
//! observer's invariants catch a mistake once it shows in the cluster; these
//! catch it at the step that makes it, even when the rest of the cluster
//! masks it or it costs only time.
//!
//! The rules, each checked on the steps it speaks of:
//! - every step: the term never goes back, and a vote cast in a term stays;
//! - a message of a higher term (request or reply; not a PreVote or a
//!   granted PreVote's answer) is adopted at once, as a follower, with no
//!   vote but the one this step may grant;
//! - a request of an older term changes nothing, and its answer carries the
//!   receiver's newer term and grants nothing; so does a reply of an older
//!   term (it changes nothing);
//! - RequestVote: a vote goes only to a candidate whose log is at least as
//!   up to date, once per term, and restarts the election timer; a refusal
//!   does not restart it; a PreVote changes nothing;
//! - AppendEntries of the current term: a follower (a candidate steps down)
//!   restarts its timer; it refuses when it lacks the previous entry and
//!   accepts when it holds it; an accepted one leaves the new entries in the
//!   log, cuts the log only at a conflict, and takes the commit index
//!   `max(commit, min(leaderCommit, last new index))`;
//! - InstallSnapshot of the current term: never takes the snapshot back;
//!   one older than the commit index replaces nothing; a newer one commits
//!   through its last index, keeping the entries after it if the log holds
//!   that entry, else nothing of the log;
//! - a command started on a peer that does not lead changes nothing; a
//!   read without the log changes nothing on any peer;
//! - elections: a peer campaigns (a new term with its own vote, or a
//!   PreVote) only on a timer step once its election timer ran out, or a
//!   pre-candidate on winning its PreVote; it leads only with the votes of
//!   a majority of this term (answers counted once per peer).
//!
//! What the view does not show is not checked here: a leader's nextIndex
//! and matchIndex (the commit rule checks their use), what a step sends,
//! and that an election timer that ran out fires (the lab's liveness bounds
//! do), since an implementation may act on its own timer a moment later.

use std::fmt;
use std::marker::PhantomData;

use contract::{ElectionTimer, RaftView, Role, RpcView, StepInput, StepRecord};

/// What the rules remember of a peer from its last step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    pub term: u64,
    pub vote: Option<usize>,
    pub role: Role,
    pub commit: u64,
    pub snapshot_index: u64,
    pub last_index: u64,
    pub last_term: u64,
    pub timer: Option<ElectionTimer>,
}

impl Seen {
    /// What a view shows now.
    pub fn of<M, R, V: RaftView<M, R>>(raft: &V) -> Seen {
        let last_index = raft.last_log_index();
        Seen {
            term: raft.term(),
            vote: raft.voted_for(),
            role: raft.role(),
            commit: raft.commit_index(),
            snapshot_index: raft.snapshot_index(),
            last_index,
            last_term: raft.term_at(last_index).unwrap_or(0),
            timer: raft.election_timer(),
        }
    }
}

/// The votes a peer has received for its latest election, and the
/// PreVotes for its latest two PreVote rounds (etcd and raft-rs count a
/// late grant of the round before, which a vote then settles safely).
#[derive(Clone, Copy, Debug, Default)]
pub struct Ballots {
    /// (term, peers that granted) of the latest election.
    votes: (u64, u64),
    /// The same for the highest PreVote term seen, and the term below it.
    pre_votes: [(u64, u64); 2],
}

impl Ballots {
    fn count(&mut self, from: usize, term: u64, pre_vote: bool) {
        if pre_vote {
            let [highest, _] = self.pre_votes;
            if term > highest.0 {
                let below = if highest.0 + 1 == term { highest } else { (term - 1, 0) };
                self.pre_votes = [(term, 0), below];
            }
            if let Some(round) = self.pre_votes.iter_mut().find(|(t, _)| *t == term) {
                round.1 |= 1 << from;
            }
            return;
        }
        if term > self.votes.0 {
            self.votes = (term, 0);
        }
        if term == self.votes.0 {
            self.votes.1 |= 1 << from; // a grant of an older election counts for nothing
        }
    }

    /// How many peers granted a vote in `term`, counting `me`.
    fn votes(&self, me: usize, term: u64) -> u32 {
        let mask = if self.votes.0 == term { self.votes.1 } else { 0 };
        (mask | 1 << me).count_ones()
    }

    /// How many peers granted a PreVote for `term`, or for the term before
    /// it, counting `me`.
    fn pre_votes(&self, me: usize, term: u64) -> u32 {
        let mask = self.pre_votes.iter().filter(|(t, _)| *t + 1 >= term && *t <= term).fold(0, |m, (_, g)| m | g);
        (mask | 1 << me).count_ones()
    }
}

/// One step to check: the peer before and after it, its log before it (the
/// term at an index, `None` outside the log), and what the step gave it.
pub struct Step<'a> {
    pub peer: usize,
    pub peers: usize,
    pub before: &'a Seen,
    pub after: &'a Seen,
    pub log_before: &'a dyn Fn(u64) -> Option<u64>,
    pub record: &'a StepRecord,
}

/// Checks one step of one peer against the rules; `ballots` is the peer's
/// record of votes received, updated by the step.
pub fn check<M, R, V: RaftView<M, R>>(step: &Step<'_>, ballots: &mut Ballots, after: &V) -> Result<(), String> {
    let rules = Rules {
        _messages: PhantomData,
        step,
        b: step.before,
        a: step.after,
        after,
        ignores_votes_while_led: after.ignores_votes_while_led(),
        restarts_timer_on_new_term: V::RESTARTS_TIMER_ON_NEW_TERM,
        answers_stale_appends_from_commit: V::ANSWERS_STALE_APPENDS_FROM_COMMIT,
    };
    rules.every_step()?;
    match step.record.input {
        Some(StepInput::Request { from }) => {
            if let [rpc] = step.record.received[..] {
                rules.request(from, rpc)?;
            }
        }
        Some(StepInput::Response { from }) => rules.response(from, ballots)?,
        Some(StepInput::Timer) => rules.timer()?,
        Some(StepInput::Command) => rules.command()?,
        Some(StepInput::Read) => rules.unchanged(
            What(&|| "a read without the log".into()),
            "a read without the log changes no term, vote, role or log (thesis 6.4)",
        )?,
        Some(StepInput::CallFailed) => rules.unchanged_election(What(&|| "a failed call".into()))?,
        Some(StepInput::Persisted) => rules.only_commit_moves(
            What(&|| "its own write becoming durable".into()),
            "a write becoming durable changes no term, vote, role or log; only the leader's commit may move",
        )?,
        Some(StepInput::Start) | None => {}
    }
    rules.leadership(ballots)
}

/// Whether `check` would have nothing to find: a command offered to a peer
/// that did not lead, which left everything the rules see (term, vote,
/// role, commit, snapshot, log end and election timer) as it was. Every
/// rule then holds: terms and votes did not move, a command on a
/// non-leader must change nothing, and no role or timer changed. The
/// observer skips `check` for such steps, the commonest of all (the lab
/// offers every command to every server).
pub fn nothing_to_check(record: &StepRecord, before: &Seen, after: &Seen) -> bool {
    record.input == Some(StepInput::Command) && before.role != Role::Leader && before == after
}

struct Rules<'s, 'v, M, R, V> {
    _messages: PhantomData<fn() -> (M, R)>,
    step: &'s Step<'s>,
    b: &'s Seen,
    a: &'s Seen,
    after: &'v V,
    ignores_votes_while_led: bool,
    restarts_timer_on_new_term: bool,
    answers_stale_appends_from_commit: bool,
}

/// What a step received, described only when a rule breaks (formatting it
/// on every step would cost more than the rules).
#[derive(Clone, Copy)]
struct What<'a>(&'a dyn Fn() -> String);

impl fmt::Display for What<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&(self.0)())
    }
}

fn broken(rule: &str, detail: String) -> Result<(), String> {
    Err(format!("{rule}: {detail}"))
}

impl<M, R, V: RaftView<M, R>> Rules<'_, '_, M, R, V> {
    fn peer(&self) -> usize {
        self.step.peer
    }

    /// Terms only grow, and a vote cast in a term stays.
    fn every_step(&self) -> Result<(), String> {
        let (b, a, p) = (self.b, self.a, self.peer());
        if a.term < b.term {
            return broken("terms only grow", format!("peer {p}'s term went from {} to {}", b.term, a.term));
        }
        if a.term == b.term && b.vote.is_some() && a.vote != b.vote {
            return broken(
                "one vote per term",
                format!("peer {p} voted for {:?} in term {} and then for {:?}", b.vote, b.term, a.vote),
            );
        }
        Ok(())
    }

    /// A request from `from`.
    fn request(&self, from: usize, rpc: RpcView) -> Result<(), String> {
        let (b, p) = (self.b, self.peer());
        if rpc.term() < b.term {
            return self.stale_request(from, rpc);
        }
        if let RpcView::RequestVote { pre_vote: true, .. } = rpc {
            return self.pre_vote(from, rpc);
        }
        if rpc.term() > b.term && self.ignored_while_led(rpc) {
            return Ok(());
        }
        if !rpc.is_request() {
            // A reply sent as a request of its own (raft-rs): a reply's rules.
            let what = || format!("a {} of term {} from peer {from}", kind(rpc), rpc.term());
            return if rpc.term_is_adopted() { self.adopts_term(rpc.term(), What(&what)) } else { Ok(()) };
        }
        self.adopts_term(rpc.term(), What(&|| format!("a {} of term {} from peer {from}", kind(rpc), rpc.term())))?;
        if !matches!(rpc, RpcView::RequestVote { .. }) && self.a.role != Role::Follower {
            return broken(
                "a candidate steps down to its term's leader (Figure 2, Candidates)",
                format!("peer {p} is a {} after a {} of its term {}", self.a.role.name(), kind(rpc), rpc.term()),
            );
        }
        match rpc {
            RpcView::RequestVote { last_log_index, last_log_term, .. } => {
                self.vote(from, rpc.term(), (last_log_term, last_log_index))
            }
            RpcView::AppendEntries { .. } => self.append_entries(rpc),
            RpcView::Heartbeat { commit, .. } => self.heartbeat(commit),
            RpcView::InstallSnapshot { last_included_index, last_included_term, .. } => {
                self.install_snapshot(last_included_index, last_included_term)
            }
            RpcView::VoteReply { .. } | RpcView::AppendReply { .. } | RpcView::SnapshotReply { .. } => {
                unreachable!("replies return above")
            }
        }
    }

    /// A follower (or leader) within its election timeout may ignore a vote
    /// request of a higher term entirely, if its implementation says it
    /// does (CheckQuorum's lease).
    fn ignored_while_led(&self, rpc: RpcView) -> bool {
        let in_lease =
            matches!(self.b.role, Role::Follower | Role::Leader) && self.a.timer.is_none_or(|t| !t.expired());
        self.ignores_votes_while_led
            && in_lease
            && matches!(rpc, RpcView::RequestVote { .. })
            && self.step.record.answered.iter().all(|r| self.refused_in_own_term(r))
            && (self.a.term, self.a.vote, self.a.role) == (self.b.term, self.b.vote, self.b.role)
    }

    /// A refusal in the receiver's own (unchanged) term: how a peer that
    /// must answer every request ignores one.
    fn refused_in_own_term(&self, answer: &RpcView) -> bool {
        matches!(*answer, RpcView::VoteReply { granted: false, term, .. } if term == self.b.term)
    }

    /// A message of a higher term `term` makes the peer a follower of it at
    /// once, with no vote but one this step grants.
    fn adopts_term(&self, term: u64, what: What<'_>) -> Result<(), String> {
        let (b, a, p) = (self.b, self.a, self.peer());
        if term <= b.term {
            return Ok(());
        }
        let rule = "a higher term is adopted at once (Figure 2, All Servers)";
        if a.term < term {
            return broken(rule, format!("peer {p} in term {} got {what} and stayed in term {}", b.term, a.term));
        }
        if a.term == term && a.role != Role::Follower {
            return broken(rule, format!("peer {p} took term {term} from {what} but is a {}", a.role.name()));
        }
        let granted_to = self.granted_vote_to();
        if a.term == term && a.vote.is_some() && a.vote != granted_to {
            return broken(
                rule,
                format!("peer {p} took term {term} from {what} with a vote for {:?} it did not cast", a.vote),
            );
        }
        Ok(())
    }

    /// The candidate this step granted a vote to, if any.
    fn granted_vote_to(&self) -> Option<usize> {
        let granted = self.step.record.answered.iter().any(|r| matches!(r, RpcView::VoteReply { granted: true, .. }));
        match self.step.record.input {
            Some(StepInput::Request { from }) if granted => Some(from),
            _ => None,
        }
    }

    /// A request of an older term changes nothing, and is answered with the
    /// receiver's term and no grant.
    fn stale_request(&self, from: usize, rpc: RpcView) -> Result<(), String> {
        let describe = || format!("a {} of older term {} from peer {from}", kind(rpc), rpc.term());
        let what = What(&describe);
        self.unchanged(what, "a request of an older term is refused (Figure 2, receiver rule 1)")?;
        for answer in &self.step.record.answered {
            if answer.term() < self.b.term || matches!(answer, RpcView::VoteReply { granted: true, .. }) {
                return broken(
                    "a request of an older term is refused with the receiver's term (Figure 2, receiver rule 1)",
                    format!("peer {} in term {} answered {what} with {answer:?}", self.peer(), self.b.term),
                );
            }
        }
        Ok(())
    }

    /// Nothing the rules watch changed in this step.
    fn unchanged(&self, what: What<'_>, rule: &str) -> Result<(), String> {
        let (b, a, p) = (self.b, self.a, self.peer());
        let same = |x: &Seen| (x.term, x.vote, x.role, x.last_index, x.last_term);
        // The commit index may move only to a commit point the message
        // vouches for; the service may snapshot what it applied.
        let commit_moved = a.commit != b.commit && !(b.commit..=self.vouched_commit()).contains(&a.commit);
        if same(a) != same(b) || commit_moved || a.snapshot_index < b.snapshot_index {
            return broken(rule, format!("peer {p} changed on {what}: before {b:?}, after {a:?}"));
        }
        self.unchanged_election(what)
    }

    /// Nothing but the commit index changed (forward).
    fn only_commit_moves(&self, what: What<'_>, rule: &str) -> Result<(), String> {
        let (b, a, p) = (self.b, self.a, self.peer());
        let same = |x: &Seen| (x.term, x.vote, x.role, x.last_index, x.last_term);
        if same(a) != same(b) || a.commit < b.commit || a.snapshot_index < b.snapshot_index {
            return broken(rule, format!("peer {p} changed on {what}: before {b:?}, after {a:?}"));
        }
        self.unchanged_election(what)
    }

    /// The highest commit index the step's vote messages let the peer take:
    /// a sender's commit point whose entry the peer's log holds.
    fn vouched_commit(&self) -> u64 {
        let holds = |(index, term): (u64, u64)| index <= self.b.snapshot_index || self.term_before(index) == Some(term);
        let vouched = self.step.record.received.iter().filter_map(RpcView::vote_commit).filter(|c| holds(*c));
        vouched.map(|(index, _)| index).fold(self.b.commit, u64::max)
    }

    /// The election timer did not restart: a leader's needs no check, nor a
    /// campaign's, nor that of a peer that stops campaigning or leading
    /// (Figure 2 leaves it open; etcd and raft-rs restart it then), nor a
    /// new term's for an implementation that restarts it then.
    fn unchanged_election(&self, what: What<'_>) -> Result<(), String> {
        let (b, a, p) = (self.b, self.a, self.peer());
        let (Some(tb), Some(ta)) = (b.timer, a.timer) else { return Ok(()) };
        let new_term = self.restarts_timer_on_new_term && a.term > b.term;
        let stepped_down = b.role != Role::Follower && a.role == Role::Follower;
        let leading = b.role == Role::Leader || a.role == Role::Leader;
        if !leading && !self.campaigned() && !new_term && !stepped_down && ta.started != tb.started {
            return broken(
                "only a granted vote or the leader's message restarts the election timer (Figure 2, Followers)",
                format!("peer {p} (a {}) restarted its election timer on {what}", a.role.name()),
            );
        }
        Ok(())
    }

    /// Whether the peer started a campaign in this step: a new term of its
    /// own as a candidate (or at once as the leader of a one-server
    /// cluster), or a PreVote round (a new one shows only as a restarted
    /// timer).
    fn campaigned(&self) -> bool {
        let (b, a) = (self.b, self.a);
        let own_new_term = a.term > b.term && a.vote == Some(self.peer());
        match a.role {
            Role::Candidate => own_new_term || b.role != Role::Candidate,
            Role::Leader => own_new_term && b.role != Role::Leader,
            // A timer that did not change is no new round, even when the
            // view's clock has not moved since it started (a step that read
            // no time, such as a superseded timer).
            Role::PreCandidate => {
                b.role != Role::PreCandidate || a.timer.is_none_or(|t| t.restarted_now() && Some(t) != b.timer)
            }
            Role::Follower => false,
        }
    }

    /// The election timer restarted in this step.
    fn timer_restarted(&self, what: What<'_>) -> Result<(), String> {
        match self.a.timer {
            Some(t) if !t.restarted_now() => broken(
                "a granted vote or the leader's message restarts the election timer (Figure 2, Followers)",
                format!("peer {} did not restart its election timer on {what} ({t:?})", self.peer()),
            ),
            _ => Ok(()),
        }
    }

    /// A PreVote changes nothing; it is granted only to a log at least as
    /// up to date, for a term above the receiver's.
    fn pre_vote(&self, from: usize, rpc: RpcView) -> Result<(), String> {
        let describe = || format!("a PreVote of term {} from peer {from}", rpc.term());
        let what = What(&describe);
        self.unchanged(what, "a PreVote changes no term, vote or timer (Raft thesis 9.6)")?;
        let RpcView::RequestVote { last_log_index, last_log_term, .. } = rpc else { return Ok(()) };
        if self.granted_vote_to() == Some(from)
            && (last_log_term, last_log_index) < (self.b.last_term, self.b.last_index)
        {
            return broken(
                "a vote goes only to a log at least as up to date (5.4.1)",
                format!(
                    "peer {} with last entry (term {}, index {}) granted {what} with last entry (term \
                     {last_log_term}, index {last_log_index})",
                    self.peer(),
                    self.b.last_term,
                    self.b.last_index
                ),
            );
        }
        Ok(())
    }

    /// A RequestVote of the current term `term` (after adoption).
    fn vote(&self, from: usize, term: u64, candidate_last: (u64, u64)) -> Result<(), String> {
        let (b, a, p) = (self.b, self.a, self.peer());
        let describe = || format!("a RequestVote of term {term} from peer {from}");
        let what = What(&describe);
        if self.granted_vote_to() != Some(from) {
            return self.unchanged_election(what);
        }
        let rule = "RequestVote receiver rule 2 (Figure 2)";
        if a.vote != Some(from) || a.term != term {
            return broken(rule, format!("peer {p} granted {what} but holds term {} and vote {:?}", a.term, a.vote));
        }
        if b.term == term && b.vote.is_some_and(|v| v != from) {
            return broken(rule, format!("peer {p} granted {what} after voting for {:?} in that term", b.vote));
        }
        if candidate_last < (b.last_term, b.last_index) || a.last_index != b.last_index {
            return broken(
                "a vote goes only to a log at least as up to date (5.4.1)",
                format!(
                    "peer {p} with last entry (term {}, index {}) granted {what} with last entry (term {}, index {})",
                    b.last_term, b.last_index, candidate_last.0, candidate_last.1
                ),
            );
        }
        self.timer_restarted(what)
    }

    /// The term of the entry at `index` before the step: from the log, or
    /// the last entry's.
    fn term_before(&self, index: u64) -> Option<u64> {
        (self.step.log_before)(index)
    }

    /// Whether the log after the step holds term `term` at `index` (an
    /// index its snapshot covers counts: it holds only committed entries).
    fn holds_after(&self, index: u64, term: u64) -> bool {
        index <= self.after.snapshot_index() || self.after.term_at(index) == Some(term)
    }

    /// AppendEntries of the current term.
    fn append_entries(&self, rpc: RpcView) -> Result<(), String> {
        let RpcView::AppendEntries {
            term,
            prev_log_index: prev,
            prev_log_term,
            entries,
            last_entry_term,
            leader_commit,
        } = rpc
        else {
            return Ok(());
        };
        let (b, a, p) = (self.b, self.a, self.peer());
        let describe = || {
            format!("AppendEntries of term {term} after (index {prev}, term {prev_log_term}) with {entries} entries")
        };
        let what = What(&describe);
        self.timer_restarted(what)?;
        let holds_prev = prev <= b.snapshot_index || self.term_before(prev) == Some(prev_log_term);
        let success = self.step.record.answered.iter().find_map(|r| match r {
            RpcView::AppendReply { success, .. } => Some(*success),
            _ => None,
        });
        match success {
            Some(false) if holds_prev => {
                return broken(
                    "AppendEntries receiver rule 2 (Figure 2)",
                    format!("peer {p} refused {what} though its log holds the previous entry"),
                )
            }
            Some(false) => {
                return self.log_and_commit_unchanged(what, "AppendEntries receiver rule 2 (Figure 2)");
            }
            Some(true) if !holds_prev => {
                return broken(
                    "AppendEntries receiver rule 2 (Figure 2)",
                    format!(
                        "peer {p} accepted {what} though its log has term {:?} at index {prev}",
                        self.term_before(prev)
                    ),
                )
            }
            None | Some(true) => {}
        }
        if !holds_prev {
            // Refused without an answer.
            return self.log_and_commit_unchanged(what, "AppendEntries receiver rule 2 (Figure 2)");
        }
        let untouched = |i: u64| i <= self.after.snapshot_index() || self.after.term_at(i) == self.term_before(i);
        let answered_by_commit = self.answers_stale_appends_from_commit
            && prev < b.commit
            && (a.last_index, a.commit) == (b.last_index, b.commit)
            && (prev + 1..=(prev + entries).min(b.last_index)).all(untouched);
        if answered_by_commit {
            return Ok(()); // declared: etcd and raft-rs answer from the commit index alone
        }
        self.accepted_entries(what, prev, entries, last_entry_term, leader_commit)
    }

    /// The log and commit index after an AppendEntries that matched at
    /// `prev`: the new entries in place, the log cut only at a conflict,
    /// and the commit index Figure 2 gives.
    fn accepted_entries(
        &self,
        what: What<'_>,
        prev: u64,
        entries: u64,
        last_term: u64,
        leader_commit: u64,
    ) -> Result<(), String> {
        let (b, a, p) = (self.b, self.a, self.peer());
        let last_new = prev + entries;
        if entries > 0 && !self.holds_after(last_new, last_term) {
            return broken(
                "AppendEntries receiver rule 4 (Figure 2: append any new entries)",
                format!(
                    "peer {p} accepted {what} but holds term {:?} at index {last_new}",
                    self.after.term_at(last_new)
                ),
            );
        }
        let held = |i: u64| i <= b.snapshot_index || self.term_before(i) == Some(last_term);
        let kept_all = entries == 0 || (b.last_index >= last_new && held(last_new));
        let last_expected = if kept_all { b.last_index.max(last_new) } else { last_new };
        if a.last_index != last_expected {
            return broken(
                "AppendEntries receiver rule 3 (Figure 2: delete entries only from a conflict on)",
                format!(
                    "peer {p}'s log ended at {} and ends at {} after {what}; it should end at {last_expected}",
                    b.last_index, a.last_index
                ),
            );
        }
        let commit_expected = b.commit.max(leader_commit.min(last_new));
        if a.commit != commit_expected {
            return broken(
                "AppendEntries receiver rule 5 (Figure 2: commitIndex = min(leaderCommit, index of last new entry))",
                format!("peer {p}'s commit index went from {} to {} on {what} with leaderCommit {leader_commit}; it should be {commit_expected}", b.commit, a.commit),
            );
        }
        Ok(())
    }

    fn log_and_commit_unchanged(&self, what: What<'_>, rule: &str) -> Result<(), String> {
        let (b, a) = (self.b, self.a);
        if (a.last_index, a.last_term, a.commit) != (b.last_index, b.last_term, b.commit) {
            return broken(
                rule,
                format!(
                    "peer {} refused {what} but its log end and commit went from (index {}, term {}, commit {}) to \
                     (index {}, term {}, commit {})",
                    self.peer(),
                    b.last_index,
                    b.last_term,
                    b.commit,
                    a.last_index,
                    a.last_term,
                    a.commit
                ),
            );
        }
        Ok(())
    }

    /// A heartbeat of the current term: the timer restarts, the log stays,
    /// and the commit index becomes at least the heartbeat's, never more.
    fn heartbeat(&self, commit: u64) -> Result<(), String> {
        let (b, a, p) = (self.b, self.a, self.peer());
        let describe = || format!("a heartbeat of term {} with commit {commit}", a.term);
        let what = What(&describe);
        self.timer_restarted(what)?;
        let expected = b.commit.max(commit);
        if a.commit != expected || (a.last_index, a.last_term) != (b.last_index, b.last_term) {
            return broken(
                "a heartbeat commits what the leader says, and changes no entry",
                format!(
                    "peer {p} went from (commit {}, last index {}) to (commit {}, last index {}) on {what}",
                    b.commit, b.last_index, a.commit, a.last_index
                ),
            );
        }
        Ok(())
    }

    /// InstallSnapshot of the current term (Figure 13).
    fn install_snapshot(&self, index: u64, term: u64) -> Result<(), String> {
        let (b, a, p) = (self.b, self.a, self.peer());
        let describe = || format!("InstallSnapshot through index {index} (term {term})");
        let what = What(&describe);
        self.timer_restarted(what)?;
        let rule = "InstallSnapshot receiver rules 6-7 (Figure 13)";
        if a.snapshot_index < b.snapshot_index {
            return broken(
                rule,
                format!("peer {p}'s snapshot went back from {} to {} on {what}", b.snapshot_index, a.snapshot_index),
            );
        }
        if index <= b.commit {
            if a.last_index < b.last_index || a.commit < b.commit {
                return broken(
                    rule,
                    format!(
                        "peer {p} had committed through {} and replaced its log (last index {} -> {}, commit {} -> \
                         {}) with the older {what}",
                        b.commit, b.last_index, a.last_index, b.commit, a.commit
                    ),
                );
            }
            return Ok(());
        }
        if a.commit < index || !self.holds_after(index, term) {
            return broken(
                rule,
                format!("peer {p} (commit {}) did not take the newer {what}: commit {}", b.commit, a.commit),
            );
        }
        let kept = self.term_before(index) == Some(term);
        let expected = if kept { b.last_index.max(index) } else { index };
        if a.last_index != expected {
            let how = if kept { "keeps the entries after it" } else { "discards the whole log" };
            return broken(
                rule,
                format!(
                    "peer {p}'s log ended at {} and ends at {} after {what}; a log that {how} ends at {expected}",
                    b.last_index, a.last_index
                ),
            );
        }
        Ok(())
    }

    /// Replies: a higher term is adopted; an older term's reply changes
    /// nothing; granted votes of the current election are counted.
    fn response(&self, from: usize, ballots: &mut Ballots) -> Result<(), String> {
        let received = &self.step.record.received;
        let adopted = received.iter().filter(|r| r.term_is_adopted()).map(RpcView::term).max().unwrap_or(0);
        if adopted > self.b.term {
            return self.adopts_term(adopted, What(&|| format!("a reply of term {adopted} from peer {from}")));
        }
        if !received.is_empty() && received.iter().all(|r| r.term() < self.b.term) {
            let describe = || format!("a reply of an older term from peer {from}");
            let what = What(&describe);
            self.unchanged(
                what,
                "a reply of an older term is ignored (students' guide: check the term of every reply)",
            )?;
        }
        for rpc in received {
            if let RpcView::VoteReply { term, granted: true, pre_vote, .. } = *rpc {
                ballots.count(from, term, pre_vote);
            }
        }
        let became_candidate = self.a.role == Role::Candidate && self.b.role == Role::PreCandidate;
        if !became_candidate {
            self.unchanged_election(What(&|| format!("a reply from peer {from}")))?;
        }
        Ok(())
    }

    /// A command started on a peer that does not lead is refused: nothing
    /// is appended (the contract's `start_command`; Figure 2, Leaders).
    fn command(&self) -> Result<(), String> {
        if self.b.role == Role::Leader {
            return Ok(());
        }
        self.unchanged(
            What(&|| "a command started on it".into()),
            "only a leader appends a client's command (Figure 2, Leaders)",
        )
    }

    /// A timer step: a campaign only when the election timer has run out.
    fn timer(&self) -> Result<(), String> {
        let (b, a, p) = (self.b, self.a, self.peer());
        if !self.campaigned() {
            return self.unchanged_election(What(&|| "a timer step".into()));
        }
        if a.role != Role::Leader {
            self.timer_restarted(What(&|| "the start of a campaign".into()))?;
        }
        if let (Some(tb), Some(ta)) = (b.timer, a.timer) {
            if b.role != Role::Leader && ta.now.saturating_sub(tb.started) < tb.timeout {
                return broken(
                    "a follower campaigns only once its election timeout elapses (Figure 2, Followers)",
                    format!(
                        "peer {p} campaigned at {} with its timer started at {} for {}",
                        ta.now, tb.started, tb.timeout
                    ),
                );
            }
        }
        self.campaign()
    }

    /// Starting an election: the next term with the peer's own vote; a
    /// PreVote keeps the term and vote.
    fn campaign(&self) -> Result<(), String> {
        let (b, a, p) = (self.b, self.a, self.peer());
        let ok = match a.role {
            Role::Candidate | Role::Leader => a.term == b.term + 1 && a.vote == Some(p),
            _ => (a.term, a.vote) == (b.term, b.vote),
        };
        if !ok {
            return broken(
                "on conversion to candidate: increment currentTerm, vote for self (Figure 2, Candidates)",
                format!(
                    "peer {p} became a {} going from term {} (vote {:?}) to term {} (vote {:?})",
                    a.role.name(),
                    b.term,
                    b.vote,
                    a.term,
                    a.vote
                ),
            );
        }
        Ok(())
    }

    /// A peer campaigns only on a timer (or a won PreVote), and leads only
    /// with a majority of its term's votes.
    fn leadership(&self, ballots: &Ballots) -> Result<(), String> {
        let (b, a, p) = (self.b, self.a, self.peer());
        let majority = self.step.peers as u32 / 2 + 1;
        let new_role = a.role != b.role || a.term != b.term;
        let on_timer = self.step.record.input == Some(StepInput::Timer);
        match a.role {
            Role::Leader if new_role => {
                if a.vote != Some(p) {
                    return broken(
                        "on conversion to candidate: increment currentTerm, vote for self (Figure 2, Candidates)",
                        format!("peer {p} leads term {} with its vote for {:?}", a.term, a.vote),
                    );
                }
                let votes = ballots.votes(p, a.term);
                if votes < majority {
                    return broken(
                        "a candidate leads once a majority votes for it (Figure 2, Candidates)",
                        format!("peer {p} leads term {} with {votes} of {} votes counted", a.term, self.step.peers),
                    );
                }
            }
            Role::Candidate if new_role && b.role == Role::PreCandidate && !on_timer => {
                let votes = ballots.pre_votes(p, a.term);
                if votes < majority {
                    return broken(
                        "a pre-candidate campaigns once a majority grants its PreVote (Raft thesis 9.6; a late grant of its \
                         previous round counts, as in etcd and raft-rs)",
                        format!("peer {p} campaigns in term {} with {votes} of {} PreVotes", a.term, self.step.peers),
                    );
                }
                self.campaign()?;
            }
            Role::Candidate | Role::PreCandidate if new_role && !on_timer => {
                return broken(
                    "a peer campaigns only when its election timeout elapses (Figure 2, Followers)",
                    format!("peer {p} became a {} in term {} on a step that was not its timer", a.role.name(), a.term),
                );
            }
            _ => {}
        }
        Ok(())
    }
}

/// A message's name, for reports.
fn kind(rpc: RpcView) -> &'static str {
    match rpc {
        RpcView::RequestVote { pre_vote: true, .. } => "PreVote",
        RpcView::RequestVote { .. } => "RequestVote",
        RpcView::VoteReply { .. } => "vote reply",
        RpcView::AppendEntries { .. } => "AppendEntries",
        RpcView::Heartbeat { .. } => "heartbeat",
        RpcView::AppendReply { .. } => "append reply",
        RpcView::InstallSnapshot { .. } => "InstallSnapshot",
        RpcView::SnapshotReply { .. } => "snapshot reply",
    }
}

#[cfg(test)]
mod tests {
    //! Each rule, fed one bad step (and, where a rule has a near miss, the
    //! good step beside it).
    use super::*;
    use crate::checks::fake_peer::Peer;

    /// Peer 0 of 3: a follower of term 3 that voted for 1, log terms
    /// [1, 2, 3] committed through 2, timer started at 100 for 300.
    fn follower() -> Peer {
        Peer {
            term: 3,
            vote: Some(1),
            role: Role::Follower,
            commit: 2,
            snapshot: (0, 0),
            log: vec![1, 2, 3],
            timer: ElectionTimer { started: 100, now: 150, timeout: 300 },
        }
    }

    /// The same peer a moment later, untouched by the step.
    fn later(before: &Peer) -> Peer {
        Peer { timer: ElectionTimer { now: 200, ..before.timer }, ..before.clone() }
    }

    /// The same peer with its timer restarted by the step.
    fn restarted(before: &Peer) -> Peer {
        Peer { timer: ElectionTimer { started: 200, now: 200, timeout: 250 }, ..before.clone() }
    }

    fn request(from: usize, rpc: RpcView, answer: Option<RpcView>) -> StepRecord {
        StepRecord {
            seq: 1,
            input: Some(StepInput::Request { from }),
            received: vec![rpc],
            answered: answer.into_iter().collect(),
        }
    }

    fn response(from: usize, rpc: RpcView) -> StepRecord {
        StepRecord { seq: 1, input: Some(StepInput::Response { from }), received: vec![rpc], answered: vec![] }
    }

    fn timer_step() -> StepRecord {
        StepRecord { seq: 1, input: Some(StepInput::Timer), received: vec![], answered: vec![] }
    }

    fn check_with<const E: bool>(
        before: &Peer<E>,
        record: &StepRecord,
        after: &Peer<E>,
        ballots: &mut Ballots,
    ) -> Result<(), String> {
        let (seen, now) = (Seen::of(before), Seen::of(after));
        let log_before = |index: u64| before.term_at(index);
        let step = Step { peer: 0, peers: 3, before: &seen, after: &now, log_before: &log_before, record };
        check(&step, ballots, after)
    }

    fn check_step<const E: bool>(before: &Peer<E>, record: StepRecord, after: &Peer<E>) -> Result<(), String> {
        check_with(before, &record, after, &mut Ballots::default())
    }

    #[track_caller]
    fn broken_rule(result: Result<(), String>, rule: &str) {
        let error = result.expect_err("the step breaks a rule");
        assert!(error.contains(rule), "expected {rule:?} in: {error}");
    }

    fn vote_request(term: u64, last: (u64, u64)) -> RpcView {
        RpcView::RequestVote { term, last_log_index: last.1, last_log_term: last.0, pre_vote: false, commit: None }
    }

    fn vote_reply(term: u64, granted: bool) -> RpcView {
        RpcView::VoteReply { term, granted, pre_vote: false, commit: None }
    }

    fn append(term: u64, prev: (u64, u64), entries: &[u64], leader_commit: u64) -> RpcView {
        RpcView::AppendEntries {
            term,
            prev_log_index: prev.0,
            prev_log_term: prev.1,
            entries: entries.len() as u64,
            last_entry_term: entries.last().copied().unwrap_or(0),
            leader_commit,
        }
    }

    fn append_reply(term: u64, success: bool) -> Option<RpcView> {
        Some(RpcView::AppendReply { term, success })
    }

    #[test]
    fn a_term_never_goes_back_and_a_vote_stays() {
        let before = follower();
        let after = Peer { term: 2, ..later(&before) };
        broken_rule(check_step(&before, timer_step(), &after), "terms only grow");
        let after = Peer { vote: Some(2), ..later(&before) };
        broken_rule(check_step(&before, timer_step(), &after), "one vote per term");
    }

    #[test]
    fn a_higher_term_in_a_reply_is_adopted_at_once() {
        let leader = Peer { role: Role::Leader, vote: Some(0), ..follower() };
        let kept_leading = later(&leader);
        broken_rule(check_step(&leader, response(1, append_reply(5, false).unwrap()), &kept_leading), "higher term");
        let follows = Peer { term: 5, vote: None, role: Role::Follower, ..restarted(&leader) };
        check_step(&leader, response(1, append_reply(5, false).unwrap()), &follows).expect("adopted");
    }

    #[test]
    fn a_higher_term_in_a_request_makes_a_candidate_a_follower() {
        let candidate = Peer { role: Role::Candidate, vote: Some(0), ..follower() };
        let still = Peer { term: 4, vote: None, ..later(&candidate) };
        let rpc = vote_request(4, (1, 1)); // a log behind ours: refused
        broken_rule(check_step(&candidate, request(2, rpc, Some(vote_reply(4, false))), &still), "higher term");
    }

    #[test]
    fn a_request_of_an_older_term_changes_nothing() {
        let before = follower();
        let appended = Peer { log: vec![1, 2, 3, 2], ..later(&before) };
        let stale = append(2, (3, 3), &[2], 2);
        broken_rule(check_step(&before, request(2, stale, append_reply(3, true)), &appended), "older term");
        let answered_low = request(2, stale, append_reply(2, false));
        broken_rule(check_step(&before, answered_low, &later(&before)), "with the receiver's term");
        let kept_timer = later(&before);
        check_step(&before, request(2, stale, append_reply(3, false)), &kept_timer).expect("refused");
        broken_rule(check_step(&before, request(2, stale, append_reply(3, false)), &restarted(&before)), "timer");
    }

    #[test]
    fn a_vote_goes_only_to_an_up_to_date_log_and_restarts_the_timer() {
        let before = Peer { vote: None, ..follower() };
        let voted = Peer { vote: Some(2), ..restarted(&before) };
        let behind = vote_request(3, (2, 5)); // longer, but an older last term
        broken_rule(check_step(&before, request(2, behind, Some(vote_reply(3, true))), &voted), "up to date");
        let current = vote_request(3, (3, 3));
        check_step(&before, request(2, current, Some(vote_reply(3, true))), &voted).expect("a good vote");
        let timer_kept = Peer { vote: Some(2), ..later(&before) };
        broken_rule(check_step(&before, request(2, current, Some(vote_reply(3, true))), &timer_kept), "restart");
    }

    #[test]
    fn a_second_vote_in_a_term_is_refused() {
        let before = follower(); // voted for 1 in term 3
        let voted_again = Peer { vote: Some(2), ..restarted(&before) };
        let rpc = vote_request(3, (3, 3));
        broken_rule(check_step(&before, request(2, rpc, Some(vote_reply(3, true))), &voted_again), "one vote per term");
    }

    #[test]
    fn a_refused_vote_does_not_restart_the_timer() {
        let before = follower();
        let rpc = vote_request(3, (3, 3));
        broken_rule(check_step(&before, request(2, rpc, Some(vote_reply(3, false))), &restarted(&before)), "timer");
        check_step(&before, request(2, rpc, Some(vote_reply(3, false))), &later(&before)).expect("refused quietly");
    }

    #[test]
    fn append_entries_needs_the_previous_entry() {
        let before = follower();
        let accepted = Peer { log: vec![1, 2, 3, 3], ..restarted(&before) };
        let mismatch = append(3, (3, 2), &[3], 2); // we hold term 3 at 3, not 2
        broken_rule(check_step(&before, request(1, mismatch, append_reply(3, true)), &accepted), "receiver rule 2");
        let matching = append(3, (3, 3), &[3], 2);
        broken_rule(check_step(&before, request(1, matching, append_reply(3, false)), &restarted(&before)), "refused");
        check_step(&before, request(1, matching, append_reply(3, true)), &accepted).expect("appended");
    }

    #[test]
    fn append_entries_cuts_the_log_only_at_a_conflict() {
        let before = Peer { log: vec![1, 2, 3, 3, 3], ..follower() };
        let stale_copy = append(3, (1, 1), &[2, 3], 2); // entries 2 and 3, which we hold
        let cut = Peer { log: vec![1, 2, 3], ..restarted(&before) };
        broken_rule(check_step(&before, request(1, stale_copy, append_reply(3, true)), &cut), "receiver rule 3");
        check_step(&before, request(1, stale_copy, append_reply(3, true)), &restarted(&before)).expect("kept");
        let conflict = append(3, (1, 1), &[2, 2], 2); // index 3 conflicts
        let overwritten_in_place = Peer { log: vec![1, 2, 2, 3, 3], ..restarted(&before) };
        broken_rule(
            check_step(&before, request(1, conflict, append_reply(3, true)), &overwritten_in_place),
            "receiver rule 3",
        );
    }

    #[test]
    fn append_entries_commits_up_to_the_last_new_entry_and_no_further() {
        let before = Peer { log: vec![1, 2, 3, 3, 3], ..follower() }; // entries 4 and 5 unconfirmed
        let rpc = append(3, (2, 2), &[3], 5); // the leader's commit is 5; our last new entry is 3
        let too_far = Peer { commit: 5, ..restarted(&before) };
        broken_rule(check_step(&before, request(1, rpc, append_reply(3, true)), &too_far), "receiver rule 5");
        let not_taken = restarted(&before);
        broken_rule(check_step(&before, request(1, rpc, append_reply(3, true)), &not_taken), "receiver rule 5");
        let right = Peer { commit: 3, ..restarted(&before) };
        check_step(&before, request(1, rpc, append_reply(3, true)), &right).expect("commit 3");
    }

    #[test]
    fn the_leaders_message_restarts_the_timer_and_makes_a_candidate_follow() {
        let before = follower();
        let heartbeat = append(3, (3, 3), &[], 2);
        broken_rule(check_step(&before, request(1, heartbeat, append_reply(3, true)), &later(&before)), "restart");
        let candidate = Peer { term: 3, vote: Some(0), role: Role::Candidate, ..follower() };
        let still = restarted(&candidate);
        broken_rule(check_step(&candidate, request(1, heartbeat, append_reply(3, true)), &still), "steps down");
        let beat = RpcView::Heartbeat { term: 3, commit: 3 };
        let uncommitted = restarted(&before);
        broken_rule(check_step(&before, request(1, beat, append_reply(3, true)), &uncommitted), "heartbeat commits");
    }

    #[test]
    fn an_older_snapshot_replaces_nothing_and_a_newer_one_keeps_what_follows_it() {
        let before = Peer { commit: 3, log: vec![1, 2, 3, 3], ..follower() };
        let older = RpcView::InstallSnapshot { term: 3, last_included_index: 2, last_included_term: 2 };
        let rolled_back = Peer { snapshot: (2, 2), log: vec![], commit: 2, ..restarted(&before) };
        broken_rule(check_step(&before, request(1, older, None), &rolled_back), "Figure 13");
        let newer = RpcView::InstallSnapshot { term: 3, last_included_index: 4, last_included_term: 3 };
        let discarded = Peer { snapshot: (4, 3), log: vec![], commit: 4, ..restarted(&before) };
        check_step(&before, request(1, newer, None), &discarded).expect("nothing after index 4 to keep");
        let before = Peer { log: vec![1, 2, 3, 3, 3], ..before };
        let dropped_after = discarded.clone();
        broken_rule(check_step(&before, request(1, newer, None), &dropped_after), "keeps the entries after it");
        let kept = Peer { snapshot: (4, 3), log: vec![3], commit: 4, ..restarted(&before) };
        check_step(&before, request(1, newer, None), &kept).expect("entry 5 kept");
    }

    #[test]
    fn a_campaign_waits_for_the_timeout_and_takes_the_next_term_with_its_own_vote() {
        let before = follower(); // timer started at 100 for 300
        let early = Peer { term: 4, vote: Some(0), role: Role::Candidate, ..restarted(&before) }; // at 200
        broken_rule(check_step(&before, timer_step(), &early), "election timeout elapses");
        let due = Peer { timer: ElectionTimer { started: 400, now: 400, timeout: 350 }, ..early.clone() };
        check_step(&before, timer_step(), &due).expect("on time");
        let same_term = Peer { term: 3, vote: Some(1), ..due.clone() };
        broken_rule(check_step(&before, timer_step(), &same_term), "increment currentTerm");
        let on_a_message = request(1, vote_request(3, (3, 3)), Some(vote_reply(3, false)));
        broken_rule(check_step(&before, on_a_message, &due), "campaigns only when");
    }

    #[test]
    fn a_candidate_leads_only_with_a_majority_of_its_terms_votes() {
        let candidate = Peer { term: 4, vote: Some(0), role: Role::Candidate, ..follower() };
        let leads = Peer { role: Role::Leader, ..later(&candidate) };
        // A grant of term 3 answers an older election.
        broken_rule(check_step(&candidate, response(1, vote_reply(3, true)), &leads), "older term");
        let mut ballots = Ballots::default();
        check_with(&candidate, &response(1, vote_reply(4, true)), &leads, &mut ballots).expect("2 of 3");
        let mut twice = Ballots::default();
        let five = Peer { ..candidate.clone() };
        let seen = Seen::of(&five);
        let log_before = |index: u64| five.term_at(index);
        let record = response(1, vote_reply(4, true));
        let (stays, led) = (Seen::of(&later(&five)), Seen::of(&leads));
        let step = Step { peer: 0, peers: 5, before: &seen, after: &stays, log_before: &log_before, record: &record };
        check(&step, &mut twice, &later(&five)).expect("one grant counted");
        let step = Step { peer: 0, peers: 5, before: &seen, after: &led, log_before: &log_before, record: &record };
        broken_rule(check(&step, &mut twice, &leads), "majority votes for it"); // the same grant again
    }

    #[test]
    fn a_snapshot_never_goes_back_and_a_newer_one_is_taken() {
        let before = Peer { commit: 4, snapshot: (4, 3), log: vec![], ..follower() };
        let older = RpcView::InstallSnapshot { term: 3, last_included_index: 2, last_included_term: 2 };
        let back = Peer { snapshot: (2, 2), log: vec![3, 3], ..restarted(&before) };
        broken_rule(check_step(&before, request(1, older, None), &back), "went back");
        let before = follower(); // commit 2
        let newer = RpcView::InstallSnapshot { term: 3, last_included_index: 5, last_included_term: 3 };
        broken_rule(check_step(&before, request(1, newer, None), &restarted(&before)), "did not take the newer");
    }

    #[test]
    fn a_refused_append_changes_no_entry_and_a_new_term_comes_with_no_vote() {
        let before = follower();
        let mismatch = append(3, (3, 2), &[3], 2);
        let cut = Peer { log: vec![1, 2], ..restarted(&before) };
        broken_rule(check_step(&before, request(1, mismatch, append_reply(3, false)), &cut), "refused");
        let adopted_with_vote = Peer { term: 5, vote: Some(2), ..later(&before) };
        let reply = response(1, append_reply(5, false).unwrap());
        broken_rule(check_step(&before, reply, &adopted_with_vote), "it did not cast");
    }

    #[test]
    fn a_pre_vote_goes_only_to_an_up_to_date_log() {
        let before = follower(); // last entry (term 3, index 3)
        let stale = RpcView::RequestVote { term: 4, last_log_index: 9, last_log_term: 2, pre_vote: true, commit: None };
        let grant = Some(RpcView::VoteReply { term: 4, granted: true, pre_vote: true, commit: None });
        broken_rule(check_step(&before, request(2, stale, grant), &later(&before)), "up to date");
    }

    #[test]
    fn a_campaign_restarts_the_timer_and_a_lone_server_elects_itself_properly() {
        let before = Peer { timer: ElectionTimer { started: 100, now: 150, timeout: 300 }, ..follower() };
        let stale_timer = Peer {
            term: 4,
            vote: Some(0),
            role: Role::Candidate,
            timer: ElectionTimer { started: 100, now: 450, timeout: 300 },
            ..before.clone()
        };
        broken_rule(check_step(&before, timer_step(), &stale_timer), "did not restart its election timer");
        let due = ElectionTimer { started: 450, now: 450, timeout: 300 };
        let leads_alone = Peer { term: 4, vote: Some(0), role: Role::Leader, timer: due, ..before.clone() };
        let seen = Seen::of(&before);
        let after = Seen::of(&leads_alone);
        let log_before = |index: u64| before.term_at(index);
        let record = timer_step();
        let step = Step { peer: 0, peers: 1, before: &seen, after: &after, log_before: &log_before, record: &record };
        check(&step, &mut Ballots::default(), &leads_alone).expect("a one-server cluster elects itself");
        let kept_vote = Peer { vote: Some(1), ..leads_alone.clone() };
        let after = Seen::of(&kept_vote);
        let step = Step { peer: 0, peers: 1, before: &seen, after: &after, log_before: &log_before, record: &record };
        broken_rule(check(&step, &mut Ballots::default(), &kept_vote), "vote for self");
    }

    #[test]
    fn the_declared_departures_allow_exactly_what_they_say() {
        let before = follower().etcd(); // its timer has not run out
        let higher_vote = vote_request(5, (3, 3));
        let ignored = request(2, higher_vote, None);
        check_step(&before, ignored.clone(), &later(&follower()).etcd()).expect("a lease ignores it");
        let expired = Peer { timer: ElectionTimer { started: 100, now: 450, timeout: 300 }, ..follower() }.etcd();
        broken_rule(check_step(&expired, ignored, &expired.clone()), "higher term");
        let plain = follower();
        broken_rule(check_step(&plain, request(2, higher_vote, None), &later(&plain)), "higher term");
        let committed = Peer { commit: 3, ..follower() };
        let below_commit = append(3, (1, 1), &[2, 3, 3], 3); // would append index 4
        let untouched = restarted(&committed);
        check_step(
            &committed.clone().etcd(),
            request(1, below_commit, append_reply(3, true)),
            &untouched.clone().etcd(),
        )
        .expect("answered from the commit index");
        broken_rule(check_step(&committed, request(1, below_commit, append_reply(3, true)), &untouched), "rule 4");
    }

    #[test]
    fn a_lease_may_answer_with_a_refusal_in_its_own_term_only() {
        let before = follower().etcd();
        let higher_vote = vote_request(5, (3, 3));
        let refused = request(2, higher_vote, Some(vote_reply(3, false)));
        check_step(&before, refused, &later(&follower()).etcd()).expect("refused in its own term: ignored");
        let granted = request(2, higher_vote, Some(vote_reply(3, true)));
        broken_rule(check_step(&before, granted, &later(&follower()).etcd()), "higher term");
        let plain = follower();
        let refused = request(2, higher_vote, Some(vote_reply(3, false)));
        broken_rule(check_step(&plain, refused, &later(&plain)), "higher term");
    }

    #[test]
    fn a_pre_candidate_whose_timer_did_not_change_started_no_round() {
        // A step that read no time (a superseded timer): the view's clock is
        // still where the round began.
        let pre = Peer {
            role: Role::PreCandidate,
            timer: ElectionTimer { started: 200, now: 200, timeout: 300 },
            ..follower()
        };
        check_step(&pre, timer_step(), &pre.clone()).expect("no new round, so no campaign to check");
        let early = Peer { timer: ElectionTimer { started: 250, now: 250, timeout: 300 }, ..pre.clone() };
        broken_rule(check_step(&pre, timer_step(), &early), "only once its election timeout elapses");
    }

    #[test]
    fn only_a_leader_appends_a_command() {
        let before = follower();
        let command = StepRecord { seq: 1, input: Some(StepInput::Command), received: vec![], answered: vec![] };
        let appended = Peer { log: vec![1, 2, 3, 3], ..before.clone() };
        broken_rule(check_step(&before, command.clone(), &appended), "only a leader appends");
        check_step(&before, command, &before).expect("refused");
    }

    #[test]
    fn only_a_command_that_changed_nothing_on_a_non_leader_skips_the_rules() {
        let command = StepRecord { seq: 1, input: Some(StepInput::Command), received: vec![], answered: vec![] };
        for role in [Role::Follower, Role::PreCandidate, Role::Candidate] {
            let before = Peer { role, ..follower() };
            let seen = Seen::of(&before);
            assert!(nothing_to_check(&command, &seen, &seen), "a {role:?} that refused a command");
            check_step(&before, command.clone(), &before).expect("the rules agree: nothing to find");
        }
        let before = follower();
        let appended = Peer { log: vec![1, 2, 3, 3], ..before.clone() };
        assert!(!nothing_to_check(&command, &Seen::of(&before), &Seen::of(&appended)));
        assert!(!nothing_to_check(&command, &Seen::of(&before), &Seen::of(&later(&before))), "its clock moved");
        assert!(!nothing_to_check(&timer_step(), &Seen::of(&before), &Seen::of(&before)), "a timer step");
        let leader = Peer { role: Role::Leader, ..follower() };
        assert!(!nothing_to_check(&command, &Seen::of(&leader), &Seen::of(&leader)), "a leader's command");
    }

    #[test]
    fn a_pre_vote_changes_nothing_and_a_pre_candidate_needs_its_majority() {
        let before = follower();
        let pre_vote =
            RpcView::RequestVote { term: 4, last_log_index: 3, last_log_term: 3, pre_vote: true, commit: None };
        let grant = Some(RpcView::VoteReply { term: 4, granted: true, pre_vote: true, commit: None });
        let took_term = Peer { term: 4, vote: None, ..later(&before) };
        broken_rule(check_step(&before, request(2, pre_vote, grant), &took_term), "PreVote changes no term");
        check_step(&before, request(2, pre_vote, grant), &later(&before)).expect("answered only");
        let pre = Peer { role: Role::PreCandidate, ..follower() };
        let candidate = Peer { term: 4, vote: Some(0), role: Role::Candidate, ..restarted(&pre) };
        let refused = RpcView::VoteReply { term: 3, granted: false, pre_vote: true, commit: None };
        broken_rule(check_step(&pre, response(1, refused), &candidate), "grants its PreVote");
        let granted = RpcView::VoteReply { term: 4, granted: true, pre_vote: true, commit: None };
        check_step(&pre, response(1, granted), &candidate).expect("2 of 3 PreVotes");
    }
}
