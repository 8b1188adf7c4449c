//! Scenarios `sim/...`: tests of the simulator itself. They port the intent
//! of labrpc's own tests (counts, bytes, disconnect, unreliable, a killed
//! server's stuck call, the delayed-while-disabled regression), show that
//! every fault type happens and is recorded, and provide a randomized chaos
//! workload for the determinism checks.

use crate::runner::{simulate, Outcome};
use crate::Scenario;
use serde::Serialize;
use sim::{
    bincode_size, ms, secs, Addr, CallId, CrashMode, Ctx, Fault, Latency, NetConfig, Node, ReplyToken, RpcError,
    SimHandle, TraceMode,
};
use std::future::Future;

/// Fails the scenario with a formatted reason unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// Messages of the test node.
#[derive(Clone, Debug, Serialize)]
pub enum EchoMsg {
    /// Answered with `Data` of `reply_bytes` bytes (or the payload itself).
    Echo {
        payload: Vec<u8>,
        reply_bytes: Option<usize>,
    },
    Data(Vec<u8>),
    /// Not answered until a `Release` arrives.
    Hold,
    Release,
    /// Writes `value` as the whole raft state, synced or not.
    Write {
        value: u8,
        sync: bool,
    },
    /// Answered with the persisted raft state.
    Read,
    /// Sets a timer of this many milliseconds.
    SetTimer {
        after_ms: u64,
    },
}

/// A small server: echoes, holds replies, persists, gossips with peers.
#[derive(Default)]
pub struct EchoNode {
    pub handled: u64,
    pub held: Vec<ReplyToken>,
    /// Payload first bytes in the order requests were handled.
    pub handled_order: Vec<u8>,
    pub replies_ok: u64,
    pub replies_failed: u64,
    pub timer_fired_at: Vec<sim::Nanos>,
    /// When set, the node calls a random peer every 1-20 ms.
    pub gossip_peers: Vec<Addr>,
}

const GOSSIP_TIMER: u64 = 1;
const TEST_TIMER: u64 = 2;

impl EchoNode {
    fn gossip(&mut self, ctx: &mut Ctx<'_, Self>) {
        use rand::Rng;
        if self.gossip_peers.is_empty() {
            return;
        }
        let peer = self.gossip_peers[ctx.rng().random_range(0..self.gossip_peers.len())];
        let size = ctx.rng().random_range(0..64);
        ctx.call(peer, EchoMsg::Echo { payload: vec![7; size], reply_bytes: None });
        let after = ms(ctx.rng().random_range(1..=20));
        ctx.set_timer(after, GOSSIP_TIMER);
    }

    pub fn start_gossip(&mut self, ctx: &mut Ctx<'_, Self>, peers: Vec<Addr>) {
        self.gossip_peers = peers;
        self.gossip(ctx);
    }
}

impl Node for EchoNode {
    type Msg = EchoMsg;

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, _from: Addr, token: ReplyToken, msg: EchoMsg) {
        self.handled += 1;
        match msg {
            EchoMsg::Echo { payload, reply_bytes } => {
                self.handled_order.push(payload.first().copied().unwrap_or(0));
                let data = match reply_bytes {
                    Some(n) => vec![1; n],
                    None => payload,
                };
                ctx.reply(token, EchoMsg::Data(data));
            }
            EchoMsg::Hold => self.held.push(token),
            EchoMsg::Release => {
                for held in self.held.drain(..) {
                    ctx.reply(held, EchoMsg::Data(vec![]));
                }
                ctx.reply(token, EchoMsg::Data(vec![]));
            }
            EchoMsg::Write { value, sync } => {
                if sync {
                    ctx.persister().save_raft_state(vec![value]);
                } else {
                    ctx.persister().save_unsynced(vec![value], vec![]);
                }
                ctx.reply(token, EchoMsg::Data(vec![]));
            }
            EchoMsg::Read => {
                let state = ctx.persister().raft_state().to_vec();
                ctx.reply(token, EchoMsg::Data(state));
            }
            EchoMsg::SetTimer { after_ms } => {
                ctx.set_timer(ms(after_ms), TEST_TIMER);
                ctx.reply(token, EchoMsg::Data(vec![]));
            }
            EchoMsg::Data(_) => ctx.reply(token, EchoMsg::Data(vec![])),
        }
    }

    fn on_reply(&mut self, _ctx: &mut Ctx<'_, Self>, _from: Addr, _call: CallId, reply: Result<EchoMsg, RpcError>) {
        match reply {
            Ok(_) => self.replies_ok += 1,
            Err(_) => self.replies_failed += 1,
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, tag: u64) {
        match tag {
            GOSSIP_TIMER => self.gossip(ctx),
            _ => self.timer_fired_at.push(ctx.now()),
        }
    }
}

type H = SimHandle<EchoNode>;
type Check = Result<(), String>;

fn echo(payload: Vec<u8>) -> EchoMsg {
    EchoMsg::Echo { payload, reply_bytes: None }
}

/// One client and `n` started echo servers.
fn setup(h: &H, n: usize) -> (Addr, Vec<Addr>) {
    let client = h.add_client("client");
    let servers = (0..n)
        .map(|i| {
            let s = h.add_server(format!("echo-{i}"));
            h.start(s, |_| EchoNode::default());
            s
        })
        .collect();
    (client, servers)
}

fn handled(h: &H, s: Addr) -> u64 {
    h.with_node(s, |n, _| n.handled).unwrap_or(0)
}

fn run<F: Future<Output = Check> + 'static>(seed: u64, trace: TraceMode, body: impl FnOnce(H) -> F) -> Outcome {
    simulate(seed, trace, body)
}

fn basic(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (c, s) = setup(&h, 1);
        let reply = h.call(c, s[0], echo(b"hello".to_vec())).await;
        ensure!(matches!(&reply, Ok(EchoMsg::Data(d)) if d == b"hello"), "echo came back as {reply:?}");
        ensure!(h.dispatched_count(s[0]) == 1 && h.net_stats().total_calls == 1, "one call, one dispatch");
        Ok(())
    })
}

fn counts(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (c, s) = setup(&h, 1);
        for i in 0..17u8 {
            let r = h.call(c, s[0], echo(vec![i])).await;
            ensure!(r.is_ok(), "call {i} failed on a reliable network");
        }
        ensure!(h.dispatched_count(s[0]) == 17, "dispatched {} != 17", h.dispatched_count(s[0]));
        ensure!(h.net_stats().total_calls == 17, "total calls {} != 17", h.net_stats().total_calls);
        Ok(())
    })
}

/// labrpc TestBytes: request bytes counted at send, reply bytes at delivery,
/// each the size of the encoding. Here the sums must match exactly.
fn bytes(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (c, s) = setup(&h, 1);
        let mut expected = 0u64;
        for i in 0..17 {
            let req = echo(vec![i as u8; 5000 / 17]);
            let reply_bytes = Some(0);
            let req = match req {
                EchoMsg::Echo { payload, .. } => EchoMsg::Echo { payload, reply_bytes },
                other => other,
            };
            expected += (bincode_size(&req) + bincode_size(&EchoMsg::Data(vec![]))) as u64;
            h.call(c, s[0], req).await.map_err(|e| e.to_string())?;
        }
        let got = h.net_stats().total_bytes;
        ensure!(got == expected, "bytes {got} != {expected}");
        ensure!((4828..=6000).contains(&got), "about 5000 bytes of args, as labrpc's test: got {got}");
        let before = got;
        let mut reply_total = 0u64;
        for _ in 0..17 {
            let req = EchoMsg::Echo { payload: vec![], reply_bytes: Some(2000 / 17) };
            reply_total += (bincode_size(&req) + bincode_size(&EchoMsg::Data(vec![1; 2000 / 17]))) as u64;
            h.call(c, s[0], req).await.map_err(|e| e.to_string())?;
        }
        let delta = h.net_stats().total_bytes - before;
        ensure!(delta == reply_total, "reply bytes delta {delta} != {reply_total}");
        ensure!((1800..=2500).contains(&delta), "about 2000 bytes of replies, as labrpc's test: got {delta}");
        Ok(())
    })
}

fn disconnect(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (c, s) = setup(&h, 1);
        h.set_enabled(c, s[0], false);
        ensure!(h.call(c, s[0], echo(vec![1])).await.is_err(), "a call over a disabled end must fail");
        ensure!(handled(&h, s[0]) == 0, "a disabled end must not reach the handler");
        h.set_enabled(c, s[0], true);
        ensure!(h.call(c, s[0], echo(vec![2])).await.is_ok(), "a re-enabled end must work");
        ensure!(handled(&h, s[0]) == 1, "exactly one delivery");
        ensure!(h.net_stats().total_calls == 2, "both calls count");
        Ok(())
    })
}

/// Under unreliable: requests and replies are dropped (about 10% each) and
/// some handlers run for calls that report failure.
fn unreliable(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (c, s) = setup(&h, 1);
        h.set_reliable(false);
        let n = 400;
        let mut ok = 0u64;
        for i in 0..n {
            if h.call(c, s[0], echo(vec![i as u8])).await.is_ok() {
                ok += 1;
            }
        }
        let failed = n - ok;
        let ran = handled(&h, s[0]);
        ensure!((n / 20..=n * 2 / 5).contains(&failed), "{failed} of {n} calls failed; expected about 19%");
        ensure!(ran > ok, "some replies must be dropped after the handler ran ({ran} handled, {ok} ok)");
        ensure!(ran < n, "some requests must be dropped before the handler ({ran} handled of {n})");
        let stats = h.net_stats();
        ensure!(stats.requests_dropped + ok + stats.replies_dropped == n, "every call has one fate: {stats:?}");
        Ok(())
    })
}

/// labrpc TestKilled: a call stuck in its handler returns false within
/// 100 ms of the server being killed.
fn killed(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (c, s) = setup(&h, 1);
        let call = h.call(c, s[0], EchoMsg::Hold);
        let waiter = h.spawn("stuck-caller", {
            let h = h.clone();
            async move {
                let r = call.await;
                (r.is_err(), h.now())
            }
        });
        h.sleep(ms(1234)).await;
        ensure!(!waiter.is_finished(), "a held call must not return while the server lives");
        let killed_at = h.now();
        h.kill(s[0], CrashMode::Process);
        let (failed, returned_at) = waiter.await;
        ensure!(failed, "the stuck call must return false");
        ensure!(returned_at - killed_at <= ms(100), "returned {} ms after the kill", (returned_at - killed_at) / ms(1));
        Ok(())
    })
}

/// labrpc TestRegression1: calls delayed while an end was disabled must not
/// delay a call made after it is enabled.
fn regression_delayed_while_disabled(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (c, s) = setup(&h, 1);
        h.set_long_delays(true);
        h.set_enabled(c, s[0], false);
        let stale: Vec<_> = (0..20).map(|i| h.call(c, s[0], echo(vec![i]))).collect();
        h.sleep(ms(10)).await;
        h.set_enabled(c, s[0], true);
        let start = h.now();
        ensure!(h.call(c, s[0], echo(vec![99])).await.is_ok(), "the fresh call must succeed");
        ensure!(h.now() - start < ms(30), "the fresh call took {} ms", (h.now() - start) / ms(1));
        ensure!(handled(&h, s[0]) == 1, "exactly one delivery, got {}", handled(&h, s[0]));
        for call in stale {
            ensure!(call.await.is_err(), "calls made while disabled fail");
        }
        Ok(())
    })
}

/// labrpc TestConcurrentMany / TestConcurrentOne: many clients, many calls.
fn concurrent_many(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (_, s) = setup(&h, 1);
        let clients: Vec<_> = (0..20)
            .map(|i| {
                let (h, server) = (h.clone(), s[0]);
                let me = h.add_client(format!("client-{i}"));
                h.clone().spawn(format!("client-{i}"), async move {
                    let mut ok = 0;
                    for k in 0..10u8 {
                        if let Ok(EchoMsg::Data(d)) = h.call(me, server, echo(vec![k, i as u8])).await {
                            ok += u32::from(d == [k, i as u8]);
                        }
                    }
                    ok
                })
            })
            .collect();
        let shared_client = h.add_client("shared");
        let shared: Vec<_> = (0..20u8).map(|k| h.call(shared_client, s[0], echo(vec![k]))).collect();
        let mut total = 0;
        for c in clients {
            total += c.await;
        }
        for call in shared {
            ensure!(call.await.is_ok(), "concurrent calls on one end all succeed");
        }
        ensure!(total == 200, "{total} of 200 echoes correct");
        ensure!(h.dispatched_count(s[0]) == 220, "dispatched {}", h.dispatched_count(s[0]));
        Ok(())
    })
}

/// Calls over a disabled end fail after U[0,100) ms, or U[0,7000) ms with
/// long delays. The 30 calls of each kind run at once, so the scenario stays
/// far inside its time limit whatever the draws.
fn fault_long_delays(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (c, s) = setup(&h, 1);
        let server = s[0];
        h.set_enabled(c, server, false);
        let failure_delays = move |h: H| async move {
            let start = h.now();
            let calls: Vec<_> = (0..30)
                .map(|i| {
                    let (h2, call) = (h.clone(), h.call(c, server, echo(vec![])));
                    h.spawn(format!("call-{i}"), async move { (call.await.is_err(), h2.now() - start) })
                })
                .collect();
            let mut delays = Vec::new();
            for call in calls {
                let (failed, delay) = call.await;
                if !failed {
                    return Err("a call over a disabled end must fail".to_string());
                }
                delays.push(delay);
            }
            Ok(delays)
        };
        let short = failure_delays(h.clone()).await?;
        ensure!(short.iter().all(|d| *d < ms(100)), "short failure delays stay under 100 ms: {short:?}");
        h.set_long_delays(true);
        let long = failure_delays(h.clone()).await?;
        let long_max = long.iter().copied().max().unwrap_or(0);
        ensure!(long.iter().all(|d| *d < ms(7000)), "long failure delays stay under 7 s: {long:?}");
        ensure!(long_max >= ms(100), "long failure delays reach past 100 ms: {long:?}");
        let logged =
            h.with_world(|w| w.fault_log().iter().any(|(_, f)| matches!(f, Fault::SetNet(n) if n.long_delays)));
        ensure!(logged, "the long-delays switch is in the fault log");
        Ok(())
    })
}

fn fault_long_reordering(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (c, s) = setup(&h, 1);
        h.set_long_reordering(true);
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

fn fault_one_way_partition(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (_, s) = setup(&h, 2);
        let (a, b) = (s[0], s[1]);
        h.set_enabled(a, b, false);
        h.with_node(a, |_, ctx| ctx.call(b, echo(vec![1])));
        h.with_node(b, |_, ctx| ctx.call(a, echo(vec![2])));
        h.sleep(ms(200)).await;
        let (a_ok, a_failed) = h.with_node(a, |n, _| (n.replies_ok, n.replies_failed)).expect("a runs");
        let (b_ok, b_failed) = h.with_node(b, |n, _| (n.replies_ok, n.replies_failed)).expect("b runs");
        ensure!((a_ok, a_failed) == (0, 1), "a's call to b fails: ok {a_ok} failed {a_failed}");
        ensure!((b_ok, b_failed) == (1, 0), "b's call to a succeeds: ok {b_ok} failed {b_failed}");
        ensure!(handled(&h, a) == 1 && handled(&h, b) == 0, "only b reached a");
        Ok(())
    })
}

fn fault_clogged_link(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (c, s) = setup(&h, 1);
        h.clog(c, s[0]);
        let calls: Vec<_> = (1..=5u8).map(|i| h.call(c, s[0], echo(vec![i]))).collect();
        h.sleep(secs(1)).await;
        ensure!(handled(&h, s[0]) == 0, "a clogged link holds requests");
        h.unclog(c, s[0]);
        for call in calls {
            ensure!(call.await.is_ok(), "held requests are delivered after unclogging");
        }
        let order = h.with_node(s[0], |n, _| n.handled_order.clone()).expect("runs");
        ensure!(order == vec![1, 2, 3, 4, 5], "held requests keep their order: {order:?}");
        let logged = h.with_world(|w| w.fault_log().iter().filter(|(_, f)| matches!(f, Fault::SetLink { .. })).count());
        ensure!(logged == 2, "clog and unclog are in the fault log ({logged})");
        Ok(())
    })
}

fn fault_duplicate_delivery(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (c, s) = setup(&h, 2);
        h.set_net_config(NetConfig { duplicate_per_mille: 1000, ..NetConfig::default() });
        for i in 0..10u8 {
            ensure!(h.call(c, s[0], echo(vec![i])).await.is_ok(), "duplicated calls still succeed once");
        }
        h.sleep(ms(100)).await;
        ensure!(handled(&h, s[0]) == 20, "every request handled twice: {}", handled(&h, s[0]));
        h.with_node(s[1], |_, ctx| ctx.call(s[0], echo(vec![1])));
        h.sleep(ms(100)).await;
        let ok = h.with_node(s[1], |n, _| n.replies_ok).expect("runs");
        ensure!(ok == 2, "a node caller sees the duplicate's reply too: {ok}");
        ensure!(h.net_stats().requests_duplicated == 11, "duplicates counted: {:?}", h.net_stats());
        Ok(())
    })
}

fn fault_link_latency(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (c, s) = setup(&h, 1);
        h.set_latency(c, s[0], Latency::Fixed(ms(5)));
        let t = h.now();
        h.call(c, s[0], echo(vec![])).await.map_err(|e| e.to_string())?;
        ensure!(h.now() - t == ms(10), "fixed 5 ms each way: round trip {}", h.now() - t);
        h.set_latency(c, s[0], Latency::Uniform { min: ms(2), max: ms(8) });
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

fn fault_pause(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (c, s) = setup(&h, 1);
        h.call(c, s[0], EchoMsg::SetTimer { after_ms: 100 }).await.map_err(|e| e.to_string())?;
        h.pause(s[0]);
        let call = h.call(c, s[0], echo(vec![3]));
        h.sleep(ms(500)).await;
        let (fired, handled_now) = h.with_world(|w| {
            let n = w.node(s[0]).expect("paused, not dead");
            (n.timer_fired_at.len(), n.handled)
        });
        ensure!(fired == 0 && handled_now == 1, "a paused node neither runs timers nor handles requests");
        let resumed_at = h.now();
        h.resume(s[0]);
        ensure!(call.await.is_ok(), "the request is handled after resume");
        let fired_at = h.with_node(s[0], |n, _| n.timer_fired_at.clone()).expect("runs");
        ensure!(fired_at == vec![resumed_at], "the timer fires at resume: {fired_at:?}");
        Ok(())
    })
}

/// A node whose clock runs 10% slow: its 1 s timer takes 1.1 s of virtual
/// time, and the node's own clock reads 1 s more when it fires.
fn fault_timer_drift(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        let (c, s) = setup(&h, 1);
        h.set_timer_drift_ppm(s[0], 100_000);
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

fn fault_crash_lose_unsynced(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
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
        h.kill(s[0], CrashMode::Process);
        h.start(s[0], |_| EchoNode::default());
        ensure!(read(h.clone()).await? == [8], "a process crash keeps unsynced writes");
        h.call(c, s[0], EchoMsg::Write { value: 9, sync: false }).await.map_err(|e| e.to_string())?;
        h.kill(s[0], CrashMode::LoseUnsynced);
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
pub fn random_workload(seed: u64, trace: TraceMode) -> Outcome {
    run(seed, trace, |h| async move {
        use rand::Rng;
        let (_, s) = setup(&h, 5);
        h.set_net_config(NetConfig {
            reliable: false,
            duplicate_per_mille: 20,
            long_reordering: true,
            ..NetConfig::default()
        });
        let start_gossip = |h: &H, i: usize| {
            let peers: Vec<Addr> = s.iter().copied().filter(|p| *p != s[i]).collect();
            h.with_node(s[i], |n, ctx| n.start_gossip(ctx, peers));
        };
        for i in 0..5 {
            start_gossip(&h, i);
            h.set_latency(s[i], s[(i + 1) % 5], Latency::ExponentialTail { min: ms(1), mean: ms(3), max: ms(50) });
        }
        for _ in 0..100 {
            let (action, i, j, pause_ms) = h.with_rng(|r| {
                (r.random_range(0..8), r.random_range(0..5), r.random_range(0..5), r.random_range(1..100))
            });
            match action {
                0 => h.set_enabled(s[i], s[j], !h.link(s[i], s[j]).enabled),
                1 => h.clog(s[i], s[j]),
                2 => h.unclog(s[i], s[j]),
                3 if h.is_alive(s[i]) && !h.with_world(|w| w.is_paused(s[i])) => h.pause(s[i]),
                4 if h.is_alive(s[i]) => h.resume(s[i]),
                5 => h.set_timer_drift_ppm(s[i], (pause_ms as i32 - 50) * 1000),
                6 if h.is_alive(s[i]) => {
                    h.kill(s[i], if j % 2 == 0 { CrashMode::Process } else { CrashMode::LoseUnsynced })
                }
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
    macro_rules! s {
        ($name:literal, $f:expr) => {
            Scenario { name: concat!("sim/", $name), run: $f }
        };
    }
    vec![
        s!("basic", basic),
        s!("counts", counts),
        s!("bytes", bytes),
        s!("disconnect", disconnect),
        s!("unreliable", unreliable),
        s!("killed", killed),
        s!("regression_delayed_while_disabled", regression_delayed_while_disabled),
        s!("concurrent_many", concurrent_many),
        s!("fault_long_delays", fault_long_delays),
        s!("fault_long_reordering", fault_long_reordering),
        s!("fault_one_way_partition", fault_one_way_partition),
        s!("fault_clogged_link", fault_clogged_link),
        s!("fault_duplicate_delivery", fault_duplicate_delivery),
        s!("fault_link_latency", fault_link_latency),
        s!("fault_pause", fault_pause),
        s!("fault_timer_drift", fault_timer_drift),
        s!("fault_crash_lose_unsynced", fault_crash_lose_unsynced),
        s!("random_workload", random_workload),
    ]
}
