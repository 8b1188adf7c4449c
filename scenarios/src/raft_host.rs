//! Hosting `raft::Raft` in the simulator, with the lab tester's appliers.
//!
//! `RaftNode` turns sim events into Raft inputs and Raft outputs into sim
//! actions: persist first, then send, then apply. Applied entries go to the
//! tester's `Applier` at once, which runs the lab's checks (`checkLogs`, the
//! out-of-order checks, and in snapshot mode `applierSnap`'s snapshot every
//! 10 entries); a failed check fails the run, like the lab's `log.Fatalf`.

use raft::{Apply, Config, Raft, Request, Response};
use serde::{Deserialize, Serialize};
use sim::time::NANOS_PER_MS;
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
        bincode::serde::decode_from_slice(bytes, bincode::config::standard())
            .map(|(c, _)| c)
            .map_err(|e| format!("a command does not decode: {e}"))
    }
}

/// Messages between Raft nodes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum RaftRpc {
    Request(Request),
    Response(Response),
}

impl Message for RaftRpc {
    fn label(&self) -> &'static str {
        match self {
            RaftRpc::Request(raft::Request::RequestVote { .. }) => "RequestVote",
            RaftRpc::Request(raft::Request::AppendEntries { .. }) => "AppendEntries",
            RaftRpc::Request(raft::Request::InstallSnapshot { .. }) => "InstallSnapshot",
            RaftRpc::Response(_) => "Response",
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
    /// The first apply error (the lab's `applyErr`).
    pub error: Option<String>,
}

impl Applier {
    pub fn new(servers: usize, snapshot_mode: bool) -> Applier {
        Applier {
            logs: vec![Vec::new(); servers],
            last_applied: vec![0; servers],
            max_index: 0,
            snapshot_mode,
            error: None,
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
            bincode::serde::decode_from_slice(data, bincode::config::standard())
                .map_err(|e| format!("server {i}: snapshot decode error: {e}"))?;
        if expected_index.is_some_and(|e| e != index) {
            return Err(format!("server {i} snapshot doesn't match m.SnapshotIndex"));
        }
        self.logs[i] = log;
        self.last_applied[i] = index;
        self.max_index = self.max_index.max(index);
        Ok(())
    }

    /// Handles one applied message of server i. Returns a snapshot for Raft
    /// when one is due (snapshot mode, every SNAPSHOT_INTERVAL entries).
    fn apply(&mut self, i: usize, apply: Apply) -> Result<Option<(u64, Vec<u8>)>, String> {
        match apply {
            Apply::Snapshot { index, data, .. } => {
                assert!(self.snapshot_mode, "raft sends snapshots only after the service made one");
                self.ingest_snapshot(i, &data, Some(index))?;
                Ok(None)
            }
            Apply::Command { index, command, .. } => {
                let cmd = Cmd::decode(&command)?;
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
                if (index + 1) % SNAPSHOT_INTERVAL != 0 {
                    return Ok(None);
                }
                let history: &[Option<Cmd>] = &self.logs[i][..=index as usize];
                let data = bincode::serde::encode_to_vec((index, history), bincode::config::standard())
                    .expect("snapshots encode");
                Ok(Some((index, data)))
            }
        }
    }
}

/// Timer tags are the deadline in milliseconds, so a stale timer is known.
pub struct RaftNode {
    pub raft: Raft,
    me: usize,
    peers: Vec<Addr>,
    applier: Rc<RefCell<Applier>>,
    timer_at_ms: Option<u64>,
}

fn now_ms(ctx: &Ctx<'_, RaftNode>) -> u64 {
    ctx.now() / NANOS_PER_MS
}

impl RaftNode {
    /// Starts (or restarts) server `me` from its persister, like `start1`:
    /// a persisted snapshot is ingested by the applier before Raft starts.
    pub fn start(
        ctx: &mut Ctx<'_, RaftNode>,
        me: usize,
        peers: Vec<Addr>,
        applier: Rc<RefCell<Applier>>,
    ) -> Result<RaftNode, String> {
        use rand::RngCore;
        let seed = ctx.rng().next_u64();
        let image = ctx.persister().raft_state().to_vec();
        let snapshot = ctx.persister().snapshot().to_vec();
        // As the lab's start1: applying restarts from scratch, or from the
        // persisted snapshot (ingested now, like a service would).
        applier.borrow_mut().last_applied[me] = 0;
        if applier.borrow().snapshot_mode && !snapshot.is_empty() {
            applier.borrow_mut().ingest_snapshot(me, &snapshot, None)?;
        }
        let config = Config::new(me, peers.len(), seed);
        let raft = Raft::restart(config, now_ms(ctx), &image, &snapshot)
            .map_err(|e| format!("server {me} cannot restart: {e}"))?;
        let mut node = RaftNode { raft, me, peers, applier, timer_at_ms: None };
        node.flush(ctx);
        Ok(node)
    }

    fn peer_index(&self, addr: Addr) -> usize {
        self.peers.iter().position(|p| *p == addr).expect("raft messages come from peers")
    }

    /// The lab's `Start`.
    pub fn start_command(&mut self, ctx: &mut Ctx<'_, RaftNode>, cmd: &Cmd) -> Option<(u64, u64)> {
        if !self.raft.state().1 {
            return None; // not the leader: nothing to encode or do
        }
        let r = self.raft.start(cmd.encode());
        self.flush(ctx);
        r
    }

    /// Carries out Raft's output: persist, then send, then apply (which may
    /// produce a snapshot, whose output is carried out in turn); then makes
    /// sure a timer is set for Raft's next deadline.
    fn flush(&mut self, ctx: &mut Ctx<'_, RaftNode>) {
        loop {
            let out = self.raft.take_output();
            if out.is_empty() {
                break;
            }
            match (out.persist, out.snapshot) {
                (Some(delta), None) => delta.apply(ctx.persister().raft_state_mut()),
                (delta, Some(snapshot)) => {
                    let mut image = ctx.persister().raft_state().to_vec();
                    if let Some(delta) = delta {
                        delta.apply(&mut image);
                    }
                    ctx.persister().save(image, snapshot);
                }
                (None, None) => {}
            }
            for (peer, request) in out.messages {
                ctx.call(self.peers[peer], RaftRpc::Request(request), ());
            }
            for apply in out.applies {
                let result = self.applier.borrow_mut().apply(self.me, apply);
                match result {
                    Ok(Some((index, data))) => self.raft.snapshot(index, data),
                    Ok(None) => {}
                    Err(e) => {
                        self.applier.borrow_mut().error.get_or_insert(e.clone());
                        ctx.fail(e);
                    }
                }
            }
        }
        let deadline = self.raft.next_deadline_ms();
        if self.timer_at_ms.is_none_or(|t| deadline < t) {
            self.timer_at_ms = Some(deadline);
            let now = ctx.now();
            ctx.set_timer((deadline * NANOS_PER_MS).saturating_sub(now), deadline);
        }
    }
}

impl Node for RaftNode {
    type Msg = RaftRpc;
    type Timer = u64;
    type CallPurpose = ();

    fn on_request(&mut self, ctx: &mut Ctx<'_, Self>, from: Addr, token: ReplyToken, msg: RaftRpc) {
        let RaftRpc::Request(request) = msg else { panic!("raft requests only") };
        let from = self.peer_index(from);
        let response = self.raft.handle_request(from, request, now_ms(ctx));
        self.flush(ctx); // persist before answering
        ctx.reply(token, RaftRpc::Response(response));
    }

    fn on_reply(&mut self, ctx: &mut Ctx<'_, Self>, from: Addr, _: (), reply: Result<RaftRpc, RpcError>) {
        if let Ok(RaftRpc::Response(response)) = reply {
            let from = self.peer_index(from);
            self.raft.handle_response(from, response, now_ms(ctx));
            self.flush(ctx);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, tag: u64) {
        if self.timer_at_ms != Some(tag) {
            return; // superseded by an earlier deadline
        }
        self.timer_at_ms = None;
        self.raft.tick(now_ms(ctx));
        self.flush(ctx);
    }
}
