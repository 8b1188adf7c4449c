//! Scenarios `raft/...`: the lab's 27 Raft tests (2A-2D: the 25 of 2022 plus
//! TestFollowerFailure2B and TestLeaderFailure2B from 2023), ported from
//! `raft/test_test.go` with their bounds, in virtual time.
//!
//! Fixed quirk: TestInitialElection2A only warns in Go when the term changes
//! during 2 s without failures; here that is a failure.

use super::optimisations::{
    isolated_leader, leader_disk_crash, partial_partition, partial_partition_idle, partial_partition_livelock,
    rejoin_after_isolation, slow_follower,
};
use crate::labs::raft::host::Cmd;
use crate::labs::raft::tester::{Setup, TestResult, Tester, ELECTION_TIMEOUT, H, MAX_LOG_SIZE};
use crate::runner::{simulate, Outcome, Run};
use crate::Scenario;
use contract::Raft;
use sim::{ms, secs, Fault};
use std::future::Future;
use std::rc::Rc;

/// Runs one lab test: a cluster (`make_config`), the body,
/// then `end` (the 120 s limit).
pub(super) fn lab_test<R: Raft, F: Future<Output = TestResult> + 'static>(
    run: &Run,
    setup: Setup,
    body: impl FnOnce(Rc<Tester<R>>) -> F + 'static,
) -> Outcome {
    simulate(run, move |h: H<R>| async move {
        let t = Tester::new(&h, setup);
        body(t.clone()).await?;
        t.end()
    })
}

/// The network a test runs on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Net {
    Reliable,
    Unreliable,
}

pub(super) fn int(x: i64) -> Cmd {
    Cmd::Int(x)
}

// ----- 2A -----

fn initial_election_2a<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        t.check_one_leader().await?;
        t.sleep(ms(50)).await;
        let term1 = t.check_terms()?;
        if term1 < 1 {
            return Err(format!("term is {term1}, but should be at least 1"));
        }
        t.sleep(2 * ELECTION_TIMEOUT).await;
        let term2 = t.check_terms()?;
        // The Go test only warns here; a term change with no failures is a
        // real defect (needless elections), so it fails.
        if term1 != term2 {
            return Err(format!("term changed from {term1} to {term2} even though there were no failures"));
        }
        t.check_one_leader().await?;
        Ok(())
    })
}

fn re_election_2a<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        let leader1 = t.check_one_leader().await?;
        t.disconnect(leader1);
        t.check_one_leader().await?;
        t.connect(leader1);
        let leader2 = t.check_one_leader().await?;
        t.disconnect(leader2);
        t.disconnect((leader2 + 1) % 3);
        t.sleep(2 * ELECTION_TIMEOUT).await;
        t.check_no_leader()?;
        t.connect((leader2 + 1) % 3);
        t.check_one_leader().await?;
        t.connect(leader2);
        t.check_one_leader().await?;
        Ok(())
    })
}

fn many_elections_2a<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(7), |t| async move {
        let n = t.n;
        t.check_one_leader().await?;
        for _ in 1..10 {
            let picks: Vec<usize> = (0..3).map(|_| t.rand(n as u64) as usize).collect();
            for &i in &picks {
                t.disconnect(i);
            }
            t.check_one_leader().await?;
            for &i in &picks {
                t.connect(i);
            }
        }
        t.check_one_leader().await?;
        Ok(())
    })
}

// ----- 2B -----

fn basic_agree_2b<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        for index in 1..=3u64 {
            let (nd, _) = t.n_committed(index)?;
            if nd > 0 {
                return Err("some have committed before Start()".into());
            }
            t.one_at(index, int(index as i64 * 100), 3).await?;
        }
        Ok(())
    })
}

/// Bytes of labgob's per-call type descriptors over TestRPCBytes2B: about
/// 10 KB of the Go test's 50,000-byte slack, which our encoding never sends.
const LABGOB_TYPE_DESCRIPTOR_BYTES: u64 = 10_000;

/// TestRPCBytes2B's slack, re-derived for our encoding. In Go the slack
/// left after the descriptors absorbs about 17 redundant copies of a 5 KB
/// command; with the whole 50,000 bytes ours would absorb about 20. With
/// 40,000 the same redundancy fails here as there: the necessary traffic is
/// 100,720 bytes against a bound of 190,120, so 17 redundant copies (85,068
/// bytes) pass and 18 (90,072) fail.
const RPC_BYTES_SLACK: u64 = 50_000 - LABGOB_TYPE_DESCRIPTOR_BYTES;

/// Each command should be sent to each peer about once: the bound is
/// servers x total command bytes + `RPC_BYTES_SLACK`.
fn rpc_bytes_2b<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        let n = t.n;
        t.h.count_bytes();
        t.one(int(99), n, false).await?;
        let bytes0 = t.bytes_total();
        let mut sent = 0u64;
        for index in 2..12u64 {
            let text: String = t.h.with_rng(|r| {
                use rand::Rng;
                (0..5000).map(|_| r.random_range(b'a'..=b'z') as char).collect()
            });
            let cmd = Cmd::Str(text);
            sent += cmd.encode().len() as u64;
            t.one_at(index, cmd, n).await?;
        }
        let got = t.bytes_total() - bytes0;
        let expected = n as u64 * sent;
        if got > expected + RPC_BYTES_SLACK {
            return Err(format!("too many RPC bytes; got {got}, expected {expected}"));
        }
        // Every follower got every command to commit it: a count below that
        // is no count (bytes are counted only after `count_bytes`).
        let least = (n as u64 - 1) * sent;
        if got < least {
            return Err(format!("RPC bytes not counted: got {got}, but the followers' copies alone are {least}"));
        }
        Ok(())
    })
}

fn follower_failure_2b<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        let n = t.n;
        t.one(int(101), n, false).await?;
        let leader1 = t.check_one_leader().await?;
        t.disconnect((leader1 + 1) % n);
        t.one(int(102), n - 1, false).await?;
        t.sleep(ELECTION_TIMEOUT).await;
        t.one(int(103), n - 1, false).await?;
        let leader2 = t.check_one_leader().await?;
        t.disconnect((leader2 + 1) % n);
        t.disconnect((leader2 + 2) % n);
        let index = t.start_on_leader(leader2, &int(104))?;
        if index != 4 {
            return Err(format!("expected index 4, got {index}"));
        }
        t.sleep(2 * ELECTION_TIMEOUT).await;
        t.expect_no_commit(index)?;
        Ok(())
    })
}

fn leader_failure_2b<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        let n = t.n;
        t.one(int(101), n, false).await?;
        let leader1 = t.check_one_leader().await?;
        t.disconnect(leader1);
        t.one(int(102), n - 1, false).await?;
        t.sleep(ELECTION_TIMEOUT).await;
        t.one(int(103), n - 1, false).await?;
        let leader2 = t.check_one_leader().await?;
        t.disconnect(leader2);
        for i in 0..n {
            t.start(i, &int(104));
        }
        t.sleep(2 * ELECTION_TIMEOUT).await;
        t.expect_no_commit(4)?;
        Ok(())
    })
}

fn fail_agree_2b<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        let n = t.n;
        t.one(int(101), n, false).await?;
        let leader = t.check_one_leader().await?;
        t.disconnect((leader + 1) % n);
        t.one(int(102), n - 1, false).await?;
        t.one(int(103), n - 1, false).await?;
        t.sleep(ELECTION_TIMEOUT).await;
        t.one(int(104), n - 1, false).await?;
        t.one(int(105), n - 1, false).await?;
        t.connect((leader + 1) % n);
        t.one(int(106), n, true).await?;
        t.sleep(ELECTION_TIMEOUT).await;
        t.one(int(107), n, true).await?;
        Ok(())
    })
}

fn fail_no_agree_2b<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(5), |t| async move {
        let n = t.n;
        t.one(int(10), n, false).await?;
        let leader = t.check_one_leader().await?;
        for k in 1..=3 {
            t.disconnect((leader + k) % n);
        }
        let index = t.start_on_leader(leader, &int(20))?;
        if index != 2 {
            return Err(format!("expected index 2, got {index}"));
        }
        t.sleep(2 * ELECTION_TIMEOUT).await;
        t.expect_no_commit(index)?;
        for k in 1..=3 {
            t.connect((leader + k) % n);
        }
        let leader2 = t.check_one_leader().await?;
        let index2 = t.start_on_leader(leader2, &int(30))?;
        if !(2..=3).contains(&index2) {
            return Err(format!("unexpected index {index2}"));
        }
        t.one(int(1000), n, true).await?;
        Ok(())
    })
}

fn concurrent_starts_2b<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        let n = t.n;
        let mut success = false;
        'tries: for attempt in 0..5 {
            if attempt > 0 {
                t.sleep(secs(3)).await;
            }
            let leader = t.check_one_leader().await?;
            let Some((_, term, true)) = t.start(leader, &int(1)) else { continue };
            // The Go test starts these from 5 goroutines at once; Start is
            // instantaneous here, so five calls at one instant are the same.
            let mut indexes = Vec::new();
            for ii in 0..5 {
                if let Some((i, term1, true)) = t.start(leader, &int(100 + ii)) {
                    if term1 == term {
                        indexes.push(i);
                    }
                }
            }
            for j in 0..n {
                if t.get_state(j).is_some_and(|(tj, _)| tj != term) {
                    continue 'tries; // the term changed: try again
                }
            }
            let mut cmds = Vec::new();
            for index in indexes {
                match t.wait(index, n, Some(term)).await? {
                    Cmd::Int(-1) => continue 'tries,
                    Cmd::Int(x) => cmds.push(x),
                    other => return Err(format!("value {other:?} is not an int")),
                }
            }
            for ii in 0..5 {
                if !cmds.contains(&(100 + ii)) {
                    return Err(format!("cmd {} missing in {cmds:?}", 100 + ii));
                }
            }
            success = true;
            break;
        }
        if !success {
            return Err("term changed too often".into());
        }
        Ok(())
    })
}

fn rejoin_2b<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        let n = t.n;
        t.one(int(101), n, true).await?;
        let leader1 = t.check_one_leader().await?;
        t.disconnect(leader1);
        for x in [102, 103, 104] {
            t.start(leader1, &int(x));
        }
        t.one(int(103), 2, true).await?;
        let leader2 = t.check_one_leader().await?;
        t.disconnect(leader2);
        t.connect(leader1);
        t.one(int(104), 2, true).await?;
        t.connect(leader2);
        t.one(int(105), n, true).await?;
        Ok(())
    })
}

fn backup_2b<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(5), |t| async move {
        let n = t.n;
        t.one(t.rand_cmd(), n, true).await?;
        // Put the leader and one follower in a partition.
        let leader1 = t.check_one_leader().await?;
        for k in 2..=4 {
            t.disconnect((leader1 + k) % n);
        }
        // Lots of commands that won't commit.
        for _ in 0..50 {
            t.start(leader1, &t.rand_cmd());
        }
        t.sleep(ELECTION_TIMEOUT / 2).await;
        t.disconnect(leader1);
        t.disconnect((leader1 + 1) % n);
        // Allow the other partition to recover.
        for k in 2..=4 {
            t.connect((leader1 + k) % n);
        }
        for _ in 0..50 {
            t.one(t.rand_cmd(), 3, true).await?;
        }
        // Now another partitioned leader and one follower.
        let leader2 = t.check_one_leader().await?;
        let mut other = (leader1 + 2) % n;
        if leader2 == other {
            other = (leader2 + 1) % n;
        }
        t.disconnect(other);
        for _ in 0..50 {
            t.start(leader2, &t.rand_cmd());
        }
        t.sleep(ELECTION_TIMEOUT / 2).await;
        // Bring the original leader back to life.
        for i in 0..n {
            t.disconnect(i);
        }
        t.connect(leader1);
        t.connect((leader1 + 1) % n);
        t.connect(other);
        for _ in 0..50 {
            t.one(t.rand_cmd(), 3, true).await?;
        }
        for i in 0..n {
            t.connect(i);
        }
        t.one(t.rand_cmd(), n, true).await?;
        Ok(())
    })
}

fn count_2b<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        let n = t.n;
        t.check_one_leader().await?;
        let total1 = t.rpc_total();
        if !(1..=30).contains(&total1) {
            return Err(format!("too many or few RPCs ({total1}) to elect initial leader"));
        }
        let mut success = false;
        let mut total2 = 0;
        'tries: for attempt in 0..5 {
            if attempt > 0 {
                t.sleep(secs(3)).await;
            }
            let leader = t.check_one_leader().await?;
            let total1 = t.rpc_total();
            let iters = 10u64;
            let Some((starti, term, true)) = t.start(leader, &int(1)) else { continue };
            let mut cmds = Vec::new();
            for i in 1..iters + 2 {
                let x = t.h.with_rng(|r| {
                    use rand::Rng;
                    r.random_range(0..i64::MAX)
                });
                cmds.push(x);
                match t.start(leader, &int(x)) {
                    Some((index1, term1, true)) if term1 == term => {
                        if starti + i != index1 {
                            return Err("Start() failed".into());
                        }
                    }
                    _ => continue 'tries,
                }
            }
            for i in 1..=iters {
                match t.wait(starti + i, n, Some(term)).await? {
                    Cmd::Int(x) if x == cmds[i as usize - 1] => {}
                    Cmd::Int(-1) => continue 'tries,
                    other => {
                        return Err(format!(
                            "wrong value {other:?} committed for index {}; expected {:?}",
                            starti + i,
                            cmds
                        ))
                    }
                }
            }
            total2 = 0;
            for j in 0..n {
                if t.get_state(j).is_some_and(|(tj, _)| tj != term) {
                    continue 'tries;
                }
                total2 += t.rpc_count(j);
            }
            if total2 - total1 > (iters + 1 + 3) * 3 {
                return Err(format!("too many RPCs ({}) for {iters} entries", total2 - total1));
            }
            success = true;
            break;
        }
        if !success {
            return Err("term changed too often".into());
        }
        t.sleep(ELECTION_TIMEOUT).await;
        let total3 = t.rpc_total();
        if total3 - total2 > 3 * 20 {
            return Err(format!("too many RPCs ({}) for 1 second of idleness", total3 - total2));
        }
        Ok(())
    })
}

// ----- 2C -----

fn persist1_2c<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        let n = t.n;
        t.one(int(11), n, true).await?;
        // Crash and restart all.
        for i in 0..n {
            t.start1(i);
        }
        for i in 0..n {
            t.disconnect(i);
            t.connect(i);
        }
        t.one(int(12), n, true).await?;
        let leader1 = t.check_one_leader().await?;
        t.disconnect(leader1);
        t.start1(leader1);
        t.connect(leader1);
        t.one(int(13), n, true).await?;
        let leader2 = t.check_one_leader().await?;
        t.disconnect(leader2);
        t.one(int(14), n - 1, true).await?;
        t.start1(leader2);
        t.connect(leader2);
        t.wait(4, n, None).await?; // wait for leader2 to join before killing i3
        let i3 = (t.check_one_leader().await? + 1) % n;
        t.disconnect(i3);
        t.one(int(15), n - 1, true).await?;
        t.start1(i3);
        t.connect(i3);
        t.one(int(16), n, true).await?;
        Ok(())
    })
}

fn persist2_2c<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(5), |t| async move {
        let n = t.n;
        let mut index = 1;
        for _ in 0..5 {
            t.one(int(10 + index), n, true).await?;
            index += 1;
            let leader1 = t.check_one_leader().await?;
            t.disconnect((leader1 + 1) % n);
            t.disconnect((leader1 + 2) % n);
            t.one(int(10 + index), n - 2, true).await?;
            index += 1;
            t.disconnect(leader1);
            t.disconnect((leader1 + 3) % n);
            t.disconnect((leader1 + 4) % n);
            t.start1((leader1 + 1) % n);
            t.start1((leader1 + 2) % n);
            t.connect((leader1 + 1) % n);
            t.connect((leader1 + 2) % n);
            t.sleep(ELECTION_TIMEOUT).await;
            t.start1((leader1 + 3) % n);
            t.connect((leader1 + 3) % n);
            t.one(int(10 + index), n - 2, true).await?;
            index += 1;
            t.connect((leader1 + 4) % n);
            t.connect(leader1);
        }
        t.one(int(1000), n, true).await?;
        Ok(())
    })
}

fn persist3_2c<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3), |t| async move {
        let n = t.n;
        t.one(int(101), 3, true).await?;
        let leader = t.check_one_leader().await?;
        t.disconnect((leader + 2) % n);
        t.one(int(102), 2, true).await?;
        t.crash1(leader % n);
        t.crash1((leader + 1) % n);
        t.connect((leader + 2) % n);
        t.start1(leader % n);
        t.connect(leader % n);
        t.one(int(103), 2, true).await?;
        t.start1((leader + 1) % n);
        t.connect((leader + 1) % n);
        t.one(int(104), n, true).await?;
        Ok(())
    })
}

/// The Figure 8 sleeps: 10% of the time up to half an election timeout,
/// otherwise up to 12 ms.
fn figure_8_pause<R: Raft>(t: &Tester<R>) -> sim::Nanos {
    if t.rand(1000) < 100 {
        ms(t.rand(ELECTION_TIMEOUT / ms(1) / 2))
    } else {
        ms(t.rand(13))
    }
}

fn figure_8_2c<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(5), |t| async move {
        let n = t.n;
        t.one(t.rand_cmd(), 1, true).await?;
        let mut nup = n;
        for _ in 0..1000 {
            let mut leader = None;
            for i in 0..n {
                if t.is_up(i) && t.start(i, &t.rand_cmd()).is_some_and(|(_, _, ok)| ok) {
                    leader = Some(i);
                }
            }
            t.sleep(figure_8_pause(&t)).await;
            if let Some(l) = leader {
                t.crash1(l);
                nup -= 1;
            }
            if nup < 3 {
                let s = t.rand(n as u64) as usize;
                if !t.is_up(s) {
                    t.start1(s);
                    t.connect(s);
                    nup += 1;
                }
            }
        }
        for i in 0..n {
            if !t.is_up(i) {
                t.start1(i);
                t.connect(i);
            }
        }
        t.one(t.rand_cmd(), n, true).await?;
        Ok(())
    })
}

fn spawn_one<R: Raft>(t: &Rc<Tester<R>>, name: String, cmd: Cmd, expected: usize) -> sim::JoinHandle<()> {
    let t2 = t.clone();
    t.h.spawn(name, async move {
        if let Err(e) = t2.one(cmd, expected, true).await {
            t2.h.fail(e);
        }
    })
}

fn unreliable_agree_2c<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(5).unreliable(), |t| async move {
        let n = t.n;
        let mut helpers = Vec::new();
        for iters in 1..50i64 {
            for j in 0..4 {
                helpers.push(spawn_one(&t, format!("one-{iters}-{j}"), int(100 * iters + j), 1));
            }
            t.one(int(iters), 1, true).await?;
        }
        t.set_unreliable(false);
        for helper in helpers {
            helper.await;
        }
        t.one(int(100), n, true).await?;
        Ok(())
    })
}

fn figure_8_unreliable_2c<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(5).unreliable(), |t| async move {
        let n = t.n;
        let small = |t: &Tester<R>| Cmd::Int(t.rand(10_000) as i64);
        t.one(small(&t), 1, true).await?;
        let mut nup = n;
        for iters in 0..1000 {
            if iters == 200 {
                t.set_long_reordering(true);
            }
            let mut leader = None;
            for i in 0..n {
                let ok = t.start(i, &small(&t)).is_some_and(|(_, _, ok)| ok);
                if ok && t.is_connected(i) {
                    leader = Some(i);
                }
            }
            t.sleep(figure_8_pause(&t)).await;
            if let Some(l) = leader {
                if t.rand(1000) < 500 {
                    t.disconnect(l);
                    nup -= 1;
                }
            }
            if nup < 3 {
                let s = t.rand(n as u64) as usize;
                if !t.is_connected(s) {
                    t.connect(s);
                    nup += 1;
                }
            }
        }
        for i in 0..n {
            if !t.is_connected(i) {
                t.connect(i);
            }
        }
        t.one(small(&t), n, true).await?;
        Ok(())
    })
}

/// A churn client: Start a random value on every server; if one took it,
/// poll for its commit at 10, 20, 50, 100, 200 ms and record it if it is the
/// committed value at that index.
async fn churn_client<R: Raft>(t: Rc<Tester<R>>, me: u64, stop: Rc<std::cell::Cell<bool>>) -> TestResult<Vec<i64>> {
    let mut committed = Vec::new();
    while !stop.get() {
        let x = t.h.with_rng(|r| {
            use rand::Rng;
            r.random_range(0..i64::MAX)
        });
        let mut index = None;
        let command = Cmd::Int(x).encode();
        for i in 0..t.n {
            if let Some((i1, _, true)) = t.start_encoded(i, command.clone()) {
                index = Some(i1);
            }
        }
        if let Some(index) = index {
            for pause in [10, 20, 50, 100, 200] {
                let (nd, cmd) = t.n_committed(index)?;
                if nd > 0 {
                    match cmd {
                        Some(Cmd::Int(xx)) => {
                            if xx == x {
                                committed.push(x);
                            }
                        }
                        other => return Err(format!("wrong command type {other:?}")),
                    }
                    break;
                }
                t.sleep(ms(pause)).await;
            }
        } else {
            t.sleep(ms(79 + me * 17)).await;
        }
    }
    Ok(committed)
}

fn churn<R: Raft>(run: &Run, net: Net) -> Outcome {
    churn_with::<R>(run, net, false)
}

/// Beyond the lab: the unreliable churn test with 5% duplicated requests,
/// clocks drifting by up to 10%, and servers paused for up to 400 ms.
fn churn_chaos<R: Raft>(run: &Run) -> Outcome {
    churn_with::<R>(run, Net::Unreliable, true)
}

fn churn_with<R: Raft>(run: &Run, net: Net, chaos: bool) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(5).reliable_if(net == Net::Reliable), move |t| async move {
        let n = t.n;
        let mut pauses = 0;
        if chaos {
            t.h.inject(Fault::Net(sim::NetConfig {
                reliable: false,
                long_delays: true,
                duplicate_per_mille: 50,
                ..sim::NetConfig::default()
            }));
            for i in 0..n {
                let ppm = t.rand(200_001) as i32 - 100_000;
                t.h.inject(Fault::TimerDrift { server: t.servers[i], ppm });
            }
        }
        let stop = Rc::new(std::cell::Cell::new(false));
        let clients: Vec<_> = (0..3)
            .map(|me| t.h.spawn(format!("churn-client-{me}"), churn_client(t.clone(), me, stop.clone())))
            .collect();
        for round in 0..20 {
            if t.rand(1000) < 200 {
                t.disconnect(t.rand(n as u64) as usize);
            }
            if t.rand(1000) < 500 {
                let i = t.rand(n as u64) as usize;
                if !t.is_up(i) {
                    t.start1(i);
                }
                t.connect(i);
            }
            if t.rand(1000) < 200 {
                let i = t.rand(n as u64) as usize;
                if t.is_up(i) {
                    t.crash1(i);
                }
            }
            // The first round always pauses a live server (at most one has
            // crashed by then), so the fault certainly happens.
            let up: Vec<usize> = (0..n).filter(|&i| t.is_up(i)).collect();
            if chaos && !up.is_empty() && (round == 0 || t.rand(1000) < 300) {
                let i = up[t.rand(up.len() as u64) as usize];
                if t.is_up(i) {
                    pauses += 1;
                    t.h.inject(Fault::Pause { server: t.servers[i] });
                    t.sleep(ms(t.rand(400))).await;
                    if t.is_up(i) {
                        t.h.inject(Fault::Resume { server: t.servers[i] });
                    }
                }
            }
            // Often enough that peers keep up, rarely enough that things do
            // not settle between changes: below the election timeout.
            t.sleep(ELECTION_TIMEOUT * 7 / 10).await;
        }
        t.sleep(ELECTION_TIMEOUT).await;
        t.set_unreliable(false);
        for i in 0..n {
            if !t.is_up(i) {
                t.start1(i);
            }
            t.connect(i);
        }
        stop.set(true);
        let mut values = Vec::new();
        for c in clients {
            values.extend(c.await?);
        }
        t.sleep(ELECTION_TIMEOUT).await;
        let last_index = t.one(t.rand_cmd(), n, true).await?;
        let mut really = std::collections::BTreeSet::new();
        for index in 1..=last_index {
            match t.wait(index, n, None).await? {
                Cmd::Int(v) => {
                    really.insert(v);
                }
                other => return Err(format!("not an int: {other:?}")),
            }
        }
        for v in values {
            if !really.contains(&v) {
                return Err(format!("didn't find a value {v} that a client saw committed"));
            }
        }
        if chaos && (pauses == 0 || t.h.net_stats().requests_duplicated == 0) {
            return Err(format!("the faults did not all happen: {pauses} pauses, {:?}", t.h.net_stats()));
        }
        Ok(())
    })
}

fn reliable_churn_2c<R: Raft>(run: &Run) -> Outcome {
    churn::<R>(run, Net::Reliable)
}

fn unreliable_churn_2c<R: Raft>(run: &Run) -> Outcome {
    churn::<R>(run, Net::Unreliable)
}

// ----- 2D -----

/// The `snapcommon` family: 30 rounds of (maybe disconnect or crash a
/// victim), a burst of Starts that crosses a snapshot, agreement, the raft
/// state bound, and the victim's return (which may need InstallSnapshot).
/// What happens to the victim in each `snapcommon` round.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Victim {
    Kept,
    Disconnected,
    Crashed,
}

fn snap_common<R: Raft>(run: &Run, victim_fate: Victim, net: Net) -> Outcome {
    let (disconnect, crash) = (victim_fate == Victim::Disconnected, victim_fate == Victim::Crashed);
    lab_test::<R, _>(run, Setup::servers(3).reliable_if(net == Net::Reliable).snapshots(), move |t| async move {
        let servers = t.n;
        t.one(t.rand_cmd(), servers, true).await?;
        let mut leader1 = t.check_one_leader().await?;
        for i in 0..30 {
            let (mut victim, mut sender) = ((leader1 + 1) % servers, leader1);
            if i % 3 == 1 {
                sender = (leader1 + 1) % servers;
                victim = leader1;
            }
            if disconnect {
                t.disconnect(victim);
                t.one(t.rand_cmd(), servers - 1, true).await?;
            }
            if crash {
                t.crash1(victim);
                t.one(t.rand_cmd(), servers - 1, true).await?;
            }
            // Perhaps send enough to get a snapshot.
            let nn = 5 + t.rand(10);
            for _ in 0..nn {
                t.start(sender, &t.rand_cmd());
            }
            // Let the appliers catch up with the Starts.
            if !disconnect && !crash {
                // All followers caught up: no InstallSnapshot is needed.
                t.one(t.rand_cmd(), servers, true).await?;
            } else {
                t.one(t.rand_cmd(), servers - 1, true).await?;
            }
            let size = t.log_size();
            if size >= MAX_LOG_SIZE {
                return Err(format!("log size too large: {size} bytes"));
            }
            if disconnect {
                // A follower that may be behind and need a snapshot.
                t.connect(victim);
                t.one(t.rand_cmd(), servers, true).await?;
                leader1 = t.check_one_leader().await?;
            }
            if crash {
                t.start1(victim);
                t.connect(victim);
                t.one(t.rand_cmd(), servers, true).await?;
                leader1 = t.check_one_leader().await?;
            }
        }
        Ok(())
    })
}

fn snapshot_basic_2d<R: Raft>(run: &Run) -> Outcome {
    snap_common::<R>(run, Victim::Kept, Net::Reliable)
}

fn snapshot_install_2d<R: Raft>(run: &Run) -> Outcome {
    snap_common::<R>(run, Victim::Disconnected, Net::Reliable)
}

fn snapshot_install_unreliable_2d<R: Raft>(run: &Run) -> Outcome {
    snap_common::<R>(run, Victim::Disconnected, Net::Unreliable)
}

fn snapshot_install_crash_2d<R: Raft>(run: &Run) -> Outcome {
    snap_common::<R>(run, Victim::Crashed, Net::Reliable)
}

fn snapshot_install_uncrash_2d<R: Raft>(run: &Run) -> Outcome {
    snap_common::<R>(run, Victim::Crashed, Net::Unreliable)
}

fn snapshot_all_crash_2d<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(3).snapshots(), |t| async move {
        let servers = t.n;
        t.one(t.rand_cmd(), servers, true).await?;
        for _ in 0..5 {
            // Perhaps enough to get a snapshot.
            let nn = 5 + t.rand(10);
            for _ in 0..nn {
                t.one(t.rand_cmd(), servers, true).await?;
            }
            let index1 = t.one(t.rand_cmd(), servers, true).await?;
            // Crash all.
            for i in 0..servers {
                t.crash1(i);
            }
            // Revive all.
            for i in 0..servers {
                t.start1(i);
                t.connect(i);
            }
            let index2 = t.one(t.rand_cmd(), servers, true).await?;
            if index2 < index1 + 1 {
                return Err(format!("index decreased from {index1} to {index2}"));
            }
        }
        Ok(())
    })
}

/// Beyond the lab: Figure 8 Unreliable's churn of leaders with duplicated
/// requests, drifting timers, paused nodes and one-way partitions on top of
/// labrpc's unreliable network. The same safety checks apply (the appliers,
/// nCommitted), and the cluster must still agree at the end.
fn figure_8_chaos<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(5).unreliable(), |t| async move {
        let n = t.n;
        t.h.inject(Fault::Net(sim::NetConfig {
            reliable: false,
            long_delays: true,
            duplicate_per_mille: 50,
            ..sim::NetConfig::default()
        }));
        for i in 0..n {
            let ppm = t.rand(200_001) as i32 - 100_000; // within +-10%
            t.h.inject(Fault::TimerDrift { server: t.servers[i], ppm });
        }
        t.one(Cmd::Int(t.rand(10_000) as i64), 1, true).await?;
        let mut paused: Option<usize> = None;
        let mut pauses = 0;
        for iters in 0..1000 {
            if iters == 200 {
                t.set_long_reordering(true);
            }
            let mut leader = None;
            for i in 0..n {
                if t.start(i, &Cmd::Int(t.rand(10_000) as i64)).is_some_and(|(_, _, ok)| ok) {
                    leader = Some(i);
                }
            }
            t.sleep(figure_8_pause(&t)).await;
            match t.rand(10) {
                0 => {
                    if let Some(p) = paused.take() {
                        t.h.inject(Fault::Resume { server: t.servers[p] });
                    } else if let Some(l) = leader {
                        t.h.inject(Fault::Pause { server: t.servers[l] });
                        paused = Some(l);
                        pauses += 1;
                    }
                }
                1 => {
                    let (a, b) = (t.rand(n as u64) as usize, t.rand(n as u64) as usize);
                    t.h.inject(Fault::Link { from: t.servers[a], to: t.servers[b], enabled: false });
                    // one way
                }
                2 => {
                    for i in 0..n {
                        t.connect(i);
                    }
                }
                3 if leader.is_some() => t.disconnect(leader.unwrap()),
                _ => {}
            }
        }
        if let Some(p) = paused {
            t.h.inject(Fault::Resume { server: t.servers[p] });
        }
        t.set_long_reordering(false);
        t.set_unreliable(false);
        for i in 0..n {
            t.connect(i);
        }
        t.one(Cmd::Int(t.rand(10_000) as i64), n, true).await?;
        let stats = t.h.net_stats();
        if stats.requests_duplicated == 0 || stats.replies_reordered == 0 || pauses == 0 {
            return Err(format!("the faults did not all happen: {pauses} pauses, {stats:?}"));
        }
        Ok(())
    })
}

pub fn scenarios<R: Raft>() -> Vec<Scenario> {
    lab_scenarios!("raft", R: initial_election_2a, re_election_2a, many_elections_2a, basic_agree_2b, rpc_bytes_2b, follower_failure_2b, leader_failure_2b, fail_agree_2b, fail_no_agree_2b, concurrent_starts_2b, rejoin_2b, backup_2b, count_2b, persist1_2c, persist2_2c, persist3_2c, figure_8_2c, unreliable_agree_2c, figure_8_unreliable_2c, reliable_churn_2c, unreliable_churn_2c, snapshot_basic_2d, snapshot_install_2d, snapshot_install_unreliable_2d, snapshot_install_crash_2d, snapshot_install_uncrash_2d, snapshot_all_crash_2d, figure_8_chaos, churn_chaos, swarm, swarm_snapshots, single_server, rejoin_after_isolation, isolated_leader, partial_partition, partial_partition_idle, partial_partition_livelock, slow_follower, leader_disk_crash)
}

/// Beyond the lab: a cluster of one server, which the lab never runs. It
/// elects itself, commits each command alone, snapshots every 10 entries,
/// and keeps its log and snapshot across three restarts.
fn single_server<R: Raft>(run: &Run) -> Outcome {
    lab_test::<R, _>(run, Setup::servers(1).snapshots(), |t| async move {
        t.check_one_leader().await?;
        for round in 0..3 {
            for k in 0..12 {
                t.one(int(100 * round + k), 1, false).await?;
            }
            t.crash1(0);
            t.start1(0);
            t.connect(0);
            t.check_one_leader().await?;
        }
        t.one(int(1000), 1, false).await?;
        Ok(())
    })
}

// ----- beyond the lab: swarm runs -----

/// How long a swarm run's chaos lasts, in virtual time.
const SWARM_CHAOS: sim::Nanos = secs(20);

/// Swarm testing: the seed draws its own fault mix (see `swarm::FaultMix`)
/// and a nemesis injects it while every server is offered a command every
/// 10-60 ms. The Raft observer checks the paper's invariants at every step.
/// Then a liveness phase: everything healed, the cluster must commit a new
/// command on every server within the lab's 10 s (`one`).
async fn swarm_body<R: Raft>(t: Rc<Tester<R>>, layers: Vec<bugs::Layer>) -> TestResult {
    let nemesis = crate::swarm::Nemesis::new(&t.cluster, &layers);
    let started = t.h.now();
    let mut next_fault = started + nemesis.pause_between();
    // The workload comes in bursts: busy spells offer every server a
    // command, quiet ones let elections settle with no new entries.
    let busy_per_mille = 200 + t.rand(800);
    let mut offered = 0;
    while t.h.now() - started < SWARM_CHAOS {
        if t.rand(1000) < busy_per_mille {
            for i in 0..t.n {
                // A shrunk schedule may cap the commands offered (`workload.rs`).
                if t.is_up(i) && !t.cluster.is_paused(i) && crate::workload::may_issue(offered) {
                    t.start(i, &t.rand_cmd());
                    offered += 1;
                }
            }
        }
        t.sleep(ms(10 + t.rand(50))).await;
        if t.h.now() >= next_fault {
            nemesis.strike();
            next_fault = t.h.now() + nemesis.pause_between();
        }
    }
    nemesis.heal();
    t.one(t.rand_cmd(), t.n, true).await.map(|_| ()).map_err(|e| format!("liveness after healing: {e}"))
}

/// Swarm runs on five servers, without snapshots.
fn swarm<R: Raft>(run: &Run) -> Outcome {
    let layers = run.project_layers(&[bugs::Layer::Raft]);
    lab_test::<R, _>(&run.drawing_optimisations(), Setup::servers(5), |t| swarm_body(t, layers))
}

/// Swarm runs on three servers, each applier snapshotting after its own
/// number of entries (1 to 20, drawn per server), so that snapshots, and
/// the InstallSnapshots they lead to, fall at different points.
fn swarm_snapshots<R: Raft>(run: &Run) -> Outcome {
    let layers = run.project_layers(&[bugs::Layer::Raft]);
    lab_test::<R, _>(&run.drawing_optimisations(), Setup::servers(3).snapshots(), |t| {
        let every: Vec<u64> = (0..t.n).map(|_| 1 + t.rand(20)).collect();
        t.applier.borrow_mut().snapshot_every = every;
        swarm_body(t, layers)
    })
}
