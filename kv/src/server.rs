//! The kvraft server: the store as a [`Service`] of a `Replicated` server,
//! and the clerks' requests.
//!
//! Reads go through the log too, so every answer is linearizable. Writes the
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

    fn decode(snapshot: &[u8]) -> Result<Store, String> {
        Store::decode(snapshot)
    }

    fn encode(&self) -> Vec<u8> {
        Store::encode(self)
    }
}

/// One kvraft server: the store, replicated.
pub type KvServer<T> = Replicated<Store, T>;

#[cfg(test)]
mod tests {
    //! The server's state machine alone: inputs in, answers out.
    use super::*;
    use crate::replicated::ReplyIo;
    use raft::{Config, HostIo, Request as RaftRequest, StateDelta};

    /// Records answers; persists into memory; drops messages.
    #[derive(Default)]
    struct Io {
        answers: Vec<(u32, Reply)>,
        image: Vec<u8>,
        snapshot: Vec<u8>,
        sent: usize,
    }

    impl HostIo for Io {
        fn persist(&mut self, delta: Option<StateDelta>, snapshot: Option<raft::Snapshot>) {
            if let Some(d) = delta {
                d.apply(&mut self.image);
            }
            if let Some(s) = snapshot {
                self.snapshot = s.to_vec();
            }
        }
        fn send(&mut self, _peer: usize, _request: RaftRequest) {
            self.sent += 1;
        }
        fn set_timer(&mut self, _at_ms: u64) {}
        fn fail(&mut self, reason: String) {
            panic!("the server failed: {reason}");
        }
    }

    impl ReplyIo<u32, Reply> for Io {
        fn reply(&mut self, token: u32, reply: Reply) {
            self.answers.push((token, reply));
        }
    }

    fn append(client: u64, seq: u64, key: &str, value: &str) -> Request {
        Request { client, seq, op: Op::Append { key: key.into(), value: value.into() } }
    }

    fn get(client: u64, seq: u64, key: &str) -> Request {
        Request { client, seq, op: Op::Get { key: key.into() } }
    }

    /// A one-server cluster that leads: every command commits at once.
    fn leader(max_raft_state: Option<usize>, io: &mut Io) -> KvServer<u32> {
        let mut server =
            KvServer::start(Config::new(0, 1, 1), 0, &[], &[], Store::default(), max_raft_state, io).expect("fresh");
        let deadline = server.raft().next_deadline_ms();
        server.on_timer(io, deadline, deadline);
        assert!(server.raft().state().1);
        server
    }

    #[test]
    fn a_retried_write_is_applied_once_and_answered_from_the_table() {
        let mut io = Io::default();
        let mut s = leader(None, &mut io);
        s.handle_client(&mut io, 1, append(7, 1, "k", "x "), 1000);
        s.handle_client(&mut io, 2, append(7, 1, "k", "x "), 1001);
        s.handle_client(&mut io, 3, get(7, 2, "k"), 1002);
        assert_eq!(
            io.answers,
            vec![
                (1, Reply::Ok(Outcome::Done)),
                (2, Reply::Ok(Outcome::Done)),
                (3, Reply::Ok(Outcome::Value("x ".into()))),
            ]
        );
        assert_eq!(s.raft().last_log_index(), 2, "the retry was answered without a new entry");
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
        let mut s = KvServer::start(Config::new(0, 3, 1), 0, &[], &[], Store::default(), None, &mut io).expect("fresh");
        let deadline = s.raft().next_deadline_ms();
        s.on_timer(&mut io, deadline, deadline);
        for peer in 1..3 {
            let granted = raft::Response::RequestVote { term: 1, granted: true };
            s.handle_raft_response(&mut io, peer, granted, deadline);
        }
        assert!(s.raft().state().1, "leads with the votes of both peers");
        s.handle_client(&mut io, 1, append(1, 1, "k", "v"), deadline);
        assert_eq!((s.waiting(), io.answers.len()), (1, 0), "waits for a majority");
        let late = deadline + REQUEST_TIMEOUT_MS;
        let heartbeat = s.raft().next_deadline_ms();
        s.on_timer(&mut io, heartbeat, late);
        assert_eq!(io.answers, vec![(1, Reply::TimedOut)]);
        // A higher term seen: the leader steps down and would answer every
        // waiter with WrongLeader.
        s.handle_client(&mut io, 2, append(1, 2, "k", "v"), late);
        let higher = raft::Response::AppendEntries { term: 9, match_index: None, conflict: None };
        s.handle_raft_response(&mut io, 1, higher, late);
        assert_eq!(io.answers[1], (2, Reply::WrongLeader));
        s.handle_client(&mut io, 3, get(1, 3, "k"), late);
        assert_eq!(io.answers[2], (3, Reply::WrongLeader), "a follower sends the clerk on");
    }

    #[test]
    fn snapshots_round_trip_with_the_duplicate_table() {
        let mut io = Io::default();
        let mut s = leader(Some(200), &mut io);
        for seq in 1..=20 {
            s.handle_client(&mut io, seq as u32, append(4, seq, "k", "ab"), 1000);
        }
        assert!(s.raft().snapshot_index() > 0, "snapshotted as raft state neared 200 bytes");
        assert!(io.image.len() < 200, "raft state {} bytes", io.image.len());
        let restarted: KvServer<u32> = KvServer::start(
            Config::new(0, 1, 2),
            0,
            &io.image,
            &io.snapshot,
            Store::default(),
            Some(200),
            &mut Io::default(),
        )
        .expect("restart");
        assert_eq!(Store::decode(&io.snapshot).unwrap().get("k").len() % 2, 0);
        assert!(restarted.service().is_applied(4, restarted.raft().snapshot_index()), "the table survives");
        let store = restarted.service().clone();
        assert_eq!(Store::decode(&store.encode()), Ok(store));
    }

    #[test]
    fn a_corrupt_snapshot_is_an_error_naming_the_server() {
        let mut io = Io::default();
        let mut s = leader(Some(100), &mut io);
        for seq in 1..=10 {
            s.handle_client(&mut io, 0, append(4, seq, "k", "ab"), 1000);
        }
        let mut bad = io.snapshot.clone();
        bad.truncate(bad.len() / 2);
        let err = KvServer::<u32>::start(
            Config::new(0, 1, 2),
            0,
            &io.image,
            &bad,
            Store::default(),
            Some(100),
            &mut Io::default(),
        )
        .err()
        .expect("refused");
        assert!(err.starts_with("server 0: corrupt kv snapshot"), "{err}");
        let err = KvServer::<u32>::start(
            Config::new(1, 3, 2),
            0,
            b"garbage",
            &[],
            Store::default(),
            None,
            &mut Io::default(),
        )
        .err()
        .expect("a corrupt raft image is refused");
        assert!(err.starts_with("server 1: corrupt raft state"), "{err}");
    }
}
