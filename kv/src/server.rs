//! The kvraft server: the store as a [`Service`] of a `Replicated` server,
//! and the clerks' requests.
//!
//! Reads go through the log too, so every answer is linearizable, unless
//! the run switched ReadIndex or lease reads on: then the leader's Raft
//! confirms them without a log entry. Writes the
//! store has applied already are answered at once (a retry of an operation
//! that committed).

use crate::replicated::{Replicated, Service};
use crate::rpc::{decode_command, encode_command, Op, Outcome, Reply, Request};
use crate::store::{Applied, Store};

pub use crate::replicated::{REQUEST_TIMEOUT_MS, SNAPSHOT_AT_PER_MILLE};

impl Service for Store {
    type Request = Request;
    type Reply = Reply;
    const WRONG_LEADER: Reply = Reply::WrongLeader;
    const TIMED_OUT: Reply = Reply::TimedOut;

    fn apply(&mut self, _index: u64, command: &[u8], answer: bool) -> Result<Option<Reply>, String> {
        let request = decode_command(command)?;
        let applied = Store::apply(self, &request);
        if !answer {
            return Ok(None);
        }
        Ok(Some(match &request.op {
            Op::Get { key } => Reply::Ok(Outcome::Value(self.get(key).to_string())),
            _ => {
                debug_assert!(applied != Applied::Read, "writes are written or duplicates");
                Reply::Ok(Outcome::Done)
            }
        }))
    }

    fn encode_request(request: &Request) -> Vec<u8> {
        encode_command(request)
    }

    fn answer_at_once(&self, request: &Request) -> Option<Reply> {
        let is_write = !matches!(request.op, Op::Get { .. });
        (is_write && self.is_applied(request.client, request.seq)).then_some(Reply::Ok(Outcome::Done))
    }

    fn read_locally(&self, request: &Request) -> Option<Reply> {
        match &request.op {
            Op::Get { key } => Some(Reply::Ok(Outcome::Value(self.get(key).to_string()))),
            _ => None,
        }
    }

    fn is_read(request: &Request) -> bool {
        matches!(request.op, Op::Get { .. })
    }

    fn decode(snapshot: &[u8]) -> Result<Store, String> {
        Store::decode(snapshot)
    }

    fn encode(&self) -> Vec<u8> {
        Store::encode(self)
    }
}

/// One kvraft server: the store, replicated by Raft `R`.
pub type KvServer<R, T> = Replicated<R, Store, T>;

/// This kvraft (server and clerk) over Raft `R`, for the lab: run it on any
/// Raft of the contract.
pub struct KvService<R>(std::marker::PhantomData<R>);

impl<R: contract::Raft> contract::kv::Kv for KvService<R> {
    type Raft = R;
    type Request = Request;
    type Reply = Reply;
    type Server<T: 'static> = KvServer<R, T>;
    type Clerk<C: contract::Transport<Request = Request, Reply = Reply>> = crate::Clerk<C>;

    fn clerk<C: contract::Transport<Request = Request, Reply = Reply>>(
        ends: C,
        servers: usize,
        client_id: u64,
    ) -> crate::Clerk<C> {
        crate::Clerk::new(ends, servers, client_id)
    }
}

#[cfg(test)]
mod tests {
    //! The server's state machine alone: inputs in, answers out.
    use super::*;
    use crate::replicated::ReplyIo;
    use contract::{HostIo, PeerConfig, Persisted, PersistedSize, Raft};
    use raft::{RaftPeer, Request as RaftRequest};
    use std::sync::Arc;

    type Server = KvServer<RaftPeer, u32>;

    /// Records answers; persists into memory; drops messages. Its clock is
    /// `now_ms`, set by the test.
    #[derive(Default)]
    struct Io {
        now_ms: u64,
        answers: Vec<(u32, Reply)>,
        image: Vec<u8>,
        snapshot: Vec<u8>,
        sent: usize,
    }

    impl HostIo<RaftRequest> for Io {
        fn now_ms(&self) -> u64 {
            self.now_ms
        }
        fn save_raft_state(&mut self, edit: impl FnOnce(&mut Vec<u8>)) {
            edit(&mut self.image);
        }
        fn save_state_and_snapshot(&mut self, edit: impl FnOnce(&mut Vec<u8>), snapshot: Arc<Vec<u8>>) {
            edit(&mut self.image);
            self.snapshot = snapshot.to_vec();
        }
        fn send(&mut self, _peer: usize, _request: RaftRequest) {
            self.sent += 1;
        }
        fn set_timer(&mut self, _at_ms: u64) {}
        fn fail(&mut self, reason: String) {
            panic!("the server failed: {reason}");
        }
    }

    impl PersistedSize for Io {
        fn raft_state_size(&self) -> usize {
            self.image.len()
        }
    }

    impl ReplyIo<RaftRequest, u32, Reply> for Io {
        fn reply(&mut self, token: u32, reply: Reply) {
            self.answers.push((token, reply));
        }
    }

    fn config(me: usize, peers: usize, rng_seed: u64) -> PeerConfig {
        PeerConfig { me, peers, rng_seed, optimisations: contract::Optimisations::NONE }
    }

    fn start(
        me: usize,
        peers: usize,
        persisted: Persisted<'_>,
        max: Option<usize>,
        io: &mut Io,
    ) -> Result<Server, String> {
        Server::start(config(me, peers, 2), persisted, Store::default(), max, io)
    }

    /// Fires the server's Raft timer at its deadline, with the clock there.
    fn fire_timer(s: &mut Server, io: &mut Io, now_ms: u64) {
        let deadline = s.raft().raft().next_deadline_ms();
        io.now_ms = now_ms.max(deadline);
        s.on_timer(io, deadline);
    }

    fn append(client: u64, seq: u64, key: &str, value: &str) -> Request {
        Request { client, seq, op: Op::Append { key: key.into(), value: value.into() } }
    }

    fn get(client: u64, seq: u64, key: &str) -> Request {
        Request { client, seq, op: Op::Get { key: key.into() } }
    }

    /// A one-server cluster that leads: every command commits at once.
    fn leader(max_raft_state: Option<usize>, io: &mut Io) -> Server {
        let mut server =
            Server::start(config(0, 1, 1), Persisted::EMPTY, Store::default(), max_raft_state, io).expect("fresh");
        fire_timer(&mut server, io, 0);
        assert!(server.raft().state().1);
        server
    }

    #[test]
    fn a_retried_write_is_applied_once_and_answered_from_the_table() {
        let mut io = Io::default();
        let mut s = leader(None, &mut io);
        {
            io.now_ms = 1000;
            s.handle_client(&mut io, 1, append(7, 1, "k", "x "));
        }
        {
            io.now_ms = 1001;
            s.handle_client(&mut io, 2, append(7, 1, "k", "x "));
        }
        {
            io.now_ms = 1002;
            s.handle_client(&mut io, 3, get(7, 2, "k"));
        }
        assert_eq!(
            io.answers,
            vec![
                (1, Reply::Ok(Outcome::Done)),
                (2, Reply::Ok(Outcome::Done)),
                (3, Reply::Ok(Outcome::Value("x ".into()))),
            ]
        );
        assert_eq!(s.raft().raft().last_log_index(), 2, "the retry was answered without a new entry");
        // A duplicate that reaches the log anyway (two copies in flight)
        // changes nothing.
        let mut store = Store::default();
        assert_eq!(store.apply(&append(7, 1, "k", "a")), Applied::Written);
        assert_eq!(store.apply(&append(7, 1, "k", "a")), Applied::Duplicate);
        assert_eq!(store.get("k"), "a");
    }

    #[test]
    fn a_request_that_does_not_commit_in_time_is_timed_out() {
        let mut io = Io::default();
        let mut s = start(0, 3, Persisted::EMPTY, None, &mut io).expect("fresh");
        fire_timer(&mut s, &mut io, 0);
        let deadline = io.now_ms;
        for peer in 1..3 {
            let granted = raft::Response::RequestVote { term: 1, granted: true };
            s.handle_raft_response(&mut io, peer, granted);
        }
        assert!(s.raft().state().1, "leads with the votes of both peers");
        {
            io.now_ms = deadline;
            s.handle_client(&mut io, 1, append(1, 1, "k", "v"));
        }
        assert_eq!((s.waiting(), io.answers.len()), (1, 0), "waits for a majority");
        let late = deadline + REQUEST_TIMEOUT_MS;
        fire_timer(&mut s, &mut io, late);
        assert_eq!(io.answers, vec![(1, Reply::TimedOut)]);
        // A higher term seen: the leader steps down and would answer every
        // waiter with WrongLeader.
        {
            io.now_ms = late;
            s.handle_client(&mut io, 2, append(1, 2, "k", "v"));
        }
        let higher = raft::Response::AppendEntries { term: 9, match_index: None, conflict: None };
        s.handle_raft_response(&mut io, 1, higher);
        assert_eq!(io.answers[1], (2, Reply::WrongLeader));
        {
            io.now_ms = late;
            s.handle_client(&mut io, 3, get(1, 3, "k"));
        }
        assert_eq!(io.answers[2], (3, Reply::WrongLeader), "a follower sends the clerk on");
    }

    #[test]
    fn snapshots_round_trip_with_the_duplicate_table() {
        let mut io = Io::default();
        let mut s = leader(Some(200), &mut io);
        for seq in 1..=20 {
            {
                io.now_ms = 1000;
                s.handle_client(&mut io, seq as u32, append(4, seq, "k", "ab"));
            }
        }
        assert!(s.raft().raft().snapshot_index() > 0, "snapshotted as raft state neared 200 bytes");
        assert!(io.image.len() < 200, "raft state {} bytes", io.image.len());
        let persisted = Persisted { raft_state: &io.image, snapshot: &io.snapshot };
        let restarted = start(0, 1, persisted, Some(200), &mut Io::default()).expect("restart");
        assert_eq!(Store::decode(&io.snapshot).unwrap().get("k").len() % 2, 0);
        assert!(restarted.service().is_applied(4, restarted.raft().raft().snapshot_index()), "the table survives");
        let store = restarted.service().clone();
        assert_eq!(Store::decode(&store.encode()), Ok(store));
    }

    #[test]
    fn a_corrupt_snapshot_is_an_error_naming_the_server() {
        let mut io = Io::default();
        let mut s = leader(Some(100), &mut io);
        for seq in 1..=10 {
            {
                io.now_ms = 1000;
                s.handle_client(&mut io, 0, append(4, seq, "k", "ab"));
            }
        }
        let mut bad = io.snapshot.clone();
        bad.truncate(bad.len() / 2);
        let persisted = Persisted { raft_state: &io.image, snapshot: &bad };
        let err = start(0, 1, persisted, Some(100), &mut Io::default()).err().expect("refused");
        assert!(err.starts_with("server 0: corrupt kv snapshot"), "{err}");
        let persisted = Persisted { raft_state: b"garbage", snapshot: &[] };
        let err = start(1, 3, persisted, None, &mut Io::default()).err().expect("a corrupt raft image is refused");
        assert!(err.starts_with("server 1: corrupt raft state"), "{err}");
    }
}
