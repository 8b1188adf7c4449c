//! Hosting any Raft of the contract in the simulator, with the lab
//! tester's appliers.
//!
//! `RaftNode<R>` is a `contract::RaftHost` of Raft `R` whose service is the
//! tester's `Applier`: it runs the lab's checks
//! (`checkLogs`, the out-of-order checks, and in snapshot mode
//! `applierSnap`'s snapshot every 10 entries) on every applied entry; a
//! failed check fails the run, like the lab's `log.Fatalf`.

use crate::host::raft_io::{peer_index, raft_status, start_host, RaftCall, RaftCarrier, SimIo};
use contract::{Raft, RaftHost, StateMachine};
use serde::{Deserialize, Serialize};
use sim::{Addr, Ctx, Message, Node, ReplyToken, RpcError};
use std::cell::RefCell;
use std::rc::Rc;

/// The lab's snapshot interval (SnapShotInterval).
pub const SNAPSHOT_INTERVAL: u64 = 10;

/// What the tester puts in the log: the lab uses ints, and strings in
/// TestRPCBytes2B.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cmd {
    Int(i64),
    Str(String),
}

impl Cmd {
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(16);
        bincode::serde::encode_into_std_write(self, &mut bytes, bincode::config::standard()).expect("commands encode");
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Result<Cmd, String> {
        bincode::serde::decode_from_slice(bytes, bincode::config::standard().with_limit::<{ 1 << 24 }>())
            .map(|(c, _)| c)
            .map_err(|e| format!("a command does not decode: {e}"))
    }
}

/// Messages between Raft nodes: a Raft's requests and responses.
#[derive(Clone, Debug, Serialize)]
pub enum RaftRpc<Req, Resp> {
    Request(Req),
    Response(Resp),
}

/// The messages of Raft `R`.
pub type RaftMsg<R> = RaftRpc<<R as Raft>::Request, <R as Raft>::Response>;

impl<Req: contract::Message, Resp: contract::Message> Message for RaftRpc<Req, Resp> {
    fn label(&self) -> &'static str {
        match self {
            RaftRpc::Request(request) => request.label(),
            RaftRpc::Response(response) => response.label(),
        }
    }

    /// The implementation's own size of the message, and one byte for which
    /// of the two it is (what bincode gives the enum).
    fn wire_size(&self) -> usize {
        1 + match self {
            RaftRpc::Request(request) => request.wire_size(),
            RaftRpc::Response(response) => response.wire_size(),
        }
    }
}

/// The tester's record of what each server applied (the lab's `cfg.logs`,
/// which survives crashes and restarts).
#[derive(Debug)]
pub struct Applier {
    /// `logs[i][index]`: what server i applied at index.
    pub logs: Vec<Vec<Option<Cmd>>>,
    /// Snapshot mode only: the last index server i applied.
    pub last_applied: Vec<u64>,
    pub max_index: u64,
    pub snapshot_mode: bool,
    /// Snapshot mode: server i snapshots after every `snapshot_every[i]`
    /// entries (the lab's SnapShotInterval for all; swarm runs vary it per
    /// server so that snapshots and InstallSnapshots fall at different
    /// points).
    pub snapshot_every: Vec<u64>,
    /// The first apply error (the lab's `applyErr`).
    pub error: Option<String>,
    /// `encoded[i]`: server i's log, a prefix of it encoded as a snapshot
    /// encodes it, so each snapshot encodes only the entries after the
    /// last (the lab re-encodes the whole log every 10 entries).
    encoded: Vec<EncodedLog>,
}

/// A prefix of one server's applied log, encoded entry after entry.
#[derive(Debug, Default)]
struct EncodedLog {
    /// How many entries (from index 0) `bytes` holds.
    entries: usize,
    bytes: Vec<u8>,
}

impl EncodedLog {
    /// Forget the prefix (the log it encodes changed).
    fn clear(&mut self) {
        self.entries = 0;
        self.bytes.clear();
    }

    /// The snapshot `(index, log[..=index])` in bincode's standard
    /// encoding, byte for byte what encoding the pair at once gives.
    fn snapshot(&mut self, log: &[Option<Cmd>], index: u64) -> Vec<u8> {
        let through = index as usize + 1;
        if self.entries > through {
            self.clear();
        }
        for entry in &log[self.entries..through] {
            bincode::serde::encode_into_std_write(entry, &mut self.bytes, bincode::config::standard())
                .expect("commands encode");
        }
        self.entries = through;
        let mut data = Vec::with_capacity(self.bytes.len() + 20);
        // A tuple is its fields in order; a slice, its length (u64) first.
        bincode::serde::encode_into_std_write((index, through as u64), &mut data, bincode::config::standard())
            .expect("integers encode");
        data.extend_from_slice(&self.bytes);
        data
    }
}

impl Applier {
    pub fn new(servers: usize, snapshot_mode: bool) -> Applier {
        Applier {
            logs: vec![Vec::new(); servers],
            last_applied: vec![0; servers],
            max_index: 0,
            snapshot_mode,
            snapshot_every: vec![SNAPSHOT_INTERVAL; servers],
            error: None,
            encoded: (0..servers).map(|_| EncodedLog::default()).collect(),
        }
    }

    pub fn get(&self, server: usize, index: u64) -> Option<&Cmd> {
        self.logs[server].get(index as usize).and_then(Option::as_ref)
    }

    /// `checkLogs`: what server i applies at `index` must match every other
    /// server's entry there; then it is recorded.
    fn check_logs(&mut self, i: usize, index: u64, cmd: Cmd) -> Result<(), String> {
        for j in 0..self.logs.len() {
            if let Some(old) = self.get(j, index) {
                if *old != cmd {
                    return Err(format!("commit index={index} server={i} {cmd:?} != server={j} {old:?}"));
                }
            }
        }
        let log = &mut self.logs[i];
        if log.len() <= index as usize {
            log.resize(index as usize + 1, None);
        }
        if (index as usize) < self.encoded[i].entries && log[index as usize].as_ref() != Some(&cmd) {
            self.encoded[i].clear();
        }
        log[index as usize] = Some(cmd);
        self.max_index = self.max_index.max(index);
        if index > 1 && self.get(i, index - 1).is_none() {
            return Err(format!("server {i} apply out of order {index}"));
        }
        Ok(())
    }

    /// `ingestSnap`: the snapshot holds (last index, every command up to it).
    pub fn ingest_snapshot(&mut self, i: usize, data: &[u8], expected_index: Option<u64>) -> Result<(), String> {
        let ((index, log), _): ((u64, Vec<Option<Cmd>>), usize) =
            bincode::serde::decode_from_slice(data, bincode::config::standard().with_limit::<{ 1 << 30 }>())
                .map_err(|e| format!("server {i}: snapshot decode error: {e}"))?;
        if expected_index.is_some_and(|e| e != index) {
            return Err(format!("server {i} snapshot doesn't match m.SnapshotIndex"));
        }
        self.logs[i] = log;
        self.encoded[i].clear();
        self.last_applied[i] = index;
        self.max_index = self.max_index.max(index);
        Ok(())
    }

    /// Handles one command server i applied at `index`. Returns a snapshot
    /// for Raft when one is due (snapshot mode, every `snapshot_every[i]`
    /// entries).
    fn apply(&mut self, i: usize, index: u64, command: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let cmd = Cmd::decode(command)?;
        if self.snapshot_mode && index != self.last_applied[i] + 1 {
            return Err(format!(
                "server {i} apply out of order, expected index {}, got {index}",
                self.last_applied[i] + 1
            ));
        }
        self.check_logs(i, index, cmd)?;
        if !self.snapshot_mode {
            return Ok(None);
        }
        self.last_applied[i] = index;
        if !(index + 1).is_multiple_of(self.snapshot_every[i]) {
            return Ok(None);
        }
        let data = self.encoded[i].snapshot(&self.logs[i], index);
        debug_assert_eq!(
            data,
            bincode::serde::encode_to_vec((index, &self.logs[i][..=index as usize]), bincode::config::standard())
                .expect("snapshots encode"),
            "an incrementally encoded snapshot is the whole log's encoding"
        );
        Ok(Some(data))
    }
}

/// The lab's applier as a Raft-backed service: every applied command goes
/// through the tester's checks, and in snapshot mode a snapshot is handed
/// back every SNAPSHOT_INTERVAL entries.
pub struct LabService {
    me: usize,
    applier: Rc<RefCell<Applier>>,
    /// The snapshot the applier produced with the last apply, if any.
    due: Option<Vec<u8>>,
}

impl LabService {
    /// As the lab's start1: a new instance applies from scratch, or from
    /// the persisted snapshot (restored by the host).
    pub fn new(me: usize, applier: Rc<RefCell<Applier>>) -> LabService {
        applier.borrow_mut().last_applied[me] = 0;
        LabService { me, applier, due: None }
    }

    fn record(&self, result: Result<(), String>) -> Result<(), String> {
        if let Err(e) = &result {
            self.applier.borrow_mut().error.get_or_insert(e.clone());
        }
        result
    }
}

impl StateMachine for LabService {
    fn apply(&mut self, index: u64, _term: u64, command: &[u8]) -> Result<(), String> {
        let result = self.applier.borrow_mut().apply(self.me, index, command);
        match result {
            Ok(due) => {
                self.due = due;
                Ok(())
            }
            Err(e) => self.record(Err(e)),
        }
    }

    fn restore(&mut self, index: Option<u64>, snapshot: &[u8]) -> Result<(), String> {
        if !self.applier.borrow().snapshot_mode {
            return self.record(Err(format!("server {}: a snapshot was applied, but none was ever made", self.me)));
        }
        let result = self.applier.borrow_mut().ingest_snapshot(self.me, snapshot, index);
        self.record(result)
    }

    fn snapshot(&mut self, _index: u64, _raft_state_bytes: usize) -> Option<Vec<u8>> {
        self.due.take()
    }
}

/// A Raft peer with the lab's applier, hosted in the simulator.
pub struct RaftNode<R: Raft> {
    pub host: RaftHost<R, LabService>,
    peers: Vec<Addr>,
}

impl<R: Raft> RaftCarrier for RaftNode<R> {
    type Raft = R;
    fn raft_request(request: R::Request) -> RaftMsg<R> {
        RaftRpc::Request(request)
    }
    fn raft_timer(at_ms: u64) -> u64 {
        at_ms
    }
    fn raft_call(peer: usize) -> RaftCall {
        RaftCall { peer }
    }
}

impl<R: Raft> RaftNode<R> {
    /// Starts (or restarts) server `me` from its persister, like `start1`.
    pub fn start(
        ctx: &mut Ctx<'_, RaftNode<R>>,
        me: usize,
        peers: Vec<Addr>,
        applier: Rc<RefCell<Applier>>,
    ) -> Result<RaftNode<R>, String> {
        let host = start_host(ctx, me, &peers, LabService::new(me, applier))?;
        Ok(RaftNode { host, peers })
    }

    pub fn raft(&self) -> &R {
        self.host.raft()
    }

    /// The lab's `Start`, on any peer as Go's `one()` calls it: a peer
    /// that does not lead must refuse it (and append nothing).
    /// `command` is a `Cmd`, encoded.
    pub fn start_command(&mut self, ctx: &mut Ctx<'_, RaftNode<R>>, command: Vec<u8>) -> Option<(u64, u64)> {
        self.host.start_command(&mut SimIo::new(ctx, &self.peers), command)
    }
}

impl<R: Raft> crate::checks::raft_observer::HostsRaft for RaftNode<R> {
    type Raft = R;
    fn hosted_raft(&self) -> &R {
        self.host.raft()
    }
    fn last_step(&self) -> Option<&contract::StepRecord> {
        Some(self.host.last_step())
    }
}

impl<R: Raft> Node for RaftNode<R> {
    type Msg = RaftMsg<R>;

    fn status(&self) -> Option<(&'static str, u64)> {
        Some(raft_status(self.host.raft()))
    }
    /// Raft's deadline in milliseconds, so a stale timer is known.
    type Timer = u64;
    type CallPurpose = RaftCall;

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, from: Addr, token: ReplyToken, msg: RaftMsg<R>) {
        let RaftRpc::Request(request) = msg else { panic!("raft requests only") };
        let from = peer_index(&self.peers, from);
        let response = self.host.handle_request(&mut SimIo::new(ctx, &self.peers), from, request);
        ctx.reply(token, RaftRpc::Response(response));
    }

    fn on_reply(&mut self, ctx: &mut Ctx<'_, Self>, _from: Addr, call: RaftCall, reply: Result<RaftMsg<R>, RpcError>) {
        let io = &mut SimIo::new(ctx, &self.peers);
        match reply {
            Ok(RaftRpc::Response(response)) => self.host.handle_response(io, call.peer, response),
            Ok(RaftRpc::Request(_)) => panic!("a raft call is answered with a response"),
            Err(_) => self.host.call_failed(io, call.peer),
        }
    }

    fn ignores_failure(&self, _call: &RaftCall) -> bool {
        !R::HEARS_FAILED_CALLS
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, at_ms: u64) {
        self.host.on_timer(&mut SimIo::new(ctx, &self.peers), at_ms);
    }

    fn on_durable(&mut self, ctx: &mut Ctx<'_, Self>, ticket: u64) {
        self.host.persisted(&mut SimIo::new(ctx, &self.peers), ticket);
    }
}
