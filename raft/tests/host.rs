//! The Raft host alone: the order of its effects (persist before send and
//! before apply), snapshots handed back by the service, restarts from the
//! persisted image and snapshot, and corrupt state as an error.

use raft::{Config, HostIo, RaftHost, Request, StateDelta, StateMachine};

/// Effects in the order the host made them.
#[derive(Debug, PartialEq)]
enum Effect {
    Persist { snapshot: Option<Vec<u8>> },
    Send(usize),
    Timer(u64),
    Fail(String),
}

#[derive(Default)]
struct Recorder {
    effects: Vec<Effect>,
    image: Vec<u8>,
    snapshot: Vec<u8>,
}

impl HostIo for Recorder {
    fn persist(&mut self, delta: Option<StateDelta>, snapshot: Option<raft::Snapshot>) {
        if let Some(delta) = delta {
            delta.apply(&mut self.image);
        }
        if let Some(s) = &snapshot {
            self.snapshot = s.to_vec();
        }
        self.effects.push(Effect::Persist { snapshot: snapshot.map(|s| s.to_vec()) });
    }
    fn send(&mut self, peer: usize, _request: Request) {
        self.effects.push(Effect::Send(peer));
    }
    fn set_timer(&mut self, at_ms: u64) {
        self.effects.push(Effect::Timer(at_ms));
    }
    fn fail(&mut self, reason: String) {
        self.effects.push(Effect::Fail(reason));
    }
}

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
    fn restore(&mut self, index: u64, _term: u64, snapshot: &[u8]) -> Result<(), String> {
        let (at, text) = snapshot.split_first().ok_or("empty snapshot")?;
        if u64::from(*at) != index {
            return Err(format!("snapshot of index {at} restored at {index}"));
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
fn leader(service: Concat, io: &mut Recorder) -> RaftHost<Concat> {
    let mut host = RaftHost::start(Config::new(0, 1, 7), 0, &[], &[], service, io).expect("a fresh start");
    let deadline = host.raft().next_deadline_ms();
    host.on_timer(io, deadline, deadline);
    assert!(host.raft().state().1, "a single peer elects itself");
    host
}

#[test]
fn effects_come_persist_first_and_commands_apply_in_order() {
    let mut io = Recorder::default();
    let mut host = leader(Concat::default(), &mut io);
    io.effects.clear();
    for c in [b"a", b"b", b"c"] {
        host.start_command(&mut io, c.to_vec()).expect("the leader accepts");
    }
    assert_eq!(host.service().text, b"abc");
    assert_eq!(host.service().applied, vec![1, 2, 3]);
    assert!(io.effects.iter().all(|e| *e == Effect::Persist { snapshot: None }), "{:?}", io.effects);
    assert_eq!(io.effects.len(), 3, "one persist per command");
    assert_eq!(host.service().sizes_seen.last().copied(), Some(io.image.len()), "raft reports its durable size");
}

#[test]
fn a_snapshot_handed_back_is_persisted_and_restores_a_restart() {
    let mut io = Recorder::default();
    let mut host = leader(Concat { every: 2, ..Concat::default() }, &mut io);
    for c in [b"x", b"y", b"z"] {
        host.start_command(&mut io, c.to_vec()).expect("the leader accepts");
    }
    assert!(io.effects.contains(&Effect::Persist { snapshot: Some(b"\x02xy".to_vec()) }), "{:?}", io.effects);
    assert_eq!(host.raft().snapshot_index(), 2);
    let (image, snapshot) = (io.image.clone(), io.snapshot.clone());
    let mut io2 = Recorder::default();
    let restarted = RaftHost::start(Config::new(0, 1, 8), 0, &image, &snapshot, Concat::default(), &mut io2)
        .expect("restart from the persisted state");
    assert_eq!(restarted.service().text, b"xy", "restored from the snapshot; entry 3 is replayed once committed");
    assert_eq!(restarted.raft().last_log_index(), 3);
    assert!(matches!(io2.effects.last(), Some(Effect::Timer(_))), "a restarted peer sets its timer");
}

#[test]
fn corrupt_state_or_snapshot_is_an_error_naming_the_server() {
    let mut io = Recorder::default();
    let err = RaftHost::start(Config::new(2, 3, 1), 0, b"garbage", &[], Concat::default(), &mut io)
        .err()
        .expect("a corrupt image is refused");
    assert!(err.starts_with("server 2:") && err.contains("corrupt raft state"), "{err}");
    let mut io = Recorder::default();
    let mut host = leader(Concat { every: 1, ..Concat::default() }, &mut io);
    host.start_command(&mut io, b"q".to_vec()).expect("the leader accepts");
    let err = RaftHost::start(Config::new(0, 1, 9), 0, &io.image, &[9, 9], Concat::default(), &mut Recorder::default())
        .err()
        .expect("a snapshot that does not restore is refused");
    assert!(err.starts_with("server 0:") && err.contains("restored at 1"), "{err}");
}

#[test]
fn a_candidate_persists_its_vote_before_asking_for_votes() {
    let mut io = Recorder::default();
    let mut host = RaftHost::start(Config::new(0, 3, 7), 0, &[], &[], Concat::default(), &mut io).expect("fresh");
    let deadline = host.raft().next_deadline_ms();
    io.effects.clear();
    host.on_timer(&mut io, deadline, deadline);
    assert_eq!(io.effects[..3], [Effect::Persist { snapshot: None }, Effect::Send(1), Effect::Send(2)]);
    assert!(matches!(io.effects[3], Effect::Timer(at) if at > deadline), "{:?}", io.effects);
    host.on_timer(&mut io, deadline, deadline + 1);
    assert_eq!(io.effects.len(), 4, "a stale timer does nothing");
}
