//! Scenarios `shardctrler/...`: the lab's two shard controller tests with
//! their 11 sub-tests, ported from `shardctrler/test_test.go`.
//!
//! Where the Go test is vacuous, the check it meant is made (LABSPEC.md):
//! - the minimal-transfer checks look at gids 1..10, which are not present
//!   at that point (the groups are 100..190 and 1000..1009), so they check
//!   nothing. Here, after the joins, every shard that moved must have moved
//!   to a group that joined; after the leaves, only the leaving groups'
//!   shards may have moved.
//! - "Check Same config on servers" waits for a leader with a loop whose
//!   condition is never re-read; here the query simply runs after the
//!   leader is shut down, and must return the same latest configuration.

use crate::labs::kv::tester::TestResult;
use crate::labs::shardkv::tester::{check_groups, check_same_config, CtrlerClient, Ctrlers, H};
use crate::runner::{simulate, Outcome, Run};
use crate::Scenario;
use contract::shardctrler::{Config, CtrlerClerk, Gid, NSHARDS};
use contract::shardkv::ShardKv;
use sim::{secs, JoinHandle};
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;

pub fn scenarios<S: ShardKv>() -> Vec<Scenario> {
    lab_scenarios!("shardctrler", S: basic_4a, multi_4a)
}

/// Runs one controller test on 3 reliable controllers.
fn ctrler_test<S: ShardKv, F: Future<Output = TestResult> + 'static>(
    run: &Run,
    body: impl FnOnce(Rc<Ctrlers<S>>) -> F + 'static,
) -> Outcome {
    simulate(run, move |h: H<S>| async move {
        let t = Rc::new(Ctrlers::new(&h, 3));
        body(t.clone()).await?;
        t.cluster.end()
    })
}

fn servers(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn one(gid: Gid, names: &[&str]) -> BTreeMap<Gid, Vec<String>> {
    BTreeMap::from([(gid, servers(names))])
}

/// Servers named `<gid><suffix>` for a group made up in the test.
fn named(gid: Gid, suffixes: &[&str]) -> Vec<String> {
    suffixes.iter().map(|s| format!("{gid}{s}")).collect()
}

/// The group's server list in the latest configuration must be exactly this.
fn check_servers(c: &Config, gid: Gid, want: &[&str]) -> TestResult {
    if c.groups.get(&gid) != Some(&servers(want)) {
        return Err(format!("wrong servers for gid {gid}: {:?}", c.groups.get(&gid)));
    }
    Ok(())
}

/// The intended minimal-transfer check after joins: a shard that moved went
/// to a group that joined.
fn check_join_transfers(before: &Config, after: &Config, joined: &[Gid]) -> TestResult {
    for s in 0..NSHARDS {
        if before.shards[s] != after.shards[s] && !joined.contains(&after.shards[s]) {
            return Err(format!(
                "non-minimal transfer after Join()s: shard {s} moved from {} to {}, which did not join",
                before.shards[s], after.shards[s]
            ));
        }
    }
    Ok(())
}

/// The intended check after leaves: only the leaving groups' shards moved.
fn check_leave_transfers(before: &Config, after: &Config, left: &[Gid]) -> TestResult {
    for s in 0..NSHARDS {
        if before.shards[s] != after.shards[s] && !left.contains(&before.shards[s]) {
            return Err(format!(
                "non-minimal transfer after Leave()s: shard {s} of gid {} (which stayed) moved to {}",
                before.shards[s], after.shards[s]
            ));
        }
    }
    Ok(())
}

/// Runs `npara` clerks concurrently, each with its own clerk; fails on the
/// first failure.
async fn concurrently<S: ShardKv, F: Future<Output = TestResult> + 'static>(
    t: &Ctrlers<S>,
    npara: u64,
    work: impl Fn(u64, CtrlerClient<S>) -> F,
) -> TestResult {
    let handles: Vec<JoinHandle<TestResult>> =
        (0..npara).map(|i| t.h.spawn(format!("clerk-{i}"), work(i, t.make_client()))).collect();
    for handle in handles {
        handle.await?;
    }
    Ok(())
}

/// TestBasic: leave/join, historical queries, move, concurrent leave/join,
/// minimal transfers after joins and after leaves.
fn basic_4a<S: ShardKv>(run: &Run) -> Outcome {
    ctrler_test::<S, _>(run, |t| async move {
        let mut ck = t.make_client();
        // Test: Basic leave/join ...
        let mut cfa = vec![Config::default(); 6];
        cfa[0] = ck.query(-1).await;
        check_groups(&mut ck, &[]).await?;
        ck.join(one(1, &["x", "y", "z"])).await;
        check_groups(&mut ck, &[1]).await?;
        cfa[1] = ck.query(-1).await;
        ck.join(one(2, &["a", "b", "c"])).await;
        check_groups(&mut ck, &[1, 2]).await?;
        cfa[2] = ck.query(-1).await;
        let cfx = ck.query(-1).await;
        check_servers(&cfx, 1, &["x", "y", "z"])?;
        check_servers(&cfx, 2, &["a", "b", "c"])?;
        ck.leave(vec![1]).await;
        check_groups(&mut ck, &[2]).await?;
        cfa[4] = ck.query(-1).await;
        ck.leave(vec![2]).await;
        cfa[5] = ck.query(-1).await;

        // Test: Historical queries ... (cfa[3] stays configuration 0, as in
        // the Go test, so Query(0) must return it exactly.)
        for s in 0..t.cluster.n() {
            t.cluster.crash(s);
            for want in &cfa {
                let c = ck.query(want.num as i64).await;
                check_same_config(want, &c)?;
            }
            t.cluster.restart(s);
            t.cluster.connect_all();
        }

        // Test: Move ...
        let (gid3, gid4) = (503, 504);
        ck.join(BTreeMap::from([(gid3, named(gid3, &["a", "b", "c"]))])).await;
        ck.join(BTreeMap::from([(gid4, named(gid4, &["a", "b", "c"]))])).await;
        for i in 0..NSHARDS {
            let cf = ck.query(-1).await;
            let gid = if i < NSHARDS / 2 { gid3 } else { gid4 };
            ck.move_shard(i, gid).await;
            if cf.shards[i] != gid && ck.query(-1).await.num <= cf.num {
                return Err("Move should increase Config.Num".into());
            }
        }
        let cf2 = ck.query(-1).await;
        for i in 0..NSHARDS {
            let gid = if i < NSHARDS / 2 { gid3 } else { gid4 };
            if cf2.shards[i] != gid {
                return Err(format!("expected shard {i} on gid {gid} actually {}", cf2.shards[i]));
            }
        }
        ck.leave(vec![gid3]).await;
        ck.leave(vec![gid4]).await;

        // Test: Concurrent leave/join ...
        let npara = 10;
        let gids: Vec<Gid> = (0..npara).map(|i| 100 + i * 10).collect();
        concurrently(&t, npara, |i, mut cka| async move {
            let gid = 100 + i * 10;
            cka.join(BTreeMap::from([(gid + 1000, vec![format!("{gid}a")])])).await;
            cka.join(BTreeMap::from([(gid, vec![format!("{gid}b")])])).await;
            cka.leave(vec![gid + 1000]).await;
            Ok(())
        })
        .await?;
        check_groups(&mut ck, &gids).await?;

        // Test: Minimal transfers after joins ...
        let c1 = ck.query(-1).await;
        let joined: Vec<Gid> = (0..5).map(|i| npara + 1 + i).collect();
        for &gid in &joined {
            ck.join(BTreeMap::from([(gid, named(gid, &["a", "b", "c"]))])).await;
        }
        let c2 = ck.query(-1).await;
        check_join_transfers(&c1, &c2, &joined)?;

        // Test: Minimal transfers after leaves ...
        for &gid in &joined {
            ck.leave(vec![gid]).await;
        }
        let c3 = ck.query(-1).await;
        check_leave_transfers(&c2, &c3, &joined)
    })
}

/// TestMulti: multi-group join/leave, concurrent multi leave/join, minimal
/// transfers after multijoins and multileaves, the same configuration on a
/// new leader.
fn multi_4a<S: ShardKv>(run: &Run) -> Outcome {
    ctrler_test::<S, _>(run, |t| async move {
        let mut ck = t.make_client();
        // Test: Multi-group join/leave ...
        check_groups(&mut ck, &[]).await?;
        let mut first = one(1, &["x", "y", "z"]);
        first.extend(one(2, &["a", "b", "c"]));
        ck.join(first).await;
        check_groups(&mut ck, &[1, 2]).await?;
        ck.join(one(3, &["j", "k", "l"])).await;
        check_groups(&mut ck, &[1, 2, 3]).await?;
        let cfx = ck.query(-1).await;
        check_servers(&cfx, 1, &["x", "y", "z"])?;
        check_servers(&cfx, 2, &["a", "b", "c"])?;
        check_servers(&cfx, 3, &["j", "k", "l"])?;
        ck.leave(vec![1, 3]).await;
        check_groups(&mut ck, &[2]).await?;
        check_servers(&ck.query(-1).await, 2, &["a", "b", "c"])?;
        ck.leave(vec![2]).await;

        // Test: Concurrent multi leave/join ...
        let npara = 10;
        let gids: Vec<Gid> = (0..npara).map(|i| 1000 + i).collect();
        concurrently(&t, npara, |i, mut cka| async move {
            let gid = 1000 + i;
            let joining =
                [gid, gid + 1000, gid + 2000].map(|g| (g, vec![format!("{g}a"), format!("{g}b"), format!("{g}c")]));
            cka.join(joining.into_iter().collect()).await;
            cka.leave(vec![gid + 1000, gid + 2000]).await;
            Ok(())
        })
        .await?;
        check_groups(&mut ck, &gids).await?;

        // Test: Minimal transfers after multijoins ...
        let c1 = ck.query(-1).await;
        let joined: Vec<Gid> = (0..5).map(|i| npara + 1 + i).collect();
        ck.join(joined.iter().map(|&g| (g, named(g, &["a", "b", "c"]))).collect()).await;
        let c2 = ck.query(-1).await;
        check_join_transfers(&c1, &c2, &joined)?;

        // Test: Minimal transfers after multileaves ...
        ck.leave(joined.clone()).await;
        let c3 = ck.query(-1).await;
        check_leave_transfers(&c2, &c3, &joined)?;

        // Test: Check Same config on servers ... Go fails with "Leader
        // not found" when no controller leads. Its wait for the next leader
        // is inverted (a quirk: it fails when a survivor already leads);
        // here it waits up to 3 s for one, as it was meant to.
        let Some(leader) = t.leader() else { return Err("Leader not found".into()) };
        let c = ck.query(-1).await;
        t.cluster.crash(leader);
        for waited_s in 0.. {
            if t.leader().is_some() {
                break;
            }
            if waited_s == 3 {
                return Err("Leader not found among the controllers left".into());
            }
            t.h.sleep(secs(1)).await;
        }
        let c1 = ck.query(-1).await;
        check_same_config(&c, &c1)
    })
}
