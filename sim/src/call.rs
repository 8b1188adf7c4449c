//! A call through the virtual network, with labrpc's semantics (LABSPEC.md
//! sections 1 and 7): the table of calls in flight, sending (counts, bytes,
//! dead ends, drops, duplicates), delivery to the handler, the answer (now or
//! deferred), dead-server polling, and handing the outcome to the caller.

use crate::event::EventKind;
use crate::net::{NetConfig, SendFate, DEAD_SERVER_POLL_INTERVAL};
use crate::node::{Addr, Message, Node};
use crate::time::Nanos;
use crate::world::World;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::task::Waker;

/// One call through the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub u64);

/// The right to answer one request; consumed by `Ctx::reply`.
#[derive(Debug, PartialEq, Eq)]
pub struct ReplyToken {
    pub(crate) call: CallId,
}

/// Why a call returned no reply. labrpc reports all of these as `false`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RpcError {
    Failed,
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("call failed")
    }
}

pub(crate) struct CallSlot<M> {
    pub(crate) result: Option<Result<M, RpcError>>,
    pub(crate) waker: Option<Waker>,
}

pub(crate) enum Waiter<M> {
    /// The caller is a hosted node: it gets `on_reply`.
    Node,
    /// The caller is a task awaiting a `CallFuture`.
    Task(Rc<RefCell<CallSlot<M>>>),
    /// A duplicate of a task's call: its reply goes nowhere.
    Discard,
}

pub(crate) struct CallRecord<M> {
    pub(crate) caller: Addr,
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
    pub(crate) waiter: Waiter<M>,
}

/// Outstanding calls, indexed by id. Ids grow by one, so a deque with the
/// oldest live id at the front gives O(1) insert, lookup and removal.
pub(crate) struct CallTable<M> {
    pub(crate) first_id: u64,
    pub(crate) slots: VecDeque<Option<CallRecord<M>>>,
}

impl<M> CallTable<M> {
    pub(crate) fn insert(&mut self, record: CallRecord<M>) -> CallId {
        let id = self.first_id + self.slots.len() as u64;
        self.slots.push_back(Some(record));
        CallId(id)
    }
    pub(crate) fn get(&self, id: CallId) -> Option<&CallRecord<M>> {
        let i = id.0.checked_sub(self.first_id)?;
        self.slots.get(i as usize)?.as_ref()
    }
    pub(crate) fn get_mut(&mut self, id: CallId) -> Option<&mut CallRecord<M>> {
        let i = id.0.checked_sub(self.first_id)?;
        self.slots.get_mut(i as usize)?.as_mut()
    }
    pub(crate) fn remove(&mut self, id: CallId) -> Option<CallRecord<M>> {
        let i = id.0.checked_sub(self.first_id)?;
        let record = self.slots.get_mut(i as usize)?.take();
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.first_id += 1;
        }
        record
    }
}

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

    /// Sends a call from `caller` to the server `to` (labrpc `Call`).
    pub(crate) fn send_call(&mut self, caller: Addr, to: Addr, msg: N::Msg, waiter: Waiter<N::Msg>) -> CallId {
        self.stats.total_calls += 1;
        self.stats.total_bytes += msg.wire_size() as u64;
        let index = self.server_index(to);
        let link = self.links[caller.0 as usize][index];
        let caller_incarnation = match self.endpoints[caller.0 as usize].server {
            Some(i) => self.servers[i].incarnation,
            None => 0,
        };
        let slot = &self.servers[index];
        let reachable = link.enabled && slot.alive;
        let record = CallRecord {
            caller,
            caller_incarnation,
            server: index,
            server_incarnation: slot.incarnation,
            long_reordering: self.net.long_reordering,
            dispatched_at: None,
            answered: false,
            deferred: false,
            waiter,
        };
        let is_task_call = matches!(record.waiter, Waiter::Task(_));
        let call = self.calls.insert(record);
        if !reachable {
            self.stats.calls_to_dead += 1;
            let delay = self.net.dead_call_delay(&mut self.net_rng);
            self.schedule(self.now + delay, EventKind::Fail { call });
            return call;
        }
        match self.net.send_fate(&mut self.net_rng) {
            SendFate::Drop(delay) => {
                self.stats.requests_dropped += 1;
                self.schedule(self.now + delay, EventKind::Fail { call });
            }
            SendFate::Deliver(delay) => {
                let delay = delay + link.latency.sample(&mut self.net_rng);
                if let Some(extra) = self.net.duplicate_delay(&mut self.net_rng) {
                    self.stats.requests_duplicated += 1;
                    let duplicate = CallRecord {
                        caller,
                        caller_incarnation,
                        server: index,
                        server_incarnation: self.servers[index].incarnation,
                        long_reordering: self.net.long_reordering,
                        dispatched_at: None,
                        answered: false,
                        deferred: false,
                        waiter: if is_task_call { Waiter::Discard } else { Waiter::Node },
                    };
                    let dup = self.calls.insert(duplicate);
                    self.send_request(caller, index, self.now + delay + extra, dup, msg.clone(), link.clogged);
                }
                self.send_request(caller, index, self.now + delay, call, msg, link.clogged);
            }
        }
        call
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

    pub(crate) fn server_is_dead_for(&self, record: &CallRecord<N::Msg>) -> bool {
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
        if self.net.drops_reply(&mut self.net_rng) {
            self.stats.replies_dropped += 1;
            self.schedule(self.now, EventKind::Fail { call });
            return;
        }
        let mut delay = self.links[caller.0 as usize][server].latency.sample(&mut self.net_rng);
        if let Some(hold) = NetConfig::reorder_delay(long_reordering, &mut self.net_rng) {
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
        if slot.paused {
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
                if !link_enabled {
                    self.schedule_dead_poll(call);
                }
            }
        }
    }

    /// Hands a call's outcome to its caller.
    pub(crate) fn complete(&mut self, call: CallId, result: Result<N::Msg, RpcError>) {
        let Some(record) = self.calls.get(call) else { return };
        if let Waiter::Node = record.waiter {
            let caller = record.caller;
            let index = self.endpoints[caller.0 as usize].server.expect("node callers are servers");
            let slot = &self.servers[index];
            if !slot.alive || slot.incarnation != record.caller_incarnation {
                self.calls.remove(call);
                return;
            }
            if slot.paused {
                let kind = match result {
                    Ok(msg) => EventKind::Reply { call, msg },
                    Err(_) => EventKind::Fail { call },
                };
                // Reply bytes were counted already; a parked reply is re-counted
                // on resume, so take them off again.
                if let EventKind::Reply { msg, .. } = &kind {
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
            Waiter::Node => {
                let index = self.endpoints[record.caller.0 as usize].server.expect("node callers are servers");
                self.in_node(index, |node, ctx| node.on_reply(ctx, from, call, result));
            }
            Waiter::Discard => {}
        }
    }
}
