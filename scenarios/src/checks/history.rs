//! The clients' history as the kv and shardkv testers record it: every
//! operation enters at its call and gets its output and return when it
//! completes (one cut off by a failed run stays pending, which the checker
//! allows for). Call and return times are virtual nanoseconds made strictly
//! increasing, so that a return and a call at one instant keep the order in
//! which they happened.

use checker::{KvInput, KvOutput, Operation};
use contract::kv::{Op, Outcome};
use sim::Nanos;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

pub type KvHistory = Vec<Operation<KvInput, KvOutput>>;

pub struct Recorder {
    history: Rc<RefCell<KvHistory>>,
    /// shardkv: per operation, the configuration it was served under.
    served_under: Option<Rc<RefCell<Vec<Option<u64>>>>>,
    last_stamp: Cell<Nanos>,
}

impl Recorder {
    pub fn new(history: Rc<RefCell<KvHistory>>, served_under: Option<Rc<RefCell<Vec<Option<u64>>>>>) -> Recorder {
        Recorder { history, served_under, last_stamp: Cell::new(0) }
    }

    /// Records an operation's call; returns its place in the history.
    pub fn call(&self, now: Nanos, client: u64, op: &Op) -> usize {
        let input = match op {
            Op::Get { key } => KvInput::Get { key: key.clone() },
            Op::Put { key, value } => KvInput::Put { key: key.clone(), value: value.clone() },
            Op::Append { key, value } => KvInput::Append { key: key.clone(), value: value.clone() },
        };
        let call = self.stamp(now);
        let mut history = self.history.borrow_mut();
        history.push(Operation { client, input, output: None, call, ret: None });
        if let Some(served) = &self.served_under {
            served.borrow_mut().push(None);
        }
        history.len() - 1
    }

    /// Records the return of operation `at`, served under configuration
    /// `config` (shardkv).
    pub fn ret(&self, now: Nanos, at: usize, outcome: &Outcome, config: Option<u64>) {
        let ret = self.stamp(now);
        let recorded = &mut self.history.borrow_mut()[at];
        debug_assert!(recorded.ret.is_none(), "an operation returns once");
        recorded.output = Some(match outcome {
            Outcome::Value(v) => KvOutput::Value(v.clone()),
            Outcome::Done => KvOutput::Done,
        });
        recorded.ret = Some(ret);
        if let Some(served) = &self.served_under {
            served.borrow_mut()[at] = config;
        }
    }

    fn stamp(&self, now: Nanos) -> Nanos {
        let stamp = now.max(self.last_stamp.get() + 1);
        self.last_stamp.set(stamp);
        stamp
    }
}
