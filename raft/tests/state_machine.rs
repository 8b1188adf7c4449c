//! Tests of the Raft state machine alone, with no simulator: inputs go in,
//! and the tests assert on the outputs (messages, persisted deltas, applied
//! entries). A tiny router delivers requests and responses by hand.

use raft::{decode, Apply, Config, Entry, Output, Raft, Request, Response, Role};

/// A cluster driven by hand: node `i`'s durable image, its applied entries.
struct Cluster {
    nodes: Vec<Raft>,
    images: Vec<Vec<u8>>,
    snapshots: Vec<Vec<u8>>,
    applied: Vec<Vec<Apply>>,
    /// Requests waiting: (from, to, request).
    in_flight: Vec<(usize, usize, Request)>,
    now_ms: u64,
}

impl Cluster {
    fn new(n: usize) -> Cluster {
        Cluster {
            nodes: (0..n).map(|i| Raft::new(Config::new(i, n, i as u64 + 1), 0)).collect(),
            images: vec![Vec::new(); n],
            snapshots: vec![Vec::new(); n],
            applied: vec![Vec::new(); n],
            in_flight: Vec::new(),
            now_ms: 0,
        }
    }

    /// Persists, queues and applies node `i`'s output; returns it.
    fn drain(&mut self, i: usize) -> Output {
        let out = self.nodes[i].take_output();
        if let Some(delta) = &out.persist {
            delta.apply(&mut self.images[i]);
        }
        if let Some(s) = &out.snapshot {
            self.snapshots[i] = s.to_vec();
        }
        for (to, req) in &out.messages {
            self.in_flight.push((i, *to, req.clone()));
        }
        self.applied[i].extend(out.applies.iter().cloned());
        out
    }

    /// Delivers every queued request (and its response) until none is left,
    /// skipping messages to or from nodes in `cut`.
    fn deliver_all(&mut self, cut: &[usize]) {
        while !self.in_flight.is_empty() {
            let batch = std::mem::take(&mut self.in_flight);
            for (from, to, req) in batch {
                if cut.contains(&from) || cut.contains(&to) {
                    continue;
                }
                let resp = self.nodes[to].handle_request(from, req, self.now_ms);
                self.drain(to);
                self.nodes[from].handle_response(to, resp, self.now_ms);
                self.drain(from);
            }
        }
    }

    /// Delivers the requests queued now (and their responses), leaving
    /// what they cause queued.
    fn deliver_queued(&mut self) {
        for (from, to, req) in std::mem::take(&mut self.in_flight) {
            let resp = self.nodes[to].handle_request(from, req, self.now_ms);
            self.drain(to);
            self.nodes[from].handle_response(to, resp, self.now_ms);
            self.drain(from);
        }
    }

    /// Elects node `i` and commits an entry of its term, so it may serve
    /// reads.
    fn elect_with_entry_of_its_term(&mut self, i: usize) {
        self.elect(i);
        self.nodes[i].start(b"x".to_vec());
        self.drain(i);
        self.deliver_all(&[]);
    }

    fn elect(&mut self, i: usize) {
        self.now_ms += 1000;
        self.nodes[i].tick(self.now_ms);
        self.drain(i);
        self.deliver_all(&[]);
        assert_eq!(self.nodes[i].role(), Role::Leader);
    }

    /// Moves the clock `ms` on and ticks node `i`, whose messages are all
    /// lost.
    fn tick_alone(&mut self, i: usize, ms: u64) {
        self.now_ms += ms;
        self.nodes[i].tick(self.now_ms);
        self.drain(i);
        self.in_flight.clear();
    }

    /// Node 0 receives grants of `term` from 1 and 2.
    fn grants_to_0(&mut self, term: u64) {
        for from in [1, 2] {
            self.nodes[0].handle_response(from, Response::RequestVote { term, granted: true }, self.now_ms);
        }
    }

    fn applied_commands(&self, i: usize) -> Vec<(u64, Vec<u8>)> {
        self.applied[i]
            .iter()
            .filter_map(|a| match a {
                Apply::Command { index, command, .. } => Some((*index, command.to_vec())),
                Apply::Snapshot { .. } | Apply::Read { .. } | Apply::ReadRefused { .. } => None,
            })
            .collect()
    }
}

#[test]
fn a_timed_out_follower_persists_its_vote_before_asking_for_votes() {
    let mut c = Cluster::new(3);
    assert_eq!(c.nodes[0].tick(10), ());
    assert!(c.drain(0).messages.is_empty(), "no election before the timeout");
    let deadline = c.nodes[0].next_deadline_ms();
    assert!((300..600).contains(&deadline), "election timeout in [300, 600) ms: {deadline}");
    c.nodes[0].tick(deadline);
    let out = c.drain(0);
    assert!(out.persist.is_some(), "term and vote are persisted with the vote requests");
    assert_eq!(out.messages.len(), 2);
    assert!(matches!(out.messages[0].1, Request::RequestVote { term: 1, candidate: 0, .. }));
    let hard = decode(&c.images[0]).unwrap().hard;
    assert_eq!((hard.term, hard.voted_for), (1, Some(0)));
}

#[test]
fn a_majority_of_votes_makes_a_leader_that_heartbeats() {
    let mut c = Cluster::new(3);
    c.elect(0);
    assert_eq!(c.nodes[0].state(), (1, true));
    for i in 1..3 {
        assert_eq!(c.nodes[i].state(), (1, false));
        assert_eq!(decode(&c.images[i]).unwrap().hard.voted_for, Some(0), "a granted vote is durable");
    }
    c.now_ms += 100;
    c.nodes[0].tick(c.now_ms);
    let out = c.drain(0);
    let heartbeats =
        out.messages.iter().filter(|(_, r)| matches!(r, Request::AppendEntries { entries, .. } if entries.is_empty()));
    assert_eq!(heartbeats.count(), 2, "one heartbeat per follower per interval");
    assert_eq!(c.nodes[0].next_deadline_ms(), c.now_ms + 100);
}

#[test]
fn a_vote_goes_only_to_a_candidate_with_an_up_to_date_log() {
    let mut c = Cluster::new(3);
    c.elect(0);
    c.nodes[0].start(b"x".to_vec()).unwrap();
    c.drain(0);
    c.deliver_all(&[2]); // node 2 misses the entry
    let stale = Request::RequestVote { term: 2, candidate: 2, last_log_index: 0, last_log_term: 0 };
    assert_eq!(c.nodes[1].handle_request(2, stale, c.now_ms), Response::RequestVote { term: 2, granted: false });
}

#[test]
fn a_command_is_replicated_at_once_committed_and_applied_in_order() {
    let mut c = Cluster::new(3);
    c.elect(0);
    let (index, term) = c.nodes[0].start(b"a".to_vec()).unwrap();
    assert_eq!((index, term), (1, 1));
    let out = c.drain(0);
    assert!(out.persist.is_some(), "the leader persists its new entry before sending it");
    let sent =
        out.messages.iter().filter(|(_, r)| matches!(r, Request::AppendEntries { entries, .. } if entries.len() == 1));
    assert_eq!(sent.count(), 2, "the new entry goes to followers at once, not at the next heartbeat");
    c.nodes[0].start(b"b".to_vec()).unwrap();
    c.drain(0);
    c.deliver_all(&[]);
    assert_eq!(c.nodes[0].commit_index(), 2);
    assert_eq!(c.applied_commands(0), vec![(1, b"a".to_vec()), (2, b"b".to_vec())]);
    c.now_ms += 100;
    c.nodes[0].tick(c.now_ms);
    c.drain(0);
    c.deliver_all(&[]);
    for i in 1..3 {
        assert_eq!(c.applied_commands(i), vec![(1, b"a".to_vec()), (2, b"b".to_vec())], "follower {i}");
    }
    assert!(c.nodes[1].start(b"c".to_vec()).is_none(), "followers refuse commands");
}

#[test]
fn a_rejection_backs_up_a_whole_term_per_round_trip() {
    // Follower log: 1 entry of term 1 then 20 of term 2; the leader of term 3
    // shares only the first entry, then has 5 entries of term 3.
    let mut follower = Raft::new(Config::new(1, 3, 7), 0);
    let mut entries = vec![Entry { term: 1, command: vec![].into() }];
    entries.extend((0..20).map(|_| Entry { term: 2, command: vec![].into() }));
    let r = follower.handle_request(
        0,
        Request::AppendEntries { term: 2, leader: 0, prev_log_index: 0, prev_log_term: 0, entries, leader_commit: 0 },
        0,
    );
    assert_eq!(r, Response::AppendEntries { term: 2, match_index: Some(21), conflict: None });
    let r = follower.handle_request(
        2,
        Request::AppendEntries {
            term: 3,
            leader: 2,
            prev_log_index: 26,
            prev_log_term: 3,
            entries: vec![],
            leader_commit: 0,
        },
        0,
    );
    let Response::AppendEntries { conflict: Some(c), .. } = r else { panic!("rejected: {r:?}") };
    assert_eq!((c.term, c.first_index, c.log_len), (None, 22, 21), "the follower's log is too short");
    let r = follower.handle_request(
        2,
        Request::AppendEntries {
            term: 3,
            leader: 2,
            prev_log_index: 21,
            prev_log_term: 3,
            entries: vec![],
            leader_commit: 0,
        },
        0,
    );
    let Response::AppendEntries { conflict: Some(c), .. } = r else { panic!("rejected: {r:?}") };
    assert_eq!((c.term, c.first_index, c.log_len), (Some(2), 2, 21), "the whole run of term 2 is named");
    let r = follower.handle_request(
        2,
        Request::AppendEntries {
            term: 3,
            leader: 2,
            prev_log_index: 1,
            prev_log_term: 1,
            entries: vec![Entry { term: 3, command: vec![9].into() }],
            leader_commit: 2,
        },
        0,
    );
    assert_eq!(r, Response::AppendEntries { term: 3, match_index: Some(2), conflict: None });
    assert_eq!(follower.last_log_index(), 2, "the conflicting suffix is gone");
    assert_eq!(follower.commit_index(), 2);
}

/// The AppendEntries `leader` sends to `peer` in its next output.
fn next_append_to(c: &mut Cluster, leader: usize, peer: usize) -> (u64, u64, usize) {
    let out = c.drain(leader);
    c.in_flight.clear();
    out.messages
        .iter()
        .find_map(|(to, r)| match r {
            Request::AppendEntries { prev_log_index, prev_log_term, entries, .. } if *to == peer => {
                Some((*prev_log_index, *prev_log_term, entries.len()))
            }
            _ => None,
        })
        .expect("an AppendEntries to the peer")
}

#[test]
fn a_leader_uses_the_conflict_to_skip_the_term() {
    let mut c = Cluster::new(3);
    c.elect(0);
    for k in 0..3u8 {
        c.nodes[0].start(vec![k]).unwrap();
    }
    c.drain(0);
    c.deliver_all(&[]);
    // Node 1 leads term 2 and appends 5 entries with node 2 only.
    c.elect(1);
    for k in 0..5u8 {
        c.nodes[1].start(vec![10 + k]).unwrap();
    }
    c.drain(1);
    c.deliver_all(&[0]);
    // Node 0 says: my entry at prev is of term 1, whose run starts at 2.
    let conflict = raft::Conflict { term: Some(1), first_index: 2, log_len: 13 };
    let reject = Response::AppendEntries { term: 2, match_index: None, conflict: Some(conflict) };
    c.nodes[1].handle_response(0, reject.clone(), c.now_ms);
    let (prev, prev_term, sent) = next_append_to(&mut c, 1, 0);
    assert_eq!((prev, prev_term, sent), (3, 1, 5), "skip to the leader's last entry of term 1, in one round trip");
    // A stale answer claiming a log shorter than node 0 is known to match
    // (index 3, from its term-2 heartbeat) does not move next_index back.
    let short = raft::Conflict { term: None, first_index: 3, log_len: 2 };
    c.nodes[1].handle_response(
        0,
        Response::AppendEntries { term: 2, match_index: None, conflict: Some(short) },
        c.now_ms,
    );
    let (prev, _, sent) = next_append_to(&mut c, 1, 0);
    assert_eq!((prev, sent), (3, 5), "never below the known match");
    // While that probe is out, a new command is not sent to node 0 ...
    c.nodes[1].start(b"x".to_vec()).unwrap();
    let out = c.drain(1);
    c.in_flight.clear();
    assert!(out.messages.iter().all(|(to, _)| *to != 0), "one probe at a time to a follower being probed");
    // ... and once it matches, entries are pipelined again.
    c.nodes[1].handle_response(0, Response::AppendEntries { term: 2, match_index: Some(9), conflict: None }, c.now_ms);
    c.drain(1);
    c.in_flight.clear();
    c.nodes[1].start(b"y".to_vec()).unwrap();
    let (prev, _, sent) = next_append_to(&mut c, 1, 0);
    assert_eq!((prev, sent), (9, 1), "after a match, a new entry goes at once");
}

#[test]
fn a_higher_term_makes_a_leader_step_down() {
    let mut c = Cluster::new(3);
    c.elect(0);
    let r = c.nodes[0].handle_request(
        2,
        Request::RequestVote { term: 5, candidate: 2, last_log_index: 0, last_log_term: 0 },
        c.now_ms,
    );
    assert_eq!(r, Response::RequestVote { term: 5, granted: true });
    assert_eq!(c.nodes[0].state(), (5, false));
    let stale = Request::AppendEntries {
        term: 4,
        leader: 1,
        prev_log_index: 0,
        prev_log_term: 0,
        entries: vec![],
        leader_commit: 0,
    };
    assert_eq!(
        c.nodes[0].handle_request(1, stale, c.now_ms),
        Response::AppendEntries { term: 5, match_index: None, conflict: None }
    );
}

#[test]
fn a_restart_restores_term_vote_and_log_and_resumes_after_the_snapshot() {
    let mut c = Cluster::new(3);
    c.elect(0);
    for k in 0..12u8 {
        c.nodes[0].start(vec![k]).unwrap();
    }
    c.drain(0);
    c.deliver_all(&[]);
    c.nodes[0].snapshot(10, b"state@10".to_vec());
    let out = c.drain(0);
    assert_eq!(
        out.snapshot.as_deref().map(Vec::as_slice),
        Some(&b"state@10"[..]),
        "the snapshot is saved with the state"
    );
    let restarted = Raft::restart(Config::new(0, 3, 99), c.now_ms, &c.images[0], &c.snapshots[0]).unwrap();
    assert_eq!(restarted.state(), (1, false));
    assert_eq!((restarted.snapshot_index(), restarted.last_log_index()), (10, 12));
    assert_eq!(restarted.last_applied(), 10, "applying resumes at lastIncludedIndex + 1");
    assert!(Raft::restart(Config::new(0, 3, 99), 0, &c.images[0][..40], &[]).is_err(), "a torn image is an error");
}

#[test]
fn a_lagging_follower_gets_the_snapshot() {
    let mut c = Cluster::new(3);
    c.elect(0);
    for k in 0..20u8 {
        c.nodes[0].start(vec![k]).unwrap();
        c.drain(0);
        c.deliver_all(&[2]);
    }
    c.nodes[0].snapshot(15, b"state@15".to_vec());
    c.drain(0);
    c.now_ms += 100;
    c.nodes[0].tick(c.now_ms);
    c.drain(0);
    c.deliver_all(&[]);
    assert_eq!(
        c.applied[2].first(),
        Some(&Apply::Snapshot { index: 15, term: 1, data: std::sync::Arc::new(b"state@15".to_vec()) })
    );
    let after: Vec<u64> = c.applied_commands(2).into_iter().map(|(i, _)| i).collect();
    assert_eq!(after, (16..=20).collect::<Vec<_>>(), "then the entries after it, in order");
    assert_eq!(c.snapshots[2], b"state@15".to_vec(), "the follower persisted the snapshot");
}

/// A cluster of `n` whose peers run PreVote and CheckQuorum as asked.
fn optimised(n: usize, pre_vote: bool, check_quorum: bool) -> Cluster {
    let mut c = Cluster::new(n);
    c.nodes =
        (0..n).map(|i| Raft::new(Config { pre_vote, check_quorum, ..Config::new(i, n, i as u64 + 1) }, 0)).collect();
    c
}

#[test]
fn a_pre_vote_changes_no_term_and_a_majority_of_them_starts_the_campaign() {
    let mut c = optimised(3, true, false);
    c.now_ms = 1000;
    c.nodes[0].tick(c.now_ms);
    let out = c.drain(0);
    assert_eq!(c.nodes[0].role(), Role::PreCandidate);
    assert_eq!(c.nodes[0].state(), (0, false), "no new term before the PreVotes");
    assert!(out.persist.is_none(), "nothing to persist for a PreVote");
    assert!(out.messages.iter().all(|(_, r)| matches!(r, Request::PreVote { term: 1, candidate: 0, .. })));
    c.deliver_all(&[]);
    assert_eq!(c.nodes[0].state(), (1, true), "granted PreVotes, then the election");
    assert_eq!(decode(&c.images[1]).unwrap().hard.voted_for, Some(0), "only the real vote is recorded");
}

#[test]
fn a_cut_off_peer_with_pre_vote_keeps_its_term() {
    let mut c = optimised(3, true, false);
    c.elect(0);
    c.nodes[0].start(b"x".to_vec()).unwrap();
    c.drain(0);
    c.deliver_all(&[2]);
    for _ in 0..5 {
        c.now_ms += 1000;
        c.nodes[2].tick(c.now_ms);
        c.drain(2);
        c.deliver_all(&[]); // its PreVotes arrive, and are refused: its log is behind
    }
    assert_eq!(c.nodes[2].state().0, 1, "no PreVote round moved its term");
    assert_eq!(c.nodes[0].state(), (1, true), "the leader still leads");
}

#[test]
fn with_check_quorum_a_led_follower_refuses_votes_and_a_lone_leader_steps_down() {
    let mut c = optimised(3, false, true);
    c.elect(0);
    let vote = Request::RequestVote { term: 5, candidate: 2, last_log_index: 9, last_log_term: 9 };
    let answer = c.nodes[1].handle_request(2, vote, c.now_ms + 50);
    assert_eq!(answer, Response::RequestVote { term: 1, granted: false }, "refused in its own term");
    assert_eq!(c.nodes[1].state(), (1, false), "the term stays");
    for step in 1..=6 {
        c.now_ms += 100;
        c.nodes[0].tick(c.now_ms);
        c.drain(0);
        c.in_flight.clear(); // no follower hears it, none answers
        assert_eq!(c.nodes[0].state().1, step < 6, "leads until 600 ms pass with no majority heard ({step})");
    }
    assert_eq!(c.nodes[0].state().0, 1, "it steps down in its own term");
}

#[test]
fn with_check_quorum_a_leader_a_majority_answered_refuses_votes_and_pre_votes() {
    let mut c = optimised(3, true, true);
    c.elect(0);
    let vote = Request::RequestVote { term: 5, candidate: 2, last_log_index: 9, last_log_term: 9 };
    let pre_vote = Request::PreVote { term: 5, candidate: 2, last_log_index: 9, last_log_term: 9 };
    let term = c.nodes[0].state().0;
    assert_eq!(c.nodes[0].handle_request(2, pre_vote, c.now_ms + 50), Response::PreVote { term, granted: false });
    assert_eq!(
        c.nodes[0].handle_request(2, vote.clone(), c.now_ms + 50),
        Response::RequestVote { term, granted: false }
    );
    assert_eq!(c.nodes[0].state(), (term, true), "it leads on, in its term");
    let later = c.now_ms + 650; // no majority has answered for 650 ms
    assert_eq!(c.nodes[0].handle_request(2, vote, later), Response::RequestVote { term: 5, granted: true });
    assert_eq!(c.nodes[0].state(), (5, false), "out of its lease, a higher term deposes it");
}

#[test]
fn with_pre_vote_a_candidate_timed_out_before_its_grants_arrived_still_wins_its_term() {
    let mut c = optimised(3, true, false);
    c.now_ms = 1000;
    c.nodes[0].tick(c.now_ms);
    c.drain(0);
    let to_1 = |c: &mut Cluster| {
        let at = c.in_flight.iter().position(|(_, to, _)| *to == 1).expect("a request to 1");
        let (_, _, request) = c.in_flight.remove(at);
        c.in_flight.clear();
        request
    };
    let pre_vote = to_1(&mut c);
    let pre_grant = c.nodes[1].handle_request(0, pre_vote, c.now_ms);
    c.nodes[0].handle_response(1, pre_grant, c.now_ms);
    c.drain(0);
    assert_eq!(c.nodes[0].role(), Role::Candidate, "PreVote granted by 1: the election of term 1 starts");
    let request = to_1(&mut c);
    let grant = c.nodes[1].handle_request(0, request, c.now_ms);
    assert_eq!(grant, Response::RequestVote { term: 1, granted: true });
    c.now_ms += 1000; // the grant is late: the timer runs out first
    c.nodes[0].tick(c.now_ms);
    c.drain(0);
    assert_eq!((c.nodes[0].role(), c.nodes[0].state()), (Role::PreCandidate, (1, false)));
    c.in_flight.clear();
    c.nodes[0].handle_response(1, grant, c.now_ms);
    c.drain(0);
    assert_eq!(c.nodes[0].state(), (1, true), "its own vote and 1's elect it in term 1");
}

#[test]
fn a_pre_candidate_that_never_campaigned_in_its_term_counts_no_vote() {
    let mut c = optimised(3, true, false);
    c.tick_alone(0, 1000);
    assert_eq!(c.nodes[0].role(), Role::PreCandidate);
    c.grants_to_0(0);
    assert_eq!(c.nodes[0].state(), (0, false), "no election of its own in term 0, no leadership");
}

#[test]
fn a_leader_that_stepped_down_counts_no_late_vote_of_the_term_it_led() {
    let mut c = optimised(3, true, true);
    c.elect(0);
    let term = c.nodes[0].state().0;
    for _ in 0..6 {
        c.tick_alone(0, 100); // cut off: it steps down in its own term
    }
    c.tick_alone(0, 1000);
    assert_eq!((c.nodes[0].role(), c.nodes[0].state()), (Role::PreCandidate, (term, false)));
    c.grants_to_0(term);
    assert_eq!(c.nodes[0].state(), (term, false), "a term is led once");
}

#[test]
fn a_restarted_candidate_counts_no_vote_of_its_election_before_the_crash() {
    let mut c = optimised(3, true, false);
    c.now_ms = 1000;
    c.nodes[0].tick(c.now_ms);
    c.drain(0);
    c.deliver_all(&[]); // elected in term 1 with everyone's PreVotes and votes
    assert_eq!(c.nodes[0].state(), (1, true));
    let config = Config { pre_vote: true, ..Config::new(0, 3, 1) };
    c.nodes[0] = Raft::restart(config, c.now_ms, &c.images[0], &c.snapshots[0]).unwrap();
    c.tick_alone(0, 1000);
    assert_eq!((c.nodes[0].role(), c.nodes[0].state()), (Role::PreCandidate, (1, false)));
    c.grants_to_0(1);
    assert_eq!(c.nodes[0].state(), (1, false), "votes from before the crash elect no one again");
}

/// A cluster of `n` whose peers serve reads by ReadIndex, or by leases too,
/// and on followers too.
fn reading(n: usize, lease_read: bool) -> Cluster {
    let mut c = Cluster::new(n);
    let config = |i: usize| Config {
        read_index: !lease_read,
        lease_read,
        follower_read: true,
        ..Config::new(i, n, i as u64 + 1)
    };
    c.nodes = (0..n).map(|i| Raft::new(config(i), 0)).collect();
    c
}

/// The reads node `i` said may be served.
fn reads_served(c: &Cluster, i: usize) -> Vec<u64> {
    c.applied[i].iter().filter_map(|a| if let Apply::Read { id } = a { Some(*id) } else { None }).collect()
}

#[test]
fn a_read_index_read_waits_for_an_entry_of_the_term_and_a_majority_round() {
    let mut c = reading(3, false);
    c.elect(0);
    assert!(!c.nodes[0].read(1, c.now_ms), "no entry of its term committed: through the log");
    c.nodes[0].start(b"x".to_vec());
    c.drain(0);
    c.deliver_all(&[]);
    assert!(c.nodes[0].read(2, c.now_ms));
    let out = c.drain(0);
    assert!(out.messages.iter().all(|(_, r)| matches!(r, Request::Confirm { term: 1, leader: 0, .. })));
    assert_eq!(out.messages.len(), 2, "a round to every follower");
    assert!(reads_served(&c, 0).is_empty(), "not before the round is answered");
    c.deliver_all(&[2]);
    assert_eq!(reads_served(&c, 0), [2], "itself and one follower are a majority");
}

#[test]
fn a_read_index_round_cut_off_from_the_majority_serves_nothing() {
    let mut c = reading(3, false);
    c.elect_with_entry_of_its_term(0);
    assert!(c.nodes[0].read(5, c.now_ms));
    c.drain(0);
    c.deliver_all(&[1, 2]);
    assert!(reads_served(&c, 0).is_empty(), "a leader cut off confirms nothing");
}

#[test]
fn a_lease_serves_reads_at_once_until_it_runs_out() {
    let mut c = reading(3, true);
    c.elect_with_entry_of_its_term(0);
    let round_sent_ms = c.now_ms;
    assert!(c.nodes[0].read(1, c.now_ms));
    c.drain(0);
    c.deliver_all(&[]);
    assert_eq!(reads_served(&c, 0), [1], "the first read takes a round, which grants the lease");
    // 300 ms shortened for clocks 10% apart: 245 ms.
    assert!(c.nodes[0].read(2, round_sent_ms + 244));
    let out = c.drain(0);
    assert!(out.messages.is_empty(), "within the lease: no round");
    assert_eq!(reads_served(&c, 0), [1, 2]);
    assert!(c.nodes[0].read(3, round_sent_ms + 245));
    let out = c.drain(0);
    assert_eq!(out.messages.len(), 2, "past the lease: a round again");
}

#[test]
fn with_leases_a_follower_grants_no_vote_within_the_minimum_election_timeout_of_its_leader() {
    let mut c = reading(3, true);
    c.elect(0);
    let heard_ms = c.now_ms;
    let ask = |term| Request::RequestVote { term, candidate: 2, last_log_index: 0, last_log_term: 0 };
    let refused = c.nodes[1].handle_request(2, ask(2), heard_ms + 299);
    assert_eq!(refused, Response::RequestVote { term: 2, granted: false }, "within 300 ms of its leader");
    let granted = c.nodes[1].handle_request(2, ask(3), heard_ms + 300);
    assert_eq!(granted, Response::RequestVote { term: 3, granted: true });
    let restarted = Raft::new(Config { lease_read: true, ..Config::new(1, 3, 9) }, 5000);
    let mut restarted = restarted;
    let after_restart = restarted.handle_request(2, ask(1), 5100);
    assert_eq!(
        after_restart,
        Response::RequestVote { term: 1, granted: false },
        "a restart may have forgotten a leader"
    );
}

#[test]
fn a_follower_read_waits_for_the_leaders_round_and_then_for_its_own_apply() {
    let mut c = reading(3, false);
    assert!(!c.nodes[1].read(1, c.now_ms), "a follower that knows no leader sends the client elsewhere");
    c.elect_with_entry_of_its_term(0);
    // The leader commits a second entry; follower 1 has it but has not yet
    // heard that it committed.
    c.nodes[0].start(b"y".to_vec());
    c.drain(0);
    c.deliver_queued();
    c.in_flight.clear(); // the leader's next commit index is not heard yet
    assert_eq!((c.nodes[0].commit_index(), c.nodes[1].commit_index()), (2, 1));
    assert!(c.nodes[1].read(9, c.now_ms));
    let out = c.drain(1);
    assert!(matches!(out.messages[..], [(0, Request::ReadIndex { term: 1, .. })]), "{:?}", out.messages);
    // The leader takes it at its commit index 2 and confirms with a round;
    // its ReadReady reaches the follower before any commit index does.
    let (from, to, req) = c.in_flight.remove(0);
    let resp = c.nodes[to].handle_request(from, req, c.now_ms);
    assert!(matches!(resp, Response::ReadIndex { taken: true, .. }));
    c.drain(to);
    c.deliver_queued();
    let ready: Vec<_> =
        c.in_flight.iter().filter(|(_, _, r)| matches!(r, Request::ReadReady { .. })).cloned().collect();
    assert!(matches!(ready[..], [(0, 1, Request::ReadReady { index: 2, .. })]), "{ready:?}");
    let resp = c.nodes[1].handle_request(0, ready[0].2.clone(), c.now_ms);
    assert_eq!(resp, Response::ReadReady { term: 1 });
    c.drain(1);
    assert!(reads_served(&c, 1).is_empty(), "not before it has applied index 2");
    c.in_flight.clear();
    c.now_ms += 100;
    c.nodes[0].tick(c.now_ms); // a heartbeat carries the commit index
    c.drain(0);
    c.deliver_all(&[2]);
    assert_eq!(reads_served(&c, 1), [9], "served once index 2 is applied");
}

/// A cluster of `n` with batching and pipelining as given.
fn replicating(n: usize, batching: bool, pipelining: bool) -> Cluster {
    let mut c = Cluster::new(n);
    let config =
        |i: usize| Config { batching, pipelining, max_appends_in_flight: 8, ..Config::new(i, n, i as u64 + 1) };
    c.nodes = (0..n).map(|i| Raft::new(config(i), 0)).collect();
    c
}

/// The AppendEntries in `out` to `peer`: (prev_log_index, entries).
fn appends_to(out: &Output, peer: usize) -> Vec<(u64, usize)> {
    let to_peer = out.messages.iter().filter(|(to, _)| *to == peer);
    to_peer
        .filter_map(|(_, r)| match r {
            Request::AppendEntries { prev_log_index, entries, .. } => Some((*prev_log_index, entries.len())),
            _ => None,
        })
        .collect()
}

/// Starts `k` commands on the leader, one step each, and returns what it
/// sent follower 1 (nothing is delivered).
fn start_commands(c: &mut Cluster, leader: usize, k: usize) -> Vec<(u64, usize)> {
    let mut sent = Vec::new();
    for j in 0..k {
        c.nodes[leader].start(vec![j as u8]).expect("the leader takes commands");
        sent.extend(appends_to(&c.drain(leader), 1));
    }
    c.in_flight.clear();
    sent
}

#[test]
fn a_pipelined_window_holds_eight_appends_then_batches_what_waited() {
    let mut c = replicating(3, true, true);
    c.elect_with_entry_of_its_term(0);
    let sent = start_commands(&mut c, 0, 12);
    assert_eq!(sent, (1..9).map(|prev| (prev, 1)).collect::<Vec<_>>(), "eight in flight, one entry each");
    // A heartbeat with the window full carries nothing, at the last index
    // sent: its answer frees the window (or its rejection reveals a loss).
    c.now_ms += 100;
    c.nodes[0].tick(c.now_ms);
    let heartbeat = appends_to(&c.drain(0), 1);
    assert_eq!(heartbeat, vec![(9, 0)]);
    // The answer to the first frees a place: the four that waited go
    // together.
    c.in_flight.clear();
    c.nodes[0].handle_response(1, Response::AppendEntries { term: 1, match_index: Some(2), conflict: None }, c.now_ms);
    assert_eq!(appends_to(&c.drain(0), 1), vec![(9, 4)]);
}

#[test]
fn a_lost_append_under_a_full_window_is_found_by_the_heartbeat_and_resent() {
    let mut c = replicating(3, true, true);
    c.elect_with_entry_of_its_term(0);
    start_commands(&mut c, 0, 10); // all lost
    c.now_ms += 100;
    c.nodes[0].tick(c.now_ms);
    c.drain(0);
    c.deliver_all(&[]); // the heartbeat at index 9 is refused: back to probing, and resent
    assert_eq!(c.nodes[1].last_log_index(), 11, "the follower caught up");
    assert_eq!(c.nodes[0].commit_index(), 11);
}

#[test]
fn without_pipelining_one_append_is_in_flight_and_without_batching_it_carries_one_entry() {
    let mut c = replicating(3, true, false);
    c.elect_with_entry_of_its_term(0);
    assert_eq!(start_commands(&mut c, 0, 5), vec![(1, 1)], "one in flight; the rest wait");
    c.nodes[0].handle_response(1, Response::AppendEntries { term: 1, match_index: Some(2), conflict: None }, c.now_ms);
    assert_eq!(appends_to(&c.drain(0), 1), vec![(2, 4)], "the four that waited go in one");

    let mut c = replicating(3, false, false);
    c.elect_with_entry_of_its_term(0);
    start_commands(&mut c, 0, 5);
    c.nodes[0].handle_response(1, Response::AppendEntries { term: 1, match_index: Some(2), conflict: None }, c.now_ms);
    assert_eq!(appends_to(&c.drain(0), 1), vec![(2, 1)], "one entry at a time");
}

/// A cluster of `n` whose leaders write their own entries asynchronously.
fn persisting_asynchronously(n: usize) -> Cluster {
    let mut c = Cluster::new(n);
    c.nodes = (0..n).map(|i| Raft::new(Config { async_persist: true, ..Config::new(i, n, i as u64 + 1) }, 0)).collect();
    c
}

#[test]
fn with_asynchronous_persistence_a_leader_sends_at_once_and_counts_itself_once_durable() {
    let mut c = persisting_asynchronously(3);
    c.elect(0);
    c.nodes[0].start(b"a".to_vec()).expect("the leader takes commands");
    let out = c.drain(0);
    let ticket = out.ticket.expect("the leader's own new entry is written asynchronously");
    assert_eq!(appends_to(&out, 1), [(0, 1)], "sent with its write, not after it");
    c.deliver_all(&[2]); // only follower 1 has it: with the leader's write not yet durable, no majority
    assert_eq!(c.nodes[0].commit_index(), 0, "the leader counts only what is on its disk");
    c.nodes[0].persisted(ticket);
    c.drain(0);
    assert_eq!(c.nodes[0].commit_index(), 1, "durable on the leader and follower 1: committed");
    assert_eq!(c.applied_commands(0), [(1, b"a".to_vec())]);
}

#[test]
fn with_asynchronous_persistence_terms_votes_and_followers_entries_stay_synchronous() {
    let mut c = persisting_asynchronously(3);
    c.now_ms += 1000;
    c.nodes[1].tick(c.now_ms); // a campaign: term and vote
    assert_eq!(c.drain(1).ticket, None, "a term and a vote are written before the RequestVotes leave");
    c.in_flight.clear();
    c.elect(0);
    c.nodes[0].start(b"a".to_vec()).expect("the leader takes commands");
    c.drain(0);
    let (from, to, request) = c.in_flight.pop().expect("an append to a follower");
    c.nodes[to].handle_request(from, request, c.now_ms);
    assert_eq!(c.drain(to).ticket, None, "a follower answers only after its write");
}
