//! The clerk: a client of the kvraft service, sans-IO and free of any
//! runtime. It runs over a [`Transport`] that the host provides (the
//! simulator's, in the scenarios), issues one operation at a time, numbers
//! them for exactly-once, retries across servers until one succeeds, and
//! remembers the last leader.

use crate::rpc::{Op, Outcome, Reply, Request};

pub use contract::kv::Operations;
pub use contract::Transport;

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
