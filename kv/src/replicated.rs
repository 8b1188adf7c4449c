//! A service that answers clients through Raft, written once for kvraft, the
//! shard controller and shardkv, over any Raft that meets the lab's
//! contract: `Replicated<R, S, T>` is a `contract::RaftHost` of Raft `R`
//! over a [`Service`], plus the clients' requests waiting for their entries.
//!
//! A request becomes a log entry at once (so it is replicated at once, not at
//! the next heartbeat). It is answered only when the entry at the index Raft
//! gave it is applied in the same term: Raft puts one entry at an index per
//! term, so that entry is the request's own. If another entry lands there,
//! leadership is lost, or the entry does not commit in time, the client is
//! told to try elsewhere. `T` is the runtime's token for answering a request.
//!
//! With ReadIndex or lease reads switched on (`contract::Optimisation`), a
//! read the service can answer from its state asks the Raft to confirm it
//! instead (`contract::Raft::read`) and is answered when the Raft says it is
//! safe; a Raft that cannot (not leading, or no entry of its term committed
//! yet) sends it through the log like any request.

use bugs::{on, Bug};
use contract::service::{RaftRequest, RaftResponse};
use contract::{Message, Optimisation, PeerConfig, Persisted, Raft, RaftHost, ReplicatedServer, StateMachine};
use std::collections::BTreeMap;

/// How long a request waits for its entry to be applied before the client is
/// told to try another server (a leader cut off from its majority never
/// learns that it lost).
pub const REQUEST_TIMEOUT_MS: u64 = 500;

/// Snapshot when Raft's durable state reaches this share (per mille) of
/// `maxraftstate`.
pub const SNAPSHOT_AT_PER_MILLE: usize = 900;

/// The replicated state of a service: it applies committed entries and
/// round-trips through snapshots.
pub trait Service: Sized {
    /// A client's request.
    type Request;
    type Reply: Clone;
    /// The answer for a request whose entry went elsewhere or whose server
    /// does not lead.
    const WRONG_LEADER: Self::Reply;
    /// The answer for a request whose entry did not commit in time.
    const TIMED_OUT: Self::Reply;

    /// Applies a committed entry. `answer`: a request waits for this entry,
    /// so return its reply (otherwise the reply is not read, and need not be
    /// built). An error is fatal for the server (a corrupt entry).
    fn apply(&mut self, index: u64, command: &[u8], answer: bool) -> Result<Option<Self::Reply>, String>;
    /// The log entry for a client's request.
    fn encode_request(request: &Self::Request) -> Vec<u8>;
    /// The reply to a request that needs no new entry (a retried write that
    /// was applied already), if it is one.
    fn answer_at_once(&self, _request: &Self::Request) -> Option<Self::Reply> {
        None
    }
    /// The reply to a read from this server's own state, without the log
    /// (`None` for a request that is no read): used once the Raft confirmed
    /// the read, and by `Bug::KvReadWithoutLog` without asking it (a
    /// deposed leader reads stale).
    fn read_locally(&self, _request: &Self::Request) -> Option<Self::Reply> {
        None
    }
    /// Whether `request` only reads, so `read_locally` answers it.
    fn is_read(_request: &Self::Request) -> bool {
        false
    }
    /// The state from a snapshot; an error (never a panic) when it is corrupt.
    fn decode(snapshot: &[u8]) -> Result<Self, String>;
    fn encode(&self) -> Vec<u8>;
}

pub use contract::ReplyIo;

/// A request waiting for its log entry.
struct Waiter<T> {
    term: u64,
    deadline_ms: u64,
    token: T,
}

/// A read waiting for its Raft to confirm it (`contract::ApplyMsg::Read`).
struct ReadWaiter<R, T> {
    /// The term, and whether this server led it, when the read was asked:
    /// a new term, or a lost leadership, sends it elsewhere.
    term: u64,
    as_leader: bool,
    deadline_ms: u64,
    token: T,
    request: R,
}

/// The service as Raft's state machine, with the waiting requests.
struct Waiting<S: Service, T> {
    service: S,
    /// Log index -> the request waiting for the entry there.
    waiting: BTreeMap<u64, Waiter<T>>,
    /// Read id -> the read waiting for its Raft's word (ids grow, and so do
    /// deadlines).
    reads: BTreeMap<u64, ReadWaiter<S::Request, T>>,
    /// Answers decided while applying, handed to the runtime afterwards.
    answers: Vec<(T, S::Reply)>,
    /// Snapshot when Raft's state nears this many bytes; `None`: never.
    max_raft_state: Option<usize>,
}

impl<S: Service, T> Waiting<S, T> {
    /// Every waiting request at or below `index` is answered with `reply`.
    fn release_through(&mut self, index: u64, reply: S::Reply) {
        while let Some(entry) = self.waiting.first_entry() {
            if *entry.key() > index {
                break;
            }
            let waiter = entry.remove();
            self.answers.push((waiter.token, reply.clone()));
        }
    }
}

impl<S: Service, T> StateMachine for Waiting<S, T> {
    fn apply(&mut self, index: u64, term: u64, command: &[u8]) -> Result<(), String> {
        // Entries below this one that were waited for were not applied
        // where they were put (a new leader's log replaced them).
        self.release_through(index - 1, S::WRONG_LEADER);
        let waiter = self.waiting.remove(&index);
        let own_entry = waiter.as_ref().is_some_and(|w| w.term == term || on(Bug::KvReplyForOtherTerm));
        let reply = self.service.apply(index, command, own_entry).map_err(|e| format!("at index {index}: {e}"))?;
        if let Some(waiter) = waiter {
            let reply = if own_entry { reply.expect("a reply was asked for") } else { S::WRONG_LEADER };
            self.answers.push((waiter.token, reply));
        }
        Ok(())
    }

    fn restore(&mut self, index: Option<u64>, snapshot: &[u8]) -> Result<(), String> {
        self.service = S::decode(snapshot)?;
        // Whatever was waited for up to here is in the snapshot, but whether
        // it is the waited-for entry is unknown: let the clients retry.
        self.release_through(index.unwrap_or(u64::MAX), S::WRONG_LEADER);
        Ok(())
    }

    fn read(&mut self, id: u64) {
        // A read past its deadline was answered already.
        if let Some(read) = self.reads.remove(&id) {
            let reply = self.service.read_locally(&read.request).expect("only reads wait for a read");
            self.answers.push((read.token, reply));
        }
    }

    fn read_refused(&mut self, id: u64) {
        if let Some(read) = self.reads.remove(&id) {
            self.answers.push((read.token, S::WRONG_LEADER));
        }
    }

    fn snapshot(&mut self, _index: u64, raft_state_bytes: usize) -> Option<Vec<u8>> {
        let max = self.max_raft_state?;
        let due = raft_state_bytes * 1000 >= max * SNAPSHOT_AT_PER_MILLE;
        (due || bugs::buggify::fire(bugs::buggify::Site::KvSnapshotsEarly)).then(|| self.service.encode())
    }
}

/// One server of a service replicated by Raft `R`.
pub struct Replicated<R: Raft, S: Service, T> {
    host: RaftHost<R, Waiting<S, T>>,
    /// The term of the leadership under which the waiting requests were
    /// started.
    waiting_term: u64,
    /// Whether reads ask the Raft instead of the log (ReadIndex, leases or
    /// follower reads switched on).
    reads_without_log: bool,
    /// Whether a follower serves reads too (follower reads).
    follower_reads: bool,
    /// The id of the next read asked of the Raft.
    next_read_id: u64,
}

impl<R: Raft, S: Service, T> Replicated<R, S, T> {
    /// Starts (or restarts) a server from its durable Raft image and
    /// snapshot, with `service` as the state before any entry.
    /// `max_raft_state`: snapshot as Raft's state nears this many bytes
    /// (`None`: never). Corrupt state is an error naming the server.
    pub fn start(
        config: PeerConfig,
        persisted: Persisted<'_>,
        service: S,
        max_raft_state: Option<usize>,
        io: &mut impl ReplyIo<R::Request, T, S::Reply>,
    ) -> Result<Replicated<R, S, T>, String> {
        let reads_without_log = [Optimisation::ReadIndex, Optimisation::LeaseRead, Optimisation::FollowerRead]
            .iter()
            .any(|o| config.optimisations.contains(*o));
        let follower_reads = config.optimisations.contains(Optimisation::FollowerRead);
        let waiting =
            Waiting { service, waiting: BTreeMap::new(), reads: BTreeMap::new(), answers: Vec::new(), max_raft_state };
        let host = RaftHost::start(config, persisted, waiting, io)?;
        Ok(Replicated { host, waiting_term: 0, reads_without_log, follower_reads, next_read_id: 0 })
    }

    pub fn raft(&self) -> &R {
        self.host.raft()
    }

    /// The last input the host gave the Raft (for the lab's step rules).
    pub fn raft_step(&self) -> &contract::StepRecord {
        self.host.last_step()
    }

    pub fn service(&self) -> &S {
        &self.host.service().service
    }

    /// Whether this server leads (in its own view).
    pub fn is_leader(&self) -> bool {
        self.raft().state().1
    }

    /// How many requests wait for their entries or their reads.
    pub fn waiting(&self) -> usize {
        self.host.service().waiting.len() + self.host.service().reads.len()
    }

    /// A client's request: answered through `io.reply`, at once (by a
    /// follower, or from the service's duplicate table) or once its entry is
    /// applied.
    pub fn handle_client(&mut self, io: &mut impl ReplyIo<R::Request, T, S::Reply>, token: T, request: S::Request) {
        if let Some(reply) = self.service().answer_at_once(&request) {
            io.reply(token, reply);
            return;
        }
        if !self.is_leader() {
            if self.follower_reads && S::is_read(&request) {
                return self.read_without_log(io, token, request);
            }
            io.reply(token, S::WRONG_LEADER); // without encoding the request
            return;
        }
        if bugs::buggify::fire(bugs::buggify::Site::KvSendsClientElsewhere) {
            io.reply(token, S::WRONG_LEADER);
            return;
        }
        if on(Bug::KvReadWithoutLog) {
            if let Some(reply) = self.service().read_locally(&request) {
                io.reply(token, reply);
                return;
            }
        }
        if self.reads_without_log && S::is_read(&request) {
            return self.read_without_log(io, token, request);
        }
        self.submit(io, token, S::encode_request(&request));
    }

    /// Asks the Raft to confirm a read (`contract::Raft::read`); one it
    /// cannot confirm goes through the log (or, on a follower, elsewhere).
    fn read_without_log(&mut self, io: &mut impl ReplyIo<R::Request, T, S::Reply>, token: T, request: S::Request) {
        let (term, as_leader) = self.raft().state();
        self.settle(io); // older waiters of another term go first
        let id = self.next_read_id;
        self.next_read_id += 1;
        let deadline_ms = io.now_ms() + REQUEST_TIMEOUT_MS;
        // Waiting before it is asked: within a lease the answer comes at once.
        let read = ReadWaiter { term, as_leader, deadline_ms, token, request };
        self.host.service_mut().reads.insert(id, read);
        if self.host.read(io, id) {
            if as_leader {
                self.waiting_term = term;
            }
            self.settle(io);
            return;
        }
        let read = self.host.service_mut().reads.remove(&id).expect("a refused read was not served");
        self.submit(io, read.token, S::encode_request(&read.request));
    }

    /// Starts `command` for a client, answered through `io.reply` once its
    /// entry is applied (or at once with `WRONG_LEADER` by a follower).
    pub fn submit(&mut self, io: &mut impl ReplyIo<R::Request, T, S::Reply>, token: T, command: Vec<u8>) {
        let (term, leader) = self.raft().state();
        let now_ms = io.now_ms();
        if !leader {
            io.reply(token, S::WRONG_LEADER);
            return;
        }
        self.settle(io); // older waiters of another term go first
        let times_out_at_once = bugs::buggify::fire(bugs::buggify::Site::KvTimesOutAtOnce);
        let deadline_ms = if times_out_at_once { now_ms } else { now_ms + REQUEST_TIMEOUT_MS };
        let started = self.host.start_command_then(io, command, |waiting, index, term| {
            let waiter = Waiter { term, deadline_ms, token };
            if let Some(old) = waiting.waiting.insert(index, waiter) {
                // The same index in a new term: the old entry is gone.
                waiting.answers.push((old.token, S::WRONG_LEADER));
            }
        });
        assert_eq!(started.map(|(_, t)| t), Some(term), "a leader takes commands in its term");
        self.waiting_term = term;
        self.settle(io);
    }

    /// Starts an entry of the server's own (no client waits for it), if this
    /// server leads; returns whether it did.
    pub fn propose(&mut self, io: &mut impl ReplyIo<R::Request, T, S::Reply>, command: Vec<u8>) -> bool {
        if !self.is_leader() {
            return false;
        }
        let started = self.host.start_command(io, command).is_some();
        self.settle(io);
        started
    }

    /// A Raft request from peer `from`; returns Raft's response.
    pub fn handle_raft_request(
        &mut self,
        io: &mut impl ReplyIo<R::Request, T, S::Reply>,
        from: usize,
        request: R::Request,
    ) -> R::Response {
        let response = self.host.handle_request(io, from, request);
        self.settle(io);
        response
    }

    pub fn handle_raft_response(
        &mut self,
        io: &mut impl ReplyIo<R::Request, T, S::Reply>,
        from: usize,
        response: R::Response,
    ) {
        self.host.handle_response(io, from, response);
        self.settle(io);
    }

    /// A Raft call to `peer` failed. What it changed is answered (applied
    /// entries, lost leadership); deadlines are looked at with the next
    /// input, as they were before the failure.
    pub fn raft_call_failed(&mut self, io: &mut impl ReplyIo<R::Request, T, S::Reply>, peer: usize) {
        self.host.call_failed(io, peer);
        self.release_if_deposed();
        self.send_answers(io);
    }

    pub fn on_timer(&mut self, io: &mut impl ReplyIo<R::Request, T, S::Reply>, at_ms: u64) {
        self.host.on_timer(io, at_ms);
        self.settle(io);
    }

    /// The Raft's asynchronous writes through `ticket` are durable (a
    /// leader may commit, so answers may be due).
    pub fn raft_persisted(&mut self, io: &mut impl ReplyIo<R::Request, T, S::Reply>, ticket: u64) {
        self.host.persisted(io, ticket);
        self.settle(io);
    }

    /// Answers what was decided: applied entries, lost leadership (every
    /// waiter, when this server no longer leads in the term they were
    /// started in), and requests past their deadline.
    fn settle(&mut self, io: &mut impl ReplyIo<R::Request, T, S::Reply>) {
        if !self.release_if_deposed() {
            self.time_out(io.now_ms());
        }
        self.send_answers(io);
    }

    /// Every waiter is sent elsewhere when this server no longer leads in
    /// the term they were started in (a follower's read: when its term
    /// changes); returns whether any was.
    fn release_if_deposed(&mut self) -> bool {
        let (term, leader) = self.host.raft().state();
        let waiting = self.host.service_mut();
        let deposed = !waiting.waiting.is_empty() && (!leader || term != self.waiting_term);
        if deposed {
            waiting.release_through(u64::MAX, S::WRONG_LEADER);
        }
        let stale = |r: &ReadWaiter<S::Request, T>| r.term != term || (r.as_leader && !leader);
        let stale_reads = waiting.reads.values().any(stale);
        if stale_reads {
            let reads = std::mem::take(&mut waiting.reads);
            let (gone, kept): (BTreeMap<_, _>, BTreeMap<_, _>) = reads.into_iter().partition(|(_, r)| stale(r));
            waiting.reads = kept;
            waiting.answers.extend(gone.into_values().map(|r| (r.token, S::WRONG_LEADER)));
        }
        deposed || stale_reads
    }

    /// Requests past their deadline are timed out. Within one leadership,
    /// later indexes were started later: the first waiter has the earliest
    /// deadline.
    fn time_out(&mut self, now_ms: u64) {
        if on(Bug::KvWaitsWhileCutOff) {
            return; // waits until the entry applies or a newer term deposes it
        }
        let waiting = self.host.service_mut();
        while let Some(entry) = waiting.waiting.first_entry() {
            if entry.get().deadline_ms > now_ms {
                break;
            }
            let waiter = entry.remove();
            waiting.answers.push((waiter.token, S::TIMED_OUT));
        }
        while let Some(entry) = waiting.reads.first_entry() {
            if entry.get().deadline_ms > now_ms {
                break;
            }
            let read = entry.remove();
            waiting.answers.push((read.token, S::TIMED_OUT));
        }
    }

    fn send_answers(&mut self, io: &mut impl ReplyIo<R::Request, T, S::Reply>) {
        for (token, reply) in self.host.service_mut().answers.drain(..) {
            io.reply(token, reply);
        }
    }
}

/// Every `Replicated` server whose service starts from its default state
/// is a server of the lab's contract (kvraft's, the shard controller's).
impl<R, S, T> ReplicatedServer<T> for Replicated<R, S, T>
where
    R: Raft,
    S: Service + Default + 'static,
    S::Request: Message,
    S::Reply: Message,
    T: 'static,
{
    type Raft = R;
    type Request = S::Request;
    type Reply = S::Reply;

    fn start(
        config: PeerConfig,
        persisted: Persisted<'_>,
        max_raft_state: Option<usize>,
        io: &mut impl ReplyIo<R::Request, T, S::Reply>,
    ) -> Result<Self, String> {
        Replicated::start(config, persisted, S::default(), max_raft_state, io)
    }

    fn raft(&self) -> &R {
        Replicated::raft(self)
    }

    fn raft_step(&self) -> Option<&contract::StepRecord> {
        Some(Replicated::raft_step(self))
    }

    fn handle_client(&mut self, io: &mut impl ReplyIo<R::Request, T, S::Reply>, token: T, request: S::Request) {
        Replicated::handle_client(self, io, token, request);
    }

    fn handle_raft_request(
        &mut self,
        io: &mut impl ReplyIo<R::Request, T, S::Reply>,
        from: usize,
        request: RaftRequest<Self, T>,
    ) -> RaftResponse<Self, T> {
        Replicated::handle_raft_request(self, io, from, request)
    }

    fn handle_raft_response(
        &mut self,
        io: &mut impl ReplyIo<R::Request, T, S::Reply>,
        from: usize,
        response: RaftResponse<Self, T>,
    ) {
        Replicated::handle_raft_response(self, io, from, response);
    }

    fn raft_call_failed(&mut self, io: &mut impl ReplyIo<R::Request, T, S::Reply>, peer: usize) {
        Replicated::raft_call_failed(self, io, peer);
    }

    fn on_timer(&mut self, io: &mut impl ReplyIo<R::Request, T, S::Reply>, at_ms: u64) {
        Replicated::on_timer(self, io, at_ms);
    }

    fn raft_persisted(&mut self, io: &mut impl ReplyIo<R::Request, T, S::Reply>, ticket: u64) {
        Replicated::raft_persisted(self, io, ticket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::{encode_command, Op, Outcome, Reply, Request};
    use crate::store::Store;

    fn append(client: u64, seq: u64, key: &str, value: &str) -> Request {
        Request { client, seq, op: Op::Append { key: key.into(), value: value.into() } }
    }

    #[test]
    fn another_entry_at_the_waited_index_sends_the_clerk_elsewhere() {
        let mut service: Waiting<Store, u32> = Waiting {
            service: Store::default(),
            waiting: BTreeMap::new(),
            reads: BTreeMap::new(),
            answers: Vec::new(),
            max_raft_state: None,
        };
        service.waiting.insert(5, Waiter { term: 2, deadline_ms: 0, token: 10 });
        service.waiting.insert(6, Waiter { term: 2, deadline_ms: 0, token: 11 });
        // Index 5 committed in term 3 with another client's entry, and 6 was
        // skipped by a snapshot: both waiters must retry elsewhere.
        service.apply(5, 3, &encode_command(&append(9, 1, "k", "v"))).unwrap();
        assert_eq!(service.answers, vec![(10, Reply::WrongLeader)]);
        service.restore(Some(6), &Store::default().encode()).unwrap();
        assert_eq!(service.answers[1], (11, Reply::WrongLeader));
        assert!(service.waiting.is_empty());
        // The same entry in the same term is answered with its outcome.
        service.waiting.insert(7, Waiter { term: 3, deadline_ms: 0, token: 12 });
        service.apply(7, 3, &encode_command(&append(1, 1, "k", "w"))).unwrap();
        assert_eq!(service.answers[2], (12, Reply::Ok(Outcome::Done)));
    }
}
