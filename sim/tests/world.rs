//! The event loop's own guarantees: deadlock detection names the waiting
//! tasks, limits stop runaway runs, same-instant events run in sequence
//! order, and `fail` stops the run.

use sim::{ms, secs, Addr, Ctx, Fault, Node, ReplyToken, RpcError, Sim, SimConfig, SimError};
use std::cell::RefCell;
use std::rc::Rc;

struct Quiet;

impl Node for Quiet {
    type Msg = u32;
    type Timer = u64;
    type CallPurpose = ();
    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, _: Addr, token: ReplyToken, msg: u32) {
        ctx.reply(token, msg + 1)
    }
    fn on_reply(&mut self, _: &mut Ctx<'_, Self>, _: Addr, _: (), _: Result<u32, RpcError>) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, tag: u64) {
        ctx.set_timer(ms(10), tag); // ticks forever
    }
}

#[test]
fn deadlock_names_the_waiting_tasks() {
    let sim = Sim::<Quiet>::new(SimConfig::new(1));
    let h = sim.handle();
    let err = sim
        .run(async move {
            h.spawn("waits-forever", std::future::pending::<()>());
            h.sleep(ms(5)).await;
            std::future::pending::<()>().await;
        })
        .unwrap_err();
    match err {
        SimError::Deadlock { stuck, at } => {
            assert_eq!(stuck.waiting_tasks, vec!["main".to_string(), "waits-forever".to_string()]);
            assert_eq!(at, ms(5));
        }
        other => panic!("expected a deadlock, got {other}"),
    }
}

#[test]
fn time_limit_stops_a_run_that_never_ends() {
    let sim = Sim::<Quiet>::new(SimConfig { time_limit: secs(1), ..SimConfig::new(1) });
    let h = sim.handle();
    let err = sim
        .run(async move {
            let s = h.add_server("ticker");
            h.start(s, |ctx| {
                ctx.set_timer(ms(10), 0);
                Quiet
            });
            std::future::pending::<()>().await;
        })
        .unwrap_err();
    assert!(matches!(err, SimError::TimeLimit { limit, .. } if limit == secs(1)), "{err}");
}

#[test]
fn same_instant_events_run_in_scheduling_order() {
    let sim = Sim::<Quiet>::new(SimConfig::new(1));
    let h = sim.handle();
    let order = Rc::new(RefCell::new(Vec::new()));
    let o = order.clone();
    sim.run(async move {
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let (h2, o) = (h.clone(), o.clone());
                h.spawn(format!("t{i}"), async move {
                    h2.sleep(ms(10)).await;
                    o.borrow_mut().push(i);
                })
            })
            .collect();
        for t in tasks {
            t.await;
        }
    })
    .unwrap();
    assert_eq!(*order.borrow(), vec![0, 1, 2, 3, 4]);
}

#[test]
fn fail_stops_the_run_with_its_reason() {
    let sim = Sim::<Quiet>::new(SimConfig::new(1));
    let h = sim.handle();
    let err = sim
        .run(async move {
            h.sleep(ms(3)).await;
            h.fail("the applier saw index 5 twice");
            h.sleep(secs(100)).await;
        })
        .unwrap_err();
    assert_eq!(err, SimError::Failed { reason: "the applier saw index 5 twice".into(), at: ms(3) });
}

#[test]
fn a_call_reaches_a_node_and_returns() {
    let sim = Sim::<Quiet>::new(SimConfig::new(1));
    let h = sim.handle();
    let got = sim
        .run(async move {
            let s = h.add_server("s");
            let c = h.add_client("c");
            h.start(s, |_| Quiet);
            h.call(c, s, 41).await
        })
        .unwrap();
    assert_eq!(got, Ok(42));
}

/// Runs an idle world with one server, injecting `faults` at 1 ms; returns
/// (trace hash, events, fault log length).
fn traced(faults: impl FnOnce(&sim::SimHandle<Quiet>, Addr, Addr) + 'static) -> (u64, u64, usize) {
    let sim = Sim::<Quiet>::new(SimConfig::new(9));
    let h = sim.handle();
    let h2 = h.clone();
    sim.run(async move {
        let s = h.add_server("s");
        let peer = h.add_server("peer");
        h.start(s, |_| Quiet);
        h.sleep(ms(1)).await;
        faults(&h, s, peer);
        h.sleep(ms(1)).await;
    })
    .unwrap();
    let stats = sim.stats();
    let logged = h2.with_world(|w| w.fault_log().len());
    (stats.trace.hash(), stats.trace.events(), logged)
}

#[test]
fn every_fault_kind_is_logged_and_folded_into_the_trace() {
    use sim::{CrashMode, Latency, NetConfig};
    let (base_hash, base_events, base_logged) = traced(|_, _, _| {});
    type Inject = Box<dyn FnOnce(&sim::SimHandle<Quiet>, Addr, Addr)>;
    let kinds: Vec<(&str, Inject)> = vec![
        ("one-way partition", Box::new(|h, s, p| h.inject(Fault::Link { from: s, to: p, enabled: false }))),
        ("clog", Box::new(|h, s, p| h.inject(Fault::Clog { from: s, to: p, clogged: true }))),
        ("latency", Box::new(|h, s, p| h.inject(Fault::Latency { from: s, to: p, latency: Latency::Fixed(ms(3)) }))),
        ("unreliable", Box::new(|h, _, _| h.inject(Fault::Net(NetConfig { reliable: false, ..h.net_config() })))),
        (
            "long reordering",
            Box::new(|h, _, _| h.inject(Fault::Net(NetConfig { long_reordering: true, ..h.net_config() }))),
        ),
        (
            "duplication",
            Box::new(|h, _, _| h.inject(Fault::Net(NetConfig { duplicate_per_mille: 5, ..h.net_config() }))),
        ),
        ("pause", Box::new(|h, s, _| h.inject(Fault::Pause { server: s }))),
        ("timer drift", Box::new(|h, s, _| h.inject(Fault::TimerDrift { server: s, ppm: 2000 }))),
        ("process crash", Box::new(|h, s, _| h.inject(Fault::Kill { server: s, mode: CrashMode::Process }))),
        ("machine crash", Box::new(|h, s, _| h.inject(Fault::Kill { server: s, mode: CrashMode::LoseUnsynced }))),
        ("disk latency", Box::new(|h, s, _| h.inject(Fault::DiskLatency { server: s, latency: ms(2) }))),
        (
            "crash point",
            Box::new(|h, s, _| {
                h.inject(Fault::CrashAtPersist { server: s, point: Some(sim::CrashPoint::AfterPersist) })
            }),
        ),
    ];
    for (name, inject) in kinds {
        let (hash, events, logged) = traced(inject);
        assert_eq!(events, base_events + 1, "{name}: one trace event");
        assert_ne!(hash, base_hash, "{name}: the trace hash changes");
        assert_eq!(logged, base_logged + 1, "{name}: one fault-log entry");
    }
}

#[test]
fn timeout_gives_the_value_or_none_at_the_deadline() {
    let sim = Sim::<Quiet>::new(SimConfig::new(1));
    let h = sim.handle();
    let (fast, slow, at) = sim
        .run(async move {
            let fast = h.timeout(ms(50), async { 7 }).await;
            let h2 = h.clone();
            let start = h.now();
            let slow = h.timeout(ms(50), async move { h2.sleep(secs(10)).await }).await;
            (fast, slow, h.now() - start)
        })
        .unwrap();
    assert_eq!(fast, Some(7));
    assert_eq!(slow, None);
    assert_eq!(at, ms(50), "the timeout fires exactly at its deadline");
}

/// A run that fails with tasks still waiting frees its world when the
/// simulation is dropped (tasks hold handles to it: a cycle otherwise).
#[test]
fn a_failed_run_with_waiting_tasks_frees_its_world() {
    let marker = Rc::new(());
    {
        let sim = Sim::<Quiet>::new(SimConfig::new(1));
        let h = sim.handle();
        let (h2, m) = (h.clone(), marker.clone());
        let err = sim
            .run(async move {
                h.spawn("holds-the-world", async move {
                    let _keep = (h2, m);
                    std::future::pending::<()>().await;
                });
                h.sleep(ms(1)).await;
                h.fail("stop here");
                std::future::pending::<()>().await;
            })
            .unwrap_err();
        assert!(matches!(err, SimError::Failed { .. }));
        assert_eq!(Rc::strong_count(&marker), 2, "the waiting task holds it while the simulation lives");
    }
    assert_eq!(Rc::strong_count(&marker), 1, "dropping the simulation drops its tasks");
}

#[test]
fn a_cancelled_run_stops_and_says_where() {
    static CANCEL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let sim = Sim::<sim::testing::EchoNode>::new(SimConfig { cancel: Some(&CANCEL), ..SimConfig::new(1) });
    let h = sim.handle();
    let err = sim
        .run(async move {
            for i in 0.. {
                if i == 10_000 {
                    CANCEL.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                h.sleep(sim::ms(1)).await;
            }
        })
        .unwrap_err();
    let sim::SimError::Cancelled { events, .. } = err else { panic!("{err}") };
    assert_eq!(events % sim::CANCEL_CHECK_EVENTS, 0, "the flag is looked at every CANCEL_CHECK_EVENTS events");
    assert!((10_000..=10_000 + sim::CANCEL_CHECK_EVENTS).contains(&events), "{events}");
}

/// Sends 100 calls every millisecond to a server that never answers.
struct Flooder {
    target: Addr,
}

impl Node for Flooder {
    type Msg = u32;
    type Timer = u64;
    type CallPurpose = ();
    fn on_request(&mut self, _: &mut Ctx<'_, Self>, _: Addr, _: ReplyToken, _: u32) {} // never answers
    fn on_reply(&mut self, _: &mut Ctx<'_, Self>, _: Addr, _: (), _: Result<u32, RpcError>) {}
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, tag: u64) {
        for _ in 0..100 {
            ctx.call(self.target, 0, ());
        }
        ctx.set_timer(ms(1), tag);
    }
}

#[test]
fn a_flooding_node_fails_its_run_at_the_memory_bound() {
    let sim = Sim::<Flooder>::new(SimConfig { max_open_calls: 10_000, ..SimConfig::new(1) });
    let h = sim.handle();
    let err = sim
        .run(async move {
            let (a, b) = (h.add_server("flooder"), h.add_server("sink"));
            h.start(b, move |_| Flooder { target: a });
            h.start(a, move |ctx| {
                ctx.set_timer(ms(1), 0);
                Flooder { target: b }
            });
            std::future::pending::<()>().await;
        })
        .unwrap_err();
    let SimError::MemoryLimit { what, limit, at } = &err else { panic!("{err}") };
    assert_eq!((*what, *limit), ("calls open (from the oldest open one)", 10_000));
    assert!(*at >= ms(100) && *at <= ms(102), "100 calls a millisecond pass 10,000 at 100 ms: {err}");
    assert!(err.to_string().starts_with("more than 10000 calls open"), "{err}");
}

#[test]
fn a_crash_point_stops_a_server_at_its_next_write_before_or_after_it() {
    use sim::testing::{EchoMsg, EchoNode};
    use sim::CrashPoint;
    let sim = Sim::<EchoNode>::new(SimConfig::new(3));
    let h = sim.handle();
    sim.run(async move {
        let (client, servers) = sim::testing::setup(&h, 1);
        let s = servers[0];
        let write = |value| EchoMsg::Write { value, sync: true };
        assert!(h.call(client, s, write(1)).await.is_ok());
        // Armed, a crash point waits for a write: other requests pass.
        h.inject(Fault::CrashAtPersist { server: s, point: Some(CrashPoint::BeforePersist) });
        assert!(h.call(client, s, EchoMsg::Read).await.is_ok());
        // Before the write: lost, no answer leaves, the server is down.
        assert!(h.call(client, s, write(2)).await.is_err());
        assert!(!h.is_alive(s));
        assert_eq!(h.with_persister(s, |p| p.raft_state().to_vec()), vec![1]);
        // After the write: kept, and still no answer.
        h.start(s, |_| EchoNode::default());
        h.inject(Fault::CrashAtPersist { server: s, point: Some(CrashPoint::AfterPersist) });
        assert!(h.call(client, s, write(3)).await.is_err());
        assert!(!h.is_alive(s));
        assert_eq!(h.with_persister(s, |p| p.raft_state().to_vec()), vec![3]);
        // Disarmed, nothing happens.
        h.start(s, |_| EchoNode::default());
        h.inject(Fault::CrashAtPersist { server: s, point: Some(CrashPoint::AfterPersist) });
        h.inject(Fault::CrashAtPersist { server: s, point: None });
        assert!(h.call(client, s, write(4)).await.is_ok());
        assert!(h.is_alive(s));
    })
    .unwrap();
}
