//! Scenarios `raft/...` beyond the lab for PreVote and CheckQuorum (the
//! Raft thesis 9.6, 6.2 and 4.2.3), for pipelining with flow control, and
//! for asynchronous persistence (10.2.1):
//! the failures they exist for, each run under whatever optimisations the
//! run switched on (`--with`).
//!
//! Each scenario asserts what the optimisations in effect promise, and
//! only that: a Raft without them is not failed for the disruption they
//! prevent (an implementation may prevent it another way). What a run saw
//! is noted as `measured NAME: VALUE` (term growth, leader changes, time to
//! step down), and `labsim compare SCENARIO` runs every combination of the
//! switches over many seeds and tabulates those measures side by side.

use super::scenarios::{int, lab_test};
use crate::labs::raft::tester::{Setup, TestResult, Tester, ELECTION_TIMEOUT};
use crate::runner::{Outcome, Run};
use contract::{Optimisation, Raft};
use sim::{ms, secs, Nanos};
use std::rc::Rc;

/// Whether the run has optimisation `o` on.
fn has(o: Optimisation) -> bool {
    crate::optimisations::in_effect().contains(o)
}

/// Notes a measure of the run, for `labsim compare`.
fn measure<R: Raft>(t: &Tester<R>, name: &str, value: impl std::fmt::Display) {
    t.h.note(format!("measured {name}: {value}"));
}

/// A follower cut off for 3 s while the other two commit, then back.
/// Without PreVote its timer makes it campaign alone, term after term, and
/// when it returns its higher term deposes a healthy leader. With PreVote
/// (thesis 9.6) it never wins a PreVote (its log is behind), so its term
/// stays, and the leader keeps leading: asserted when PreVote is on.
pub fn rejoin_after_isolation<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        let leader = t.check_one_leader().await?;
        let cut = (leader + 1) % t.n;
        t.disconnect(cut);
        for k in 0..3 {
            t.one(int(100 + k), 2, true).await?;
        }
        t.sleep(secs(3)).await;
        let cut_term = t.get_state(cut).ok_or("the cut-off server is up")?.0;
        let (lead_term, still_leads) = t.get_state(leader).ok_or("the leader is up")?;
        if !still_leads {
            return Err(format!("leader {leader} lost its leadership with a majority and no fault"));
        }
        t.connect(cut);
        t.sleep(secs(1)).await;
        let deposed = t.get_state(leader) != Some((lead_term, true));
        let growth = cut_term.saturating_sub(lead_term);
        measure(&t, "cut-off term growth", growth);
        measure(&t, "leader deposed on rejoin", u8::from(deposed));
        if has(Optimisation::PreVote) && growth > 0 {
            return Err(format!("with PreVote, cut-off server {cut}'s term grew from {lead_term} to {cut_term}"));
        }
        if has(Optimisation::PreVote) && deposed {
            return Err(format!("with PreVote, server {cut} rejoining deposed leader {leader} of term {lead_term}"));
        }
        t.one(int(200), t.n, true).await?;
        Ok(())
    })
}

/// The leader of three is cut off. With CheckQuorum it must step down
/// within an election timeout (the lab's 1 s), having heard from no
/// majority. Whatever the switches, the other two must elect a new leader
/// within `checkOneLeader`'s bound, and commit: with PreVote and
/// CheckQuorum together that is etcd #9586, where pre-candidates that
/// still believed in the old leader refused each other forever.
///
/// A leader that steps down in a minority then campaigns there, term
/// after term, and its term deposes the new leader when it returns. With
/// PreVote its term stays, and its return deposes no one: asserted when
/// PreVote is on.
pub fn isolated_leader<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        let leader = t.check_one_leader().await?;
        t.one(int(1), t.n, true).await?;
        let term_at_cut = t.get_state(leader).ok_or("the leader is up")?.0;
        t.disconnect(leader);
        let stepped_down = time_until(&t, secs(2), || t.get_state(leader).is_some_and(|(_, leads)| !leads)).await;
        match stepped_down {
            Some(after) => measure(&t, "old leader steps down after ms", after / ms(1)),
            None => measure(&t, "old leader steps down after ms", "never (2 s)"),
        }
        if has(Optimisation::CheckQuorum) && stepped_down.is_none_or(|after| after > ELECTION_TIMEOUT) {
            return Err(format!(
                "with CheckQuorum, leader {leader}, cut off from every peer, still led {} ms later",
                stepped_down.unwrap_or(secs(2)) / ms(1)
            ));
        }
        let new_leader = t.check_one_leader().await?;
        t.one(int(2), t.n - 1, true).await?;
        measure(&t, "new leader elected", u8::from(new_leader != leader));
        t.sleep(secs(2)).await;
        let old_term = t.get_state(leader).ok_or("the old leader is up")?.0;
        let new_term = t.get_state(new_leader).ok_or("the new leader is up")?.0;
        t.connect(leader);
        t.sleep(secs(1)).await;
        let growth = old_term.saturating_sub(term_at_cut);
        let deposed = t.get_state(new_leader) != Some((new_term, true));
        measure(&t, "old leader's term growth while cut off", growth);
        measure(&t, "new leader deposed by its return", u8::from(deposed));
        if has(Optimisation::PreVote) && (growth > 0 || deposed) {
            return Err(format!(
                "with PreVote, old leader {leader} went from term {term_at_cut} to {old_term} while cut off, and its \
                 return deposed the new leader: {deposed}"
            ));
        }
        t.one(int(3), t.n, true).await?;
        Ok(())
    })
}

/// How long a command is offered to the leader of `slow_follower`.
const SLOW_PERIOD: Nanos = secs(2);

/// A slow follower (beyond the lab): of three servers, one follower's links
/// to and from the leader take 150 ms each way, while the leader is
/// offered a command every 2 ms for 2 s; then its links are fast again.
/// Asserted, whatever the switches: the leader keeps committing at the
/// pace of its fast majority (every command committed by two within 1 s
/// of the last), and the slow follower catches up within 5 s once its
/// links are fast. Noted: the requests the slow follower received while
/// slow (a pipeline with no window sends it one per command; flow control
/// holds them to a window per round trip, and batching fills each one),
/// the majority's commit lag after the last command, and the catch-up.
pub fn slow_follower<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        let leader = t.check_one_leader().await?;
        let slow = (leader + 1) % t.n;
        set_latency(&t, leader, slow, sim::Latency::Fixed(ms(150)));
        let received_before = t.rpc_count(slow);
        let first = t.start_on_leader(leader, &int(1))?;
        let mut last = first;
        let commands = (SLOW_PERIOD / ms(2)) as i64;
        for k in 1..commands {
            t.sleep(ms(2)).await;
            last = t.start_on_leader(leader, &int(1 + k))?;
        }
        let majority = t.n / 2 + 1;
        let committed = || committed_through(&t, majority, first - 1).is_ok_and(|c| c >= last);
        let lag = time_until(&t, secs(1), committed).await;
        let received = t.rpc_count(slow) - received_before;
        set_latency(&t, leader, slow, sim::Latency::Zero);
        let all = || t.n_committed(last).is_ok_and(|(n, _)| n == t.n);
        let catch_up = time_until(&t, secs(5), all).await;
        measure(&t, "requests to the slow follower", received);
        let in_ms = |d: Option<Nanos>| d.map_or("never".to_string(), |d| (d / ms(1)).to_string());
        measure(&t, "majority commit lag ms", in_ms(lag));
        measure(&t, "slow follower catch-up ms", in_ms(catch_up));
        lag.ok_or_else(|| format!("commands {first}..={last} not committed by a majority within 1 s of the last"))?;
        catch_up.ok_or_else(|| {
            format!("slow follower {slow} had not caught up through {last} 5 s after its links healed")
        })?;
        t.one(int(commands + 1), t.n, true).await?;
        Ok(())
    })
}

/// Rounds of `leader_disk_crash`.
const DISK_CRASH_ROUNDS: i64 = 5;
/// The leader's disk in `leader_disk_crash`: a write or flush takes this
/// long (its followers' take `FAST_DISK`).
const SLOW_DISK: Nanos = ms(30);
const FAST_DISK: Nanos = ms(1);

/// A leader with a slow disk crashes just after a commit (beyond the lab;
/// for asynchronous persistence, thesis 10.2.1). Three servers; in each of
/// five rounds the leader's disk takes 30 ms per write and its followers'
/// 1 ms, and one follower is cut off. The leader is given a command, and
/// the moment any server has applied it (polled every millisecond), the
/// leader's machine crashes, losing what its disk had not made durable.
/// Then the follower that took the entry is cut off, the other returns
/// and the old leader restarts: those two elect a leader, and whatever
/// commits next must follow the command (it committed). Asserted whatever
/// the switches (the lab's applier and the observer check each index);
/// with asynchronous persistence the leader commits once its own flush
/// and the follower's answer are in, so the crash loses nothing committed.
/// Noted: the time from the command to its first apply.
pub fn leader_disk_crash<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        let mut commit_ms = Vec::new();
        for round in 0..DISK_CRASH_ROUNDS {
            let leader = t.check_one_leader().await?;
            let (kept, cut) = ((leader + 1) % t.n, (leader + 2) % t.n);
            for i in 0..t.n {
                let latency = if i == leader { SLOW_DISK } else { FAST_DISK };
                t.h.inject(sim::Fault::DiskLatency { server: t.servers[i], latency });
            }
            t.disconnect(cut);
            let index = t.start_on_leader(leader, &int(1000 + round))?;
            let started = t.h.now();
            let applied = || t.n_committed(index).is_ok_and(|(n, _)| n > 0);
            while !applied() && t.h.now() - started < secs(2) {
                t.sleep(ms(1)).await;
            }
            commit_ms.push((t.h.now() - started) / ms(1));
            t.cluster.crash_with(leader, sim::CrashMode::LoseUnsynced);
            t.disconnect(kept);
            t.connect(cut);
            t.start1(leader);
            t.connect(leader);
            t.one(int(2000 + round), 2, true).await?;
            t.connect(kept);
            t.one(int(3000 + round), t.n, true).await?;
        }
        measure(&t, "command to first apply ms (per round)", format!("{commit_ms:?}"));
        Ok(())
    })
}

/// Sets the extra latency of both links between servers `a` and `b`.
fn set_latency<R: Raft>(t: &Tester<R>, a: usize, b: usize, latency: sim::Latency) {
    let (a, b) = (t.servers[a], t.servers[b]);
    t.h.inject(sim::Fault::Latency { from: a, to: b, latency });
    t.h.inject(sim::Fault::Latency { from: b, to: a, latency });
}

/// Polls every 10 ms, for at most `limit`, until `done` holds: the virtual
/// time it took, or `None`.
async fn time_until<R: Raft>(t: &Tester<R>, limit: Nanos, done: impl Fn() -> bool) -> Option<Nanos> {
    let start = t.h.now();
    while t.h.now() - start <= limit {
        if done() {
            return Some(t.h.now() - start);
        }
        t.sleep(ms(10)).await;
    }
    None
}

/// How long the partial partition lasts.
const PARTIAL_PARTITION: Nanos = secs(10);

/// The partial partition of Cloudflare's outage of 2 November 2020 (and
/// Howard and Abraham's analysis of it): of five servers, one reaches only
/// two others, neither of them the leader. Its election timer fires (it
/// hears no leader); what follows depends on the switches:
/// - with neither, its RequestVotes carry a new term through its two
///   neighbours to the leader, which steps down; elections follow one
///   another while the partition lasts (leader changes, terms climbing);
/// - with PreVote alone, its PreVotes need a log as up to date as its
///   neighbours' (under a steady workload it falls behind, and is refused);
/// - with CheckQuorum, its neighbours, led, ignore it: the leader stays
///   (its own term still climbs, and deposes the leader once healed);
/// - with both, nothing changes at all.
///
/// For 10 s every server is offered a command every 100 ms; the run notes
/// leader changes, term growth and commits. Asserted with CheckQuorum on:
/// no leader change and a command committed in every second. After
/// healing, with any switches, the cluster must commit on all five.
pub fn partial_partition<R: Raft>(run: &Run) -> Outcome {
    partial_partition_of::<R>(run, Workload::Steady, reaches_two)
}

/// `partial_partition` on an idle cluster: no command is offered while the
/// partition lasts, so the cut-off server's log stays as up to date as
/// anyone's. PreVote alone no longer refuses it: it wins its PreVotes
/// through its two neighbours, deposes the leader, may lead them itself,
/// and is deposed in turn by the servers it cannot reach. CheckQuorum's
/// lease is what stops it (asserted with CheckQuorum on: no leader change).
pub fn partial_partition_idle<R: Raft>(run: &Run) -> Outcome {
    partial_partition_of::<R>(run, Workload::Idle, reaches_two)
}

/// The cuts of `partial_partition`: others[0] keeps its links to
/// others[1] and others[2] only.
fn reaches_two(leader: usize, others: &[usize]) -> Vec<(usize, usize)> {
    vec![(others[0], leader), (others[0], others[3])]
}

/// Whether the cluster is offered commands while partially partitioned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    /// Every server, every 100 ms.
    Steady,
    Idle,
}

/// Howard and Abraham's livelock ("Raft does not guarantee liveness in the
/// face of network faults", 2020): of five, three (the leader among them)
/// reach each other, and each of the other two reaches a different one of
/// the leader's two peers only. Whoever leads, one of the two hears no
/// leader and calls an election through its one peer: with neither switch
/// the leadership never settles while the partition lasts. Asserted as for
/// `partial_partition`.
pub fn partial_partition_livelock<R: Raft>(run: &Run) -> Outcome {
    // others[2] reaches only others[0]; others[3] reaches only others[1].
    partial_partition_of::<R>(run, Workload::Steady, |leader, o| {
        let mut cuts = vec![(o[2], o[3])];
        cuts.extend([leader, o[1]].map(|far| (o[2], far)));
        cuts.extend([leader, o[0]].map(|far| (o[3], far)));
        cuts
    })
}

/// The links a partial partition cuts, given the leader and the others.
type Cuts = fn(usize, &[usize]) -> Vec<(usize, usize)>;

/// Five servers with the links `cuts` gives (for the leader and the four
/// others) down both ways for 10 s of `workload`, then healed.
fn partial_partition_of<R: Raft>(run: &Run, workload: Workload, cuts: Cuts) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(5), move |t| async move {
        let leader = t.check_one_leader().await?;
        t.one(int(1), t.n, true).await?;
        let others: Vec<usize> = (0..t.n).filter(|&i| i != leader).collect();
        let cut = cuts(leader, &others);
        for &(a, b) in &cut {
            t.cluster.set_both_ways(a, b, false);
        }
        let term_before = t.get_state(leader).ok_or("the leader is up")?.0;
        let watched = watch_partition(&t, workload).await?;
        measure(&t, "leader changes", watched.leader_changes);
        measure(&t, "term growth", watched.highest_term.saturating_sub(term_before));
        if workload == Workload::Steady {
            measure(&t, "commits", watched.commits);
            measure(&t, "seconds without a commit", watched.seconds_without_commit);
        }
        if has(Optimisation::CheckQuorum) && (watched.leader_changes > 0 || watched.seconds_without_commit > 0) {
            return Err(format!(
                "with CheckQuorum, a partial partition (links cut: {cut:?}) made {} leader changes and {} seconds \
                 without a commit",
                watched.leader_changes, watched.seconds_without_commit
            ));
        }
        t.cluster.connect_all();
        t.one(int(2), t.n, true).await?;
        Ok(())
    })
}

/// What the partial partition did.
struct Watched {
    leader_changes: u64,
    highest_term: u64,
    commits: u64,
    /// Whole seconds in which no new command committed on a majority.
    seconds_without_commit: u64,
}

/// Runs the partial partition's workload and watches leaders, terms and
/// commits, sampled every 100 ms.
async fn watch_partition<R: Raft>(t: &Rc<Tester<R>>, workload: Workload) -> TestResult<Watched> {
    let majority = t.n / 2 + 1;
    let mut w = Watched { leader_changes: 0, highest_term: 0, commits: 0, seconds_without_commit: 0 };
    let mut last_leader: Option<(usize, u64)> = None;
    let mut committed = committed_through(t, majority, 0)?;
    let mut committed_in_second = false;
    for tick in 1..=PARTIAL_PARTITION / ms(100) {
        if workload == Workload::Steady {
            for i in 0..t.n {
                t.start(i, &t.rand_cmd());
            }
        }
        t.sleep(ms(100)).await;
        for i in 0..t.n {
            let Some((term, leads)) = t.get_state(i) else { continue };
            w.highest_term = w.highest_term.max(term);
            if leads && last_leader.is_none_or(|(l, lt)| (l, lt) != (i, term) && term >= lt) {
                w.leader_changes += u64::from(last_leader.is_some());
                last_leader = Some((i, term));
            }
        }
        let now = committed_through(t, majority, committed)?;
        committed_in_second |= now > committed || workload == Workload::Idle;
        w.commits += now - committed;
        committed = now;
        if tick % 10 == 0 {
            w.seconds_without_commit += u64::from(!committed_in_second);
            committed_in_second = false;
        }
    }
    Ok(w)
}

/// The highest index at or after `from` that `majority` servers applied.
fn committed_through<R: Raft>(t: &Tester<R>, majority: usize, from: u64) -> TestResult<u64> {
    let mut index = from;
    while t.n_committed(index + 1)?.0 >= majority {
        index += 1;
    }
    Ok(index)
}
