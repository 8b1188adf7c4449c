//! Bug hunting: run the scenarios with one catalogued bug switched on until
//! one fails, and count what it took.
//!
//! A hunt goes in rounds. Round r runs every swarm scenario of the bug's
//! layer with seed r, then the next of the layer's lab tests in turn (each
//! lab test runs once every L rounds, with a new seed each time): the swarm
//! scenarios hunt every kind of bug, the lab tests the ones they were
//! written for. The order is fixed, so the runs to the first catch do not
//! depend on how many threads run them: runs go in batches of `jobs`, and
//! the first failure in order is the catch.
//!
//! The baseline hunt measures what the project caught before it had swarm
//! runs, the Raft observer and the durability checks: the layer's other
//! scenarios in turn, without those checks.

use crate::registry::{matching, Scenario};
use crate::runner::{run_scenario, Run};
use crate::soak::thread_cpu_ms;
use crate::Implementation;
use bugs::{Bug, Bugs};

/// What a hunt found.
#[derive(Clone, Debug)]
pub struct Catch {
    pub scenario: &'static str,
    /// The command that replays the scenario (`Scenario::replay`).
    pub replay: &'static str,
    pub seed: u64,
    /// Runs up to and including the one that failed.
    pub runs: u64,
    /// CPU time of those runs.
    pub cpu_s: f64,
    pub reason: String,
    /// The catching run's trace hash, which its replay checks (with the
    /// harness checks on, as a replay runs).
    pub trace: Option<u64>,
}

/// Which scenarios and checks hunt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hunters {
    /// Swarm scenarios every round, the others in turn; every check on.
    All,
    /// The scenarios and checks there were before swarm runs: no swarm
    /// scenario, no Raft observer, no durability check.
    Baseline,
}

/// How a hunt ended.
#[derive(Clone, Debug)]
pub struct Hunt {
    pub bug: Bug,
    pub caught: Option<Catch>,
    /// Runs made (all of them when nothing was caught).
    pub runs: u64,
    pub cpu_s: f64,
}

/// The scenarios that hunt a bug: the swarm scenarios, then the lab tests
/// (and beyond-the-lab chaos scenarios), of the lab it shows in
/// (`Bug::hunted_in`: its layer's, or the service above it).
pub fn hunters<I: Implementation>(bug: Bug, which: Hunters) -> (Vec<Scenario>, Vec<Scenario>) {
    let all = matching::<I>(bug.hunted_in().name());
    let (swarm, others): (Vec<Scenario>, Vec<Scenario>) = all.into_iter().partition(|s| s.name.contains("swarm"));
    match which {
        Hunters::All => (swarm, others),
        Hunters::Baseline => (Vec::new(), others),
    }
}

/// The j-th run of a hunt: (scenario, seed).
fn run_at(swarm: &[Scenario], lab: &[Scenario], j: u64) -> (Scenario, u64) {
    let per_round = swarm.len() as u64 + u64::from(!lab.is_empty());
    let (round, k) = (j / per_round, j % per_round);
    if (k as usize) < swarm.len() {
        (swarm[k as usize], round)
    } else {
        let l = lab.len() as u64;
        (lab[(round % l) as usize], round / l)
    }
}

/// The most runs a hunt makes by default: a bug that takes more counts as
/// not caught.
pub const MAX_RUNS: u64 = 200;

/// Hunts `bug` for at most `max_runs` runs on `jobs` threads.
pub fn hunt<I: Implementation>(bug: Bug, max_runs: u64, jobs: usize) -> Hunt {
    hunt_with::<I>(bug, Hunters::All, u64::MAX, max_runs, jobs)
}

/// Hunts `bug` with these hunters, for at most `rounds` rounds and
/// `max_runs` runs.
pub fn hunt_with<I: Implementation>(bug: Bug, which: Hunters, rounds: u64, max_runs: u64, jobs: usize) -> Hunt {
    let (swarm, lab) = hunters::<I>(bug, which);
    assert!(!swarm.is_empty() || !lab.is_empty(), "every layer has scenarios");
    let per_round = swarm.len() as u64 + u64::from(!lab.is_empty());
    let total = rounds.saturating_mul(per_round).min(max_runs);
    let mut cpu_s = 0.0;
    let mut j = 0;
    while j < total {
        let batch: Vec<u64> = (j..total.min(j + jobs as u64)).collect();
        let checks = which == Hunters::All;
        let results = run_batch(bug, checks, &swarm, &lab, &batch);
        for (k, (cpu, result, trace)) in results.into_iter().enumerate() {
            cpu_s += cpu;
            if let Err(reason) = result {
                let (scenario, seed) = run_at(&swarm, &lab, batch[k]);
                let runs = batch[k] + 1;
                let trace = checks.then_some(trace);
                let catch =
                    Catch { scenario: scenario.name, replay: scenario.replay, seed, runs, cpu_s, reason, trace };
                return Hunt { bug, caught: Some(catch), runs, cpu_s };
            }
        }
        j += batch.len() as u64;
    }
    Hunt { bug, caught: None, runs: total, cpu_s }
}

/// Runs a batch of a hunt's runs in parallel: (CPU s, result) each, in
/// the batch's order.
fn run_batch(
    bug: Bug,
    checks: bool,
    swarm: &[Scenario],
    lab: &[Scenario],
    batch: &[u64],
) -> Vec<(f64, Result<(), String>, u64)> {
    std::thread::scope(|scope| {
        let runs: Vec<_> = batch
            .iter()
            .map(|&j| {
                scope.spawn(move || {
                    let (scenario, seed) = run_at(swarm, lab, j);
                    let start = thread_cpu_ms();
                    let run = Run::new(seed)
                        .with_bugs(Bugs::one(bug))
                        .with_asked_optimisations(needed(bug))
                        .with_harness_checks(checks);
                    let outcome = run_scenario(&scenario, &run);
                    ((thread_cpu_ms() - start) / 1000.0, outcome.result, outcome.stats.trace.hash())
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().expect("a hunter thread panicked")).collect()
    })
}

/// The command that replays a catch with logs (and checks it is the same
/// run, when the catch had the harness checks on as a replay does).
pub fn replay_command(bug: Bug, catch: &Catch) -> String {
    let expect = catch.trace.map_or(String::new(), |t| format!(" --expect-trace {t:016x}"));
    let with = needed(bug).map_or(String::new(), |set| format!(" --with {set}"));
    format!(
        "RUST_LOG=debug {} run {} --seed {} --bugs {}{with}{expect}",
        catch.replay,
        catch.scenario,
        catch.seed,
        bug.name()
    )
}

/// The optimisations a hunt for `bug` switches on: the implementation's
/// default and those its code runs only with (`None`: the default, or a
/// swarm run's draw).
pub fn needed(bug: Bug) -> Option<contract::AskedOptimisations> {
    let with = named(bug.hunt_with());
    (!with.is_empty()).then(|| contract::AskedOptimisations::default_with(with))
}

/// The optimisations the code of `bug` runs only with.
pub fn needs(bug: Bug) -> contract::Optimisations {
    named(bug.needs())
}

/// Optimisations as the catalogue names them (`""`: none).
pub fn named(names: &str) -> contract::Optimisations {
    match names {
        "" => contract::Optimisations::NONE,
        names => contract::Optimisations::parse(names).expect("the catalogue names known optimisations"),
    }
}

/// What caught a bug, from its failure reason: Figure 2's step rules, the
/// Raft observer, the durability checks, the linearizability checker, the
/// latency bound, the liveness phase, a server's own assertion, or the lab
/// test's checks.
pub fn caught_by(reason: &str) -> &'static str {
    // A failed test whose history is also illegal says so after "; and the".
    let reason = reason.split("; and the ").next().unwrap_or(reason);
    if reason.contains("raft rule broken") {
        "step rules"
    } else if reason.contains("raft invariant broken") {
        if reason.contains("is not persisted")
            || reason.contains("holds HardState")
            || reason.contains("but persisted term")
        {
            "durability check"
        } else {
            "raft observer"
        }
    } else if reason.contains("before persisting") {
        "durability check"
    } else if reason.contains("not linearizable") {
        "linearizability"
    } else if reason.contains("latency bound") {
        "latency bound"
    } else if reason.contains("liveness after healing") {
        "liveness phase"
    } else if reason.starts_with("panicked") {
        "server assertion"
    } else {
        "lab check"
    }
}

/// One line of the README's table.
pub fn table_row(h: &Hunt) -> String {
    match &h.caught {
        Some(c) => format!(
            "| `{}` | {} | yes | {} | {} | {} | {:.1} |",
            h.bug.name(),
            h.bug.layer().name(),
            c.scenario,
            caught_by(&c.reason),
            c.runs,
            c.cpu_s * 1000.0
        ),
        None => {
            let (name, layer, cpu_ms) = (h.bug.name(), h.bug.layer().name(), h.cpu_s * 1000.0);
            format!("| `{name}` | {layer} | **no** | - | - | {} | {cpu_ms:.1} |", h.runs)
        }
    }
}

pub const TABLE_HEADER: &str =
    "| bug | layer | caught | first caught by | check | runs | CPU ms |\n|---|---|---|---|---|---|---:|";
