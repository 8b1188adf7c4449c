//! `labsim hunt`: one bug hunted with its report, or every bug with the
//! table the README shows.

use bugs::Bug;
use scenarios::hunt::{caught_by, hunt_with, replay_command, table_row, Hunt, Hunters, TABLE_HEADER};
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

/// Shrinks a hunt's catch: the same run (bugs, optimisations, checks).
fn shrink_catch<I: Implementation>(bug: Bug, which: Hunters, catch: &scenarios::hunt::Catch) {
    let Some(scenario) = scenarios::find::<I>(catch.scenario) else { return };
    let run = scenarios::Run::new(catch.seed)
        .with_bugs(bugs::Bugs::one(bug))
        .with_asked_optimisations(scenarios::hunt::needed(bug))
        .with_harness_checks(which == Hunters::All);
    crate::shrink_cli::shrink_found(&scenario, run, scenarios::shrink::Budget::default());
}

/// `labsim hunt --all`: the table of every bug in code the implementation
/// runs, then a summary; exit 0 only when every one was caught.
pub fn hunt_all<I: Implementation>(which: Hunters, limits: (u64, u64), jobs: usize) -> ExitCode {
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
    let median = if runs.is_empty() {
        0.0
    } else if caught % 2 == 1 {
        runs[caught / 2] as f64
    } else {
        (runs[caught / 2 - 1] + runs[caught / 2]) as f64 / 2.0
    };
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
