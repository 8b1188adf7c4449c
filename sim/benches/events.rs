//! Events per second of the simulator on one core: five nodes keep four calls
//! each in flight to their peers (round robin) over a reliable network with a
//! 1 ms link latency, until 1,000,000 messages (requests plus replies) have
//! been delivered.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sim::{ms, secs, Addr, Ctx, Fault, Latency, Node, ReplyToken, RpcError, Sim, SimConfig};
use std::cell::Cell;
use std::rc::Rc;

const NODES: usize = 5;
const IN_FLIGHT_PER_NODE: usize = 4;
const MESSAGES: u64 = 1_000_000;

struct Pinger {
    peers: Vec<Addr>,
    next_peer: usize,
    /// Messages delivered so far, shared by all nodes: requests and replies.
    delivered: Rc<Cell<u64>>,
}

impl Pinger {
    fn ping(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.delivered.get() >= MESSAGES {
            return;
        }
        let peer = self.peers[self.next_peer % self.peers.len()];
        self.next_peer += 1;
        ctx.call(peer, self.next_peer as u64, ());
    }
}

impl Node for Pinger {
    type Msg = u64;
    type Timer = ();
    type CallPurpose = ();
    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, _: Addr, token: ReplyToken, msg: u64) {
        self.delivered.set(self.delivered.get() + 1);
        ctx.reply(token, msg);
    }
    fn on_reply(&mut self, ctx: &mut Ctx<'_, Self>, _: Addr, _: (), _: Result<u64, RpcError>) {
        self.delivered.set(self.delivered.get() + 1);
        self.ping(ctx);
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, _: ()) {
        for _ in 0..IN_FLIGHT_PER_NODE {
            self.ping(ctx);
        }
    }
}

/// Runs the workload once; returns (events processed, messages delivered).
fn run_workload(seed: u64) -> (u64, u64) {
    let sim = Sim::<Pinger>::new(SimConfig { time_limit: secs(100_000), ..SimConfig::new(seed) });
    let h = sim.handle();
    let delivered = Rc::new(Cell::new(0));
    let d = delivered.clone();
    sim.run(async move {
        let addrs: Vec<Addr> = (0..NODES).map(|i| h.add_server(format!("n{i}"))).collect();
        for &a in &addrs {
            for &b in &addrs {
                h.inject(Fault::Latency { from: a, to: b, latency: Latency::Fixed(ms(1)) });
            }
        }
        for &a in &addrs {
            let peers = addrs.iter().copied().filter(|p| *p != a).collect();
            let d = d.clone();
            h.start(a, move |ctx| {
                ctx.set_timer(0, ());
                Pinger { peers, next_peer: 0, delivered: d }
            });
        }
        while d.get() < MESSAGES {
            h.sleep(secs(1)).await;
        }
    })
    .expect("the workload runs to its end");
    (sim.stats().trace.events(), delivered.get())
}

fn bench(c: &mut Criterion) {
    let (events, delivered) = run_workload(1);
    assert!(delivered >= MESSAGES, "delivered {delivered}");
    let mut group = c.benchmark_group("sim");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events));
    group.bench_function("message_passing_5_nodes_1M_messages", |b| b.iter(|| run_workload(1)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
