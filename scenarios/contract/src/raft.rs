//! A Raft peer as the lab drives it: the [`Raft`] trait an implementation
//! meets, what it starts from, and the I/O its effects go through.

use crate::message::Message;
use crate::view::RaftView;
use std::sync::Arc;

/// Who a peer is, as the lab's `Make(peers, me, ...)` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerConfig {
    /// This peer's index, in `0..peers`. Messages name peers by index.
    pub me: usize,
    /// How many peers the cluster has (a fixed membership, as in the lab).
    pub peers: usize,
    /// The seed of every random choice this incarnation makes (election
    /// timeouts). A new seed comes with every start and restart, drawn from
    /// the run's seed; use nothing else as a source of randomness.
    pub rng_seed: u64,
    /// The optimisations beyond Figure 2 this run switches on: the
    /// implementation's defaults unless the run chose others. Only those
    /// the implementation says it honours are ever in it.
    pub optimisations: crate::Optimisations,
}

/// What a (re)started peer finds in its persister: the last
/// `save_raft_state` or `save_state_and_snapshot`, as the lab's
/// `persister.ReadRaftState()` and `ReadSnapshot()` return them. Both are
/// empty for a peer that never saved anything.
#[derive(Clone, Copy, Debug)]
pub struct Persisted<'a> {
    /// What the last save left as the raft state.
    pub raft_state: &'a [u8],
    /// The snapshot saved with it (empty: none).
    pub snapshot: &'a [u8],
}

impl Persisted<'_> {
    /// A peer that never saved anything.
    pub const EMPTY: Persisted<'static> = Persisted { raft_state: &[], snapshot: &[] };
}

/// What a peer hands its service, in log order, each exactly once per
/// incarnation (the lab's `ApplyMsg` on `applyCh`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyMsg {
    /// A committed command. The lab expects the commands a tester started
    /// at indices 1, 2, 3, ... with no gap: an implementation that puts
    /// entries of its own in the log (a leader's empty entry) hides them
    /// and numbers the rest as the lab does.
    Command {
        /// The lab's index of the command (1, 2, 3, ...).
        index: u64,
        /// The term in which it was started.
        term: u64,
        /// The bytes given to `start_command`.
        command: Arc<[u8]>,
    },
    /// Replace the service's state with a snapshot through `index` (one a
    /// leader sent). Never older than what was applied before it.
    Snapshot {
        /// The last index the snapshot covers.
        index: u64,
        /// The term of the entry at `index`.
        term: u64,
        /// The bytes a service gave to `snapshot`.
        snapshot: Arc<Vec<u8>>,
    },
    /// The read `id` asked for with [`Raft::read`] may be served now, from
    /// the service's state as the applies before this message left it:
    /// every command committed before the read was asked for has been
    /// applied. Only a peer whose leadership (or whose leader's, for a
    /// follower read) was confirmed after the read was asked sends this; one
    /// that lost it never does (the service's deadline answers the client).
    Read {
        /// The id the service gave [`Raft::read`].
        id: u64,
    },
    /// The read `id` asked for with [`Raft::read`] will not be served this
    /// way after all (a follower's leader could not confirm it): the
    /// service answers the client at once, so it tries another server.
    /// A Raft may also stay silent, and leave the read to the service's
    /// deadline.
    ReadRefused {
        /// The id the service gave [`Raft::read`].
        id: u64,
    },
}

/// What the runtime (the simulator, or one day a real network and disk)
/// does for a peer. Every method takes effect in call order.
pub trait HostIo<M> {
    /// This peer's clock in milliseconds (virtual time in the lab; it may
    /// drift from other peers' clocks). The only clock a Raft may read.
    fn now_ms(&self) -> u64;
    /// The lab's `SaveRaftState`, as an edit in place: the raft state after
    /// `edit` is durable before anything else happens. (Rewrite it whole,
    /// or append to it: persisting after an append then costs the appended
    /// bytes only.)
    fn save_raft_state(&mut self, edit: impl FnOnce(&mut Vec<u8>));
    /// The lab's `Save(state, snapshot)`: the edited raft state and the
    /// snapshot become durable together.
    fn save_state_and_snapshot(&mut self, edit: impl FnOnce(&mut Vec<u8>), snapshot: Arc<Vec<u8>>);
    /// An asynchronous `save_raft_state` (the Raft thesis's 10.2.1: a
    /// leader writes its new entries while it sends them): the edit is made
    /// now, and `true` says it is durable already, with every earlier write
    /// (a host whose disk takes no time, and the default, which writes
    /// synchronously). `false`: it becomes durable later, and the host then
    /// calls [`Raft::persisted`] with `ticket` (or a later ticket), once
    /// every write made through it is. A machine crash before that loses
    /// it. A synchronous write makes
    /// every earlier asynchronous one durable with it (their tickets still
    /// come). Tickets are the Raft's own numbers and must grow. Term and
    /// vote still go through [`save_raft_state`](HostIo::save_raft_state):
    /// the lab checks after every step that they are on disk (a vote
    /// answered before it is durable is hashicorp/raft#661's double vote),
    /// so write asynchronously only steps that leave them as they were.
    ///
    /// ```
    /// use contract::HostIo;
    /// let mut io = contract::testing::RecordingIo::<()>::default();
    /// let durable = io.save_raft_state_async(|state| state.push(7), 1);
    /// assert!(durable, "a host without a disk latency writes at once");
    /// ```
    fn save_raft_state_async(&mut self, edit: impl FnOnce(&mut Vec<u8>), ticket: u64) -> bool {
        let _ = ticket;
        self.save_raft_state(edit);
        true
    }
    /// Sends a request to peer `peer` (a labrpc call): its response comes
    /// back through [`Raft::handle_response`], or the call fails
    /// ([`Raft::call_failed`]). It may be lost, delayed, duplicated or
    /// reordered. Send only what rests on state already made durable (the
    /// term and vote it carries; a leader may send entries it has not
    /// written yet if it counts itself toward their commit only once they
    /// are, as the Raft thesis's 10.2.1 allows).
    fn send(&mut self, peer: usize, request: M);
    /// Calls [`Raft::on_timer`] with `at_ms` once this peer's clock reads
    /// `at_ms` or later. Timers are never cancelled: one that is no longer
    /// wanted fires all the same, and the Raft ignores it.
    fn set_timer(&mut self, at_ms: u64);
    /// The peer cannot go on (its state is corrupt): the run fails with
    /// this reason, as the lab's `log.Fatalf`.
    fn fail(&mut self, reason: String);
    /// Whether the machine stopped in the middle of this step (the lab
    /// crashes a server at a write): nothing more the peer does in this
    /// step takes effect, so a Raft may stop early. Checked by the host
    /// after each write.
    fn stopped(&self) -> bool {
        false
    }
}

/// The I/O a Raft acts through: the runtime's, and the service's apply
/// channel.
pub trait RaftIo<M>: HostIo<M> {
    /// Hands a committed command or a leader's snapshot to the service (the
    /// lab's `applyCh`). Apply only what is durable and committed, after
    /// the writes and sends of the same step.
    fn apply(&mut self, msg: ApplyMsg);
}

/// A Raft peer, sans-IO: the lab calls it with each input, and it acts
/// through the [`RaftIo`] it is handed. It never blocks, sleeps, spawns, or
/// reads a clock or a random source of its own.
///
/// The lab's rules, as its tests check them:
/// - `start_command` on a peer that does not believe it leads returns
///   `None` at once, and appends nothing; a leader returns the index the
///   command will have if it commits, and its current term. Commands are
///   numbered 1, 2, 3, ... as they are started.
/// - Every command that commits is applied on every peer, in index order,
///   exactly once per incarnation; a restarted peer applies again the
///   commands after its snapshot (the snapshot itself is restored by the
///   host, see [`Raft::start`]).
/// - `snapshot(index, bytes)` says the service's state through `index` is
///   `bytes`: the peer may drop its log through `index`, persists the
///   snapshot with its state, and sends it to peers that lag behind
///   (InstallSnapshot), whose services get it as [`ApplyMsg::Snapshot`].
/// - A peer that restarts gets what it last saved ([`Persisted`]) and must
///   lose nothing it told anyone about: its term, its vote and its log are
///   durable before any message that depends on them is sent.
/// - Within about five seconds of a majority being able to talk, a leader
///   is elected and commands commit (the lab's 2A-2D bounds).
pub trait Raft: Sized + 'static {
    /// A request one peer sends another.
    type Request: Message;
    /// The answer to a request. A Raft whose messages are all one-way
    /// answers `()`, and sends its replies as requests of its own.
    type Response: Message;
    /// The optional read-only view: `Self` if the implementation offers
    /// one, else [`NoView`](crate::NoView).
    type View: RaftView<Self::Request, Self::Response>;

    /// Starts (or restarts, the lab's `Make`) a peer from what its persister
    /// holds. Corrupt state is an `Err` naming what is wrong, never a panic.
    /// The service is restored from `persisted.snapshot` by its host before
    /// this is called: do not hand that snapshot to the service again, and
    /// apply only what follows it.
    fn start(config: PeerConfig, persisted: Persisted<'_>, io: &mut impl RaftIo<Self::Request>)
        -> Result<Self, String>;

    /// (current term, whether this peer believes it leads): the lab's
    /// `GetState`.
    fn state(&self) -> (u64, bool);

    /// The lab's `Start`: appends `command` if this peer leads, and returns
    /// (index, term); `None` on a peer that does not lead.
    fn start_command(&mut self, io: &mut impl RaftIo<Self::Request>, command: Vec<u8>) -> Option<(u64, u64)>;

    /// The lab's `Snapshot`: the service's state through `index` (an index
    /// the service was given) is `snapshot`. It may come for an index the
    /// peer's own snapshot already covers (a leader's snapshot installed
    /// meanwhile): ignore it then.
    fn snapshot(&mut self, io: &mut impl RaftIo<Self::Request>, index: u64, snapshot: Vec<u8>);

    /// A request from peer `from`. The returned response is sent once this
    /// returns, after everything the request made durable.
    fn handle_request(
        &mut self,
        io: &mut impl RaftIo<Self::Request>,
        from: usize,
        request: Self::Request,
    ) -> Self::Response;

    /// Peer `from`'s response to a request this peer sent it. Nothing links
    /// a response to its request (they may be duplicated, lost or
    /// reordered): a response must say what it answers (its term, how far
    /// the follower's log now matches, ...).
    fn handle_response(&mut self, io: &mut impl RaftIo<Self::Request>, from: usize, response: Self::Response);

    /// A request to `peer` got no response (labrpc's `Call` returning
    /// false): the request or its response was lost, or the peer is down
    /// or cut off; it comes when labrpc would say so (up to seven seconds
    /// later for a dead peer). Responses, like requests, may also come
    /// twice or out of order. Nothing by default.
    fn call_failed(&mut self, _io: &mut impl RaftIo<Self::Request>, _peer: usize) {}

    /// Whether [`Raft::call_failed`] does anything. A Raft that keeps the
    /// default says `false`, and its host then skips the step a failed call
    /// would be (nothing is recorded or checked for it): a run with peers
    /// down fails thousands of calls.
    ///
    /// ```
    /// # use contract::{NoView, PeerConfig, Persisted, Raft, RaftIo};
    /// // A Raft that learns nothing from a call that got no answer.
    /// struct Deaf;
    /// impl Raft for Deaf {
    ///     const HEARS_FAILED_CALLS: bool = false;
    ///     type Request = ();
    ///     type Response = ();
    ///     type View = NoView;
    ///     fn start(_: PeerConfig, _: Persisted<'_>, _: &mut impl RaftIo<()>) -> Result<Deaf, String> {
    ///         Ok(Deaf)
    ///     }
    ///     fn state(&self) -> (u64, bool) { (0, false) }
    ///     fn start_command(&mut self, _: &mut impl RaftIo<()>, _: Vec<u8>) -> Option<(u64, u64)> { None }
    ///     fn snapshot(&mut self, _: &mut impl RaftIo<()>, _: u64, _: Vec<u8>) {}
    ///     fn handle_request(&mut self, _: &mut impl RaftIo<()>, _: usize, _: ()) {}
    ///     fn handle_response(&mut self, _: &mut impl RaftIo<()>, _: usize, _: ()) {}
    ///     fn on_timer(&mut self, _: &mut impl RaftIo<()>, _: u64) {}
    /// }
    /// assert!(!Deaf::HEARS_FAILED_CALLS);
    /// ```
    const HEARS_FAILED_CALLS: bool = true;

    /// A timer set with [`HostIo::set_timer`] fired. Timers are never
    /// cancelled, and a service may pass on timers of its own: a call for
    /// a time the peer no longer waits for must be ignored (keep one chain
    /// of timers, not one per moved deadline). Timers set before a crash
    /// never fire in the restarted peer.
    fn on_timer(&mut self, io: &mut impl RaftIo<Self::Request>, at_ms: u64);

    /// A read without a log entry (ReadIndex or a lease, when the run
    /// switched [`Optimisation::ReadIndex`](crate::Optimisation::ReadIndex)
    /// or [`Optimisation::LeaseRead`](crate::Optimisation::LeaseRead) on; on
    /// a follower, with [`Optimisation::FollowerRead`](crate::Optimisation::FollowerRead)):
    /// `true` promises [`ApplyMsg::Read`] with `id` once the read is safe,
    /// if this peer is still in the same term and role then; `false` (the
    /// default, and the answer of a peer that cannot serve it: not leading,
    /// or a leader whose term has no committed entry yet) means the service
    /// must put the read through the log (a follower's service sends the
    /// client to the leader).
    ///
    /// ```
    /// # use contract::{ApplyMsg, NoView, PeerConfig, Persisted, Raft, RaftIo};
    /// // A Raft that never serves reads without the log keeps the default.
    /// struct LogOnly;
    /// impl Raft for LogOnly {
    ///     type Request = ();
    ///     type Response = ();
    ///     type View = NoView;
    ///     fn start(_: PeerConfig, _: Persisted<'_>, _: &mut impl RaftIo<()>) -> Result<Self, String> {
    ///         Ok(LogOnly)
    ///     }
    ///     fn state(&self) -> (u64, bool) { (1, true) }
    ///     fn start_command(&mut self, _: &mut impl RaftIo<()>, _: Vec<u8>) -> Option<(u64, u64)> { None }
    ///     fn snapshot(&mut self, _: &mut impl RaftIo<()>, _: u64, _: Vec<u8>) {}
    ///     fn handle_request(&mut self, _: &mut impl RaftIo<()>, _: usize, _: ()) {}
    ///     fn handle_response(&mut self, _: &mut impl RaftIo<()>, _: usize, _: ()) {}
    ///     fn on_timer(&mut self, _: &mut impl RaftIo<()>, _: u64) {}
    /// }
    /// let mut io = contract::testing::RecordingIo::<()>::default();
    /// assert!(!LogOnly.read(&mut io, 7), "the service puts the read through the log");
    /// ```
    fn read(&mut self, _io: &mut impl RaftIo<Self::Request>, _id: u64) -> bool {
        false
    }

    /// The writes made with [`HostIo::save_raft_state_async`] through
    /// `ticket` are durable now. Nothing by default (a Raft that never
    /// writes asynchronously).
    fn persisted(&mut self, _io: &mut impl RaftIo<Self::Request>, _ticket: u64) {}

    /// The read-only view of this peer, when `View` is `Self`.
    fn view(&self) -> Option<&Self::View> {
        None
    }
}
