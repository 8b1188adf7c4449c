//! Scenarios `sim/...`: the faults beyond labrpc, each shown to happen and to
//! be recorded, and a randomized chaos workload for the determinism checks.
//! (labrpc's own tests live beside the code they test, in sim's `call.rs`.)

use crate::runner::{simulate, Outcome, Run};
use crate::Scenario;
use sim::testing::{echo, handled, setup, EchoMsg, EchoNode};
use sim::{ms, secs, Addr, CrashMode, Fault, Latency, NetConfig, SimHandle};
use std::future::Future;

/// Fails the scenario with a formatted reason unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

type H = SimHandle<EchoNode>;
type Check = Result<(), String>;

/// These scenarios check a fault's own numbers exactly, so the network's
/// base latency (every other scenario has it) is set to zero.
fn exact_timing(h: &H) {
    h.inject(Fault::Net(NetConfig { latency: Latency::Zero, ..h.net_config() }));
}

fn sim_test<F: Future<Output = Check> + 'static>(run: &Run, body: impl FnOnce(H) -> F) -> Outcome {
    simulate(run, body)
}

fn fault_long_reordering(run: &Run) -> Outcome {
    sim_test(run, |h| async move {
        exact_timing(&h);
        let (c, s) = setup(&h, 1);
        h.inject(Fault::Net(NetConfig { long_reordering: true, ..h.net_config() }));
        let start = h.now();
        let calls: Vec<_> = (0..60u8)
            .map(|i| {
                let (h2, call) = (h.clone(), h.call(c, s[0], echo(vec![i])));
                h.spawn(format!("call-{i}"), async move {
                    let _ = call.await;
                    h2.now()
                })
            })
            .collect();
        let mut arrivals = Vec::new();
        for c in calls {
            arrivals.push(c.await - start);
        }
        let held = arrivals.iter().filter(|&&t| t >= ms(200)).count();
        ensure!(arrivals.iter().all(|&t| t == 0 || (ms(200)..=ms(2199)).contains(&t)), "reply delays: {arrivals:?}");
        ensure!((20..=58).contains(&held), "about 2/3 of 60 replies held, got {held}");
        ensure!(arrivals.windows(2).any(|w| w[0] > w[1]), "replies arrive out of order");
        ensure!(h.net_stats().replies_reordered == held as u64, "each held reply counted");
        Ok(())
    })
}

fn fault_one_way_partition(run: &Run) -> Outcome {
    sim_test(run, |h| async move {
        let (_, s) = setup(&h, 2);
        let (a, b) = (s[0], s[1]);
        h.inject(Fault::Link { from: a, to: b, enabled: false });
        h.with_node(a, |_, ctx| ctx.call(b, echo(vec![1]), ()));
        h.with_node(b, |_, ctx| ctx.call(a, echo(vec![2]), ()));
        h.sleep(ms(200)).await;
        let (a_ok, a_failed) = h.with_node(a, |n, _| (n.replies_ok, n.replies_failed)).expect("a runs");
        let (b_ok, b_failed) = h.with_node(b, |n, _| (n.replies_ok, n.replies_failed)).expect("b runs");
        ensure!((a_ok, a_failed) == (0, 1), "a's call to b fails: ok {a_ok} failed {a_failed}");
        ensure!((b_ok, b_failed) == (1, 0), "b's call to a succeeds: ok {b_ok} failed {b_failed}");
        ensure!(handled(&h, a) == 1 && handled(&h, b) == 0, "only b reached a");
        Ok(())
    })
}

fn fault_clogged_link(run: &Run) -> Outcome {
    sim_test(run, |h| async move {
        let (c, s) = setup(&h, 1);
        h.inject(Fault::Clog { from: c, to: s[0], clogged: true });
        let calls: Vec<_> = (1..=5u8).map(|i| h.call(c, s[0], echo(vec![i]))).collect();
        h.sleep(secs(1)).await;
        ensure!(handled(&h, s[0]) == 0, "a clogged link holds requests");
        h.inject(Fault::Clog { from: c, to: s[0], clogged: false });
        for call in calls {
            ensure!(call.await.is_ok(), "held requests are delivered after unclogging");
        }
        let order = h.with_node(s[0], |n, _| n.handled_order.clone()).expect("runs");
        ensure!(order == vec![1, 2, 3, 4, 5], "held requests keep their order: {order:?}");
        let logged = h.with_world(|w| w.fault_log().iter().filter(|(_, f)| matches!(f, Fault::Clog { .. })).count());
        ensure!(logged == 2, "clog and unclog are in the fault log ({logged})");
        Ok(())
    })
}

fn fault_duplicate_delivery(run: &Run) -> Outcome {
    sim_test(run, |h| async move {
        let (c, s) = setup(&h, 2);
        h.inject(Fault::Net(NetConfig { duplicate_per_mille: 1000, ..NetConfig::default() }));
        for i in 0..10u8 {
            ensure!(h.call(c, s[0], echo(vec![i])).await.is_ok(), "duplicated calls still succeed once");
        }
        h.sleep(ms(100)).await;
        ensure!(handled(&h, s[0]) == 20, "every request handled twice: {}", handled(&h, s[0]));
        h.with_node(s[1], |_, ctx| ctx.call(s[0], echo(vec![1]), ()));
        h.sleep(ms(100)).await;
        let ok = h.with_node(s[1], |n, _| n.replies_ok).expect("runs");
        ensure!(ok == 2, "a node caller sees the duplicate's reply too: {ok}");
        ensure!(h.net_stats().requests_duplicated == 11, "duplicates counted: {:?}", h.net_stats());
        Ok(())
    })
}

fn fault_link_latency(run: &Run) -> Outcome {
    sim_test(run, |h| async move {
        exact_timing(&h);
        let (c, s) = setup(&h, 1);
        h.inject(Fault::Latency { from: c, to: s[0], latency: Latency::Fixed(ms(5)) });
        let t = h.now();
        h.call(c, s[0], echo(vec![])).await.map_err(|e| e.to_string())?;
        ensure!(h.now() - t == ms(10), "fixed 5 ms each way: round trip {}", h.now() - t);
        h.inject(Fault::Latency { from: c, to: s[0], latency: Latency::Uniform { min: ms(2), max: ms(8) } });
        let mut rtts = Vec::new();
        for _ in 0..50 {
            let t = h.now();
            h.call(c, s[0], echo(vec![])).await.map_err(|e| e.to_string())?;
            rtts.push(h.now() - t);
        }
        ensure!(rtts.iter().all(|r| (ms(4)..=ms(16)).contains(r)), "uniform round trips in [4, 16] ms: {rtts:?}");
        ensure!(rtts.iter().any(|r| *r != rtts[0]), "latency varies");
        Ok(())
    })
}

fn fault_pause(run: &Run) -> Outcome {
    sim_test(run, |h| async move {
        let (c, s) = setup(&h, 1);
        h.call(c, s[0], EchoMsg::SetTimer { after_ms: 100 }).await.map_err(|e| e.to_string())?;
        h.inject(Fault::Pause { server: s[0] });
        let call = h.call(c, s[0], echo(vec![3]));
        h.sleep(ms(500)).await;
        let (fired, handled_now) = h.with_world(|w| {
            let n = w.node(s[0]).expect("paused, not dead");
            (n.timer_fired_at.len(), n.handled)
        });
        ensure!(fired == 0 && handled_now == 1, "a paused node neither runs timers nor handles requests");
        let resumed_at = h.now();
        h.inject(Fault::Resume { server: s[0] });
        ensure!(call.await.is_ok(), "the request is handled after resume");
        let fired_at = h.with_node(s[0], |n, _| n.timer_fired_at.clone()).expect("runs");
        ensure!(fired_at == vec![resumed_at], "the timer fires at resume: {fired_at:?}");
        Ok(())
    })
}

/// A node whose clock runs 10% slow: its 1 s timer takes 1.1 s of virtual
/// time, and the node's own clock reads 1 s more when it fires.
fn fault_timer_drift(run: &Run) -> Outcome {
    sim_test(run, |h| async move {
        exact_timing(&h);
        let (c, s) = setup(&h, 1);
        h.inject(Fault::TimerDrift { server: s[0], ppm: 100_000 });
        let local_start = h.with_node(s[0], |_, ctx| ctx.now()).expect("runs");
        h.call(c, s[0], EchoMsg::SetTimer { after_ms: 1000 }).await.map_err(|e| e.to_string())?;
        h.sleep(ms(1050)).await;
        let early = h.with_node(s[0], |n, _| n.timer_fired_at.len()).expect("runs");
        ensure!(early == 0, "a slow clock's 1 s timer has not fired after 1.05 s");
        h.sleep(ms(60)).await;
        let fired = h.with_node(s[0], |n, _| n.timer_fired_at.clone()).expect("runs");
        ensure!(
            fired == vec![local_start + ms(1000)],
            "fired at the node's own 1 s mark: {fired:?} from {local_start}"
        );
        let logged = h.with_world(|w| w.fault_log().iter().any(|(_, f)| matches!(f, Fault::TimerDrift { .. })));
        ensure!(logged, "drift is in the fault log");
        Ok(())
    })
}

fn fault_crash_lose_unsynced(run: &Run) -> Outcome {
    sim_test(run, |h| async move {
        let (c, s) = setup(&h, 1);
        let server = s[0];
        let read = move |h: H| async move {
            match h.call(c, server, EchoMsg::Read).await {
                Ok(EchoMsg::Data(d)) => Ok(d),
                other => Err(format!("read failed: {other:?}")),
            }
        };
        h.call(c, s[0], EchoMsg::Write { value: 7, sync: true }).await.map_err(|e| e.to_string())?;
        h.call(c, s[0], EchoMsg::Write { value: 8, sync: false }).await.map_err(|e| e.to_string())?;
        h.inject(Fault::Kill { server: s[0], mode: CrashMode::Process });
        h.start(s[0], |_| EchoNode::default());
        ensure!(read(h.clone()).await? == [8], "a process crash keeps unsynced writes");
        h.call(c, s[0], EchoMsg::Write { value: 9, sync: false }).await.map_err(|e| e.to_string())?;
        h.inject(Fault::Kill { server: s[0], mode: CrashMode::LoseUnsynced });
        h.start(s[0], |_| EchoNode::default());
        let after = read(h.clone()).await?;
        ensure!(after == [7], "a machine crash loses every unsynced write (8 and 9), keeps the synced 7: {after:?}");
        let logged = h.with_world(|w| {
            w.fault_log().iter().any(|(_, f)| matches!(f, Fault::Kill { mode: CrashMode::LoseUnsynced, .. }))
        });
        ensure!(logged, "the machine crash is in the fault log");
        Ok(())
    })
}

/// Five gossiping nodes, an unreliable, duplicating, laggy network, and a
/// chaos task that disconnects, clogs, pauses, drifts, crashes and restarts
/// at random. Used to check determinism across seeds.
pub fn random_workload(run: &Run) -> Outcome {
    sim_test(run, |h| async move {
        use rand::Rng;
        let (_, s) = setup(&h, 5);
        h.inject(Fault::Net(NetConfig {
            reliable: false,
            duplicate_per_mille: 20,
            long_reordering: true,
            ..NetConfig::default()
        }));
        let start_gossip = |h: &H, i: usize| {
            let peers: Vec<Addr> = s.iter().copied().filter(|p| *p != s[i]).collect();
            h.with_node(s[i], |n, ctx| n.start_gossip(ctx, peers));
        };
        for i in 0..5 {
            start_gossip(&h, i);
            h.inject(Fault::Latency {
                from: s[i],
                to: s[(i + 1) % 5],
                latency: Latency::ExponentialTail { min: ms(1), mean: ms(3), max: ms(50) },
            });
        }
        for _ in 0..100 {
            let (action, i, j, pause_ms) = h.with_rng(|r| {
                (r.random_range(0..8), r.random_range(0..5), r.random_range(0..5), r.random_range(1..100))
            });
            match action {
                0 => h.inject(Fault::Link { from: s[i], to: s[j], enabled: !h.link(s[i], s[j]).enabled }),
                1 => h.inject(Fault::Clog { from: s[i], to: s[j], clogged: true }),
                2 => h.inject(Fault::Clog { from: s[i], to: s[j], clogged: false }),
                3 if h.is_alive(s[i]) && !h.with_world(|w| w.is_paused(s[i])) => {
                    h.inject(Fault::Pause { server: s[i] })
                }
                4 if h.is_alive(s[i]) => h.inject(Fault::Resume { server: s[i] }),
                5 => h.inject(Fault::TimerDrift { server: s[i], ppm: (pause_ms as i32 - 50) * 1000 }),
                6 if h.is_alive(s[i]) => h.inject(Fault::Kill {
                    server: s[i],
                    mode: if j % 2 == 0 { CrashMode::Process } else { CrashMode::LoseUnsynced },
                }),
                _ if !h.is_alive(s[i]) => {
                    h.start(s[i], |_| EchoNode::default());
                    start_gossip(&h, i);
                }
                _ => {}
            }
            h.sleep(ms(pause_ms)).await;
        }
        let stats = h.net_stats();
        ensure!(stats.total_calls > 200, "the workload made calls: {stats:?}");
        ensure!(
            stats.requests_dropped > 0 && stats.replies_dropped > 0 && stats.requests_duplicated > 0,
            "faults happened: {stats:?}"
        );
        Ok(())
    })
}

pub fn scenarios() -> Vec<Scenario> {
    lab_scenarios!("sim": fault_long_reordering, fault_one_way_partition, fault_clogged_link, fault_duplicate_delivery, fault_link_latency, fault_pause, fault_timer_drift, fault_crash_lose_unsynced, random_workload)
}
