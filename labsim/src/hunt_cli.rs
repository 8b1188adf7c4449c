//! `labsim hunt`: one bug hunted with its report, or every bug with the
//! table the README shows.

use bugs::Bug;
use scenarios::hunt::{caught_by, hunt_with, replay_command, table_row, Hunt, Hunters, TABLE_HEADER};
use scenarios::runner::ScheduleUse;
use scenarios::shrink::{failure_signature, shrink, Shrunk};
use scenarios::Implementation;
use std::process::ExitCode;

/// `labsim hunt BUG`: exit 0 when caught, 1 when not; with `shrink`, the
/// catching run is shrunk and explained (`labsim shrink`).
pub fn hunt_one<I: Implementation>(
    bug: Bug,
    which: Hunters,
    limits: (u64, u64),
    jobs: usize,
    shrink: bool,
) -> ExitCode {
    println!("hunting {} ({}) on {}: {}", bug.name(), bug.layer().name(), I::NAME, bug.what());
    let (rounds, max_runs) = limits;
    let h = hunt_with::<I>(bug, which, rounds, max_runs, jobs);
    match &h.caught {
        Some(c) => {
            println!(
                "caught by {} seed {} ({}) after {} runs, {:.2} s CPU",
                c.scenario,
                c.seed,
                caught_by(&c.reason),
                c.runs,
                c.cpu_s
            );
            println!("  {}", c.reason.replace('\n', "\n  "));
            println!("  replay: {}", replay_command(bug, c));
            if shrink {
                shrink_catch::<I>(bug, which, c);
            }
            ExitCode::SUCCESS
        }
        None => {
            println!("NOT CAUGHT in {} runs, {:.2} s CPU", h.runs, h.cpu_s);
            ExitCode::from(1)
        }
    }
}

/// Shrinks a hunt's catch, printing it all (`labsim shrink`).
fn shrink_catch<I: Implementation>(bug: Bug, which: Hunters, catch: &scenarios::hunt::Catch) {
    let (scenario, run) = catch_run::<I>(bug, which, catch);
    crate::shrink_cli::shrink_found(&scenario, run, scenarios::shrink::Budget::default());
}

/// The scenario and run of a hunt's catch (its bug, optimisations, checks).
fn catch_run<I: Implementation>(
    bug: Bug,
    which: Hunters,
    catch: &scenarios::hunt::Catch,
) -> (scenarios::Scenario, scenarios::Run) {
    let scenario = scenarios::find::<I>(catch.scenario).expect("a hunt catches in a registered scenario");
    let run = scenarios::Run::new(catch.seed)
        .with_bugs(bugs::Bugs::one(bug))
        .with_asked_optimisations(scenarios::hunt::needed(bug))
        .with_harness_checks(which == Hunters::All);
    (scenario, run)
}

/// One catch before and after shrinking, and whether the shrunk schedule
/// replayed fails the same way.
struct ShrunkCatch {
    bug: Bug,
    shrunk: Result<Shrunk, String>,
    replays: bool,
}

/// Shrinks every catch, `jobs` at a time (each shrink is deterministic, so
/// the table does not depend on `jobs`).
fn shrink_catches<I: Implementation>(hunts: &[Hunt], which: Hunters, jobs: usize) -> Vec<ShrunkCatch> {
    let caught: Vec<(Bug, &scenarios::hunt::Catch)> =
        hunts.iter().filter_map(|h| h.caught.as_ref().map(|c| (h.bug, c))).collect();
    let mut rows = Vec::new();
    for batch in caught.chunks(jobs.max(1)) {
        let done: Vec<ShrunkCatch> = std::thread::scope(|scope| {
            let handles: Vec<_> =
                batch.iter().map(|&(bug, catch)| scope.spawn(move || shrink_quietly::<I>(bug, which, catch))).collect();
            handles.into_iter().map(|h| h.join().expect("a shrinking thread panicked")).collect()
        });
        for row in &done {
            println!("{}", shrink_row(row));
        }
        rows.extend(done);
    }
    rows
}

fn shrink_quietly<I: Implementation>(bug: Bug, which: Hunters, catch: &scenarios::hunt::Catch) -> ShrunkCatch {
    let (scenario, run) = catch_run::<I>(bug, which, catch);
    let shrunk = shrink(&scenario, &run, scenarios::shrink::Budget::default(), &mut |_| {});
    let replays = shrunk.as_ref().is_ok_and(|s| {
        let follow = ScheduleUse::Follow(std::sync::Arc::new(s.shrunk.schedule.clone()));
        let replayed = scenarios::run_scenario(&scenario, &run.again(run.trace).with_schedule(follow));
        replayed.result.as_ref().err().is_some_and(|r| failure_signature(r) == s.signature)
    });
    ShrunkCatch { bug, shrunk, replays }
}

/// The header of the shrinking table.
const SHRINK_HEADER: &str =
    "| bug | check | faults | of them injected (instants) | messages lost | messages delayed | \
virtual time | operations | shrink runs | CPU s |\n|---|---|---|---|---|---|---|---|---:|---:|";

/// One row: each figure before -> after.
fn shrink_row(row: &ShrunkCatch) -> String {
    let s = match &row.shrunk {
        Ok(s) => s,
        Err(e) => return format!("| `{}` | not shrunk: {e} | | | | | | | | |", row.bug.name()),
    };
    let (a, b) = (&s.original.size, &s.shrunk.size);
    let (ac, bc) = (&a.counts, &b.counts);
    let time = |t| sim::time::format(t);
    let flag = match (s.budget_ran_out, row.replays) {
        (_, false) => " (replay differs!)",
        (true, true) => " (budget)",
        (false, true) => "",
    };
    format!(
        "| `{}` | {} | {} → **{}** | {} ({}) → {} ({}) | {} → {} | {} → {} | {} → {} | {} → {} | {}{flag} | {:.1} |",
        row.bug.name(),
        s.signature,
        ac.total(),
        bc.total(),
        ac.faults,
        a.fault_instants,
        bc.faults,
        b.fault_instants,
        ac.messages_lost,
        bc.messages_lost,
        ac.delays,
        bc.delays,
        time(a.virtual_time),
        time(b.virtual_time),
        a.operations,
        b.operations,
        s.runs,
        s.cpu_s
    )
}

/// Medians and worsts of the shrinking table.
fn shrink_summary(rows: &[ShrunkCatch]) -> String {
    let shrunk: Vec<&Shrunk> = rows.iter().filter_map(|r| r.shrunk.as_ref().ok()).collect();
    let after: Vec<f64> = shrunk.iter().map(|s| s.shrunk.size.counts.total() as f64).collect();
    let injected_ratio: Vec<f64> = shrunk
        .iter()
        .filter(|s| s.original.size.counts.faults > 0)
        .map(|s| s.shrunk.size.counts.faults as f64 / s.original.size.counts.faults as f64)
        .collect();
    let cpu: Vec<f64> = shrunk.iter().map(|s| s.cpu_s).collect();
    let replayed = rows.iter().filter(|r| r.replays).count();
    let ran_out = shrunk.iter().filter(|s| s.budget_ran_out).count();
    format!(
        "{} of {} catches shrunk; faults after: median {}, most {}; injected faults kept: median {:.0}% of the \
         original's; CPU per shrink: median {:.1} s, most {:.1} s; {replayed} of {} shrunk schedules replayed fail \
         the same way; {ran_out} ran out of budget",
        shrunk.len(),
        rows.len(),
        median(&after),
        after.iter().copied().fold(0.0, f64::max),
        100.0 * median(&injected_ratio),
        median(&cpu),
        cpu.iter().copied().fold(0.0, f64::max),
        rows.len()
    )
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// `labsim hunt --all`: the table of every bug in code the implementation
/// runs, then a summary; exit 0 only when every one was caught.
/// With `shrink`, then every catch shrunk, in a second table.
pub fn hunt_all<I: Implementation>(which: Hunters, limits: (u64, u64), jobs: usize, shrink: bool) -> ExitCode {
    let carried: Vec<Bug> = Bug::ALL.iter().copied().filter(|b| scenarios::registry::carries::<I>(*b)).collect();
    if carried.is_empty() {
        eprintln!("labsim: {} runs none of the project's code, so no catalogued bug can be switched on", I::NAME);
        return ExitCode::from(2);
    }
    if carried.len() < Bug::ALL.len() {
        let layers: Vec<&str> = I::CATALOGUE_LAYERS.iter().map(|l| l.name()).collect();
        println!(
            "{} runs the project's {} code only: hunting its {} of {} catalogued bugs",
            I::NAME,
            layers.join(" and "),
            carried.len(),
            Bug::ALL.len()
        );
    }
    println!("{TABLE_HEADER}");
    let (rounds, max_runs) = limits;
    let mut hunts = Vec::new();
    for bug in carried {
        let h = hunt_with::<I>(bug, which, rounds, max_runs, jobs);
        println!("{}", table_row(&h));
        hunts.push(h);
    }
    println!();
    println!("{}", summary(&hunts, max_runs));
    if shrink {
        println!();
        println!("{SHRINK_HEADER}");
        let rows = shrink_catches::<I>(&hunts, which, jobs);
        println!();
        println!("{}", shrink_summary(&rows));
    }
    if hunts.iter().all(|h| h.caught.is_some()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Caught, median and worst runs to the first catch, and CPU.
pub fn summary(hunts: &[Hunt], max_runs: u64) -> String {
    let mut runs: Vec<u64> = hunts.iter().filter_map(|h| h.caught.as_ref().map(|c| c.runs)).collect();
    runs.sort_unstable();
    let caught = runs.len();
    let median = median(&runs.iter().map(|&r| r as f64).collect::<Vec<f64>>());
    let cpu: f64 = hunts.iter().map(|h| h.cpu_s).sum();
    let limit =
        if max_runs == u64::MAX { "no limit on runs".to_string() } else { format!("at most {max_runs} runs each") };
    format!(
        "{caught} of {} bugs caught ({limit}); runs to first catch: median {median}, most {}; \
         {cpu:.1} s CPU in all",
        hunts.len(),
        runs.last().copied().unwrap_or(0)
    )
}
