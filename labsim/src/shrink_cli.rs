//! `labsim shrink` on the command line: shrinks one failing run to the
//! faults it needs, printing progress, the sizes before and after and the
//! CPU it took, then the explanation; writes the shrunk schedule and its
//! HTML view, and prints the command that replays it. `hunt --shrink` and
//! `soak --shrink-first` use the same steps.

use crate::output::OutputFile;
use crate::run_view::RunView;
use scenarios::runner::{self, Run, ScheduleUse};
use scenarios::shrink::{explain, shrink, Budget, Progress, Shrunk};
use scenarios::Scenario;
use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;

/// Where a shrink writes its schedule and drawing (`None`: beside the
/// run's other files, in `runner::out_dir`).
pub struct ShrinkOutputs {
    pub schedule: Option<PathBuf>,
    pub html: Option<PathBuf>,
}

/// The outputs checked (and the default directory made) before any run.
fn check_outputs(scenario: &Scenario, run: &Run, outputs: ShrinkOutputs) -> Result<(OutputFile, OutputFile), String> {
    let bugs = if run.bugs.is_empty() { String::new() } else { format!("-{}", run.bugs).replace(',', "-") };
    let stem = format!("{}-seed{}{bugs}.shrunk", scenario.name.replace('/', "-"), run.seed);
    let default = |ext: &str| -> Result<PathBuf, String> {
        let dir = runner::out_dir();
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        Ok(dir.join(format!("{stem}.{ext}")))
    };
    let schedule = match outputs.schedule {
        Some(path) => path,
        None => default("schedule")?,
    };
    let html = match outputs.html {
        Some(path) => path,
        None => default("html")?,
    };
    if schedule == html {
        return Err("--write-schedule and --html name the same file; give each its own".into());
    }
    Ok((OutputFile::check("--write-schedule", schedule)?, OutputFile::check("--html", html)?))
}

/// `labsim shrink NAME --seed N`: exit 0 when shrunk (and written), 1
/// when the run does not fail, 2 for bad usage or a file not written.
pub fn shrink_one(scenario: &Scenario, run: Run, budget: Budget, outputs: ShrinkOutputs) -> ExitCode {
    let files = match check_outputs(scenario, &run, outputs) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("labsim: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "shrinking {} seed {} on {} (at most {} runs, {} M events)",
        scenario.name,
        run.seed,
        scenario.implementation,
        budget.max_runs,
        budget.max_events / 1_000_000
    );
    let shrunk = match shrink_printing(scenario, &run, budget) {
        Ok(shrunk) => shrunk,
        Err(e) => {
            println!("{e}");
            return ExitCode::from(1);
        }
    };
    match write_and_explain(scenario, &run, &shrunk, &files) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("labsim: {e}");
            ExitCode::from(2)
        }
    }
}

/// Shrinks with a progress line per step that made the run smaller, then
/// the sizes before and after.
pub fn shrink_printing(scenario: &Scenario, run: &Run, budget: Budget) -> Result<Shrunk, String> {
    let mut progress = |p: &Progress<'_>| println!("  run {:>4}, {}: {}", p.runs, p.step, p.size.describe());
    let shrunk = shrink(scenario, run, budget, &mut progress)?;
    let ran_out = if shrunk.budget_ran_out { " (the budget ran out: a smaller run may exist)" } else { "" };
    println!("failing the same way: {}", shrunk.signature);
    println!(
        "shrunk in {} runs ({:.1} M events), {:.2} s CPU{ran_out}",
        shrunk.runs,
        shrunk.events as f64 / 1e6,
        shrunk.cpu_s
    );
    println!("  before: {}", shrunk.original.size.describe());
    println!("  after:  {}", shrunk.shrunk.size.describe());
    Ok(shrunk)
}

/// Prints the explanation, writes the schedule and the drawing (a run of
/// the shrunk schedule), and prints the replay command.
fn write_and_explain(
    scenario: &Scenario,
    run: &Run,
    shrunk: &Shrunk,
    files: &(OutputFile, OutputFile),
) -> Result<(), String> {
    let explanation = explain(&shrunk.shrunk);
    println!("{explanation}");
    let (schedule_file, html_file) = files;
    schedule_file.write(shrunk.shrunk.schedule.to_text().as_bytes())?;
    println!("schedule: {}", schedule_file.path().display());
    let view = Rc::new(RefCell::new(RunView::default()));
    let follow = ScheduleUse::Follow(Arc::new(shrunk.shrunk.schedule.clone()));
    let drawn = run.again(run.trace).with_schedule(follow).with_event_sink(RunView::sink(view.clone()));
    let outcome = runner::run_scenario(scenario, &drawn);
    let title = format!("{} seed {} shrunk ({} runs)", scenario.name, run.seed, shrunk.runs);
    html_file.write(view.borrow().html_explained(&title, &outcome, Some(&explanation)).as_bytes())?;
    println!("drawing: {}", html_file.path().display());
    let trace = outcome.stats.trace.hash();
    println!(
        "replay: {} --schedule {}",
        runner::replay_command(scenario, run.seed, run, Some(trace)),
        schedule_file.path().display()
    );
    Ok(())
}

/// Shrinks a failure found by a hunt or a soak and writes its files to
/// the default place; failures to shrink or write are printed, not fatal.
pub fn shrink_found(scenario: &Scenario, run: Run, budget: Budget) {
    let outputs = ShrinkOutputs { schedule: None, html: None };
    let files = match check_outputs(scenario, &run, outputs) {
        Ok(files) => files,
        Err(e) => return println!("  (not shrunk: {e})"),
    };
    println!("shrinking {} seed {}:", scenario.name, run.seed);
    match shrink_printing(scenario, &run, budget) {
        Ok(shrunk) => {
            if let Err(e) = write_and_explain(scenario, &run, &shrunk, &files) {
                println!("  (not written: {e})");
            }
        }
        Err(e) => println!("  (not shrunk: {e})"),
    }
}
