//! The event loop's own guarantees: deadlock detection names the waiting
//! tasks, limits stop runaway runs, same-instant events run in sequence
//! order, and `fail` stops the run.

use sim::{ms, secs, Addr, CallId, Ctx, Node, ReplyToken, RpcError, Sim, SimConfig, SimError};
use std::cell::RefCell;
use std::rc::Rc;

struct Quiet;

impl Node for Quiet {
    type Msg = u32;
    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, _: Addr, token: ReplyToken, msg: u32) {
        ctx.reply(token, msg + 1)
    }
    fn on_reply(&mut self, _: &mut Ctx<'_, Self>, _: Addr, _: CallId, _: Result<u32, RpcError>) {}
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
        SimError::Deadlock { waiting_tasks, at } => {
            assert_eq!(waiting_tasks, vec!["main".to_string(), "waits-forever".to_string()]);
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
    assert_eq!(err, SimError::TimeLimit { limit: secs(1) });
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
