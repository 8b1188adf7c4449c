//! A call through the virtual network, with labrpc's semantics (LABSPEC.md
//! sections 1 and 7): the table of calls in flight, sending (counts, bytes,
//! dead ends, drops, duplicates), delivery to the handler, the answer (now or
//! deferred), dead-server polling, and handing the outcome to the caller.

use crate::event::EventKind;
use crate::net::{NetConfig, SendFate, DEAD_SERVER_POLL_INTERVAL};
use crate::node::{Addr, Message, Node};
use crate::schedule::{CallOnLink, Choice};
use crate::time::{self, Nanos};
use crate::world::World;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::Waker;

/// One call through the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub u64);

impl CallId {
    /// The id of a call that never left (its caller crashed first).
    pub const NEVER: CallId = CallId(u64::MAX);
}

/// The right to answer one request; consumed by `Ctx::reply`.
#[derive(Debug, PartialEq, Eq)]
pub struct ReplyToken {
    pub(crate) call: CallId,
}

/// Where an open call stands, for checks that bound how long a server
/// keeps its caller waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenCall {
    /// The server called.
    pub server: Addr,
    /// Whether the request is with the server's handler, unanswered (not
    /// on its way there, parked at a paused server, or answered with the
    /// outcome on its way back).
    pub at_handler: bool,
}

/// Why a call returned no reply. labrpc reports all of these as `false`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    #[error("call failed")]
    Failed,
}

pub(crate) struct CallSlot<M> {
    pub(crate) result: Option<Result<M, RpcError>>,
    pub(crate) waker: Option<Waker>,
}

pub(crate) enum Waiter<M, P> {
    /// The caller is a hosted node: it gets `on_reply` with this purpose.
    Node(P),
    /// The caller is a task awaiting a `CallFuture`.
    Task(Rc<RefCell<CallSlot<M>>>),
    /// A duplicate of a task's call: its reply goes nowhere.
    Discard,
}

pub(crate) struct CallRecord<M, P> {
    pub(crate) caller: Addr,
    pub(crate) sent_at: Nanos,
    /// The request's `Message::label`, for reports of open calls.
    pub(crate) label: &'static str,
    pub(crate) caller_incarnation: u32,
    pub(crate) server: usize,
    pub(crate) server_incarnation: u32,
    pub(crate) long_reordering: bool,
    pub(crate) dispatched_at: Option<Nanos>,
    /// The server answered (the outcome is scheduled).
    pub(crate) answered: bool,
    /// The handler returned without answering: the server's `pending` set
    /// holds the call until it is answered or the server is seen dead.
    pub(crate) deferred: bool,
    pub(crate) waiter: Waiter<M, P>,
    /// The call's order among calls of its kind on its link, when the run
    /// names its choices (`schedule.rs`; 0 otherwise), and whether this is
    /// a duplicate's record.
    pub(crate) nth_of_kind: u64,
    pub(crate) copy: bool,
}

/// Outstanding calls, indexed by id. Ids grow by one, so a deque with the
/// oldest live id at the front gives O(1) insert, lookup and removal.
pub(crate) struct CallTable<M, P> {
    pub(crate) first_id: u64,
    pub(crate) slots: VecDeque<Option<CallRecord<M, P>>>,
}

impl<M, P> CallTable<M, P> {
    pub(crate) fn insert(&mut self, record: CallRecord<M, P>) -> CallId {
        let id = self.first_id + self.slots.len() as u64;
        self.slots.push_back(Some(record));
        CallId(id)
    }
    pub(crate) fn get(&self, id: CallId) -> Option<&CallRecord<M, P>> {
        let i = id.0.checked_sub(self.first_id)?;
        self.slots.get(i as usize)?.as_ref()
    }
    pub(crate) fn get_mut(&mut self, id: CallId) -> Option<&mut CallRecord<M, P>> {
        let i = id.0.checked_sub(self.first_id)?;
        self.slots.get_mut(i as usize)?.as_mut()
    }
    pub(crate) fn remove(&mut self, id: CallId) -> Option<CallRecord<M, P>> {
        let i = id.0.checked_sub(self.first_id)?;
        let record = self.slots.get_mut(i as usize)?.take();
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.first_id += 1;
        }
        record
    }
}

/// Directions of a link, for `in_order`.
const REQUEST: usize = 0;
const REPLY: usize = 1;

/// The calls of a world of nodes `N`.
pub(crate) type Calls<N> = CallTable<<N as Node>::Msg, <N as Node>::CallPurpose>;
type Record<N> = CallRecord<<N as Node>::Msg, <N as Node>::CallPurpose>;

impl<N: Node> World<N> {
    /// labrpc polls a dispatched call's server every 100 ms from dispatch; the
    /// next such poll after now sees it dead.
    pub(crate) fn schedule_dead_poll(&mut self, call: CallId) {
        let Some(record) = self.calls.get(call) else { return };
        let dispatched = record.dispatched_at.expect("only dispatched calls are polled");
        let waited = self.now - dispatched;
        let polls = waited.div_ceil(DEAD_SERVER_POLL_INTERVAL).max(1);
        self.schedule(dispatched + polls * DEAD_SERVER_POLL_INTERVAL, EventKind::PollDead { call });
    }

    /// A dead-server poll: fails a dispatched call whose server died or whose
    /// end was disabled. Once the handler has answered, labrpc stops
    /// polling, so an answered call is left alone (its outcome is on its way).
    pub(crate) fn poll_dead(&mut self, call: CallId) {
        let Some(record) = self.calls.get(call) else { return };
        if record.answered || record.dispatched_at.is_none() || !self.server_is_dead_for(record) {
            return;
        }
        let server = record.server;
        self.servers[server].pending.remove(&call);
        self.complete(call, Err(RpcError::Failed));
    }

    /// Sends a call from `caller` to the server `to` (labrpc `Call`).
    pub(crate) fn send_call(
        &mut self,
        caller: Addr,
        to: Addr,
        msg: N::Msg,
        waiter: Waiter<N::Msg, N::CallPurpose>,
    ) -> CallId {
        self.stats.total_calls += 1;
        if self.counting_bytes {
            self.stats.total_bytes += msg.wire_size() as u64;
        }
        let index = self.server_index(to);
        let link = self.links[caller.0 as usize][index];
        let caller_incarnation = match self.endpoints[caller.0 as usize].server {
            Some(i) => self.servers[i].incarnation,
            None => 0,
        };
        let slot = &self.servers[index];
        let reachable = link.enabled && slot.alive;
        let duplicate_waiter = match &waiter {
            Waiter::Node(purpose) => Waiter::Node(*purpose),
            Waiter::Task(_) | Waiter::Discard => Waiter::Discard,
        };
        let record = CallRecord {
            caller,
            sent_at: self.now,
            label: msg.label(),
            caller_incarnation,
            server: index,
            server_incarnation: slot.incarnation,
            long_reordering: self.net.long_reordering,
            dispatched_at: None,
            answered: false,
            deferred: false,
            waiter,
            nth_of_kind: if self.choices.named() { self.choices.next_call(caller, to, msg.label()) } else { 0 },
            copy: false,
        };
        let call = self.calls.insert(record);
        if !reachable {
            self.stats.calls_to_dead += 1;
            let delay = self.net.dead_call_delay(&mut self.net_rng);
            self.schedule(self.now + delay, EventKind::Fail { call });
            return call;
        }
        match self.request_fate(call) {
            SendFate::Drop(delay) => {
                self.stats.requests_dropped += 1;
                self.schedule(self.now + delay, EventKind::Fail { call });
            }
            SendFate::Deliver(delay) => {
                let delay = self.in_order_arrival(caller, index, REQUEST) - self.now
                    + delay
                    + link.latency.sample(&mut self.net_rng);
                if let Some(extra) = self.duplicate(call) {
                    self.stats.requests_duplicated += 1;
                    let original = self.calls.get(call).expect("just inserted");
                    let duplicate = CallRecord { waiter: duplicate_waiter, copy: true, ..Self::copy_fields(original) };
                    let dup = self.calls.insert(duplicate);
                    self.send_request(caller, index, self.now + delay + extra, dup, msg.clone(), link.clogged);
                }
                self.send_request(caller, index, self.now + delay, call, msg, link.clogged);
            }
        }
        call
    }

    /// labrpc's short delay and request drop for `call`, as drawn or as
    /// the schedule says.
    fn request_fate(&mut self, call: CallId) -> SendFate {
        let fate = self.net.send_fate(&mut self.net_rng);
        if !self.choices.named() {
            return fate;
        }
        let (dropped, delay) = match fate {
            SendFate::Drop(delay) => (true, delay),
            SendFate::Deliver(delay) => (false, delay),
        };
        if self.choose_on_call(call, Choice::DropRequest, dropped, || "request lost".into()) {
            return SendFate::Drop(delay);
        }
        let delayed = delay > 0
            && self.choose_on_call(call, Choice::Delay, true, || format!("request delayed {}", time::format(delay)));
        SendFate::Deliver(if delayed { delay } else { 0 })
    }

    /// The extra delay of a duplicate of `call`'s request, if it is
    /// duplicated (as drawn or as the schedule says).
    fn duplicate(&mut self, call: CallId) -> Option<Nanos> {
        let drawn = self.net.duplicate_delay(&mut self.net_rng);
        if !self.choices.named() {
            return drawn;
        }
        let duplicated =
            self.choose_on_call(call, Choice::Duplicate, drawn.is_some(), || "request delivered twice".into());
        duplicated.then(|| drawn.unwrap_or(0))
    }

    /// Whether the world makes a network choice on `call`'s message
    /// (`choice` names it from the call), which its draw says `drawn`; a
    /// choice made is remembered, with what `happened` in words. The call
    /// is named only when it must be: a run that follows a schedule looks
    /// every choice up, a run that records names only those it makes.
    fn choose_on_call(
        &mut self,
        call: CallId,
        choice: impl FnOnce(CallOnLink) -> Choice,
        drawn: bool,
        happened: impl FnOnce() -> String,
    ) -> bool {
        if !self.choices.named() || (!drawn && !self.follows_schedule()) {
            return drawn;
        }
        let record = self.calls.get(call).expect("a named call is open");
        let server = self.servers[record.server].addr;
        let (from, to, label) = (record.caller.0, server.0, record.label);
        let choice = choice(CallOnLink { from, to, label: label.to_string(), nth: record.nth_of_kind });
        let made = self.choices.decide(&choice, drawn);
        if made {
            let what = format!("{label} {} -> {}: {}", self.name(record.caller), self.name(server), happened());
            self.choices.made.push(crate::schedule::Entry::new(choice, Some(self.now), what));
        }
        made
    }

    /// Whether the network loses the reply of `call` (as drawn or as the
    /// schedule says).
    fn reply_lost(&mut self, call: CallId) -> bool {
        let drawn = self.net.drops_reply(&mut self.net_rng);
        if !self.choices.named() {
            return drawn;
        }
        let copy = self.calls.get(call).is_some_and(|r| r.copy);
        self.choose_on_call(call, |call| Choice::DropReply { call, copy }, drawn, || "reply lost".into())
    }

    /// The long-reordering hold of the reply of `call`, if any (as drawn
    /// or as the schedule says).
    fn reply_hold(&mut self, call: CallId, long_reordering: bool) -> Option<Nanos> {
        let drawn = NetConfig::reorder_delay(long_reordering, &mut self.net_rng);
        if !self.choices.named() {
            return drawn;
        }
        let copy = self.calls.get(call).is_some_and(|r| r.copy);
        let held = self.choose_on_call(
            call,
            |call| Choice::HoldReply { call, copy },
            drawn.is_some(),
            || "reply held back".into(),
        );
        held.then(|| drawn.unwrap_or(time::ms(crate::net::REORDER_DELAY_MS_MIN)))
    }

    /// When a message sent now between `caller` and server `index` gets
    /// through the network's latency: a connection delivers in order, so
    /// never before the one sent before it in the same direction. (labrpc's
    /// unreliable delays, long reordering, duplicates and per-link latency
    /// come on top, and do reorder.)
    fn in_order_arrival(&mut self, caller: Addr, index: usize, direction: usize) -> Nanos {
        let sampled = self.now + self.net.latency.sample(&mut self.net_rng);
        let last = &mut self.in_order[caller.0 as usize][index][direction];
        *last = sampled.max(*last);
        *last
    }

    pub(crate) fn send_request(
        &mut self,
        caller: Addr,
        index: usize,
        at: Nanos,
        call: CallId,
        msg: N::Msg,
        clogged: bool,
    ) {
        let kind = EventKind::Request { call, msg };
        if clogged {
            self.clogged.push((caller, index, kind));
        } else {
            self.schedule(at, kind);
        }
    }

    pub(crate) fn server_is_dead_for(&self, record: &Record<N>) -> bool {
        let slot = &self.servers[record.server];
        !slot.alive
            || slot.incarnation != record.server_incarnation
            || !self.links[record.caller.0 as usize][record.server].enabled
    }

    /// A node answers a request (labrpc: the handler returned).
    pub(crate) fn reply(&mut self, token: ReplyToken, msg: N::Msg) {
        let call = token.call;
        let Some(record) = self.calls.get_mut(call) else { return };
        record.answered = true;
        let record = self.calls.get(call).expect("just updated");
        let (server, long_reordering, caller) = (record.server, record.long_reordering, record.caller);
        if record.deferred {
            self.servers[server].pending.remove(&call);
        }
        if self.server_is_dead_for(record) {
            // The handler ran, but its server died or the end was disabled:
            // labrpc replies false so that no superseded state is reported.
            self.schedule(self.now, EventKind::Fail { call });
            return;
        }
        if self.reply_lost(call) {
            self.stats.replies_dropped += 1;
            self.schedule(self.now, EventKind::Fail { call });
            return;
        }
        let mut delay = self.in_order_arrival(caller, server, REPLY) - self.now
            + self.links[caller.0 as usize][server].latency.sample(&mut self.net_rng);
        if let Some(hold) = self.reply_hold(call, long_reordering) {
            self.stats.replies_reordered += 1;
            delay += hold;
        }
        self.schedule(self.now + delay, EventKind::Reply { call, msg });
    }

    pub(crate) fn deliver_request(&mut self, call: CallId, msg: N::Msg) {
        let Some(record) = self.calls.get(call) else { return };
        let (server, caller) = (record.server, record.caller);
        let slot = &self.servers[server];
        if !slot.alive || slot.incarnation != record.server_incarnation {
            self.complete(call, Err(RpcError::Failed));
            return;
        }
        if slot.holds_events(self.now) {
            self.servers[server].parked.push(EventKind::Request { call, msg });
            return;
        }
        let link_enabled = self.links[caller.0 as usize][server].enabled;
        self.calls.get_mut(call).expect("checked above").dispatched_at = Some(self.now);
        self.servers[server].dispatched += 1;
        self.in_node(server, |node, ctx| node.on_request(ctx, caller, ReplyToken { call }, msg));
        // Most handlers answer at once; only a deferred answer needs the
        // server's pending set, to fail the call if the server is seen dead.
        if let Some(record) = self.calls.get_mut(call) {
            if !record.answered {
                record.deferred = true;
                self.servers[server].pending.insert(call);
                // A server that died in its handler (a crash point) is polled
                // like one cut off: its pending set was emptied already.
                if !link_enabled || !self.servers[server].alive {
                    self.schedule_dead_poll(call);
                }
            }
        }
    }

    /// Hands a call's outcome to its caller.
    pub(crate) fn complete(&mut self, call: CallId, result: Result<N::Msg, RpcError>) {
        let Some(record) = self.calls.get(call) else { return };
        if let Waiter::Node(_) = record.waiter {
            let caller = record.caller;
            let index = self.endpoints[caller.0 as usize].server.expect("node callers are servers");
            let slot = &self.servers[index];
            if !slot.alive || slot.incarnation != record.caller_incarnation {
                self.calls.remove(call);
                return;
            }
            if slot.holds_events(self.now) {
                let kind = match result {
                    Ok(msg) => EventKind::Reply { call, msg },
                    Err(_) => EventKind::Fail { call },
                };
                // Reply bytes were counted already; a parked reply is re-counted
                // on resume, so take them off again.
                // (Counting cannot start between the two: it starts only
                // from a task, never within an event.)
                if let (true, EventKind::Reply { msg, .. }) = (self.counting_bytes, &kind) {
                    self.stats.total_bytes -= msg.wire_size() as u64;
                }
                self.servers[index].parked.push(kind);
                return;
            }
        }
        let record = self.calls.remove(call).expect("checked above");
        let from = self.servers[record.server].addr;
        match record.waiter {
            Waiter::Task(slot) => {
                let waker = {
                    let mut slot = slot.borrow_mut();
                    slot.result = Some(result);
                    slot.waker.take()
                };
                if let Some(w) = waker {
                    self.woke_task = true;
                    w.wake();
                }
            }
            Waiter::Node(purpose) => {
                let index = self.endpoints[record.caller.0 as usize].server.expect("node callers are servers");
                let node = self.servers[index].node.as_deref();
                if result.is_err() && node.is_some_and(|node| node.ignores_failure(&purpose)) {
                    return;
                }
                self.in_node(index, |node, ctx| node.on_reply(ctx, from, purpose, result));
            }
            Waiter::Discard => {}
        }
    }
}

impl<N: Node> World<N> {
    /// A record like `record`, waiting for nothing (for a duplicate).
    fn copy_fields(record: &Record<N>) -> Record<N> {
        CallRecord { waiter: Waiter::Discard, ..*record }
    }

    /// Where the latest open call that endpoint `from` waits on stands (a
    /// task's call: a clerk's), if it has one.
    pub fn open_call_from(&self, from: Addr) -> Option<OpenCall> {
        let open = self.calls.slots.iter().rev().flatten();
        let record = open.into_iter().find(|r| r.caller == from && matches!(r.waiter, Waiter::Task(_)))?;
        Some(OpenCall {
            server: self.servers[record.server].addr,
            at_handler: record.dispatched_at.is_some() && !record.answered,
        })
    }

    /// The calls still open, oldest first, in words: caller, server, what
    /// and when, and where each stands (on its way, at the handler, or its
    /// outcome on the way back). At most `limit` are listed.
    pub fn describe_open_calls(&self, limit: usize) -> Vec<String> {
        let open = self.calls.slots.iter().flatten().filter(|r| !matches!(r.waiter, Waiter::Discard));
        let mut lines: Vec<String> = open
            .clone()
            .take(limit)
            .map(|r| {
                let stage = match (r.dispatched_at, r.answered) {
                    (None, _) => "not yet at the server".to_string(),
                    (Some(at), false) => format!("at the handler since {}", time::format(at)),
                    (Some(_), true) => "answered; the outcome is on its way back".to_string(),
                };
                format!(
                    "{} -> {} ({}) sent at {}: {stage}",
                    self.name(r.caller),
                    self.name(self.servers[r.server].addr),
                    r.label,
                    time::format(r.sent_at)
                )
            })
            .collect();
        let total = open.count();
        if total > lines.len() {
            lines.push(format!("... and {} more", total - lines.len()));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    //! labrpc's own tests (LABSPEC.md section 1), each over 20 seeds, and the
    //! regressions of this module.
    use crate::net::NetConfig;
    use crate::testing::{echo, handled, setup, EchoMsg, EchoNode};
    use crate::time::{ms, secs};
    use crate::{bincode_size, CrashMode, Fault, Sim, SimConfig, SimError, SimHandle};
    use std::future::Future;

    type H = SimHandle<EchoNode>;

    macro_rules! ensure {
        ($cond:expr, $($fmt:tt)+) => {
            if !$cond {
                return Err(format!($($fmt)+));
            }
        };
    }

    /// Runs `body` in a fresh simulation for seeds 0..20; each must pass.
    fn each_seed<F: Future<Output = Result<(), String>> + 'static>(body: impl Fn(H) -> F) {
        for seed in 0..20 {
            let sim = Sim::<EchoNode>::new(SimConfig { time_limit: secs(130), ..SimConfig::new(seed) });
            match sim.run(body(sim.handle())) {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => panic!("seed {seed}: {reason}"),
                Err(e) => panic!("seed {seed}: {e}"),
            }
        }
    }

    #[test]
    fn a_call_reaches_the_handler_and_returns() {
        each_seed(|h| async move {
            let (c, s) = setup(&h, 1);
            let reply = h.call(c, s[0], echo(b"hello".to_vec())).await;
            ensure!(matches!(&reply, Ok(EchoMsg::Data(d)) if d == b"hello"), "echo came back as {reply:?}");
            ensure!(h.dispatched_count(s[0]) == 1 && h.net_stats().total_calls == 1, "one call, one dispatch");
            Ok(())
        })
    }

    #[test]
    fn calls_and_dispatches_are_counted() {
        each_seed(|h| async move {
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
    /// Nothing is counted before `count_bytes`.
    #[test]
    fn request_and_reply_bytes_are_counted_as_labrpc() {
        each_seed(|h| async move {
            let (c, s) = setup(&h, 1);
            h.call(c, s[0], echo(vec![7; 100])).await.map_err(|e| e.to_string())?;
            ensure!(h.net_stats().total_bytes == 0, "bytes counted before count_bytes");
            h.count_bytes();
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

    #[test]
    fn a_disabled_end_fails_calls_without_reaching_the_handler() {
        each_seed(|h| async move {
            let (c, s) = setup(&h, 1);
            h.inject(Fault::Link { from: c, to: s[0], enabled: false });
            ensure!(h.call(c, s[0], echo(vec![1])).await.is_err(), "a call over a disabled end must fail");
            ensure!(handled(&h, s[0]) == 0, "a disabled end must not reach the handler");
            h.inject(Fault::Link { from: c, to: s[0], enabled: true });
            ensure!(h.call(c, s[0], echo(vec![2])).await.is_ok(), "a re-enabled end must work");
            ensure!(handled(&h, s[0]) == 1, "exactly one delivery");
            ensure!(h.net_stats().total_calls == 2, "both calls count");
            Ok(())
        })
    }

    /// Under unreliable: requests and replies are dropped (about 10% each) and
    /// some handlers run for calls that report failure.
    #[test]
    fn an_unreliable_network_drops_requests_and_replies() {
        each_seed(|h| async move {
            let (c, s) = setup(&h, 1);
            h.inject(Fault::Net(NetConfig { reliable: false, ..h.net_config() }));
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
    #[test]
    fn a_killed_servers_stuck_call_fails_within_100_ms() {
        each_seed(|h| async move {
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
            h.inject(Fault::Kill { server: s[0], mode: CrashMode::Process });
            let (failed, returned_at) = waiter.await;
            ensure!(failed, "the stuck call must return false");
            ensure!(
                returned_at - killed_at <= ms(100),
                "returned {} ms after the kill",
                (returned_at - killed_at) / ms(1)
            );
            Ok(())
        })
    }

    /// labrpc TestRegression1: calls delayed while an end was disabled must not
    /// delay a call made after it is enabled.
    #[test]
    fn calls_delayed_while_disabled_do_not_delay_later_calls() {
        each_seed(|h| async move {
            let (c, s) = setup(&h, 1);
            h.inject(Fault::Net(NetConfig { long_delays: true, ..h.net_config() }));
            h.inject(Fault::Link { from: c, to: s[0], enabled: false });
            let stale: Vec<_> = (0..20).map(|i| h.call(c, s[0], echo(vec![i]))).collect();
            h.sleep(ms(10)).await;
            h.inject(Fault::Link { from: c, to: s[0], enabled: true });
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
    #[test]
    fn many_concurrent_calls_all_complete() {
        each_seed(|h| async move {
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
    #[test]
    fn dead_end_failures_take_short_or_long_delays() {
        each_seed(|h| async move {
            let (c, s) = setup(&h, 1);
            let server = s[0];
            h.inject(Fault::Link { from: c, to: server, enabled: false });
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
            h.inject(Fault::Net(NetConfig { long_delays: true, ..h.net_config() }));
            let long = failure_delays(h.clone()).await?;
            let long_max = long.iter().copied().max().unwrap_or(0);
            ensure!(long.iter().all(|d| *d < ms(7000)), "long failure delays stay under 7 s: {long:?}");
            ensure!(long_max >= ms(100), "long failure delays reach past 100 ms: {long:?}");
            let logged =
                h.with_world(|w| w.fault_log().iter().any(|(_, f)| matches!(f, Fault::Net(n) if n.long_delays)));
            ensure!(logged, "the long-delays switch is in the fault log");
            Ok(())
        })
    }

    /// Regression: a dead-server poll scheduled while the link was down
    /// must not fail a call that its server answered after the link came
    /// back (labrpc stops checking once the handler has returned), even if
    /// the link is down again when the poll fires.
    #[test]
    fn an_answered_call_is_not_failed_by_an_earlier_dead_server_poll() {
        each_seed(|h| async move {
            let (c, s) = setup(&h, 1);
            let releaser = h.add_client("releaser");
            let held = h.call(c, s[0], EchoMsg::Hold);
            let start = h.now();
            h.sleep(ms(10)).await;
            ensure!(handled(&h, s[0]) == 1, "the held request reached the handler");
            h.inject(Fault::Link { from: c, to: s[0], enabled: false }); // a poll is due at 100 ms
            h.sleep(ms(10)).await;
            h.inject(Fault::Link { from: c, to: s[0], enabled: true });
            h.inject(Fault::Latency { from: c, to: s[0], latency: crate::Latency::Fixed(ms(90)) });
            h.call(releaser, s[0], EchoMsg::Release).await.map_err(|e| e.to_string())?;
            h.sleep(ms(5)).await;
            h.inject(Fault::Link { from: c, to: s[0], enabled: false });
            let outcome = held.await;
            ensure!(outcome.is_ok(), "the answered call failed: {outcome:?}");
            ensure!(h.now() - start > ms(100), "the reply arrived after the stale poll");
            Ok(())
        });
    }

    /// A node that ignores failed calls gets no step for them, and the run
    /// is otherwise the same: the same events, in the same order.
    #[test]
    fn a_failure_a_node_ignores_is_no_step_of_it() {
        let run = |ignores_failures: bool| {
            let sim = Sim::<EchoNode>::new(SimConfig { time_limit: secs(5), ..SimConfig::new(7) });
            let h = sim.handle();
            let failed = sim
                .run(async move {
                    let (_, s) = setup(&h, 2);
                    h.with_node(s[0], |n, ctx| {
                        n.ignores_failures = ignores_failures;
                        n.start_gossip(ctx, vec![s[1]]);
                    });
                    h.inject(Fault::Kill { server: s[1], mode: CrashMode::Process });
                    h.sleep(secs(2)).await;
                    h.with_node(s[0], |n, _| n.replies_failed).expect("running")
                })
                .expect("the run ends");
            (failed, sim.stats().net.calls_to_dead, sim.stats().trace.hash())
        };
        let (heard, dead_calls, trace) = run(false);
        assert!(heard > 10 && dead_calls >= heard, "gossip to a dead peer fails ({heard} of {dead_calls} heard)");
        assert_eq!(run(true), (0, dead_calls, trace), "no failure reaches the node, and the run is the same");
    }

    /// A run stopped at its time limit names the tasks still waiting and
    /// the calls still open, and where each call stands.
    #[test]
    fn a_run_at_its_time_limit_names_waiting_tasks_and_open_calls() {
        let sim = Sim::<EchoNode>::new(SimConfig { time_limit: secs(1), ..SimConfig::new(3) });
        let h = sim.handle();
        let err = sim
            .run(async move {
                let (c, s) = setup(&h, 1);
                let clerk = h.clone();
                h.spawn("clerk-0", async move { clerk.call(c, s[0], EchoMsg::Hold).await });
                h.sleep(secs(5)).await;
            })
            .unwrap_err();
        let SimError::TimeLimit { stuck, .. } = &err else { panic!("expected the time limit, got {err}") };
        assert_eq!(stuck.waiting_tasks, vec!["main".to_string(), "clerk-0".to_string()]);
        assert_eq!(stuck.open_calls.len(), 1, "{stuck:?}");
        let call = &stuck.open_calls[0];
        assert!(call.contains("client -> echo-0 (Hold)") && call.contains("at the handler since"), "{call}");
        assert!(err.to_string().contains("clerk-0"), "{err}");
    }
}
