//! A clerk's ends over the simulated network, for any service: the clerk's
//! endpoint, the servers in its own order, and how the service's requests
//! and replies travel in the world's messages.

use contract::Transport;
use sim::{ms, Addr, Node, SimHandle};
use std::future::Future;

pub struct SimEnds<N: Node, Q, R> {
    pub h: SimHandle<N>,
    pub me: Addr,
    pub servers: Vec<Addr>,
    /// A request as a message, and a reply out of one (`None`: not a reply
    /// of this service).
    wrap: fn(Q) -> N::Msg,
    unwrap: fn(N::Msg) -> Option<R>,
}

impl<N: Node, Q, R> SimEnds<N, Q, R> {
    pub fn new(
        h: SimHandle<N>,
        me: Addr,
        servers: Vec<Addr>,
        wrap: fn(Q) -> N::Msg,
        unwrap: fn(N::Msg) -> Option<R>,
    ) -> SimEnds<N, Q, R> {
        SimEnds { h, me, servers, wrap, unwrap }
    }
}

impl<N: Node, Q: Clone, R> Transport for SimEnds<N, Q, R> {
    type Request = Q;
    type Reply = R;

    fn call(&self, server: usize, request: Q) -> impl Future<Output = Option<R>> {
        let call = self.h.call(self.me, self.servers[server], (self.wrap)(request));
        let unwrap = self.unwrap;
        async move { call.await.ok().and_then(unwrap) }
    }

    fn sleep_ms(&self, duration_ms: u64) -> impl Future<Output = ()> {
        self.h.sleep(ms(duration_ms))
    }
}
