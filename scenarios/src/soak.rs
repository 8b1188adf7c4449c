//! Soak runs: many scenarios times many seeds on several threads, streamed:
//! each run folds into its scenario's totals (counts, sums, a histogram of
//! CPU time) and only failures are kept (the first `FAILURES_KEPT`), so a
//! soak's memory does not grow with its seed count.
//!
//! The runs of a soak are numbered seed-major (every scenario for the first
//! seed, then the next seed), so a soak stopped early (Ctrl-C) has covered
//! every scenario evenly. `--shard K/N` takes the runs whose number is K-1
//! modulo N: N shards cover the soak with no overlap and no gap. A wall-clock
//! watchdog stops a run that takes too long and reports it as that seed's
//! failure. Reports are the same whatever the thread interleaving.

use crate::runner::{replay_command, run_checking_determinism, run_checking_schedule, run_scenario, Outcome, Run};
use crate::Scenario;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures listed in a report; more are counted.
pub const FAILURES_KEPT: usize = 1000;

/// What to soak.
#[derive(Clone)]
pub struct SoakPlan {
    pub scenarios: Vec<Scenario>,
    pub first_seed: u64,
    pub seeds: u64,
    pub jobs: usize,
    pub check_determinism: bool,
    /// Run every seed recording its schedule of faults, then following
    /// it, and compare the traces (`runner::run_checking_schedule`).
    pub check_schedule: bool,
    /// (k, n): only the k-th (from 1) of n slices of the runs.
    pub shard: Option<(u64, u64)>,
    /// A run taking longer than this (wall clock) is stopped and failed.
    pub watchdog: Option<Duration>,
    /// The catalogued bugs switched on in every run.
    pub bugs: bugs::Bugs,
    /// The Raft optimisations every run switches on (`None`: each
    /// implementation's default; swarm runs draw theirs).
    pub optimisations: Option<contract::AskedOptimisations>,
    /// Every server's disk latency per write (0: none).
    pub disk_write: sim::Nanos,
}

impl SoakPlan {
    /// Every scenario for `seeds` seeds from `first_seed`, on `jobs` threads.
    pub fn new(scenarios: Vec<Scenario>, first_seed: u64, seeds: u64, jobs: usize) -> SoakPlan {
        SoakPlan {
            scenarios,
            first_seed,
            seeds,
            jobs,
            check_determinism: false,
            check_schedule: false,
            shard: None,
            watchdog: None,
            bugs: bugs::Bugs::NONE,
            optimisations: None,
            disk_write: 0,
        }
    }

    /// The run of `seed`, with the plan's bugs and optimisations.
    pub fn run(&self, seed: u64) -> Run {
        Run::new(seed)
            .with_bugs(self.bugs)
            .with_asked_optimisations(self.optimisations)
            .with_disk_write(self.disk_write)
    }

    /// Runs in the whole soak (all shards).
    pub fn total_runs(&self) -> u64 {
        self.scenarios.len() as u64 * self.seeds
    }

    /// Runs in this plan's shard.
    pub fn shard_runs(&self) -> u64 {
        let (k, n) = self.shard.unwrap_or((1, 1));
        let total = self.total_runs();
        total / n + u64::from(total % n >= k)
    }

    /// The j-th run of this shard: (scenario index, seed).
    fn run_at(&self, j: u64) -> (usize, u64) {
        let (k, n) = self.shard.unwrap_or((1, 1));
        let i = j * n + (k - 1);
        let scenarios = self.scenarios.len() as u64;
        ((i % scenarios) as usize, self.first_seed + i / scenarios)
    }
}

/// A failed run.
#[derive(Clone, Debug, Serialize)]
pub struct FailedRun {
    pub scenario: &'static str,
    pub seed: u64,
    pub reason: String,
    /// The one command that replays it.
    pub replay: String,
}

/// Per-scenario totals.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioSummary {
    pub name: &'static str,
    pub runs: u64,
    pub failures: u64,
    pub cpu_ms_per_run: f64,
    pub cpu_ms_median: f64,
    pub cpu_ms_p99: f64,
    pub cpu_ms_max: f64,
    pub virtual_s_per_run: f64,
    /// Virtual time covered per second of CPU.
    pub virtual_per_cpu: f64,
    pub events_per_run: f64,
    pub operations_per_run: f64,
    /// CPU microseconds per client operation (simulation and check).
    pub cpu_us_per_operation: Option<f64>,
    pub shards_moved_per_run: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SoakReport {
    /// The implementation the scenarios ran (`Implementation::NAME`).
    pub implementation: &'static str,
    pub first_seed: u64,
    pub seeds: u64,
    /// "K/N" when the soak was one shard.
    pub shard: Option<String>,
    pub check_determinism: bool,
    pub check_schedule: bool,
    /// False when the soak was stopped before every run was done.
    pub complete: bool,
    pub total_runs: u64,
    pub total_failures: u64,
    pub total_cpu_ms: f64,
    /// The system (kernel) part of `total_cpu_ms`.
    pub total_system_ms: f64,
    pub wall_s: f64,
    pub runs_per_second: f64,
    pub scenarios: Vec<ScenarioSummary>,
    /// The failures listed: each failing scenario's first, then the others
    /// by scenario and seed, `FAILURES_KEPT` in all.
    pub failed_runs: Vec<FailedRun>,
}

/// What a run measured; summed over runs, what a scenario's runs measured.
#[derive(Clone, Copy, Debug, Default)]
struct Measures {
    cpu_ms: f64,
    /// The system part of `cpu_ms`.
    system_ms: f64,
    virtual_ms: f64,
    events: u64,
    operations: u64,
    shards_moved: u64,
}

impl std::ops::AddAssign for Measures {
    fn add_assign(&mut self, m: Measures) {
        self.cpu_ms += m.cpu_ms;
        self.system_ms += m.system_ms;
        self.virtual_ms += m.virtual_ms;
        self.events += m.events;
        self.operations += m.operations;
        self.shards_moved += m.shards_moved;
    }
}

/// One run's result.
struct RunRecord {
    passed: bool,
    reason: Option<String>,
    /// The run's trace hash, which its replay checks (none for a run the
    /// watchdog stopped: a replay runs to the end).
    trace: Option<u64>,
    measures: Measures,
}

/// A scenario's running totals.
struct Totals {
    runs: u64,
    failures: u64,
    sum: Measures,
    /// CPU microseconds per run.
    cpu_us: Histogram<u64>,
}

impl Totals {
    fn new() -> Totals {
        // To 3 significant digits; it grows to the longest run recorded (a
        // fixed range of 1 us to 10 hours costs 200 KB zeroed per scenario).
        let cpu_us = Histogram::new(3).expect("a valid precision");
        Totals { runs: 0, failures: 0, sum: Measures::default(), cpu_us }
    }

    fn add(&mut self, r: &RunRecord) {
        self.runs += 1;
        self.failures += u64::from(!r.passed);
        self.sum += r.measures;
        self.cpu_us.record((r.measures.cpu_ms * 1e3) as u64).expect("an auto-resizing histogram records any time");
    }

    fn summary(&self, name: &'static str) -> ScenarioSummary {
        let n = self.runs.max(1) as f64;
        let sum = &self.sum;
        let quantile_ms = |q: f64| self.cpu_us.value_at_quantile(q) as f64 / 1e3;
        ScenarioSummary {
            name,
            runs: self.runs,
            failures: self.failures,
            cpu_ms_per_run: sum.cpu_ms / n,
            cpu_ms_median: quantile_ms(0.5),
            cpu_ms_p99: quantile_ms(0.99),
            cpu_ms_max: self.cpu_us.max() as f64 / 1e3,
            virtual_s_per_run: sum.virtual_ms / n / 1e3,
            virtual_per_cpu: if sum.cpu_ms > 0.0 { sum.virtual_ms / sum.cpu_ms } else { 0.0 },
            events_per_run: sum.events as f64 / n,
            operations_per_run: sum.operations as f64 / n,
            cpu_us_per_operation: (sum.operations > 0).then(|| sum.cpu_ms * 1e3 / sum.operations as f64),
            shards_moved_per_run: sum.shards_moved as f64 / n,
        }
    }
}

/// CPU time used by the calling thread, in milliseconds.
pub fn thread_cpu_ms() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "CLOCK_THREAD_CPUTIME_ID is available on Linux");
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

/// System (kernel) time used by the calling thread, in milliseconds: the
/// part of its CPU time spent in page faults and the like.
pub fn thread_system_ms() -> f64 {
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage through a valid pointer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    assert_eq!(rc, 0, "RUSAGE_THREAD is available on Linux");
    usage.ru_stime.tv_sec as f64 * 1e3 + usage.ru_stime.tv_usec as f64 / 1e3
}

fn record(outcome: Outcome, cpu_ms: f64, system_ms: f64) -> RunRecord {
    let measures = Measures {
        cpu_ms,
        system_ms,
        virtual_ms: outcome.stats.virtual_time as f64 / 1e6,
        events: outcome.stats.trace.events(),
        operations: outcome.operations(),
        shards_moved: outcome.shards_moved,
    };
    let trace = Some(outcome.stats.trace.hash());
    RunRecord { passed: outcome.result.is_ok(), reason: outcome.result.err(), trace, measures }
}

/// Runs one scenario for one seed (twice, with a check) and measures its
/// CPU time.
fn run_measured(scenario: &Scenario, run: &Run, plan: &SoakPlan) -> RunRecord {
    let (start, start_system) = (thread_cpu_ms(), thread_system_ms());
    let outcome = if plan.check_determinism {
        run_checking_determinism(scenario, run)
    } else if plan.check_schedule {
        run_checking_schedule(scenario, run)
    } else {
        run_scenario(scenario, run)
    };
    let runs = if plan.check_determinism || plan.check_schedule { 2.0 } else { 1.0 }; // the cost of one run
    record(outcome, (thread_cpu_ms() - start) / runs, (thread_system_ms() - start_system) / runs)
}

/// How far a soak is, for progress displays.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub done: u64,
    pub failures: u64,
    pub total: u64,
}

/// Each worker's current run start, for the watchdog.
struct Watch {
    started: Mutex<Option<Instant>>,
    stop: &'static AtomicBool,
}

/// Runs the plan; `progress` is called after each finished run. Workers
/// stop taking runs once `stop` is set (the report then says incomplete).
pub fn soak(plan: &SoakPlan, progress: &(dyn Fn(Progress) + Sync), stop: &AtomicBool) -> SoakReport {
    assert!(plan.jobs >= 1, "at least one job");
    assert!(!plan.scenarios.is_empty(), "something to soak");
    let started = Instant::now();
    let runs = plan.shard_runs();
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let totals: Vec<Mutex<Totals>> = plan.scenarios.iter().map(|_| Mutex::new(Totals::new())).collect();
    let failures: Mutex<Vec<Failure>> = Mutex::new(Vec::new());
    let threads = plan.jobs.min(runs.max(1) as usize);
    // One stop flag per worker for the whole process's life: a few bytes.
    let watches: Vec<Watch> = (0..threads)
        .map(|_| Watch { started: Mutex::new(None), stop: Box::leak(Box::new(AtomicBool::new(false))) })
        .collect();
    let workers_done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        if let Some(limit) = plan.watchdog {
            let (watches, workers_done) = (&watches, &workers_done);
            scope.spawn(move || watchdog(watches, limit, workers_done));
        }
        let handles: Vec<_> = watches
            .iter()
            .map(|watch| {
                let (next, done, failed, totals, failures) = (&next, &done, &failed, &totals, &failures);
                scope.spawn(move || loop {
                    let j = next.fetch_add(1, Ordering::Relaxed);
                    if j >= runs || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let (scenario, seed) = plan.run_at(j);
                    let rec = run_watched(plan, watch, scenario, seed);
                    totals[scenario].lock().expect("no thread panics holding totals").add(&rec);
                    if let Some(reason) = rec.reason {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let failure = (scenario, seed, reason, rec.trace);
                        failures.lock().expect("no thread panics holding failures").push(failure);
                    }
                    let done = done.fetch_add(1, Ordering::Relaxed) + 1;
                    progress(Progress { done, failures: failed.load(Ordering::Relaxed), total: runs });
                })
            })
            .collect();
        for h in handles {
            h.join().expect("a worker thread panicked");
        }
        workers_done.store(true, Ordering::Relaxed);
    });
    let complete = done.load(Ordering::Relaxed) == runs;
    let totals: Vec<Totals> = totals.into_iter().map(|t| t.into_inner().expect("threads finished")).collect();
    let failures = failures.into_inner().expect("threads finished");
    summarize(plan, &totals, failures, complete, started.elapsed())
}

/// A run under the watchdog's eye; a stopped run's reason says so.
fn run_watched(plan: &SoakPlan, watch: &Watch, scenario: usize, seed: u64) -> RunRecord {
    watch.stop.store(false, Ordering::Relaxed);
    *watch.started.lock().expect("no thread panics holding a watch") = Some(Instant::now());
    let run = plan.run(seed).with_cancel(watch.stop);
    let mut rec = run_measured(&plan.scenarios[scenario], &run, plan);
    *watch.started.lock().expect("no thread panics holding a watch") = None;
    if watch.stop.load(Ordering::Relaxed) {
        let limit = plan.watchdog.expect("only the watchdog stops runs").as_secs_f64();
        let why = rec.reason.take().unwrap_or_default();
        rec.passed = false;
        rec.trace = None;
        rec.reason = Some(format!("watchdog: the run took more than {limit:.0} s of wall time; {why}"));
    }
    rec
}

/// Sets the stop flag of any run older than `limit`, until the workers end.
fn watchdog(watches: &[Watch], limit: Duration, workers_done: &AtomicBool) {
    while !workers_done.load(Ordering::Relaxed) {
        for watch in watches {
            let started = *watch.started.lock().expect("no thread panics holding a watch");
            if started.is_some_and(|t| t.elapsed() > limit) {
                watch.stop.store(true, Ordering::Relaxed);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn summarize(plan: &SoakPlan, totals: &[Totals], failures: Vec<Failure>, complete: bool, wall: Duration) -> SoakReport {
    let scenarios: Vec<ScenarioSummary> = plan.scenarios.iter().zip(totals).map(|(s, t)| t.summary(s.name)).collect();
    let total_failures = failures.len() as u64;
    let failures = first_failures(failures);
    let failed_runs = failures
        .into_iter()
        .map(|(i, seed, reason, trace)| {
            let replay = replay_command(&plan.scenarios[i], seed, &plan.run(seed), trace);
            let scenario = plan.scenarios[i].name;
            FailedRun { scenario, seed, reason, replay }
        })
        .collect();
    let total_runs: u64 = scenarios.iter().map(|s| s.runs).sum();
    SoakReport {
        implementation: plan.scenarios.first().map_or("none", |s| s.implementation),
        first_seed: plan.first_seed,
        seeds: plan.seeds,
        shard: plan.shard.map(|(k, n)| format!("{k}/{n}")),
        check_determinism: plan.check_determinism,
        check_schedule: plan.check_schedule,
        complete,
        total_runs,
        total_failures,
        total_cpu_ms: totals.iter().map(|t| t.sum.cpu_ms).sum(),
        total_system_ms: totals.iter().map(|t| t.sum.system_ms).sum(),
        wall_s: wall.as_secs_f64(),
        runs_per_second: total_runs as f64 / wall.as_secs_f64().max(1e-9),
        scenarios,
        failed_runs,
    }
}

/// The report as text: a table, then every failure listed with its replay
/// command.
pub fn format_report(report: &SoakReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let width = report.scenarios.iter().map(|s| s.name.len()).max().unwrap_or(8).max(8);
    writeln!(
        out,
        "{:width$}  {:>6}  {:>8}  {:>10}  {:>8}  {:>10}  {:>10}  {:>8}  {:>8}",
        "scenario", "runs", "failures", "cpu ms/run", "p99 ms", "virt s/run", "events/run", "ops/run", "cpu us/op"
    )
    .unwrap();
    for s in &report.scenarios {
        let per_op = s.cpu_us_per_operation.map_or("-".to_string(), |us| format!("{us:.2}"));
        writeln!(
            out,
            "{:width$}  {:>6}  {:>8}  {:>10.2}  {:>8.2}  {:>10.2}  {:>10.0}  {:>8.0}  {:>8}",
            s.name,
            s.runs,
            s.failures,
            s.cpu_ms_per_run,
            s.cpu_ms_p99,
            s.virtual_s_per_run,
            s.events_per_run,
            s.operations_per_run,
            per_op
        )
        .unwrap();
    }
    writeln!(out, "{} (implementation: {})", summary_line(report), report.implementation).unwrap();
    if !report.complete {
        writeln!(out, "INCOMPLETE: the soak was stopped; the figures cover the runs done").unwrap();
    }
    for f in &report.failed_runs {
        writeln!(out, "FAILED {} seed {}: {}", f.scenario, f.seed, f.reason).unwrap();
        writeln!(out, "  replay: {}", f.replay).unwrap();
    }
    let unlisted = report.total_failures - report.failed_runs.len() as u64;
    if unlisted > 0 {
        writeln!(out, "({unlisted} more failures not listed)").unwrap();
    }
    out
}

/// The failures a report lists, by scenario and seed: every failing
/// scenario's first, then the others in order, `FAILURES_KEPT` in all (so
/// a soak where everything fails still names every scenario).
/// A failed run: scenario (index), seed, reason, trace hash.
type Failure = (usize, u64, String, Option<u64>);

fn first_failures(mut failures: Vec<Failure>) -> Vec<Failure> {
    failures.sort_by_key(|f| (f.0, f.1));
    let (mut kept, mut others) = (Vec::new(), Vec::new());
    for failure in failures {
        if kept.last().is_some_and(|k: &Failure| k.0 == failure.0) {
            others.push(failure);
        } else {
            kept.push(failure);
        }
    }
    let room = FAILURES_KEPT.saturating_sub(kept.len());
    kept.extend(others.into_iter().take(room));
    kept.sort_by_key(|f| (f.0, f.1));
    kept
}

/// The totals line: runs, failures, CPU per seed and per operation, speed.
fn summary_line(report: &SoakReport) -> String {
    let per_seed: f64 = report.scenarios.iter().map(|s| s.cpu_ms_per_run).sum();
    let ops_per_seed: f64 = report.scenarios.iter().map(|s| s.operations_per_run).sum();
    let mut line = format!(
        "total: {} runs, {} failed, {:.1} s CPU ({:.1} s system); {per_seed:.2} ms CPU per seed for all scenarios",
        report.total_runs,
        report.total_failures,
        report.total_cpu_ms / 1e3,
        report.total_system_ms / 1e3
    );
    if ops_per_seed > 0.0 {
        line.push_str(&format!("; {:.2} us CPU per client operation", per_seed * 1e3 / ops_per_seed));
    }
    let moved_per_seed: f64 = report.scenarios.iter().map(|s| s.shards_moved_per_run).sum();
    if moved_per_seed > 0.0 {
        line.push_str(&format!("; {moved_per_seed:.0} shards moved per seed"));
    }
    line.push_str(&format!("; {:.1} runs per second", report.runs_per_second));
    line
}

/// The report as JUnit XML: one test case per scenario, failing with its
/// failed seeds and their replay commands.
pub fn junit_xml(report: &SoakReport) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(format!("labsim soak ({})", report.implementation));
    for s in &report.scenarios {
        let status = if s.failures == 0 {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(format!("{} of {} seeds failed", s.failures, s.runs));
            let listed: Vec<String> = report
                .failed_runs
                .iter()
                .filter(|f| f.scenario == s.name)
                .map(|f| format!("seed {}: {}\n  replay: {}", f.seed, f.reason, f.replay))
                .collect();
            status.set_description(listed.join("\n"));
            status
        };
        let mut case = TestCase::new(s.name, status);
        case.set_time(Duration::from_secs_f64(s.cpu_ms_per_run * s.runs as f64 / 1e3));
        suite.add_test_case(case);
    }
    if !report.complete {
        // A stopped soak did not test what it was asked to: an error, so no
        // reader takes the passing cases above for the whole soak.
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(format!("the soak was stopped after {} runs, before every run was done", report.total_runs));
        suite.add_test_case(TestCase::new("labsim soak (incomplete)", status));
    }
    let mut junit = Report::new("labsim");
    junit.add_test_suite(suite);
    junit.to_string().expect("a JUnit report serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_taking(cpu_ms: f64) -> RunRecord {
        let measures = Measures { cpu_ms, virtual_ms: 1.0, events: 1, ..Measures::default() };
        RunRecord { passed: true, reason: None, trace: None, measures }
    }

    #[test]
    fn cpu_quantiles_hold_from_microseconds_to_minutes() {
        let mut totals = Totals::new();
        for ms in (1..=98).map(|k| k as f64 * 10.0).chain([120_000.0, 0.005]) {
            totals.add(&run_taking(ms));
        }
        let s = totals.summary("x");
        assert_eq!(s.runs, 100);
        assert!((s.cpu_ms_median - 490.0).abs() < 1.0, "{}", s.cpu_ms_median);
        assert!((s.cpu_ms_p99 - 980.0).abs() < 1.0, "{}", s.cpu_ms_p99);
        assert!((s.cpu_ms_max - 120_000.0).abs() < 120.0, "{}", s.cpu_ms_max);
    }
}
