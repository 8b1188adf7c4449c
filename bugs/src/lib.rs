//! The catalogue of known mistakes that raft/, kv/ and shardkv/ can be told
//! to make, so that the scenarios can be shown to catch each of them.
//!
//! A run switches bugs on for its thread with [`with`]; the servers ask
//! [`on`] at the place each mistake lives. With no bug on, `on` is one read
//! of a thread-local word and a branch that is never taken, so the servers
//! behave (and their traces hash) exactly as without the catalogue. The set
//! is read-only while a run goes, so a run still replays from its seed.
//!
//! `buggify` holds the other kind of switch: fault injection points where a
//! server may legally do the rare thing, enabled in swarm runs.

use std::cell::Cell;
use std::fmt;

pub mod buggify;

/// The layer a bug lives in, which decides the scenarios that hunt it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    Raft,
    Kv,
    ShardKv,
}

impl Layer {
    pub fn name(self) -> &'static str {
        match self {
            Layer::Raft => "raft",
            Layer::Kv => "kv",
            Layer::ShardKv => "shardkv",
        }
    }
}

impl Bug {
    /// The Raft optimisations the code of this bug runs only with, as
    /// `labsim --with` names them (`""`: none): a hunt switches them on.
    pub fn needs(self) -> &'static str {
        match self {
            Bug::RaftPreCandidateKeepsLeader => "pre_vote,check_quorum",
            Bug::RaftPreVoteTakesTerm => "pre_vote",
            Bug::RaftQuorumCheckCountsSends => "check_quorum",
            Bug::RaftReadIndexBeforeOwnCommit => "read_index",
            Bug::RaftLeaseWithoutDriftMargin => "lease_read",
            Bug::RaftLeaseWithoutVoteBlock => "lease_read",
            Bug::RaftFollowerReadWithoutApply => "follower_read",
            Bug::RaftAsyncCountsUnsyncedEntries | Bug::RaftAsyncVote => "async_persist",
            _ => "",
        }
    }

    /// Optimisations of which the code of this bug needs at least one, as
    /// `labsim --with` names them (`""`: no such condition).
    pub fn needs_one_of(self) -> &'static str {
        match self {
            Bug::ShardReadWithoutOwnership => "read_index,lease_read,follower_read",
            _ => "",
        }
    }

    /// What a hunt for this bug switches on beyond the implementation's
    /// default: what it needs, and the one of `needs_one_of` that shows it
    /// soonest.
    pub fn hunt_with(self) -> &'static str {
        match self {
            // With ReadIndex or leases alone, the leader's refusal on
            // arrival leaves the bug only the moments between a read's
            // arrival and its confirmation (200 runs found none).
            Bug::ShardReadWithoutOwnership => "follower_read",
            bug => bug.needs(),
        }
    }

    /// The lab whose scenarios hunt this bug: its own layer's, except for
    /// a Raft bug that shows only through a service's reads.
    pub fn hunted_in(self) -> Layer {
        match self {
            Bug::RaftReadIndexBeforeOwnCommit
            | Bug::RaftLeaseWithoutDriftMargin
            | Bug::RaftLeaseWithoutVoteBlock
            | Bug::RaftFollowerReadWithoutApply => Layer::Kv,
            _ => self.layer(),
        }
    }
}

macro_rules! catalogue {
    ($($variant:ident = $name:literal, $layer:ident, $what:literal, $source:literal;)*) => {
        /// One known mistake.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum Bug {
            $($variant,)*
        }

        impl Bug {
            /// Every bug, in catalogue order.
            pub const ALL: &'static [Bug] = &[$(Bug::$variant,)*];

            /// The bug's name on the command line (`raft_vote_twice`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Bug::$variant => $name,)*
                }
            }

            pub fn layer(self) -> Layer {
                match self {
                    $(Bug::$variant => Layer::$layer,)*
                }
            }

            /// What the mistake is, in one line.
            pub fn what(self) -> &'static str {
                match self {
                    $(Bug::$variant => $what,)*
                }
            }

            /// Where the mistake is known from: the rule it breaks, or a
            /// public report of it.
            pub fn source(self) -> &'static str {
                match self {
                    $(Bug::$variant => $source,)*
                }
            }
        }
    };
}

catalogue! {
    // ----- raft: persistence -----
    RaftVoteNotPersisted = "raft_vote_not_persisted", Raft,
        "a granted vote (votedFor) is not persisted before the grant is sent",
        "Raft paper, Figure 2 (votedFor is persistent); stateIs0/lu-raft-kv#33";
    RaftTermNotPersisted = "raft_term_not_persisted", Raft,
        "a term learnt from a peer (currentTerm) is not persisted",
        "Raft paper, Figure 2 (currentTerm is persistent); wenweihu86/raft-java#57";
    RaftLogNotPersisted = "raft_log_not_persisted", Raft,
        "a follower acknowledges appended entries before persisting them",
        "6.824 lab 2C guidance: persist() wherever the log changes, before replying";
    RaftSendBeforePersist = "raft_send_before_persist", Raft,
        "the host sends messages before it persists the state they rest on",
        "etcd-io/raft Ready handling: entries and HardState are saved before messages go out";
    RaftSnapshotNotPersisted = "raft_snapshot_not_persisted", Raft,
        "a snapshot's compaction is persisted but the snapshot itself is not",
        "6.824 lab 2D: persister.Save(raftstate, snapshot) saves both atomically";
    // ----- raft: voting -----
    RaftVoteWithoutLogCheck = "raft_vote_without_log_check", Raft,
        "votes are granted without the candidate's log being at least as up to date",
        "Raft paper, section 5.4.1 (election restriction)";
    RaftVoteTwice = "raft_vote_twice", Raft,
        "a node votes for a second candidate in a term it already voted in",
        "Raft paper, Figure 2, RequestVote receiver rule 2; camunda/camunda#5368";
    RaftUpToDateByLength = "raft_up_to_date_by_length", Raft,
        "'up to date' compares log lengths only, not the last entries' terms",
        "Raft paper, section 5.4.1: compare the last terms first; a common student mistake";
    RaftCountsStaleVotes = "raft_counts_stale_votes", Raft,
        "a candidate counts vote grants that answer an election of an earlier term",
        "6.824 students' guide to Raft: check the term of every reply before using it";
    // ----- raft: terms on requests and replies -----
    RaftAcceptsStaleLeader = "raft_accepts_stale_leader", Raft,
        "a follower appends entries from a leader of an older term",
        "Raft paper, Figure 2, AppendEntries receiver rule 1 (reply false if term < currentTerm)";
    RaftReplyTermIgnored = "raft_reply_term_ignored", Raft,
        "a leader ignores a higher term in an AppendEntries reply and keeps leading",
        "Raft paper, Figure 2, Rules for All Servers (a higher term in a request or response); 6.824 students' guide";
    // ----- raft: election timers -----
    RaftHeartbeatKeepsTimer = "raft_heartbeat_keeps_timer", Raft,
        "a follower does not reset its election timer on the leader's AppendEntries",
        "Raft paper, Figure 2, Rules for Followers; 6.824 lab 2A (stable leader, no re-elections)";
    RaftVoteKeepsTimer = "raft_vote_keeps_timer", Raft,
        "granting a vote does not restart the election timer",
        "Raft paper, Figure 2, Rules for Followers (granting a vote resets the timeout); 6.824 students' guide";
    RaftRefusedVoteResetsTimer = "raft_refused_vote_resets_timer", Raft,
        "the election timer restarts on every RequestVote, granted or refused",
        "6.824 students' guide to Raft: restart the timer only for the leader, a granted vote or an election";
    RaftTimeoutNotRandomized = "raft_timeout_not_randomized", Raft,
        "every election timeout is the same fixed value, so votes split forever",
        "Raft paper, section 5.2 (randomized election timeouts)";
    // ----- raft: the commit rule -----
    RaftCommitsOldTermByCount = "raft_commits_old_term_by_count", Raft,
        "a leader commits an earlier term's entry by counting replicas (Figure 8)",
        "Raft paper, 5.4.2 and Figure 8; logcabin/logcabin#44, async-raft/async-raft#108";
    RaftCommitWithoutMajority = "raft_commit_without_majority", Raft,
        "the commit quorum is n/2 servers rather than a majority (>= instead of >)",
        "a classic off-by-one; Raft paper, Figure 2, Rules for Leaders";
    // ----- raft: log matching and truncation -----
    RaftCommitPastNewEntries = "raft_commit_past_new_entries", Raft,
        "a follower takes the leader's commit index up to its own last entry, not its last new entry",
        "Raft paper, Figure 2, AppendEntries receiver rule 5 (min(leaderCommit, index of last new entry)); 6.824 students' guide";
    RaftSkipsPrevTermCheck = "raft_skips_prev_term_check", Raft,
        "a follower accepts AppendEntries when it has prevLogIndex, whatever its term",
        "Raft paper, Figure 2, AppendEntries receiver rule 2 (Log Matching)";
    RaftTruncatesMatchingEntries = "raft_truncates_matching_entries", Raft,
        "a follower truncates its log after the new entries even when they all matched",
        "6.824 students' guide to Raft: a stale AppendEntries must not truncate the log";
    RaftOverwritesWithoutTruncating = "raft_overwrites_without_truncating", Raft,
        "a conflicting entry is overwritten in place and the entries after it kept",
        "Raft paper, Figure 2, AppendEntries receiver rule 3; mofa-org/mofa#1150";
    RaftNextIndexNotAdvanced = "raft_next_index_not_advanced", Raft,
        "the leader never advances nextIndex on success, so every heartbeat resends the entries",
        "Raft paper, Figure 2, Rules for Leaders (update nextIndex and matchIndex); 6.824 TestRPCBytes2B";
    // ----- raft: fast backup -----
    RaftBackupOvershoots = "raft_backup_overshoots", Raft,
        "after a 'log too short' rejection the leader sets nextIndex one past the follower's log",
        "6.824 lab 2C fast backup (XLen): an off-by-one that never lets a lagging follower catch up";
    // ----- raft: snapshots -----
    RaftInstallsOlderSnapshot = "raft_installs_older_snapshot", Raft,
        "a follower installs a snapshot older than what it has committed, rolling back",
        "Raft paper, Figure 13; apache/ratis RATIS-1838 (compare the commit index first)";
    RaftRestartIgnoresSnapshot = "raft_restart_ignores_snapshot", Raft,
        "a restarted node sets commitIndex and lastApplied to 0, not to its snapshot's index",
        "6.824 lab 2D guidance; sofastack/sofa-jraft#1092 (commit index below the snapshot)";
    // ----- raft: leadership in a minority -----
    RaftMinorityLeaderBumpsTerm = "raft_minority_leader_bumps_term", Raft,
        "a leader that hears from no majority for an election timeout steps down into a new term of its own (term inflation)",
        "etcd-io/raft CheckQuorum steps a lone leader down in its own term; Raft paper 5.1-5.2 (a term begins with an election)";
    // ----- raft: PreVote and CheckQuorum (switched on with `--with`) -----
    RaftPreCandidateKeepsLeader = "raft_pre_candidate_keeps_leader", Raft,
        "with PreVote and CheckQuorum, a pre-candidate still believes in its old leader and refuses every PreVote while its timer runs: an isolated leader is never replaced",
        "etcd-io/etcd#9586 (no leader with PreVote and CheckQuorum); the mistake etcd-io/etcd#8334 and tikv/raft-rs#84 fixed (a pre-candidate forgets its leader)";
    RaftPreVoteTakesTerm = "raft_pre_vote_takes_term", Raft,
        "a peer answering a PreVote adopts its term as for a RequestVote: a cut-off peer's PreVotes inflate terms and depose leaders as if there were no PreVote",
        "Raft thesis 9.6 (a PreVote changes no term); etcd-io/raft never changes its term for a MsgPreVote";
    RaftQuorumCheckCountsSends = "raft_quorum_check_counts_sends", Raft,
        "with CheckQuorum, a leader counts a follower as heard from when it sends to it, not when it answers: a cut-off leader never steps down",
        "Raft thesis 6.2 (a leader steps down without a successful round of heartbeats to a majority); etcd-io/raft marks a follower active on its responses only";
    // ----- raft: pipelining -----
    RaftPipelineWedgesOnReject = "raft_pipeline_wedges_on_reject", Raft,
        "a follower that rejects a pipelined AppendEntries wedges its replication for the rest of the term: heartbeats flow (so it never campaigns), entries never do",
        "hashicorp/raft#612 (a rejection while pipelining left the replication loop stuck; only restarting the leader cleared it), grafana/pyroscope#5518";
    RaftFullWindowHeartbeatAtMatch = "raft_full_window_heartbeat_at_match", Raft,
        "with the flow-control window full, heartbeats go at the last index known to match, so a lost AppendEntries or answer is never noticed: the window stays full, heartbeats flow, entries never do",
        "etcd-io/etcd#2544 (raft flow control: if every answer in a full window is lost, heartbeats still succeed and the follower's progress is stuck; heartbeats were made to free the window)";
    // ----- raft: asynchronous persistence -----
    RaftAsyncCountsUnsyncedEntries = "raft_async_counts_unsynced_entries", Raft,
        "with asynchronous persistence, a leader counts its own new entries toward a commit as soon as it writes them, before they are durable: a machine crash of the leader can lose an entry it committed",
        "Raft thesis 10.2.1 (the leader may send before its write is done, but counts itself only once its entries are durable); etcd-io/raft's AsyncStorageWrites (a leader's own acknowledgement comes from its storage's append response)";
    RaftAsyncVote = "raft_async_vote", Raft,
        "with asynchronous persistence, term and vote go to disk asynchronously too: a peer answers a vote before it is durable and, after a machine crash, votes again in the same term",
        "hashicorp/raft#661 (votes answered before they were persisted let a restarted server vote twice in one term)";
    // ----- raft: reads without the log -----
    RaftReadIndexBeforeOwnCommit = "raft_read_index_before_own_commit", Raft,
        "a new leader serves a ReadIndex read at its commit index before an entry of its own term commits: that index may lag what the last leader committed",
        "Raft thesis 6.4 step 1 (a new leader must commit an entry of its term before it knows the commit index); etcd-io/etcd#7331 (a new leader's read index taken before its empty entry committed read stale values), tikv/tikv#9208";
    RaftLeaseWithoutDriftMargin = "raft_lease_without_drift_margin", Raft,
        "a lease read trusts the leader's lease for the full minimum election timeout, with no margin for clocks that run at different rates",
        "Raft thesis 6.4.1 (the lease must allow for clock drift); tikv/tikv#964 (a slow or paused old leader served stale reads within its lease)";
    RaftLeaseWithoutVoteBlock = "raft_lease_without_vote_block", Raft,
        "leaders serve lease reads, but followers still grant votes within the lease: nothing stops a new leader from committing while the old one's lease runs",
        "Raft thesis 6.4.1 (a lease holds only if servers refuse votes within an election timeout of their leader); etcd-io/raft refuses ReadOnlyLeaseBased without CheckQuorum for this reason";
    RaftFollowerReadWithoutApply = "raft_follower_read_without_apply", Raft,
        "a follower serves a read as soon as its leader confirms the read index, without waiting until it has applied through that index",
        "tikv/tikv#16069 (a follower read served before the follower applied the read index returned stale data)";
    // ----- kv -----
    KvNoDuplicateDetection = "kv_no_duplicate_detection", Kv,
        "the server applies every copy of a retried write",
        "6.824 lab 3A: duplicate detection so that each operation executes once";
    KvDupCheckOnlyAtSubmit = "kv_dup_check_only_at_submit", Kv,
        "duplicates are filtered when a request arrives, not when its entry applies",
        "6.824 lab 3A hints: duplicate detection must happen as entries are applied";
    KvDupCheckEqualOnly = "kv_dup_check_equal_only", Kv,
        "a write counts as a duplicate only if its sequence number equals the client's last",
        "6.824 lab 3A hints (a retry may arrive late); the table must hold the highest seq applied";
    KvDupTableNotInSnapshot = "kv_dup_table_not_in_snapshot", Kv,
        "the snapshot holds the data but not the duplicate table",
        "6.824 lab 3B hints: the snapshot must include the duplicate-detection state";
    KvReadWithoutLog = "kv_read_without_log", Kv,
        "a server that believes it leads answers Get from its own state, without the log",
        "Raft paper, section 8 (read-only operations); adjoint-io/raft#54 (stale reads)";
    KvWaitsWhileCutOff = "kv_waits_while_cut_off", Kv,
        "a leader cut off from its majority keeps a request waiting until it hears of a newer term, never timing it out",
        "6.824 lab 3A hints: a leader that cannot commit must let its clerk try another server (Go's labrpc call never times out)";
    KvReplyForOtherTerm = "kv_reply_for_other_term", Kv,
        "a request is answered by whatever entry is applied at its index, of any term",
        "6.824 lab 3A hints: detect a lost leadership by a different entry at the index";
    // ----- shardkv -----
    ShardServesBeforeArrival = "shard_serves_before_arrival", ShardKv,
        "a group serves a shard it gained before the shard's data arrived",
        "6.824 lab 4B: serve a shard only once its data is installed";
    ShardServesAfterLeaving = "shard_serves_after_leaving", ShardKv,
        "a group keeps serving a shard it lost while the new owner pulls it",
        "6.824 lab 4B: stop serving a shard as soon as the new configuration applies";
    ShardMigratesWithoutDupTable = "shard_migrates_without_dup_table", ShardKv,
        "a shard moves with its data but without its duplicate table",
        "6.824 lab 4B hints: send the duplicate-detection state along with the shard";
    ShardMigratesWithoutData = "shard_migrates_without_data", ShardKv,
        "the new owner starts serving a pulled shard with an empty store",
        "6.824 lab 4B: a shard's key/value pairs move with it";
    ShardNeverDeletes = "shard_never_deletes", ShardKv,
        "a group keeps the data of shards it handed off",
        "6.824 lab 4B challenge 1 (garbage collection of state)";
    ShardOwnershipCheckedAtSubmit = "shard_ownership_checked_at_submit", ShardKv,
        "a group checks that it owns a key's shard when a request arrives, not when it applies",
        "6.824 lab 4B hints: re-check ownership when the operation is applied";
    ShardReadWithoutOwnership = "shard_read_without_ownership", ShardKv,
        "with a read path on (ReadIndex, leases, follower reads), a group answers a Get from its state without checking that it serves the key's shard at that moment",
        "tikv/tikv#14699 (reads answered without checking the region epoch could read out of range after a split), tikv/tikv#8034 (a local read during a merge returned stale data)";
    ShardSkipsConfigurations = "shard_skips_configurations", ShardKv,
        "a group jumps to the latest configuration instead of the next one",
        "6.824 lab 4B hints: process re-configurations one at a time, in order";
}

/// A set of bugs.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Bugs(u64);

const _: () = assert!(Bug::ALL.len() <= 64, "a Bugs set is one u64 word");

impl Bugs {
    pub const NONE: Bugs = Bugs(0);

    pub fn one(bug: Bug) -> Bugs {
        Bugs(1 << bug as u8)
    }

    pub fn with(self, bug: Bug) -> Bugs {
        Bugs(self.0 | 1 << bug as u8)
    }

    pub fn contains(self, bug: Bug) -> bool {
        self.0 & (1 << bug as u8) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Bug> {
        Bug::ALL.iter().copied().filter(move |b| self.contains(*b))
    }

    /// A list given on a command line (`--bugs`): as `parse`, but an empty
    /// list is an error (say `none` for no bug), never a silent no-bug run.
    pub fn parse_given(text: &str) -> Result<Bugs, String> {
        if text.split(',').all(|n| n.trim().is_empty()) {
            return Err("no bug named: give bug names, comma-separated (labsim bugs lists them), or none".into());
        }
        Bugs::parse(text)
    }

    /// A comma-separated list of bug names; empty or "none" is no bug.
    pub fn parse(text: &str) -> Result<Bugs, String> {
        let mut bugs = Bugs::NONE;
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty() && *n != "none") {
            bugs = bugs.with(Bug::named(name)?);
        }
        Ok(bugs)
    }
}

impl Bug {
    /// The bug of this name; the error names the unknown one.
    pub fn named(name: &str) -> Result<Bug, String> {
        Bug::ALL
            .iter()
            .copied()
            .find(|b| b.name() == name)
            .ok_or_else(|| format!("unknown bug {name:?} (`labsim bugs` lists them)"))
    }
}

impl fmt::Debug for Bugs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Bugs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.iter().map(Bug::name).collect();
        f.write_str(&names.join(","))
    }
}

thread_local! {
    /// The bugs switched on for the run this thread is doing (set by the
    /// runner from the run's value, read by the servers).
    static ACTIVE: Cell<u64> = const { Cell::new(0) };
}

/// Whether `bug` is switched on for the run on this thread.
#[inline(always)]
pub fn on(bug: Bug) -> bool {
    ACTIVE.with(|a| a.get() & (1 << bug as u8) != 0)
}

/// Runs `f` with `bugs` switched on on this thread, then restores the set
/// that was on before (also when `f` panics).
pub fn with<T>(bugs: Bugs, f: impl FnOnce() -> T) -> T {
    struct Restore(u64);
    impl Drop for Restore {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.set(self.0));
        }
    }
    let _restore = Restore(ACTIVE.with(|a| a.replace(bugs.0)));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique_snake_case_and_parse_back() {
        let names: BTreeSet<_> = Bug::ALL.iter().map(|b| b.name()).collect();
        assert_eq!(names.len(), Bug::ALL.len());
        for bug in Bug::ALL {
            assert!(bug.name().starts_with(bug.layer().name().trim_end_matches("kv")), "{}", bug.name());
            assert!(bug.name().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert_eq!(Bug::named(bug.name()), Ok(*bug));
            assert!(!bug.what().is_empty() && !bug.source().is_empty());
        }
        assert!(Bug::ALL.len() >= 30, "the catalogue holds at least 30 bugs");
    }

    #[test]
    fn sets_parse_print_and_switch_on_per_thread() {
        let set = Bugs::parse("raft_vote_twice, kv_read_without_log").unwrap();
        assert_eq!(set.to_string(), "raft_vote_twice,kv_read_without_log");
        assert_eq!(Bugs::parse("none").unwrap(), Bugs::NONE);
        assert_eq!(Bugs::parse_given("none").unwrap(), Bugs::NONE);
        assert!(Bugs::parse_given("").unwrap_err().contains("no bug named"));
        assert!(Bugs::parse_given(" , ").unwrap_err().contains("no bug named"));
        assert!(Bugs::parse("raft_vote_thrice").unwrap_err().contains("raft_vote_thrice"));
        assert!(!on(Bug::RaftVoteTwice));
        with(set, || {
            assert!(on(Bug::RaftVoteTwice) && !on(Bug::RaftVoteNotPersisted));
            assert!(!std::thread::spawn(|| on(Bug::RaftVoteTwice)).join().unwrap(), "per thread");
        });
        assert!(!on(Bug::RaftVoteTwice), "restored after the run");
    }
}
