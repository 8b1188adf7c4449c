//! Swarm testing (after TigerBeetle's VOPR): each seed draws its own mix of
//! faults, and a nemesis injects them into any cluster at random while the
//! scenario's workload runs. Some seeds cut links both ways, some one way,
//! some crash a majority at once or at a persist, some only delay and
//! duplicate; a bug that
//! needs one kind of fault and is masked by another is caught by the seeds
//! that drew the first alone. `heal` ends the chaos for the liveness phase.

use crate::checks::raft_observer::HostsRaft;
use crate::host::cluster::Cluster;
use rand::Rng;
use sim::{ms, CrashMode, CrashPoint, Fault, Latency, Nanos, NetConfig, Node, SimHandle};
use std::fmt;

/// The faults one seed drew, and how hard.
#[derive(Clone, Debug)]
pub struct FaultMix {
    /// labrpc's unreliable network (delays, 10% of messages lost).
    pub loss: bool,
    /// Per mille of requests delivered twice.
    pub duplicate_per_mille: u32,
    /// labrpc's long reordering: 2/3 of replies held 0.2-2.2 s.
    pub long_reordering: bool,
    /// Latency between servers beyond the datacenter default.
    pub slow_links: bool,
    /// Partitions into two sides (both ways).
    pub partitions: bool,
    /// Links cut in one direction only.
    pub one_way_cuts: bool,
    /// Crashes of one server at a time, restarted later.
    pub crashes: bool,
    /// Crashes of a majority at once.
    pub majority_crashes: bool,
    /// Crashes at a server's next persist, just before or just after the
    /// write.
    pub persist_crashes: bool,
    /// Servers stalled and resumed.
    pub pauses: bool,
    /// Timers drifting up to 10% fast or slow.
    pub drift: bool,
    /// Disks that take time: each server's write or flush takes 0.1-20 ms
    /// (a synchronous write blocks its server that long), drawn per server.
    pub slow_disks: bool,
    /// Seeds the servers' fault injection points (`bugs::buggify`): each
    /// site on for the run with probability 1/2.
    pub buggify_seed: u64,
    /// Virtual time between two faults.
    pub step_min: Nanos,
    pub step_max: Nanos,
}

impl FaultMix {
    /// Draws a mix: each kind of fault on with probability 1/2, with at
    /// least one that cuts or stops servers.
    pub fn draw(rng: &mut impl Rng) -> FaultMix {
        let mut mix = FaultMix {
            loss: rng.random_bool(0.5),
            duplicate_per_mille: if rng.random_bool(0.5) { rng.random_range(10..=200) } else { 0 },
            long_reordering: rng.random_bool(0.5),
            slow_links: rng.random_bool(0.5),
            partitions: rng.random_bool(0.5),
            one_way_cuts: rng.random_bool(0.5),
            crashes: rng.random_bool(0.5),
            majority_crashes: rng.random_bool(0.5),
            persist_crashes: rng.random_bool(0.5),
            pauses: rng.random_bool(0.5),
            drift: rng.random_bool(0.5),
            buggify_seed: rng.random(),
            step_min: ms(rng.random_range(50..=300)),
            step_max: 0,
            slow_disks: false,
        };
        mix.step_max = mix.step_min + ms(rng.random_range(100..=1500));
        mix.slow_disks = rng.random_bool(0.5);
        let stops = mix.crashes || mix.majority_crashes || mix.persist_crashes || mix.pauses;
        if !(mix.partitions || mix.one_way_cuts || stops) {
            mix.partitions = true;
        }
        mix
    }

    /// Starts the mix for the run: noted (`labsim run` prints it, failures
    /// end with it), and the servers' injection points it draws enabled
    /// until a nemesis heals. Once per run.
    /// The sites noted are those of `layers`, the code the run has
    /// (sites of other layers are drawn too, and never fire).
    pub fn start<N: Node>(&self, h: &SimHandle<N>, layers: &[bugs::Layer]) {
        tracing::info!(mix = %self, "swarm");
        h.note(format!("swarm mix: {self}"));
        bugs::buggify::enable(self.buggify_seed);
        let enabled = bugs::buggify::enabled();
        let sites: Vec<&str> = enabled.iter().filter(|s| layers.contains(&s.layer())).map(|s| s.name()).collect();
        let sites = if sites.is_empty() { "none".to_string() } else { sites.join(", ") };
        h.note(format!("buggify sites: {sites}"));
    }

    fn actions(&self) -> Vec<Action> {
        let mut actions = vec![Action::Heal];
        let kinds = [
            (self.partitions, Action::Partition),
            (self.one_way_cuts, Action::CutOneWay),
            (self.crashes, Action::Crash),
            (self.majority_crashes, Action::CrashMajority),
            (self.persist_crashes, Action::CrashAtPersist),
            (self.pauses, Action::Pause),
        ];
        actions.extend(kinds.iter().filter(|(on, _)| *on).map(|(_, a)| *a));
        actions
    }
}

impl fmt::Display for FaultMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = [
            (self.loss, "loss"),
            (self.long_reordering, "long-reordering"),
            (self.slow_links, "slow-links"),
            (self.partitions, "partitions"),
            (self.one_way_cuts, "one-way-cuts"),
            (self.crashes, "crashes"),
            (self.majority_crashes, "majority-crashes"),
            (self.persist_crashes, "persist-crashes"),
            (self.pauses, "pauses"),
            (self.drift, "drift"),
            (self.slow_disks, "slow-disks"),
        ];
        let mut parts: Vec<String> = flags.iter().filter(|(on, _)| *on).map(|(_, n)| n.to_string()).collect();
        if self.duplicate_per_mille > 0 {
            parts.push(format!("duplicates {}/1000", self.duplicate_per_mille));
        }
        parts.push(format!("a fault every {}-{} ms", self.step_min / ms(1), self.step_max / ms(1)));
        f.write_str(&parts.join(", "))
    }
}

#[derive(Clone, Copy, Debug)]
enum Action {
    Heal,
    Partition,
    CutOneWay,
    Crash,
    CrashMajority,
    CrashAtPersist,
    Pause,
}

/// Injects a seed's fault mix into one cluster.
pub struct Nemesis<'c, N: Node + HostsRaft> {
    cluster: &'c Cluster<N>,
    pub mix: FaultMix,
    actions: Vec<Action>,
}

impl<'c, N: Node + HostsRaft> Nemesis<'c, N> {
    /// Draws a mix from the run's workload stream and sets up the network
    /// it asks for.
    /// (It starts the mix, see `FaultMix::start`.)
    pub fn new(cluster: &'c Cluster<N>, layers: &[bugs::Layer]) -> Nemesis<'c, N> {
        let mix = cluster.h.with_rng(FaultMix::draw);
        mix.start(&cluster.h, layers);
        Nemesis::with_mix(cluster, mix)
    }

    /// A nemesis with a mix already drawn and started (one mix for several
    /// clusters).
    pub fn with_mix(cluster: &'c Cluster<N>, mix: FaultMix) -> Nemesis<'c, N> {
        let n = cluster.n();
        let nemesis = Nemesis { cluster, actions: mix.actions(), mix };
        nemesis.set_network(true);
        if nemesis.mix.drift {
            for i in 0..n {
                let ppm = nemesis.rand(200_001) as i32 - 100_000;
                cluster.h.inject(Fault::TimerDrift { server: cluster.servers[i], ppm });
            }
        }
        if nemesis.mix.slow_disks {
            for i in 0..n {
                let latency = ms(1) / 10 + nemesis.rand(19_901) * (ms(1) / 1000);
                cluster.h.inject(Fault::DiskLatency { server: cluster.servers[i], latency });
            }
        }
        nemesis
    }

    fn rand(&self, below: u64) -> u64 {
        self.cluster.h.with_rng(|r| r.random_range(0..below))
    }

    /// A server that believes it leads, if any is up.
    fn leader(&self) -> Option<usize> {
        // Read-only: a look at a node is not a step of it.
        let leads = |w: &sim::World<N>, i: usize| {
            w.node(self.cluster.servers[i]).is_some_and(|n| contract::Raft::state(n.hosted_raft()).1)
        };
        self.cluster.h.with_world(|w| (0..self.cluster.n()).find(|&i| leads(w, i)))
    }

    /// The server a fault hits: half the time the leader (faults that hit
    /// leaders make the elections and log repairs where bugs live).
    fn victim(&self) -> usize {
        let n = self.cluster.n() as u64;
        if self.rand(2) == 0 {
            if let Some(leader) = self.leader() {
                return leader;
            }
        }
        self.rand(n) as usize
    }

    /// The mix's network while faults go on (`chaos`), or a reliable one.
    fn set_network(&self, chaos: bool) {
        let mix = &self.mix;
        let slow = Latency::ExponentialTail { min: ms(1), mean: ms(15), max: ms(400) };
        self.cluster.set_net(|c| NetConfig {
            reliable: !(chaos && mix.loss),
            long_reordering: chaos && mix.long_reordering,
            duplicate_per_mille: if chaos { mix.duplicate_per_mille } else { 0 },
            latency: if chaos && mix.slow_links { slow } else { NetConfig::default().latency },
            ..c
        });
    }

    /// How long to wait before the next fault.
    pub fn pause_between(&self) -> Nanos {
        let (lo, hi) = (self.mix.step_min, self.mix.step_max);
        lo + self.rand(hi - lo + 1)
    }

    /// One fault drawn from the mix.
    pub fn strike(&self) {
        let action = self.actions[self.rand(self.actions.len() as u64) as usize];
        let n = self.cluster.n();
        match action {
            Action::Heal => self.heal_links(),
            Action::Partition => {
                let mut side: Vec<bool> = (0..n).map(|_| self.rand(2) == 0).collect();
                side[self.victim()] = true;
                let a: Vec<usize> = (0..n).filter(|i| side[*i]).collect();
                let b: Vec<usize> = (0..n).filter(|i| !side[*i]).collect();
                self.cluster.partition(&[&a, &b]);
            }
            Action::CutOneWay => {
                let (from, to) = (self.victim(), self.rand(n as u64) as usize);
                if from != to {
                    self.cluster.cut_one_way(from, to);
                }
            }
            Action::Crash => self.crash_or_restart(self.victim()),
            Action::CrashMajority => {
                let mut order: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    order.swap(i, self.rand(i as u64 + 1) as usize);
                }
                for &i in &order[..n / 2 + 1] {
                    self.crash(i);
                }
            }
            Action::CrashAtPersist => {
                let i = self.victim();
                let point = if self.rand(2) == 0 { CrashPoint::BeforePersist } else { CrashPoint::AfterPersist };
                self.cluster.h.inject(Fault::CrashAtPersist { server: self.cluster.servers[i], point: Some(point) });
            }
            Action::Pause => {
                let i = self.victim();
                if !self.cluster.is_up(i) {
                    return;
                }
                if self.cluster.is_paused(i) {
                    self.cluster.resume(i);
                } else {
                    self.cluster.pause(i);
                }
            }
        }
    }

    fn crash(&self, i: usize) {
        if self.cluster.is_up(i) {
            let mode = if self.rand(2) == 0 { CrashMode::Process } else { CrashMode::LoseUnsynced };
            self.cluster.crash_with(i, mode); // a kill ends a pause too
        }
    }

    /// Crashes a running server, or restarts a crashed one.
    fn crash_or_restart(&self, i: usize) {
        if self.cluster.is_up(i) {
            self.crash(i);
        } else {
            self.restart(i);
        }
    }

    fn restart(&self, i: usize) {
        self.cluster.restart(i);
        self.cluster.connect(i);
    }

    /// Every crashed server restarted (a crash point that fired counts),
    /// every link up (cuts healed).
    fn heal_links(&self) {
        for i in 0..self.cluster.n() {
            if !self.cluster.is_up(i) {
                self.restart(i);
            }
        }
        self.cluster.connect_all();
    }

    /// The end of the chaos: every server up, resumed and connected over a
    /// reliable network, for the liveness phase.
    pub fn heal(&self) {
        bugs::buggify::disable();
        for i in 0..self.cluster.n() {
            let server = self.cluster.servers[i];
            self.cluster.h.inject(Fault::CrashAtPersist { server, point: None });
            if self.cluster.is_paused(i) {
                self.cluster.resume(i);
            }
        }
        self.heal_links();
        self.set_network(false);
    }
}
