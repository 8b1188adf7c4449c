//! `labsim`: list, run and soak the scenarios, and check recorded histories.
//!
//! Exit codes: 0 pass, 1 a run (or a check) failed, 2 bad usage or input.

use clap::{Parser, Subcommand};
use scenarios::soak::{format_report, soak, SoakPlan};
use scenarios::{find, matching, replay_command, runner};
use std::io::Write;
use std::process::ExitCode;

/// Simulations and the checker allocate many small, short-lived objects.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "labsim", about = "Deterministic simulation lab for Raft, kvraft and shardkv", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scenario names, one per line. FILTER: a lab (`kv`), a name prefix
    /// (`raft/figure_8`) or a glob (`'*partition*'`).
    List { filter: Option<String> },
    /// One run of one scenario; logs per RUST_LOG.
    Run {
        name: String,
        #[arg(long)]
        seed: u64,
        /// Also run it a second time and compare the traces event by event.
        #[arg(long)]
        check_determinism: bool,
        /// Write the clients' history (kv and shardkv) to this file, in the
        /// format `labsim check --model kv` reads; shardkv's returns name the
        /// configuration they were served under (`:config N`).
        #[arg(long)]
        history: Option<std::path::PathBuf>,
    },
    /// Every matching scenario (FILTER as for list) for seeds S..S+N on J
    /// threads.
    Soak {
        filter: Option<String>,
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
        seeds: u64,
        #[arg(long, default_value_t = 0)]
        first_seed: u64,
        /// Threads (default: all cores).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        jobs: Option<u64>,
        /// Run every seed twice and compare the traces.
        #[arg(long)]
        check_determinism: bool,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
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
fn suggest(name: &str) -> String {
    let mut near: Vec<(f64, &str)> = scenarios::registry()
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

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("labsim: {message}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    // A closed pipe (`labsim list | head`) ends the process quietly, as it
    // does any Unix tool, instead of failing a write and panicking.
    // SAFETY: setting a signal's disposition to the default, before any
    // thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            return usage_error(format!("{} (see labsim --help)", one_line(&e.to_string())));
        }
    };
    match cli.command {
        Command::Check { file, model, html, max_steps, max_memory_mb } => {
            if let Some(path) = &html {
                if let Err(e) = check_html_path(&file, path) {
                    return usage_error(e);
                }
            }
            let budget = sim::linearizability::CheckOptions {
                step_budget: Some(max_steps),
                memory_budget_bytes: Some((max_memory_mb << 20) as usize),
                search_only: false,
            };
            let check = CheckRequest { file: &file, html, budget };
            match model {
                ModelName::Kv => {
                    check_file(check, &sim::linearizability::KvModel, sim::linearizability::parse::read_kv)
                }
                ModelName::Register => {
                    check_file(check, &sim::linearizability::RegisterModel, sim::linearizability::parse::read_jepsen)
                }
            }
        }
        Command::List { filter } => {
            let mut out = std::io::stdout().lock();
            for s in matching(filter.as_deref().unwrap_or("")) {
                let _ = writeln!(out, "{}", s.name);
            }
            ExitCode::SUCCESS
        }
        Command::Run { name, seed, check_determinism, history } => {
            let Some(scenario) = find(&name) else {
                return usage_error(format!("unknown scenario '{name}'{}", suggest(&name)));
            };
            if history.is_some() && !name.starts_with("kv/") && !name.starts_with("shardkv/") {
                return usage_error(format!(
                    "{name} records no client history (--history is for kv/ and shardkv/ scenarios)"
                ));
            }
            sim::log::init_from_env();
            let outcome = if check_determinism {
                runner::run_checking_determinism(&scenario, seed)
            } else {
                runner::run_scenario(&scenario, seed, sim::TraceMode::HashOnly)
            };
            let stats = &outcome.stats;
            let operations =
                outcome.history.as_ref().map_or(String::new(), |h| format!(", {} client operations", h.len()));
            let detail = format!(
                "virtual {}, {} events, {} RPCs{operations}, trace {:016x}",
                sim::time::format(stats.virtual_time),
                stats.trace.events(),
                stats.net.total_calls,
                stats.trace.hash()
            );
            if let (Some(path), Some(recorded)) = (&history, &outcome.history) {
                let served_under = outcome.served_under.as_deref();
                let edn = sim::linearizability::parse::write_kv_served(recorded, served_under);
                if let Err(e) = std::fs::write(path, edn) {
                    return usage_error(format!("cannot write {}: {e}", path.display()));
                }
                eprintln!("history: {} ({} operations)", path.display(), recorded.len());
            }
            match outcome.result {
                Ok(()) => {
                    println!("PASS {name} seed {seed} ({detail})");
                    ExitCode::SUCCESS
                }
                Err(reason) => {
                    println!(
                        "FAIL {name} seed {seed}: {reason}\n  ({detail})\n  replay: {}",
                        replay_command(&name, seed)
                    );
                    ExitCode::from(1)
                }
            }
        }
        Command::Soak { filter, seeds, first_seed, jobs, check_determinism, json } => {
            let scenarios = matching(filter.as_deref().unwrap_or(""));
            if scenarios.is_empty() {
                let filter = filter.unwrap_or_default();
                return usage_error(format!("no scenario matches '{filter}'{}", suggest(&filter)));
            }
            // The report's file is opened before the soak, so an unwritable
            // path costs a second, not the whole soak.
            let json_file = match json.as_ref().map(std::fs::File::create).transpose() {
                Ok(file) => file,
                Err(e) => {
                    let path = json.as_ref().expect("a path was given").display();
                    return usage_error(format!("cannot write the report to {path}: {e}"));
                }
            };
            if first_seed.checked_add(seeds).is_none() {
                return usage_error("--first-seed plus --seeds overflows a 64-bit seed");
            }
            let jobs =
                jobs.map(|j| j as usize).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let plan = SoakPlan { scenarios, first_seed, seeds, jobs, check_determinism };
            let total = plan.scenarios.len() as u64 * seeds;
            eprintln!(
                "soaking {} scenarios x {} seeds (first seed {}) on {} threads{}",
                plan.scenarios.len(),
                seeds,
                first_seed,
                jobs,
                if check_determinism { ", each run twice" } else { "" }
            );
            let step = (total / 20).max(1) as usize;
            let report = soak(&plan, &|done, all| {
                if done % step == 0 || done == all {
                    eprintln!("  {done}/{all} runs");
                }
            });
            print!("{}", format_report(&report));
            let mut write_failed = false;
            if let (Some(path), Some(file)) = (&json, json_file) {
                if let Err(e) = serde_json::to_writer_pretty(std::io::BufWriter::new(file), &report) {
                    eprintln!("labsim: cannot write the report to {}: {e}", path.display());
                    write_failed = true;
                }
            }
            // Failed runs decide the exit code before a failed write does.
            match (report.total_failures, write_failed) {
                (0, false) => ExitCode::SUCCESS,
                (0, true) => ExitCode::from(2),
                _ => ExitCode::from(1),
            }
        }
    }
}

type History<M> = Vec<sim::linearizability::Operation<<M as Model>::Input, <M as Model>::Output>>;
use sim::linearizability::Model;

/// What `labsim check` was asked.
struct CheckRequest<'a> {
    file: &'a std::path::Path,
    html: Option<std::path::PathBuf>,
    budget: sim::linearizability::CheckOptions,
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
    read: fn(&std::path::Path) -> Result<History<M>, sim::linearizability::parse::ParseError>,
) -> ExitCode {
    use sim::linearizability::{check, report, Verdict};
    let file = request.file;
    let history = match read(file) {
        Ok(h) => h,
        Err(e) => return usage_error(e),
    };
    if history.is_empty() {
        return usage_error(format!("{}: no operation of this model in the file (is --model right?)", file.display()));
    }
    match check(model, &history, request.budget) {
        Verdict::Linearizable => {
            println!("linearizable: {} ({} operations)", file.display(), history.len());
            ExitCode::SUCCESS
        }
        Verdict::NotLinearizable(cx) => {
            println!("{}: {}", file.display(), report::explain(model, &history, &cx));
            let Some(path) = request.html else {
                println!("(draw it with --html FILE)");
                return ExitCode::from(1);
            };
            let page = report::html(model, &history, &cx, &format!("{} is not linearizable", file.display()));
            match runner::write_replacing(&path, &page) {
                Ok(()) => println!("drawing: {}", path.display()),
                Err(e) => eprintln!("labsim: cannot write {}: {e}", path.display()),
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
