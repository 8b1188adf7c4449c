//! `labsim soak` on the command line: checks the report paths before any
//! run, shows progress (a live bar on a terminal, plain lines otherwise),
//! stops cleanly on Ctrl-C (the runs done are reported and written, and a
//! second Ctrl-C quits at once), and writes the JSON and JUnit reports.

use crate::output::OutputFile;
use scenarios::soak::{format_report, junit_xml, soak, Progress, SoakPlan, SoakReport};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// The most seeds one soak takes (a bound, so that counts cannot overflow).
pub const MAX_SEEDS: u64 = 1_000_000_000_000;

/// Seeds per scenario when `--seeds` is not given: a first soak of every
/// scenario in a few minutes on 2 cores.
pub const DEFAULT_SEEDS: u64 = 100;

/// Seeds per scenario a default soak suggests next.
const LONGER_SEEDS: u64 = 2000;

/// Set by Ctrl-C: the workers take no more runs.
static STOP: AtomicBool = AtomicBool::new(false);

/// Where the reports go.
pub struct ReportFiles {
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
}

/// Parses `--shard K/N` (1 <= K <= N).
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let bad = || format!("'{text}' is not K/N with 1 <= K <= N (for example 2/8)");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (k, n): (u64, u64) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if k == 0 || k > n || n > 1_000_000 {
        return Err(bad());
    }
    Ok((k, n))
}

/// Runs the soak and reports it: exit 0 all passed, 1 a run failed, 2 a
/// report could not be written, 130 stopped by Ctrl-C with no failure.
/// `longer`: the command of a soak run with the default seeds, to suggest
/// a longer one with its time estimate.
/// `shrink_first`: how many of the failures listed to shrink after it.
pub fn run(plan: SoakPlan, files: ReportFiles, longer: Option<&str>, shrink_first: u64) -> ExitCode {
    // The report paths are checked before the soak, so a bad path costs a
    // second, not the whole soak.
    let check = |flag, path: Option<PathBuf>| path.map(|p| OutputFile::check(flag, p)).transpose();
    let (json, junit) = match (check("--json", files.json), check("--junit", files.junit)) {
        (Ok(json), Ok(junit)) => (json, junit),
        (Err(e), _) | (_, Err(e)) => return usage(e),
    };
    install_ctrl_c();
    describe(&plan);
    let report = soak(&plan, &progress_display(plan.shard_runs()), &STOP);
    print!("{}", format_report(&report));
    if let Some(command) = longer.filter(|_| report.complete && report.total_failures == 0) {
        let estimate = report.wall_s * LONGER_SEEDS as f64 / plan.seeds as f64;
        println!(
            "a longer soak: {command} --seeds {LONGER_SEEDS} (about {} on {} threads at this run's speed)",
            crate::duration_text(estimate),
            plan.jobs
        );
    }
    let mut write_failed = false;
    if let Some(file) = json {
        let text = serde_json::to_string_pretty(&report).expect("a soak report serializes");
        write_failed |= write(file.write(text.as_bytes()));
    }
    if let Some(file) = junit {
        write_failed |= write(file.write(junit_xml(&report).as_bytes()));
    }
    shrink_failures(&plan, &report, shrink_first);
    exit_code(&report, write_failed)
}

/// Shrinks the first `count` failures the report lists (not those that
/// did not replay: a schedule cannot help there).
fn shrink_failures(plan: &SoakPlan, report: &SoakReport, count: u64) {
    let shrinkable = report.failed_runs.iter().filter(|f| !f.reason.starts_with("NOT "));
    for failed in shrinkable.take(count as usize) {
        if STOP.load(std::sync::atomic::Ordering::Relaxed) {
            return; // Ctrl-C: the report is out already
        }
        let Some(scenario) = plan.scenarios.iter().find(|s| s.name == failed.scenario) else { continue };
        crate::shrink_cli::shrink_found(scenario, plan.run(failed.seed), scenarios::shrink::Budget::default());
    }
}

/// Failed runs decide the exit code before a failed write or a stop does.
fn exit_code(report: &SoakReport, write_failed: bool) -> ExitCode {
    match (report.total_failures, write_failed, report.complete) {
        (1.., _, _) => ExitCode::from(1),
        (0, true, _) => ExitCode::from(2),
        (0, false, false) => ExitCode::from(130),
        (0, false, true) => ExitCode::SUCCESS,
    }
}

/// Reports a failed write; returns whether it failed.
fn write(written: Result<(), String>) -> bool {
    if let Err(e) = &written {
        eprintln!("labsim: {e}");
    }
    written.is_err()
}

fn usage(message: String) -> ExitCode {
    eprintln!("labsim: {message}");
    ExitCode::from(2)
}

/// The first Ctrl-C stops the soak after the runs in progress; the second
/// exits at once.
fn install_ctrl_c() {
    let result = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
        eprintln!("\nlabsim: stopping after the runs in progress (Ctrl-C again to quit now)");
    });
    if let Err(e) = result {
        eprintln!("labsim: Ctrl-C will not stop the soak cleanly: {e}");
    }
}

fn describe(plan: &SoakPlan) {
    let shard = plan.shard.map_or(String::new(), |(k, n)| format!(", shard {k}/{n} ({} runs)", plan.shard_runs()));
    eprintln!(
        "soaking {} scenarios x {} seeds (first seed {}) on {} threads{}{}",
        plan.scenarios.len(),
        plan.seeds,
        plan.first_seed,
        plan.jobs.min(plan.shard_runs().max(1) as usize),
        if plan.check_determinism {
            ", each run twice"
        } else if plan.check_schedule {
            ", each run twice: recording its schedule, then following it"
        } else {
            ""
        },
        shard
    );
}

/// A live bar when stderr is a terminal; else a line at every 5%.
fn progress_display(total: u64) -> impl Fn(Progress) + Sync {
    let started = std::time::Instant::now();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total);
        let style = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {msg}, {per_sec}, ETA {eta}")
            .expect("the template is valid");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let step = (total / 20).max(1);
    let printed = AtomicU64::new(0);
    move |p: Progress| match &bar {
        Some(bar) => {
            bar.set_position(p.done);
            bar.set_message(format!("{} failed", p.failures));
            if p.done == p.total {
                bar.finish_and_clear();
            }
        }
        None => {
            if (p.done.is_multiple_of(step) || p.done == p.total)
                && printed.fetch_max(p.done, Ordering::Relaxed) < p.done
            {
                let left = started.elapsed().as_secs_f64() * (p.total - p.done) as f64 / p.done.max(1) as f64;
                let eta = if p.done < p.total {
                    format!(", about {} left", crate::duration_text(left))
                } else {
                    String::new()
                };
                eprintln!("  {}/{} runs, {} failed{eta}", p.done, p.total, p.failures);
            }
        }
    }
}
