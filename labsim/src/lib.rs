//! `labsim`: list, run, soak and replay the lab's scenarios on one
//! implementation, hunt the bug catalogue, and check recorded histories.
//! The commands are this library: an implementation's binary is one line,
//!
//! ```ignore
//! fn main() -> std::process::ExitCode { labsim::main::<my_crate::Mine>() }
//! ```
//!
//! where `Mine` is the implementation's `scenarios::Implementation`.
//!
//! Exit codes: 0 pass, 1 a run (or a check) failed, 2 bad usage or input.

pub mod allocator;
pub mod compare_view;
pub mod hunt_cli;
pub mod output;
pub mod run_cli;
pub mod run_view;
pub mod shrink_cli;
pub mod soak_cli;

use crate::output::OutputFile;

/// A duration in seconds, in the unit a reader takes in at once: "850 us",
/// "12.5 ms", "3.2 s", "14 min", "2.5 h".
pub fn duration_text(seconds: f64) -> String {
    match seconds {
        s if s < 1e-3 => format!("{:.0} us", s * 1e6),
        s if s < 1.0 => format!("{:.1} ms", s * 1e3),
        s if s < 90.0 => format!("{s:.1} s"),
        s if s < 5400.0 => format!("{:.0} min", s / 60.0),
        s => format!("{:.1} h", s / 3600.0),
    }
}

use clap::{Parser, Subcommand};
use scenarios::soak::SoakPlan;
use scenarios::{find, matching, runner, Implementation, Scenario};
use std::io::Write;
use std::process::ExitCode;

/// Simulations and the checker allocate many small, short-lived objects:
/// every binary that links this library uses mimalloc (`allocator.rs`; a
/// binary that sets a global allocator of its own cannot link it).
/// Transparent huge pages are turned off for the process (in `main`): under
/// memory pressure the kernel stalls compacting memory for them, which
/// doubled a kv soak's system time (1.15 s against 0.53 s without).
#[global_allocator]
static ALLOCATOR: allocator::Mimalloc = allocator::Mimalloc;

#[derive(Parser)]
#[command(name = "labsim", about = "Deterministic simulation lab for Raft, kvraft and shardkv", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The scenarios, one per line: name, the Go test it ports ("-" beyond
    /// the lab) and what it does. FILTER: a lab (`kv`), a name prefix
    /// (`raft/figure_8`) or a glob (`'*partition*'`).
    List {
        filter: Option<String>,
        /// Names only (for scripts).
        #[arg(long)]
        names: bool,
    },
    /// One run of one scenario; logs per RUST_LOG.
    Run {
        name: String,
        #[arg(long, allow_negative_numbers = true, value_parser = parse_seed)]
        seed: u64,
        /// Also run it a second time and compare the traces event by event.
        #[arg(long)]
        check_determinism: bool,
        /// Write the clients' history (kv and shardkv) to this file, in the
        /// format `labsim check --model kv` reads; shardkv's returns name the
        /// configuration they were served under (`:config N`).
        #[arg(long)]
        history: Option<std::path::PathBuf>,
        /// Write every event (virtual time, node, kind, message, fault) to
        /// this file as JSON lines.
        #[arg(long)]
        trace: Option<std::path::PathBuf>,
        /// Draw the run as one HTML page: a lane per server (role, term,
        /// crashes, pauses), cut links and unreliable periods, and the
        /// clients' operations.
        #[arg(long)]
        html: Option<std::path::PathBuf>,
        #[command(flatten)]
        switches: Switches,
        /// The trace hash of the run this replays (replay commands give
        /// it): says "replayed: same run", or that the run differs (exit 1).
        #[arg(long, value_parser = parse_trace_hash)]
        expect_trace: Option<u64>,
        /// Make exactly the faults this schedule lists and no other (a
        /// file `--write-schedule` or `labsim shrink` wrote for this
        /// scenario and seed).
        #[arg(long)]
        schedule: Option<std::path::PathBuf>,
        /// Write the faults the run made (injected, and the network's
        /// drops, duplicates and held replies) to this file as a schedule.
        #[arg(long)]
        write_schedule: Option<std::path::PathBuf>,
    },
    /// Shrinks a failing run to the few faults it needs (delta debugging
    /// over its schedule of faults), explains it, and writes the shrunk
    /// schedule, its drawing and its replay command.
    Shrink {
        name: String,
        #[arg(long, allow_negative_numbers = true, value_parser = parse_seed)]
        seed: u64,
        #[command(flatten)]
        switches: Switches,
        /// The most runs the shrink makes (it stops with the smallest
        /// failing schedule found so far).
        #[arg(long, default_value_t = scenarios::shrink::MAX_RUNS, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        max_runs: u64,
        /// The most events the shrink simulates over all its runs (under a
        /// minute of CPU at the default; a budget of events keeps the
        /// result the same from machine to machine).
        #[arg(long, default_value_t = scenarios::shrink::MAX_EVENTS, value_parser = clap::value_parser!(u64).range(1..))]
        max_events: u64,
        /// Where to write the shrunk schedule [default: in $LABSIM_OUT_DIR
        /// or /tmp/labsim].
        #[arg(long)]
        write_schedule: Option<std::path::PathBuf>,
        /// Where to draw the shrunk run as HTML, with the explanation
        /// [default: beside the schedule].
        #[arg(long)]
        html: Option<std::path::PathBuf>,
    },
    /// Every matching scenario (FILTER as for list) for seeds S..S+N on J
    /// threads.
    Soak {
        filter: Option<String>,
        /// Seeds per scenario [default: 100, a few minutes for every
        /// scenario on 2 cores]
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=crate::soak_cli::MAX_SEEDS))]
        seeds: Option<u64>,
        #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = parse_seed)]
        first_seed: u64,
        /// Threads (default: all cores).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
        jobs: Option<u64>,
        /// Run every seed twice and compare the traces.
        #[arg(long)]
        check_determinism: bool,
        /// Run every seed recording its schedule of faults, then again
        /// following it, and compare the traces (they must be the same).
        #[arg(long, conflicts_with = "check_determinism")]
        check_schedule: bool,
        /// Run only the K-th of N slices of the runs (N jobs cover the soak
        /// with no overlap and no gap), e.g. 2/8.
        #[arg(long, value_parser = crate::soak_cli::parse_shard)]
        shard: Option<(u64, u64)>,
        /// Stop and fail a run that takes more than this many seconds of
        /// wall-clock time.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        watchdog_secs: u64,
        /// After the report, shrink the first K failures listed (as `labsim
        /// shrink` does, with its default budget) and explain them.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1000))]
        shrink_first: Option<u64>,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
        /// Also write the report as JUnit XML to this file.
        #[arg(long)]
        junit: Option<std::path::PathBuf>,
        #[command(flatten)]
        switches: Switches,
    },
    /// The catalogue of bugs the servers can be told to make: name, layer,
    /// the mistake, and where it is known from.
    Bugs,
    /// One scenario under every combination of the Raft optimisations the
    /// implementation honours, for seeds S..S+N each: a Markdown table of
    /// runs, failures and the measures the runs note, and each
    /// combination's first failure with its replay command.
    Compare {
        name: String,
        /// Seeds per combination.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        seeds: u64,
        #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = parse_seed)]
        first_seed: u64,
        /// Threads (default: all cores).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
        jobs: Option<u64>,
        /// Also draw it as one HTML page: a bar chart per measure.
        #[arg(long)]
        html: Option<std::path::PathBuf>,
        /// Also draw the bar charts as one SVG image.
        #[arg(long)]
        svg: Option<std::path::PathBuf>,
        /// Only the combinations of these optimisations (comma-separated;
        /// default: every one the implementation honours); the others stay
        /// at the implementation's default.
        #[arg(long, value_parser = contract::Optimisations::parse)]
        of: Option<contract::Optimisations>,
    },
    /// Runs the scenarios with BUG switched on until one fails; reports the
    /// scenario and seed that caught it, the runs and CPU it took, and the
    /// replay command. With --all, a table of every bug (exit 0 only when
    /// every bug was caught).
    Hunt {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        bug: Option<String>,
        #[arg(long)]
        all: bool,
        /// Hunt as the project could before swarm runs: no swarm scenario,
        /// no Raft observer, no durability check (to see what they add).
        #[arg(long)]
        baseline: bool,
        /// Rounds (seeds) to try before giving up: each round runs the
        /// layer's swarm scenarios with its seed, then its next lab test.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        seeds: Option<u64>,
        /// Runs to try before giving up: a bug caught only after more counts
        /// as not caught (the default without --seeds; no limit with it).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        max_runs: Option<u64>,
        /// Threads (default: all cores).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
        jobs: Option<u64>,
        /// Shrink the catching run to the faults it needs, explain it and
        /// write its files (as `labsim shrink`); with --all, only a second
        /// table: each catch before and after shrinking.
        #[arg(long)]
        shrink: bool,
    },
    /// Checks a recorded history for linearizability (exit 0 yes, 1 no, 3
    /// unknown: the search ran out of its budget).
    Check {
        file: std::path::PathBuf,
        #[arg(long, value_enum)]
        model: ModelName,
        /// Draw an illegal history as HTML into this file (never the input).
        #[arg(long)]
        html: Option<std::path::PathBuf>,
        /// Give up (exit 3, never a pass) after this many search steps.
        #[arg(long, default_value_t = 100_000_000, value_parser = clap::value_parser!(u64).range(1..))]
        max_steps: u64,
        /// Give up (exit 3) when the search's tables reach this many MiB.
        #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
        max_memory_mb: u64,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ModelName {
    /// get, put, append; checked per key (testdata/porcupine/kv)
    Kv,
    /// read, write, cas on one register (Jepsen etcd logs)
    Register,
}

/// What a run switches on: catalogued bugs, Raft optimisations, disks
/// that take time (`run`, `soak` and `shrink` take the same).
#[derive(clap::Args, Debug)]
struct Switches {
    /// Switch on catalogued bugs (comma-separated; `labsim bugs` lists
    /// them). LABSIM_BUGS does the same.
    #[arg(long, value_parser = bugs::Bugs::parse_given)]
    bugs: Option<bugs::Bugs>,
    /// The Raft optimisations to run with: exactly these
    /// (comma-separated, or `none`: pre_vote, check_quorum,
    /// read_index, lease_read, follower_read, batching, pipelining,
    /// async_persist),
    /// or `default` then names to add and `-name`s to take out
    /// (`default,pre_vote,-pipelining`). Without it, the
    /// implementation's default; a swarm run draws its set from the
    /// seed.
    #[arg(long = "with", value_parser = contract::AskedOptimisations::parse)]
    optimisations: Option<contract::AskedOptimisations>,
    /// Every server's disk takes this many microseconds per write (a
    /// synchronous write blocks its server that long; asynchronous
    /// persistence gains only here). Without it, writes take no time,
    /// as the lab's persister.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    disk_write_us: Option<u64>,
}

fn parse_trace_hash(text: &str) -> Result<u64, String> {
    u64::from_str_radix(text.trim(), 16).map_err(|_| "a trace hash is 16 hexadecimal digits, as runs print it".into())
}

/// The scenario `name` and the bugs a run of it switches on (`--bugs`, or
/// LABSIM_BUGS), checked: the scenario exists, runs the bugs' code and
/// honours the optimisations, and no bug is inert under them.
fn switched_scenario<I: Implementation>(
    name: &str,
    bugs: Option<bugs::Bugs>,
    optimisations: Option<contract::AskedOptimisations>,
) -> Result<(Scenario, bugs::Bugs), String> {
    let Some(scenario) = find::<I>(name) else {
        return Err(format!("unknown scenario '{name}'{}", suggest::<I>(name)));
    };
    let bugs = bugs.unwrap_or_else(env_bugs);
    if let Some(e) = scenarios::registry::unreached_bug::<I>(&[scenario], bugs) {
        return Err(e);
    }
    if let Some(e) = unhonoured_optimisations(&[scenario], optimisations) {
        return Err(e);
    }
    let default = scenario.default_optimisations;
    if let Some(e) = scenarios::optimisations::inert_bug(bugs, optimisations.map_or(default, |a| a.resolve(default))) {
        return Err(e);
    }
    Ok((scenario, bugs))
}

/// Reads a schedule to follow for `scenario` and `seed`; an error names
/// the file (and the line).
fn read_schedule(
    path: std::path::PathBuf,
    scenario: &str,
    seed: u64,
) -> Result<(std::path::PathBuf, std::sync::Arc<sim::Schedule>), String> {
    let shown = path.display();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read --schedule {shown}: {e}"))?;
    let schedule = sim::Schedule::parse(&text).map_err(|e| format!("{shown} {e}"))?;
    if schedule.scenario != scenario || schedule.seed != seed {
        return Err(format!(
            "{shown} is the schedule of {} seed {}, not of {scenario} seed {seed}",
            schedule.scenario, schedule.seed
        ));
    }
    let unknown_site = schedule.entries.iter().find_map(|e| match &e.choice {
        sim::Choice::Buggify { site, .. } if bugs::buggify::site_named(site).is_none() => Some(site),
        _ => None,
    });
    if let Some(site) = unknown_site {
        return Err(format!("{shown} names no buggify site `{site}`"));
    }
    Ok((path, std::sync::Arc::new(schedule)))
}

/// A seed: a whole number from 0 to 2^64 - 1.
fn parse_seed(text: &str) -> Result<u64, String> {
    text.trim().parse().map_err(|_| format!("a seed is a whole number from 0 to {}", u64::MAX))
}

/// A clap error on one line: its message and details (a missing
/// argument's name is on the line after the message), without the usage.
fn one_line(text: &str) -> String {
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let joined = parts.join(" ");
    joined.trim_start_matches("error: ").to_string()
}

/// Up to three scenario names close to `name`, as a hint.
fn suggest<I: Implementation>(name: &str) -> String {
    let mut near: Vec<(f64, &str)> = scenarios::registry::<I>()
        .iter()
        .map(|s| (strsim::normalized_levenshtein(name, s.name), s.name))
        .filter(|(score, _)| *score > 0.5)
        .collect();
    near.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    match near.len() {
        0 => " (labsim list shows them)".to_string(),
        _ => format!("; did you mean {}?", near.iter().take(3).map(|(_, n)| *n).collect::<Vec<_>>().join(", ")),
    }
}

/// The scenarios a filter names; a bad glob, or a filter that names
/// nothing, is one line and exit 2.
fn chosen<I: Implementation>(filter: &str) -> Result<Vec<scenarios::Scenario>, ExitCode> {
    if let Some(e) = scenarios::registry::filter_error(filter) {
        return Err(usage_error(e));
    }
    let scenarios = matching::<I>(filter);
    if scenarios.is_empty() {
        return Err(usage_error(format!("no scenario matches '{filter}'{}", suggest::<I>(filter))));
    }
    Ok(scenarios)
}

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("labsim: {message}");
    ExitCode::from(2)
}

/// The `labsim` command over implementation `I`: parses the process's
/// arguments, runs the command, and returns its exit code.
pub fn main<I: Implementation>() -> ExitCode {
    // A closed pipe (`labsim list | head`) ends the process quietly, as it
    // does any Unix tool, instead of failing a write and panicking.
    // SAFETY: setting a signal's disposition to the default, before any
    // thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        // No transparent huge pages for this process's future faults (see
        // ALLOCATOR); if the kernel refuses, huge pages stay as they were.
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if let Err(e) = runner::env_bugs() {
        return usage_error(e);
    }
    match cli.command {
        Command::Check { file, model, html, max_steps, max_memory_mb } => {
            check_command(&file, model, html, max_steps, max_memory_mb)
        }
        Command::List { filter, names } => {
            let filter = filter.unwrap_or_default();
            let scenarios = match chosen::<I>(&filter) {
                Ok(scenarios) => scenarios,
                Err(code) => return code,
            };
            let mut out = std::io::stdout().lock();
            let width = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
            let go_width = scenarios.iter().filter_map(|s| scenarios::about::about(s.name)).map(|a| a.0.len()).max();
            for s in scenarios {
                let _ = match scenarios::about::about(s.name).filter(|_| !names) {
                    Some((go, what)) => {
                        let go_width = go_width.unwrap_or(0);
                        writeln!(out, "{:width$}  {go:go_width$}  {what}", s.name)
                    }
                    None => writeln!(out, "{}", s.name),
                };
            }
            ExitCode::SUCCESS
        }
        Command::Run {
            name,
            seed,
            check_determinism,
            history,
            trace,
            html,
            switches: Switches { bugs, optimisations, disk_write_us },
            expect_trace,
            schedule,
            write_schedule,
        } => {
            let (scenario, bugs) = match switched_scenario::<I>(&name, bugs, optimisations) {
                Ok(chosen) => chosen,
                Err(e) => return usage_error(e),
            };
            let follow = match schedule.map(|path| read_schedule(path, scenario.name, seed)).transpose() {
                Ok(follow) => follow,
                Err(e) => return usage_error(e),
            };
            let outputs = crate::run_cli::Outputs { history, trace, html, schedule: write_schedule };
            let checks = crate::run_cli::Checks { determinism: check_determinism, expect_trace };
            let disk_write = disk_write_us.map_or(0, |us| us * 1_000);
            let switched = crate::run_cli::Switched { bugs, optimisations, disk_write, follow };
            crate::run_cli::run(&scenario, seed, switched, checks, outputs)
        }
        Command::Shrink {
            name,
            seed,
            switches: Switches { bugs, optimisations, disk_write_us },
            max_runs,
            max_events,
            write_schedule,
            html,
        } => {
            let (scenario, bugs) = match switched_scenario::<I>(&name, bugs, optimisations) {
                Ok(chosen) => chosen,
                Err(e) => return usage_error(e),
            };
            let run = runner::Run::new(seed)
                .with_bugs(bugs)
                .with_asked_optimisations(optimisations)
                .with_disk_write(disk_write_us.map_or(0, |us| us * 1_000));
            let outputs = crate::shrink_cli::ShrinkOutputs { schedule: write_schedule, html };
            let budget = scenarios::shrink::Budget { max_runs, max_events };
            crate::shrink_cli::shrink_one(&scenario, run, budget, outputs)
        }
        Command::Compare { name, seeds, first_seed, jobs, html, svg, of } => {
            let Some(scenario) = find::<I>(&name) else {
                return usage_error(format!("unknown scenario '{name}'{}", suggest::<I>(&name)));
            };
            let asked = of.map(contract::AskedOptimisations::exactly);
            if let Some(e) = unhonoured_optimisations(&[scenario], asked) {
                return usage_error(e);
            }
            let varied = of.unwrap_or(scenario.honoured);
            if first_seed.checked_add(seeds - 1).is_none() {
                return usage_error("--first-seed plus --seeds overflows a 64-bit seed");
            }
            let jobs =
                jobs.map(|j| j as usize).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let html = match html.map(|path| OutputFile::check("--html", path)).transpose() {
                Ok(html) => html,
                Err(e) => return usage_error(e),
            };
            let svg = match svg.map(|path| OutputFile::check("--svg", path)).transpose() {
                Ok(svg) => svg,
                Err(e) => return usage_error(e),
            };
            if let (Some(h), Some(s)) = (&html, &svg) {
                if h.path() == s.path() {
                    return usage_error("--html and --svg name the same file; give each its own");
                }
            }
            if !env_bugs().is_empty() {
                return usage_error("compare switches on no catalogued bug: unset LABSIM_BUGS");
            }
            compare_command((&scenario, varied), (first_seed, seeds), jobs, Drawings { html, svg })
        }
        Command::Bugs => {
            let mut out = std::io::stdout().lock();
            for bug in bugs::Bug::ALL {
                let _ = writeln!(
                    out,
                    "{:<36} {:<8} {}\n{:45}from: {}",
                    bug.name(),
                    bug.layer().name(),
                    bug.what(),
                    "",
                    bug.source()
                );
            }
            ExitCode::SUCCESS
        }
        Command::Hunt { bug, all, baseline, seeds, max_runs, jobs, shrink } => {
            let default_runs = if seeds.is_some() { u64::MAX } else { scenarios::hunt::MAX_RUNS };
            let limits = (seeds.unwrap_or(u64::MAX), max_runs.unwrap_or(default_runs));
            let which = if baseline { scenarios::hunt::Hunters::Baseline } else { scenarios::hunt::Hunters::All };
            let jobs =
                jobs.map(|j| j as usize).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            if all {
                return crate::hunt_cli::hunt_all::<I>(which, limits, jobs, shrink);
            }
            let name = bug.expect("clap requires BUG without --all");
            match bugs::Bug::named(&name) {
                Ok(bug) if !scenarios::registry::carries::<I>(bug) => {
                    usage_error(scenarios::registry::not_carried::<I>(bug))
                }
                Ok(bug) => crate::hunt_cli::hunt_one::<I>(bug, which, limits, jobs, shrink),
                Err(e) => usage_error(e),
            }
        }
        Command::Soak {
            filter,
            seeds,
            first_seed,
            jobs,
            check_determinism,
            check_schedule,
            shard,
            watchdog_secs,
            shrink_first,
            json,
            junit,
            switches: Switches { bugs, optimisations, disk_write_us },
        } => {
            let scenarios = match chosen::<I>(filter.as_deref().unwrap_or("")) {
                Ok(scenarios) => scenarios,
                Err(code) => return code,
            };
            let longer = seeds.is_none().then(|| match filter.as_deref() {
                None | Some("") => format!("{} soak", I::REPLAY),
                Some(f) if f.contains(['*', '?', '[']) => format!("{} soak '{f}'", I::REPLAY),
                Some(f) => format!("{} soak {f}", I::REPLAY),
            });
            let seeds = seeds.unwrap_or(crate::soak_cli::DEFAULT_SEEDS);
            if first_seed.checked_add(seeds - 1).is_none() {
                return usage_error("--first-seed plus --seeds overflows a 64-bit seed");
            }
            let jobs =
                jobs.map(|j| j as usize).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let plan = SoakPlan {
                bugs: bugs.unwrap_or_else(env_bugs),
                optimisations,
                disk_write: disk_write_us.map_or(0, |us| us * 1_000),
                check_determinism,
                check_schedule,
                shard,
                watchdog: Some(std::time::Duration::from_secs(watchdog_secs)),
                ..SoakPlan::new(scenarios, first_seed, seeds, jobs)
            };
            if let Some(e) = scenarios::registry::unreached_bug::<I>(&plan.scenarios, plan.bugs) {
                return usage_error(e);
            }
            if let Some(e) = unhonoured_optimisations(&plan.scenarios, optimisations) {
                return usage_error(e);
            }
            let default = plan.scenarios.first().map_or(contract::Optimisations::NONE, |s| s.default_optimisations);
            if let Some(e) =
                scenarios::optimisations::inert_bug(plan.bugs, optimisations.map_or(default, |a| a.resolve(default)))
            {
                return usage_error(e);
            }
            let files = crate::soak_cli::ReportFiles { json, junit };
            crate::soak_cli::run(plan, files, longer.as_deref(), shrink_first.unwrap_or(0))
        }
    }
}

/// Where `labsim compare` draws its charts.
struct Drawings {
    html: Option<OutputFile>,
    svg: Option<OutputFile>,
}

/// `labsim compare`: the table, then each combination's first failure,
/// then the drawings; exit 0 (failures under some combination are what it
/// reports), 2 when a drawing cannot be written.
fn compare_command(
    (scenario, varied): (&Scenario, contract::Optimisations),
    (first_seed, seeds): (u64, u64),
    jobs: usize,
    drawings: Drawings,
) -> ExitCode {
    sim::log::init_from_env();
    let combinations = varied.subsets().len();
    let fixed = varied.iter().fold(scenario.default_optimisations, contract::Optimisations::without);
    println!(
        "{} on {}: {combinations} combinations of {varied} (with {fixed} throughout) x {seeds} seeds from {first_seed}",
        scenario.name, scenario.implementation
    );
    let rows = scenarios::compare::compare(scenario, varied, first_seed, seeds, jobs);
    print!("{}", scenarios::compare::table(&rows));
    for row in &rows {
        if let Some((reason, replay)) = &row.first_failure {
            println!("first failure with {}: {reason}\n  replay: {replay}", row.optimisations);
        }
    }
    let title = format!("{} on {}, {seeds} seeds from {first_seed}", scenario.name, scenario.implementation);
    let pages = [
        (drawings.html, crate::compare_view::page as fn(&str, &[scenarios::compare::Row]) -> String),
        (drawings.svg, crate::compare_view::svg),
    ];
    for (file, draw) in pages {
        let Some(file) = file else { continue };
        if let Err(e) = file.write(draw(&title, &rows).as_bytes()) {
            eprintln!("labsim: {e}");
            return ExitCode::from(2);
        }
        println!("drawn: {}", file.path().display());
    }
    ExitCode::SUCCESS
}

/// Optimisations asked of an implementation that does not honour them,
/// said in one line.
fn unhonoured_optimisations(scenarios: &[Scenario], asked: Option<contract::AskedOptimisations>) -> Option<String> {
    let s = scenarios.first()?;
    scenarios::optimisations::unhonoured(asked?, s.honoured, s.implementation)
}

/// The bugs LABSIM_BUGS names (checked to parse before any command runs).
fn env_bugs() -> bugs::Bugs {
    runner::env_bugs().expect("checked in main")
}

/// `Cli::try_parse`, with help printed as help (exit 0; 2 when arguments
/// are missing) and any other error as one line (exit 2).
fn parse_cli() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| {
        use clap::error::ErrorKind;
        match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                let _ = e.print();
                ExitCode::SUCCESS
            }
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = e.print();
                ExitCode::from(2)
            }
            _ => usage_error(format!("{} (see labsim --help)", one_line(&e.to_string()))),
        }
    })
}

/// `labsim check`: the history file under the model, within the budget.
fn check_command(
    file: &std::path::Path,
    model: ModelName,
    html: Option<std::path::PathBuf>,
    max_steps: u64,
    max_memory_mb: u64,
) -> ExitCode {
    let html = match html.map(|path| check_html_path(file, &path).and_then(|()| OutputFile::check("--html", path))) {
        Some(Err(e)) => return usage_error(e),
        Some(Ok(out)) => Some(out),
        None => None,
    };
    let budget = checker::CheckOptions {
        step_budget: Some(max_steps),
        memory_budget_bytes: Some((max_memory_mb << 20) as usize),
        search_only: false,
    };
    let check = CheckRequest { file, html, budget };
    match model {
        ModelName::Kv => check_file(check, &checker::KvModel, checker::parse::parse_kv),
        ModelName::Register => check_file(check, &checker::RegisterModel, checker::parse::parse_jepsen),
    }
}

type History<M> = Vec<checker::Operation<<M as Model>::Input, <M as Model>::Output>>;

/// The history's text: the file's, or standard input's for `-` (errors then
/// name `-`).
fn read_input(file: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    let mut text = String::new();
    let read = if file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_string(&mut text)).map(|_| ())
    };
    read.map(|()| text).map_err(|e| format!("{}: cannot read: {e}", file.display()))
}
use checker::Model;

/// What `labsim check` was asked.
struct CheckRequest<'a> {
    file: &'a std::path::Path,
    html: Option<OutputFile>,
    budget: checker::CheckOptions,
}

/// The drawing must not replace the history it draws.
fn check_html_path(input: &std::path::Path, html: &std::path::Path) -> Result<(), String> {
    let same = match (std::fs::canonicalize(input), std::fs::canonicalize(html)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(format!("--html {} is the input file; give another path", html.display()));
    }
    Ok(())
}

/// `labsim check`: parse, check within the budget, explain an illegal
/// history (and draw it where `--html` says).
fn check_file<M: Model>(
    request: CheckRequest,
    model: &M,
    parse: fn(&std::path::Path, &str) -> Result<History<M>, checker::parse::ParseError>,
) -> ExitCode {
    use checker::{check, report, Verdict};
    let file = request.file;
    let text = match read_input(file) {
        Ok(text) => text,
        Err(e) => return usage_error(e),
    };
    let history = match parse(file, &text) {
        Ok(h) => h,
        Err(e) => return usage_error(e),
    };
    if history.is_empty() {
        return usage_error(format!("{}: no operation of this model in the file (is --model right?)", file.display()));
    }
    match check(model, &history, request.budget) {
        Verdict::Linearizable => {
            println!("linearizable: {} ({} operations)", file.display(), history.len());
            if let Some(out) = request.html {
                println!(
                    "(nothing drawn at {}: --html draws where a history breaks, and this one does not; the file was \
                     left as it was)",
                    out.path().display()
                );
            }
            ExitCode::SUCCESS
        }
        Verdict::NotLinearizable(cx) => {
            println!("{}: {}", file.display(), report::explain(model, &history, &cx));
            let Some(out) = request.html else {
                println!("(draw it with --html FILE)");
                return ExitCode::from(1);
            };
            let page = report::html(model, &history, &cx, &format!("{} is not linearizable", file.display()));
            match out.write(page.as_bytes()) {
                Ok(()) => println!("drawing: {}", out.path().display()),
                Err(e) => eprintln!("labsim: {e}"),
            }
            ExitCode::from(1)
        }
        Verdict::Unknown => {
            let (steps, mb) =
                (request.budget.step_budget.unwrap_or(0), request.budget.memory_budget_bytes.unwrap_or(0) >> 20);
            println!(
                "unknown: {} ({} operations): the search exhausted its budget ({steps} steps or {mb} MiB) \
                 before a verdict; this is not a pass (raise --max-steps or --max-memory-mb)",
                file.display(),
                history.len()
            );
            ExitCode::from(3)
        }
    }
}
