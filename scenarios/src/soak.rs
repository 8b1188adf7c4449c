//! Soak runs: many scenarios times many seeds on several threads, with a
//! summary per scenario (runs, failures, CPU and virtual time per run) and
//! every failure with the command that replays it. Results are reported in a
//! fixed order whatever the thread interleaving.

use crate::runner::{replay_command, run_checking_determinism, run_scenario, Outcome};
use crate::Scenario;
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What to soak.
#[derive(Clone)]
pub struct SoakPlan {
    pub scenarios: Vec<Scenario>,
    pub first_seed: u64,
    pub seeds: u64,
    pub jobs: usize,
    pub check_determinism: bool,
}

/// One run's result.
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    pub scenario: &'static str,
    pub seed: u64,
    pub passed: bool,
    pub reason: Option<String>,
    pub cpu_ms: f64,
    pub virtual_ms: f64,
    pub events: u64,
    /// Client operations completed (labs with clients; 0 otherwise).
    pub operations: u64,
    /// shardkv: shards pulled from one group into another.
    pub shards_moved: u64,
    pub trace_hash: String,
}

/// Per-scenario totals.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioSummary {
    pub scenario: &'static str,
    pub runs: u64,
    pub failures: u64,
    pub cpu_ms_per_run: f64,
    pub virtual_s_per_run: f64,
    pub events_per_run: f64,
    pub operations_per_run: f64,
    pub shards_moved_per_run: f64,
    /// CPU microseconds per client operation (simulation and check).
    pub cpu_us_per_operation: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SoakReport {
    pub summaries: Vec<ScenarioSummary>,
    pub failures: Vec<RunRecord>,
    pub total_runs: u64,
    pub total_failures: u64,
    pub total_cpu_ms: f64,
}

/// CPU time used by the calling thread, in milliseconds.
pub fn thread_cpu_ms() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "CLOCK_THREAD_CPUTIME_ID is available on Linux");
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

fn record(scenario: &Scenario, seed: u64, outcome: Outcome, cpu_ms: f64) -> RunRecord {
    let operations = outcome.operations();
    RunRecord {
        scenario: scenario.name,
        seed,
        passed: outcome.result.is_ok(),
        reason: outcome.result.err(),
        cpu_ms,
        virtual_ms: outcome.stats.virtual_time as f64 / 1e6,
        events: outcome.stats.trace.events(),
        operations,
        shards_moved: outcome.shards_moved,
        trace_hash: format!("{:016x}", outcome.stats.trace.hash()),
    }
}

/// Runs one scenario for one seed and measures its CPU time.
pub fn run_measured(scenario: &Scenario, seed: u64, check_determinism: bool) -> RunRecord {
    let start = thread_cpu_ms();
    let outcome = if check_determinism {
        run_checking_determinism(scenario, seed)
    } else {
        run_scenario(scenario, seed, sim::TraceMode::HashOnly)
    };
    let mut cpu = thread_cpu_ms() - start;
    if check_determinism {
        cpu /= 2.0; // report the cost of one run
    }
    record(scenario, seed, outcome, cpu)
}

/// Runs the plan; `progress` is called after each finished run with
/// (finished, total).
pub fn soak(plan: &SoakPlan, progress: &(dyn Fn(usize, usize) + Sync)) -> SoakReport {
    assert!(plan.jobs >= 1, "at least one job");
    let jobs: Vec<(usize, u64)> =
        (0..plan.scenarios.len()).flat_map(|i| (0..plan.seeds).map(move |k| (i, plan.first_seed + k))).collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(jobs.len()));
    std::thread::scope(|scope| {
        for _ in 0..plan.jobs.min(jobs.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(scenario, seed)) = jobs.get(i) else { break };
                let rec = run_measured(&plan.scenarios[scenario], seed, plan.check_determinism);
                results.lock().expect("no thread panics while holding results").push((scenario, rec));
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, jobs.len());
            });
        }
    });
    let mut results = results.into_inner().expect("threads finished");
    results.sort_by_key(|(i, r)| (*i, r.seed));
    summarize(plan, results)
}

fn summarize(plan: &SoakPlan, results: Vec<(usize, RunRecord)>) -> SoakReport {
    let mut summaries = Vec::new();
    for (i, scenario) in plan.scenarios.iter().enumerate() {
        let runs: Vec<&RunRecord> = results.iter().filter(|(j, _)| *j == i).map(|(_, r)| r).collect();
        let n = runs.len().max(1) as f64;
        summaries.push(ScenarioSummary {
            scenario: scenario.name,
            runs: runs.len() as u64,
            failures: runs.iter().filter(|r| !r.passed).count() as u64,
            cpu_ms_per_run: runs.iter().map(|r| r.cpu_ms).sum::<f64>() / n,
            virtual_s_per_run: runs.iter().map(|r| r.virtual_ms).sum::<f64>() / n / 1e3,
            events_per_run: runs.iter().map(|r| r.events as f64).sum::<f64>() / n,
            operations_per_run: runs.iter().map(|r| r.operations as f64).sum::<f64>() / n,
            shards_moved_per_run: runs.iter().map(|r| r.shards_moved as f64).sum::<f64>() / n,
            cpu_us_per_operation: {
                let ops: u64 = runs.iter().map(|r| r.operations).sum();
                (ops > 0).then(|| runs.iter().map(|r| r.cpu_ms).sum::<f64>() * 1e3 / ops as f64)
            },
        });
    }
    let total_cpu_ms = results.iter().map(|(_, r)| r.cpu_ms).sum();
    let failures: Vec<RunRecord> = results.into_iter().map(|(_, r)| r).filter(|r| !r.passed).collect();
    SoakReport {
        total_runs: summaries.iter().map(|s| s.runs).sum(),
        total_failures: failures.len() as u64,
        summaries,
        failures,
        total_cpu_ms,
    }
}

/// The report as text: a table, then every failure with its replay command.
pub fn format_report(report: &SoakReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let width = report.summaries.iter().map(|s| s.scenario.len()).max().unwrap_or(8).max(8);
    writeln!(
        out,
        "{:width$}  {:>6}  {:>8}  {:>10}  {:>10}  {:>10}  {:>8}  {:>8}",
        "scenario", "runs", "failures", "cpu ms/run", "virt s/run", "events/run", "ops/run", "cpu us/op"
    )
    .unwrap();
    for s in &report.summaries {
        let per_op = s.cpu_us_per_operation.map_or("-".to_string(), |us| format!("{us:.2}"));
        writeln!(
            out,
            "{:width$}  {:>6}  {:>8}  {:>10.2}  {:>10.2}  {:>10.0}  {:>8.0}  {:>8}",
            s.scenario,
            s.runs,
            s.failures,
            s.cpu_ms_per_run,
            s.virtual_s_per_run,
            s.events_per_run,
            s.operations_per_run,
            per_op
        )
        .unwrap();
    }
    let per_seed = if report.summaries.is_empty() || report.summaries[0].runs == 0 {
        0.0
    } else {
        report.summaries.iter().map(|s| s.cpu_ms_per_run).sum::<f64>()
    };
    let ops_per_seed: f64 = report.summaries.iter().map(|s| s.operations_per_run).sum();
    let mut per_op = if ops_per_seed > 0.0 {
        format!("; {:.2} us CPU per client operation", per_seed * 1e3 / ops_per_seed)
    } else {
        String::new()
    };
    let moved_per_seed: f64 = report.summaries.iter().map(|s| s.shards_moved_per_run).sum();
    if moved_per_seed > 0.0 {
        per_op.push_str(&format!("; {moved_per_seed:.0} shards moved per seed"));
    }
    writeln!(
        out,
        "total: {} runs, {} failed, {:.1} s CPU; {:.2} ms CPU per seed for all scenarios{per_op}",
        report.total_runs,
        report.total_failures,
        report.total_cpu_ms / 1e3,
        per_seed
    )
    .unwrap();
    for f in &report.failures {
        writeln!(out, "FAILED {} seed {}: {}", f.scenario, f.seed, f.reason.as_deref().unwrap_or("")).unwrap();
        writeln!(out, "  replay: {}", replay_command(f.scenario, f.seed)).unwrap();
    }
    out
}
