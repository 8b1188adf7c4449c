//! A disk that takes time (`Fault::DiskLatency`): a synchronous write
//! blocks its server and delays what the step sends, writes of one instant
//! share a flush, an asynchronous write is durable when its flush ends (and
//! reported with its ticket), and a machine crash loses what no flush
//! finished.

use sim::{ms, Addr, CrashMode, Ctx, Fault, Nanos, Node, ReplyToken, RpcError, Sim, SimConfig};

/// A write of one byte: synchronous, or asynchronous with a ticket.
#[derive(Default)]
struct Writer {
    /// (ticket, when it was reported durable).
    durable: Vec<(u64, Nanos)>,
}

const SYNC: u32 = 1_000;
const TWICE: u32 = 2_000;

impl Node for Writer {
    type Msg = u32;
    type Timer = u64;
    type CallPurpose = ();
    /// `TWICE + b` writes `b` synchronously twice in one step; `SYNC + b`
    /// once; `b` below `SYNC`, asynchronously with ticket `b`. The answer
    /// is the message.
    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, _: Addr, token: ReplyToken, msg: u32) {
        if msg >= TWICE {
            let byte = (msg - TWICE) as u8;
            ctx.write_durably(|p| p.raft_state_mut().push(byte));
            ctx.write_durably(|p| p.raft_state_mut().push(byte));
        } else if msg >= SYNC {
            let byte = (msg - SYNC) as u8;
            ctx.write_durably(|p| p.raft_state_mut().push(byte));
        } else {
            let durable = ctx.write_async(u64::from(msg), |state| state.push(msg as u8));
            assert!(!durable, "the disk takes time");
        }
        ctx.reply(token, msg);
    }
    fn on_reply(&mut self, _: &mut Ctx<'_, Self>, _: Addr, _: (), _: Result<u32, RpcError>) {}
    fn on_timer(&mut self, _: &mut Ctx<'_, Self>, _: u64) {}
    fn on_durable(&mut self, ctx: &mut Ctx<'_, Self>, ticket: u64) {
        self.durable.push((ticket, ctx.now()));
    }
}

const DISK: Nanos = ms(5);

/// A world with one writer whose disk takes `DISK`, and a client.
fn with_writer<T: 'static>(test: impl AsyncFnOnce(sim::SimHandle<Writer>, Addr, Addr) -> T + 'static) -> T {
    let sim = Sim::<Writer>::new(SimConfig::new(1));
    let h = sim.handle();
    sim.run(async move {
        let client = h.add_client("client");
        let server = h.add_server("writer");
        h.start(server, |_| Writer::default());
        h.inject(Fault::DiskLatency { server, latency: DISK });
        test(h, client, server).await
    })
    .unwrap()
}

#[test]
fn a_synchronous_write_delays_the_answer_by_the_disk_and_one_instants_writes_share_it() {
    let (alone, together) = with_writer(async |h, client, server| {
        let start = h.now();
        h.call(client, server, SYNC + 1).await.unwrap();
        let alone = h.now() - start;
        let start = h.now();
        let calls: Vec<_> = (2..5).map(|b| h.call(client, server, SYNC + b)).collect();
        for call in calls {
            call.await.unwrap();
        }
        (alone, h.now() - start)
    });
    assert!(alone >= DISK && alone < DISK + ms(2), "one write: {alone} ns");
    assert!(together < 2 * DISK, "three writes that arrive together share one flush: {together} ns");
}

#[test]
fn an_asynchronous_write_is_reported_durable_when_its_flush_ends() {
    let (answered_in, durable, state, durable_state) = with_writer(async |h, client, server| {
        let start = h.now();
        h.call(client, server, 7).await.unwrap();
        let answered_in = h.now() - start;
        h.call(client, server, 8).await.unwrap(); // overtakes the flush of 7
        let states = h.with_persister(server, |p| (p.raft_state().to_vec(), p.durable_raft_state().to_vec()));
        assert_eq!(states, (vec![7, 8], vec![]), "in the page cache only, for now");
        h.sleep(3 * DISK).await;
        let durable = h.with_node(server, |n, _| n.durable.clone()).unwrap();
        let (state, durable_state) =
            h.with_persister(server, |p| (p.raft_state().to_vec(), p.durable_raft_state().to_vec()));
        (answered_in, durable, state, durable_state)
    });
    assert!(answered_in < DISK, "answered before the write is durable: {answered_in} ns");
    assert_eq!(durable.iter().map(|d| d.0).collect::<Vec<_>>(), [7, 8], "one flush each, in order");
    assert!(durable[1].1 - durable[0].1 >= DISK, "the second flush follows the first");
    assert_eq!((state, durable_state), (vec![7, 8], vec![7, 8]));
}

#[test]
fn a_machine_crash_loses_what_no_flush_finished_and_a_process_crash_does_not() {
    let lost = |mode: CrashMode| {
        with_writer(async move |h, client, server| {
            h.call(client, server, SYNC + 1).await.unwrap();
            h.call(client, server, 2).await.unwrap();
            h.inject(Fault::Kill { server, mode });
            h.sleep(3 * DISK).await;
            h.with_persister(server, |p| (p.raft_state().to_vec(), p.durable_raft_state().to_vec()))
        })
    };
    assert_eq!(lost(CrashMode::LoseUnsynced), (vec![1], vec![1]), "the asynchronous write is gone");
    assert_eq!(lost(CrashMode::Process), (vec![1, 2], vec![1, 2]), "the page cache is flushed all the same");
}

#[test]
fn a_step_with_two_writes_stays_blocked_and_later_requests_wait_their_turn_in_order() {
    let sim = Sim::<Writer>::new(SimConfig { disk_latency: DISK, ..SimConfig::new(1) });
    let h = sim.handle();
    let answered = sim
        .run(async move {
            let client = h.add_client("client");
            let server = h.add_server("writer");
            h.start(server, |_| Writer::default());
            let start = h.now();
            let first = h.call(client, server, TWICE + 1);
            h.sleep(ms(1)).await; // the server is blocked on the first request's writes
            let (second, third) = (h.call(client, server, TWICE + 2), h.call(client, server, TWICE + 3));
            let mut answered = Vec::new();
            for call in [first, second, third] {
                let value = call.await.unwrap();
                answered.push((value, h.now() - start));
            }
            answered
        })
        .unwrap();
    let times: Vec<Nanos> = answered.iter().map(|a| a.1).collect();
    assert_eq!(answered.iter().map(|a| a.0).collect::<Vec<_>>(), [TWICE + 1, TWICE + 2, TWICE + 3]);
    assert!(times[0] >= DISK && times[0] < 2 * DISK, "one step's two writes share a flush: {times:?}");
    assert!(times[1] >= 2 * DISK, "the next waits for the first flush, then writes: {times:?}");
    assert!(times[2] - times[1] < ms(1), "those that waited together write together: {times:?}");
}
