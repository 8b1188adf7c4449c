//! The Raft host alone: the order of its effects (persist before send and
//! before apply), snapshots handed back by the service, restarts from the
//! persisted image and snapshot, and corrupt state as an error.

use contract::testing::{Effect, RecordingIo};
use contract::{PeerConfig, Persisted, RaftHost, StateMachine};
use raft::{RaftPeer, Request};

type Io = RecordingIo<Request>;

fn config(me: usize, peers: usize, rng_seed: u64) -> PeerConfig {
    PeerConfig { me, peers, rng_seed, optimisations: contract::Optimisations::NONE }
}

fn persist(snapshot: bool) -> Effect<Request> {
    Effect::Persist { snapshot }
}

fn is_send(effect: &Effect<Request>, to: usize) -> bool {
    matches!(effect, Effect::Send { peer, .. } if *peer == to)
}

/// A snapshot's first byte that `Concat` refuses to restore.
const CORRUPT: u8 = 0xff;

/// Appends every command's bytes; snapshots after every `every` entries.
#[derive(Default)]
struct Concat {
    text: Vec<u8>,
    applied: Vec<u64>,
    every: u64,
    sizes_seen: Vec<usize>,
}

impl StateMachine for Concat {
    fn apply(&mut self, index: u64, _term: u64, command: &[u8]) -> Result<(), String> {
        self.text.extend_from_slice(command);
        self.applied.push(index);
        Ok(())
    }
    fn restore(&mut self, index: Option<u64>, snapshot: &[u8]) -> Result<(), String> {
        let (at, text) = snapshot.split_first().ok_or("empty snapshot")?;
        if *at == CORRUPT {
            return Err("corrupt snapshot".into());
        }
        if index.is_some_and(|index| u64::from(*at) != index) {
            return Err(format!("snapshot of index {at} restored at {index:?}"));
        }
        self.text = text.to_vec();
        Ok(())
    }
    fn snapshot(&mut self, index: u64, raft_state_bytes: usize) -> Option<Vec<u8>> {
        self.sizes_seen.push(raft_state_bytes);
        (self.every > 0 && index.is_multiple_of(self.every)).then(|| [&[index as u8][..], &self.text].concat())
    }
}

/// A one-peer cluster that has elected itself.
fn leader(service: Concat, io: &mut Io) -> RaftHost<RaftPeer, Concat> {
    let mut host =
        RaftHost::<RaftPeer, _>::start(config(0, 1, 7), Persisted::EMPTY, service, io).expect("a fresh start");
    let deadline = host.raft().raft().next_deadline_ms();
    io.now_ms = deadline;
    host.on_timer(io, deadline);
    assert!(host.raft().raft().state().1, "a single peer elects itself");
    host
}

#[test]
fn effects_come_persist_first_and_commands_apply_in_order() {
    let mut io = Io::default();
    let mut host = leader(Concat::default(), &mut io);
    io.effects.clear();
    for c in [b"a", b"b", b"c"] {
        host.start_command(&mut io, c.to_vec()).expect("the leader accepts");
    }
    assert_eq!(host.service().text, b"abc");
    assert_eq!(host.service().applied, vec![1, 2, 3]);
    let persists: Vec<_> = io.effects.iter().filter(|e| !matches!(e, Effect::Apply(_))).collect();
    assert!(persists.iter().all(|e| **e == persist(false)), "{:?}", io.effects);
    assert_eq!(persists.len(), 3, "one persist per command");
    assert!(matches!(io.effects[0], Effect::Persist { .. }), "the write comes before the apply");
    assert_eq!(host.service().sizes_seen.last().copied(), Some(io.raft_state.len()), "the persisted size");
}

#[test]
fn a_snapshot_handed_back_is_persisted_and_restores_a_restart() {
    let mut io = Io::default();
    let mut host = leader(Concat { every: 2, ..Concat::default() }, &mut io);
    for c in [b"x", b"y", b"z"] {
        host.start_command(&mut io, c.to_vec()).expect("the leader accepts");
    }
    assert!(io.effects.contains(&persist(true)), "{:?}", io.effects);
    assert_eq!(io.snapshot.as_slice(), b"\x02xy");
    assert_eq!(host.raft().raft().snapshot_index(), 2);
    let (image, snapshot) = (io.raft_state.clone(), io.snapshot.clone());
    let mut io2 = Io::default();
    let persisted = Persisted { raft_state: &image, snapshot: &snapshot };
    let restarted: RaftHost<RaftPeer, Concat> =
        RaftHost::start(config(0, 1, 8), persisted, Concat::default(), &mut io2)
            .expect("restart from the persisted state");
    assert_eq!(restarted.service().text, b"xy", "restored from the snapshot; entry 3 is replayed once committed");
    assert_eq!(restarted.raft().raft().last_log_index(), 3);
    assert!(matches!(io2.effects.last(), Some(Effect::Timer { .. })), "a restarted peer sets its timer");
}

#[test]
fn corrupt_state_or_snapshot_is_an_error_naming_the_server() {
    let corrupt = Persisted { raft_state: b"garbage", snapshot: &[] };
    let err = RaftHost::<RaftPeer, _>::start(config(2, 3, 1), corrupt, Concat::default(), &mut Io::default())
        .err()
        .expect("a corrupt image is refused");
    assert!(err.starts_with("server 2:") && err.contains("corrupt raft state"), "{err}");
    let mut io = Io::default();
    let mut host = leader(Concat { every: 1, ..Concat::default() }, &mut io);
    host.start_command(&mut io, b"q".to_vec()).expect("the leader accepts");
    let bad_snapshot = Persisted { raft_state: &io.raft_state, snapshot: &[CORRUPT, 9] };
    let err = RaftHost::<RaftPeer, _>::start(config(0, 1, 9), bad_snapshot, Concat::default(), &mut Io::default())
        .err()
        .expect("a snapshot that does not restore is refused");
    assert!(err.starts_with("server 0:") && err.contains("corrupt snapshot"), "{err}");
}

#[test]
fn a_candidate_persists_its_vote_before_asking_for_votes() {
    let mut io = Io::default();
    let mut host: RaftHost<RaftPeer, Concat> =
        RaftHost::start(config(0, 3, 7), Persisted::EMPTY, Concat::default(), &mut io).expect("fresh");
    let deadline = host.raft().raft().next_deadline_ms();
    io.effects.clear();
    io.now_ms = deadline;
    host.on_timer(&mut io, deadline);
    assert_eq!(io.effects[0], persist(false));
    assert!(is_send(&io.effects[1], 1) && is_send(&io.effects[2], 2), "{:?}", io.effects);
    assert!(matches!(io.effects[3], Effect::Timer { at_ms } if at_ms > deadline), "{:?}", io.effects);
    io.now_ms = deadline + 1;
    host.on_timer(&mut io, deadline);
    assert_eq!(io.effects.len(), 4, "a stale timer does nothing");
}
