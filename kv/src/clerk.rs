//! The clerk: a client of the kvraft service, sans-IO and free of any
//! runtime. It runs over a [`Transport`] that the host provides (the
//! simulator's, in the scenarios), issues one operation at a time, numbers
//! them for exactly-once, retries across servers until one succeeds, and
//! remembers the last leader.

use crate::rpc::{Op, Outcome, Reply, Request};
use std::future::Future;

/// How a clerk reaches the servers and waits. kv's clerk sends
/// [`Request`]s and gets [`Reply`]s; other services' clerks (the shard
/// controller's) reuse the retry loop with their own messages.
pub trait Transport {
    type Request: Clone;
    type Reply;
    /// Sends `request` to server `server`; `None` when the call failed (no
    /// answer came back: labrpc's `Call` returning false).
    fn call(&self, server: usize, request: Self::Request) -> impl Future<Output = Option<Self::Reply>>;
    /// Waits this long (between rounds of retries).
    fn sleep_ms(&self, ms: u64) -> impl Future<Output = ()>;
}

/// How long a clerk waits after every server failed it once.
pub const ROUND_BACKOFF_MS: u64 = 10;

pub struct Clerk<T> {
    transport: T,
    servers: usize,
    client: u64,
    /// The sequence number of the last operation issued.
    seq: u64,
    /// The server that answered last.
    leader: usize,
}

impl<T: Transport> Clerk<T> {
    /// A clerk with a unique `client` id, for `servers` servers.
    pub fn new(transport: T, servers: usize, client: u64) -> Clerk<T> {
        assert!(servers > 0, "a clerk needs servers");
        Clerk { transport, servers, client, seq: 0, leader: 0 }
    }

    pub fn client(&self) -> u64 {
        self.client
    }

    /// The sequence number for the next operation (from 1).
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Sends `request` to the servers in turn, from the one that answered
    /// last, until one gives a reply that `accept` takes; retries forever.
    pub async fn call_until<O>(&mut self, request: T::Request, mut accept: impl FnMut(T::Reply) -> Option<O>) -> O {
        let mut failures_in_round = 0;
        loop {
            match self.transport.call(self.leader, request.clone()).await.and_then(&mut accept) {
                Some(outcome) => return outcome,
                None => {
                    self.leader = (self.leader + 1) % self.servers;
                    failures_in_round += 1;
                    if failures_in_round == self.servers {
                        failures_in_round = 0;
                        self.transport.sleep_ms(ROUND_BACKOFF_MS).await;
                    }
                }
            }
        }
    }
}

/// Get, Put and Append, for anything that runs one operation at a time (a
/// clerk, or a tester's recording wrapper around one).
// The clerks run on single-threaded runtimes: their futures need not be Send.
#[allow(async_fn_in_trait)]
pub trait Operations {
    /// Runs one operation to its outcome.
    async fn run_op(&mut self, op: Op) -> Outcome;

    /// The value of `key` ("" if it was never written).
    async fn get(&mut self, key: &str) -> String {
        match self.run_op(Op::Get { key: key.to_string() }).await {
            Outcome::Value(v) => v,
            // A write's answer to a Get (a server replying for another
            // entry) carries no value, like the Go clerk's empty Value; the
            // history records the answer as it came, and the checker rejects it.
            Outcome::Done => String::new(),
        }
    }

    async fn put(&mut self, key: &str, value: &str) {
        self.run_op(Op::Put { key: key.to_string(), value: value.to_string() }).await;
    }

    async fn append(&mut self, key: &str, value: &str) {
        self.run_op(Op::Append { key: key.to_string(), value: value.to_string() }).await;
    }
}

impl<T: Transport<Request = Request, Reply = Reply>> Clerk<T> {
    /// Runs one operation until a server applies it; retries forever.
    pub async fn run(&mut self, op: Op) -> Outcome {
        let request = Request { client: self.client, seq: self.next_seq(), op };
        self.call_until(request, |reply| match reply {
            Reply::Ok(outcome) => Some(outcome),
            Reply::WrongLeader | Reply::TimedOut => None,
        })
        .await
    }
}

impl<T: Transport<Request = Request, Reply = Reply>> Operations for Clerk<T> {
    async fn run_op(&mut self, op: Op) -> Outcome {
        self.run(op).await
    }
}
