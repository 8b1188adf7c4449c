//! A run's faults as a schedule (`sim::schedule`): a run that follows the
//! schedule its seed recorded is the same run; a run that follows part of
//! it makes exactly the faults listed (a fault left out is not injected,
//! a message left out gets through, and the healing of a fault left out
//! changes nothing).

use sim::testing::{echo, setup, EchoNode};
use sim::{ms, Choice, CrashMode, Fault, NetConfig, Schedule, Sim, SimConfig};
use std::collections::{BTreeMap, BTreeSet};

/// What a run of the test world did: its trace hash, the choices it
/// made, the faults it logged and the requests the network lost.
struct Ran {
    trace: u64,
    made: Vec<sim::schedule::Entry>,
    faults: Vec<Fault>,
    /// When each fault of `faults` was logged.
    times: Vec<sim::Nanos>,
    requests_dropped: u64,
}

/// Three echo servers on an unreliable, duplicating network; the client
/// calls them while a server is killed and restarted, another paused and
/// resumed, and a link cut and healed. `follow`: a schedule to follow
/// (otherwise the run records one).
fn run(follow: Option<BTreeSet<Choice>>) -> Ran {
    run_shortened(follow, BTreeMap::new())
}

/// As `run`, with the faults `lasting` names healed by the world.
fn run_shortened(follow: Option<BTreeSet<Choice>>, lasting: BTreeMap<Choice, sim::Nanos>) -> Ran {
    let sim = Sim::<EchoNode>::new(SimConfig::new(7));
    let h = sim.handle();
    let following = follow.is_some();
    sim.with_world(|w| match follow {
        Some(listed) => {
            w.follow_schedule(listed);
            w.shorten_faults(lasting);
        }
        None => w.record_schedule(),
    });
    let task = h.clone();
    sim.run(async move {
        let h = task;
        let (client, s) = setup(&h, 3);
        let unreliable = NetConfig { reliable: false, duplicate_per_mille: 200, ..h.net_config() };
        h.inject(Fault::Net(unreliable));
        for round in 0..60u8 {
            match round {
                10 => h.inject(Fault::Kill { server: s[0], mode: CrashMode::Process }),
                20 => h.start(s[0], |_| EchoNode::default()),
                25 => h.inject(Fault::Pause { server: s[1] }),
                30 => h.inject(Fault::Resume { server: s[1] }),
                35 => h.inject(Fault::Link { from: client, to: s[2], enabled: false }),
                45 => h.inject(Fault::Link { from: client, to: s[2], enabled: true }),
                _ => {}
            }
            for &server in &s {
                if (25..30).contains(&round) && server == s[1] {
                    continue; // a call to a paused server waits until it resumes
                }
                let _ = h.call(client, server, echo(vec![round])).await;
            }
            h.sleep(ms(10)).await;
        }
    })
    .expect("the run finishes");
    let trace = sim.stats().trace.hash();
    let (made, logged) = sim.with_world(|w| (w.choices_made().to_vec(), w.fault_log().to_vec()));
    let (times, faults) = logged.into_iter().unzip();
    let requests_dropped = sim.stats().net.requests_dropped;
    assert!(following || !made.is_empty(), "the recorded run made choices");
    Ran { trace, made, faults, times, requests_dropped }
}

fn schedule_of(ran: &Ran) -> Schedule {
    Schedule { scenario: "sim/test".into(), seed: 7, entries: ran.made.clone(), ..Schedule::default() }
}

#[test]
fn a_run_that_follows_its_own_schedule_is_the_same_run() {
    let recorded = run(None);
    let kinds = |c: &Choice| match c {
        Choice::Fault { .. } => 0,
        Choice::DropRequest(_) => 1,
        Choice::DropReply { .. } => 2,
        Choice::Duplicate(_) => 3,
        Choice::Delay(_) => 4,
        _ => 5,
    };
    let seen: BTreeSet<u8> = recorded.made.iter().map(|e| kinds(&e.choice)).collect();
    assert_eq!(
        seen,
        BTreeSet::from([0, 1, 2, 3, 4]),
        "faults, lost requests and replies, duplicates and delays are recorded"
    );
    let text = schedule_of(&recorded).to_text();
    let read = Schedule::parse(&text).expect("the written schedule reads back");
    let followed = run(Some(read.choices()));
    assert_eq!(followed.trace, recorded.trace, "the same run");
    assert_eq!(followed.made, recorded.made);
}

#[test]
fn a_run_that_follows_part_of_a_schedule_makes_only_those_faults() {
    let recorded = run(None);
    let network: BTreeSet<Choice> = recorded.made.iter().map(|e| e.choice.clone()).filter(Choice::is_network).collect();
    let quiet = run(Some(network));
    assert!(quiet.faults.is_empty(), "no fault injected, and no healing logged: {:?}", quiet.faults);
    assert!(quiet.requests_dropped > 0, "the network's faults stay");

    let kill_only: Vec<&sim::schedule::Entry> = recorded.made.iter().filter(|e| e.what.starts_with("kill")).collect();
    assert_eq!(kill_only.len(), 1);
    let only_kill = run(Some(BTreeSet::from([kill_only[0].choice.clone()])));
    assert_eq!(only_kill.requests_dropped, 0, "no message is lost when none is listed");
    assert_eq!(only_kill.faults.len(), 1, "the kill alone: {:?}", only_kill.faults);
    assert!(matches!(only_kill.faults[0], Fault::Kill { .. }));
}

#[test]
fn an_empty_schedule_is_a_run_without_faults_and_a_start_of_a_running_server_does_nothing() {
    let clean = run(Some(BTreeSet::new()));
    assert!(clean.faults.is_empty(), "{:?}", clean.faults);
    assert!(clean.made.is_empty());
    assert_eq!(clean.requests_dropped, 0);
}

#[test]
fn a_shortened_fault_is_healed_by_the_world_when_its_time_is_up() {
    let recorded = run(None);
    let cut = recorded.made.iter().find(|e| e.what.starts_with("link")).expect("the link cut is recorded");
    assert!(cut.healable(), "a cut link can be healed by the world");
    assert!(matches!(cut.choice, Choice::Fault { on: sim::schedule::FaultTarget::Cut { .. }, nth: 0 }));
    let shortened =
        run_shortened(Some(BTreeSet::from([cut.choice.clone()])), BTreeMap::from([(cut.choice.clone(), ms(5))]));
    assert_eq!(shortened.faults.len(), 2, "the cut, then its healing, and the tester's own healing is a no-op");
    assert!(matches!(shortened.faults[0], Fault::Link { enabled: false, .. }));
    assert!(matches!(shortened.faults[1], Fault::Link { enabled: true, .. }));
    assert_eq!(shortened.times[1] - shortened.times[0], ms(5));
    assert_eq!(shortened.made[0].lasts, Some(ms(5)), "the choice made says how long it lasted");
    let kill = recorded.made.iter().find(|e| e.what.starts_with("kill")).expect("the kill is recorded");
    assert!(!kill.healable(), "only the tester restarts a server");
}
