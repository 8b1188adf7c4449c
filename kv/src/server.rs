//! The kvraft server: a `raft::RaftHost` whose service is the store, plus
//! the clerks' requests waiting for their entries.
//!
//! A request from a clerk becomes a log entry at once (so operations are
//! replicated at once, not at the next heartbeat). The server answers only
//! when the entry at the index Raft gave it is applied with the same term;
//! if another entry lands there, leadership is lost, or the entry does not
//! commit in time, the clerk is told to try elsewhere. Reads go through the
//! log too, so every answer is linearizable. Writes the store has applied
//! already are answered at once (a retry of an operation that committed).

use crate::rpc::{decode_command, encode_command, Op, Outcome, Reply, Request};
use crate::store::{Applied, Store};
use raft::{Config, HostIo, RaftHost, StateMachine};
use std::collections::BTreeMap;

/// How long a request waits for its entry to be applied before the clerk is
/// told to try another server (a leader cut off from its majority never
/// learns that it lost).
pub const REQUEST_TIMEOUT_MS: u64 = 500;

/// Snapshot when Raft's durable state reaches this share (per mille) of
/// `maxraftstate`.
pub const SNAPSHOT_AT_PER_MILLE: usize = 900;

/// Where a server's effects go: Raft's (persist, send, timers) and the
/// answers to clerks, each answering the request its token came with.
pub trait KvIo<T>: HostIo {
    fn reply(&mut self, token: T, reply: Reply);
}

/// A request waiting for its log entry.
struct Waiter<T> {
    term: u64,
    client: u64,
    seq: u64,
    deadline_ms: u64,
    token: T,
}

/// The store as a Raft service, with the waiting requests.
pub struct KvService<T> {
    store: Store,
    /// Log index -> the request waiting for the entry there.
    waiting: BTreeMap<u64, Waiter<T>>,
    /// Answers decided while applying, handed to the runtime afterwards.
    answers: Vec<(T, Reply)>,
    /// Snapshot when Raft's state nears this many bytes; `None`: never.
    max_raft_state: Option<usize>,
}

impl<T> KvService<T> {
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Every waiting request at or below `index` is answered with `reply`.
    fn release_through(&mut self, index: u64, reply: Reply) {
        while let Some(entry) = self.waiting.first_entry() {
            if *entry.key() > index {
                break;
            }
            let waiter = entry.remove();
            self.answers.push((waiter.token, reply.clone()));
        }
    }

    fn answer(&mut self, index: u64, term: u64, request: &Request, applied: Applied) {
        let Some(waiter) = self.waiting.remove(&index) else { return };
        let same_entry = waiter.term == term && waiter.client == request.client && waiter.seq == request.seq;
        let reply = match (same_entry, &request.op) {
            (false, _) => Reply::WrongLeader,
            (true, Op::Get { key }) => Reply::Ok(Outcome::Value(self.store.get(key).to_string())),
            (true, _) => {
                debug_assert!(applied != Applied::Read, "writes are written or duplicates");
                Reply::Ok(Outcome::Done)
            }
        };
        self.answers.push((waiter.token, reply));
    }
}

impl<T> StateMachine for KvService<T> {
    fn apply(&mut self, index: u64, term: u64, command: &[u8]) -> Result<(), String> {
        let request = decode_command(command).map_err(|e| format!("at index {index}: {e}"))?;
        let applied = self.store.apply(&request);
        // Entries below this one that were waited for were not applied
        // where they were put (a new leader's log replaced them).
        self.release_through(index - 1, Reply::WrongLeader);
        self.answer(index, term, &request, applied);
        Ok(())
    }

    fn restore(&mut self, index: u64, _term: u64, snapshot: &[u8]) -> Result<(), String> {
        self.store = Store::decode(snapshot)?;
        // Whatever was waited for up to here is in the snapshot, but whether
        // it is the waited-for entry is unknown: let the clerks retry.
        self.release_through(index, Reply::WrongLeader);
        Ok(())
    }

    fn snapshot(&mut self, _index: u64, raft_state_bytes: usize) -> Option<Vec<u8>> {
        let max = self.max_raft_state?;
        (raft_state_bytes * 1000 >= max * SNAPSHOT_AT_PER_MILLE).then(|| self.store.encode())
    }
}

/// One kvraft server.
pub struct KvServer<T> {
    host: RaftHost<KvService<T>>,
    /// The term of the leadership under which the waiting requests were
    /// started.
    waiting_term: u64,
}

impl<T> KvServer<T> {
    /// Starts (or restarts) a server from its durable Raft image and
    /// snapshot. `max_raft_state`: snapshot as Raft's state nears this many
    /// bytes (`None`: never). Corrupt state is an error naming the server.
    pub fn start(
        config: Config,
        now_ms: u64,
        image: &[u8],
        snapshot: &[u8],
        max_raft_state: Option<usize>,
        io: &mut impl KvIo<T>,
    ) -> Result<KvServer<T>, String> {
        let service =
            KvService { store: Store::default(), waiting: BTreeMap::new(), answers: Vec::new(), max_raft_state };
        let host = RaftHost::start(config, now_ms, image, snapshot, service, io)?;
        Ok(KvServer { host, waiting_term: 0 })
    }

    pub fn raft(&self) -> &raft::Raft {
        self.host.raft()
    }

    pub fn store(&self) -> &Store {
        self.host.service().store()
    }

    /// How many requests wait for their entries.
    pub fn waiting(&self) -> usize {
        self.host.service().waiting.len()
    }

    /// A clerk's request; it is answered through `io.reply`, now or later.
    pub fn handle_client(&mut self, io: &mut impl KvIo<T>, token: T, request: Request, now_ms: u64) {
        let is_write = !matches!(request.op, Op::Get { .. });
        if is_write && self.store().is_applied(request.client, request.seq) {
            io.reply(token, Reply::Ok(Outcome::Done));
            return;
        }
        let (term, leader) = self.raft().state();
        if !leader {
            io.reply(token, Reply::WrongLeader);
            return;
        }
        self.settle(io, now_ms); // older waiters of another term go first
        let (client, seq) = (request.client, request.seq);
        let deadline_ms = now_ms + REQUEST_TIMEOUT_MS;
        let started = self.host.start_command_then(io, encode_command(&request), |service, index, term| {
            let waiter = Waiter { term, client, seq, deadline_ms, token };
            if let Some(old) = service.waiting.insert(index, waiter) {
                // The same index in a new term: the old entry is gone.
                service.answers.push((old.token, Reply::WrongLeader));
            }
        });
        assert_eq!(started.map(|(_, t)| t), Some(term), "a leader takes commands in its term");
        self.waiting_term = term;
        self.settle(io, now_ms);
    }

    /// A Raft request from peer `from`; returns Raft's response.
    pub fn handle_raft_request(
        &mut self,
        io: &mut impl KvIo<T>,
        from: usize,
        request: raft::Request,
        now_ms: u64,
    ) -> raft::Response {
        let response = self.host.handle_request(io, from, request, now_ms);
        self.settle(io, now_ms);
        response
    }

    pub fn handle_raft_response(&mut self, io: &mut impl KvIo<T>, from: usize, response: raft::Response, now_ms: u64) {
        self.host.handle_response(io, from, response, now_ms);
        self.settle(io, now_ms);
    }

    pub fn on_timer(&mut self, io: &mut impl KvIo<T>, at_ms: u64, now_ms: u64) {
        self.host.on_timer(io, at_ms, now_ms);
        self.settle(io, now_ms);
    }

    /// Answers what was decided: applied entries, lost leadership (every
    /// waiter, when this server no longer leads in the term they were
    /// started in), and requests past their deadline.
    fn settle(&mut self, io: &mut impl KvIo<T>, now_ms: u64) {
        let (term, leader) = self.host.raft().state();
        let service = self.host.service_mut();
        if !service.waiting.is_empty() {
            if !leader || term != self.waiting_term {
                service.release_through(u64::MAX, Reply::WrongLeader);
            } else {
                // Within one leadership, later indexes were started later:
                // the first waiter has the earliest deadline.
                while let Some(entry) = service.waiting.first_entry() {
                    if entry.get().deadline_ms > now_ms {
                        break;
                    }
                    let waiter = entry.remove();
                    service.answers.push((waiter.token, Reply::TimedOut));
                }
            }
        }
        for (token, reply) in service.answers.drain(..) {
            io.reply(token, reply);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The server's state machine alone: inputs in, answers out.
    use super::*;
    use raft::{Request as RaftRequest, StateDelta};

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

    impl KvIo<u32> for Io {
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
        let mut server = KvServer::start(Config::new(0, 1, 1), 0, &[], &[], max_raft_state, io).expect("fresh");
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
    fn another_entry_at_the_waited_index_sends_the_clerk_elsewhere() {
        let mut service: KvService<u32> =
            KvService { store: Store::default(), waiting: BTreeMap::new(), answers: Vec::new(), max_raft_state: None };
        service.waiting.insert(5, Waiter { term: 2, client: 1, seq: 1, deadline_ms: 0, token: 10 });
        service.waiting.insert(6, Waiter { term: 2, client: 2, seq: 1, deadline_ms: 0, token: 11 });
        // Index 5 committed in term 3 with another client's entry, and 6 was
        // skipped by a snapshot: both waiters must retry elsewhere.
        service.apply(5, 3, &encode_command(&append(9, 1, "k", "v"))).unwrap();
        assert_eq!(service.answers, vec![(10, Reply::WrongLeader)]);
        service.restore(6, 3, &Store::default().encode()).unwrap();
        assert_eq!(service.answers[1], (11, Reply::WrongLeader));
        assert!(service.waiting.is_empty());
        // The same entry in the same term is answered with its outcome.
        service.waiting.insert(7, Waiter { term: 3, client: 1, seq: 1, deadline_ms: 0, token: 12 });
        service.apply(7, 3, &encode_command(&append(1, 1, "k", "w"))).unwrap();
        assert_eq!(service.answers[2], (12, Reply::Ok(Outcome::Done)));
    }

    #[test]
    fn a_request_that_does_not_commit_in_time_is_timed_out() {
        let mut io = Io::default();
        let mut s = KvServer::start(Config::new(0, 3, 1), 0, &[], &[], None, &mut io).expect("fresh");
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
        let restarted: KvServer<u32> =
            KvServer::start(Config::new(0, 1, 2), 0, &io.image, &io.snapshot, Some(200), &mut Io::default())
                .expect("restart");
        assert_eq!(Store::decode(&io.snapshot).unwrap().get("k").len() % 2, 0);
        assert!(restarted.store().is_applied(4, restarted.raft().snapshot_index()), "the table survives");
        let store = restarted.store().clone();
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
        let err = KvServer::<u32>::start(Config::new(0, 1, 2), 0, &io.image, &bad, Some(100), &mut Io::default())
            .err()
            .expect("refused");
        assert!(err.starts_with("server 0: corrupt kv snapshot"), "{err}");
        let err = KvServer::<u32>::start(Config::new(1, 3, 2), 0, b"garbage", &[], None, &mut Io::default())
            .err()
            .expect("a corrupt raft image is refused");
        assert!(err.starts_with("server 1: corrupt raft state"), "{err}");
    }
}
