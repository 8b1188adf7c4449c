//! `labsim run` on the command line: one run of one scenario, with what
//! the user asked written beside it: the clients' history (`--history`),
//! every event as JSON lines (`--trace`), the run drawn as HTML (`--html`).
//! Prints PASS or FAIL with the run's figures and the replay command.

use crate::output::{OutputFile, Partial};
use crate::run_view::RunView;
use scenarios::runner::{self, replay_command, Outcome};
use scenarios::Scenario;
use sim::event_log::{EventLine, EventSink};
use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

/// What a run checks beside its scenario: determinism (a second run), and
/// that it is the run a replay command named (its trace hash).
pub struct Checks {
    pub determinism: bool,
    pub expect_trace: Option<u64>,
}

/// The files a run writes, if asked.
pub struct Outputs {
    pub history: Option<PathBuf>,
    pub trace: Option<PathBuf>,
    pub html: Option<PathBuf>,
    /// The faults the run made, as a schedule (`--write-schedule`).
    pub schedule: Option<PathBuf>,
}

fn usage(message: String) -> ExitCode {
    eprintln!("labsim: {message}");
    ExitCode::from(2)
}

/// What a run switches on: catalogued bugs, and Raft optimisations
/// (`None`: the implementation's default).
#[derive(Clone)]
pub struct Switched {
    /// The catalogued bugs on.
    pub bugs: bugs::Bugs,
    /// The optimisations named (`--with`); `None`: the implementation's.
    pub optimisations: Option<contract::AskedOptimisations>,
    /// Every server's disk latency per write (0: none).
    pub disk_write: sim::Nanos,
    /// A schedule to follow (`--schedule`): its file, and what it lists.
    pub follow: Option<(PathBuf, std::sync::Arc<sim::Schedule>)>,
}

/// Runs `scenario` for `seed` (twice, comparing traces, if asked) and
/// writes the outputs: exit 0 pass, 1 fail, 2 bad usage or an output that
/// could not be written (every path is checked before the run).
pub fn run(scenario: &Scenario, seed: u64, switched: Switched, checks: Checks, outputs: Outputs) -> ExitCode {
    let name = scenario.name;
    if outputs.history.is_some() && !name.starts_with("kv/") && !name.starts_with("shardkv/") {
        return usage(format!("{name} records no client history (--history is for kv/ and shardkv/ scenarios)"));
    }
    let files = match Files::check(outputs) {
        Ok(files) => files,
        Err(e) => return usage(e),
    };
    sim::log::init_from_env();
    let view = Rc::new(RefCell::new(RunView::default()));
    let mut sinks: Vec<EventSink> = Vec::new();
    if let Some((_, _, sink)) = &files.trace {
        sinks.push(sink());
    }
    if files.html.is_some() {
        sinks.push(RunView::sink(view.clone()));
    }
    let schedule = match (&switched.follow, files.schedule.is_some()) {
        (Some((_, schedule)), _) => runner::ScheduleUse::Follow(schedule.clone()),
        (None, true) => runner::ScheduleUse::Record,
        (None, false) => runner::ScheduleUse::None,
    };
    let mut run = runner::Run::new(seed)
        .with_bugs(switched.bugs)
        .with_asked_optimisations(switched.optimisations)
        .with_disk_write(switched.disk_write)
        .with_schedule(schedule);
    if !sinks.is_empty() {
        run = run.with_event_sink(Box::new(move |line: &EventLine| sinks.iter_mut().for_each(|s| s(line))));
    }
    let outcome = if checks.determinism {
        runner::run_checking_determinism(scenario, &run)
    } else {
        runner::run_scenario(scenario, &run)
    };
    let followed = switched.follow.as_ref().map(|(path, _)| path.as_path());
    let passed = verdict(scenario, &run, &outcome, followed) & same_run(&outcome, checks.expect_trace);
    if let Some((_, schedule)) = &switched.follow {
        note_unused_lines(schedule, &outcome);
    }
    let explanation = followed.and_then(|_| explained(&outcome));
    if let Some(text) = &explanation {
        println!("{text}");
    }
    let title = format!("{name} seed {seed} on {}", scenario.implementation);
    let written = files.write(&outcome, &view.borrow(), &title, explanation.as_deref());
    match (passed, written) {
        (false, _) => ExitCode::from(1),
        (true, Err(e)) => usage(e),
        (true, Ok(())) => ExitCode::SUCCESS,
    }
}

/// The trace's path, the temporary file its events stream into, and the
/// maker of the sink that feeds it.
type TraceFile = (OutputFile, Rc<RefCell<EventFile>>, Box<dyn Fn() -> EventSink>);

/// The outputs asked for, checked: the trace streams into a temporary
/// file beside its path from the start.
struct Files {
    history: Option<OutputFile>,
    trace: Option<TraceFile>,
    html: Option<OutputFile>,
    schedule: Option<OutputFile>,
}

impl Files {
    fn check(outputs: Outputs) -> Result<Files, String> {
        let check = |flag, path: Option<PathBuf>| path.map(|p| OutputFile::check(flag, p)).transpose();
        let history = check("--history", outputs.history)?;
        let html = check("--html", outputs.html)?;
        let schedule = check("--write-schedule", outputs.schedule)?;
        let trace = match check("--trace", outputs.trace)? {
            Some(file) => {
                let (writer, sink) = event_writer(file.create_partial()?);
                Some((file, writer, Box::new(sink) as Box<dyn Fn() -> EventSink>))
            }
            None => None,
        };
        Ok(Files { history, trace, html, schedule })
    }

    /// Writes the drawing, the trace and the history; every output is
    /// attempted, and the first failure is returned.
    fn write(self, outcome: &Outcome, view: &RunView, title: &str, explanation: Option<&str>) -> Result<(), String> {
        let mut results = Vec::new();
        if let Some(file) = &self.html {
            results.push(
                file.write(view.html_explained(title, outcome, explanation).as_bytes())
                    .map(|()| format!("drawing: {}", file.path().display())),
            );
        }
        if let Some((file, writer, _)) = self.trace {
            let mut events = writer.borrow_mut();
            let partial = events.out.take().expect("the trace is finished once");
            results.push(match events.error.take() {
                Some(e) => {
                    file.abandon(partial);
                    Err(format!("cannot write --trace {}: {e}", file.path().display()))
                }
                None => file.finish(partial).map(|()| format!("trace: {}", file.path().display())),
            });
        }
        if let (Some(file), Some(schedule)) = (&self.schedule, &outcome.schedule) {
            let counts = schedule.counts();
            results.push(file.write(schedule.to_text().as_bytes()).map(|()| {
                format!(
                    "schedule: {} ({} injected faults, {} network faults, {} messages delayed, {} buggify firings)",
                    file.path().display(),
                    counts.faults,
                    counts.network_faults,
                    counts.delays,
                    counts.buggify_firings
                )
            }));
        }
        if let (Some(file), Some(recorded)) = (&self.history, &outcome.history) {
            let edn = checker::parse::write_kv_served(recorded, outcome.served_under.as_deref());
            let done = file.write(edn.as_bytes());
            let (path, operations, mb) = (file.path().display(), recorded.len(), edn.len() as f64 / 1e6);
            results.push(done.map(|()| format!("history: {path} ({operations} operations, {mb:.1} MB)")));
        }
        let mut first_error = None;
        for result in results {
            match result {
                Ok(line) => eprintln!("{line}"),
                Err(e) => {
                    eprintln!("labsim: {e}");
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Says which choices a followed schedule lists that were not made (a
/// hand-edited line naming a fault or call the run does not have, or a
/// fault that changed nothing), and a workload cap the scenario does not
/// read.
fn note_unused_lines(schedule: &sim::Schedule, outcome: &Outcome) {
    let made: std::collections::BTreeSet<sim::Choice> =
        outcome.schedule.as_ref().map_or_else(Default::default, sim::Schedule::choices);
    let missing: Vec<sim::Choice> = schedule.choices().into_iter().filter(|c| !made.contains(c)).collect();
    if let Some(first) = missing.first() {
        println!(
            "note: {} choice(s) the schedule lists were not made: the run never came to them, or they changed \
             nothing (the first: `{first}`)",
            missing.len()
        );
    }
    let (cap, reads) = (schedule.workload, outcome.workload);
    if (cap.clients.is_some() && !reads.reads_clients) || (cap.operations.is_some() && !reads.reads_operations) {
        let scenario = &schedule.scenario;
        println!(
            "note: {scenario} takes no such workload cap: the schedule's `clients` or `operations` changed nothing"
        );
    }
}

/// A failing run that followed a schedule (a shrunk one, most often),
/// explained as `labsim shrink` explains it.
fn explained(outcome: &Outcome) -> Option<String> {
    let schedule = outcome.schedule.clone().filter(|_| outcome.result.is_err())?;
    let size = scenarios::shrink::Size::of(&schedule, outcome);
    Some(scenarios::shrink::explain(&scenarios::shrink::Failing { schedule, outcome: outcome.clone(), size }))
}

/// Whether the run is the one a replay command named: says so, or that it
/// is not (then the run depends on something besides its seed, or the code
/// changed since).
fn same_run(outcome: &Outcome, expected: Option<u64>) -> bool {
    let Some(expected) = expected else { return true };
    let trace = outcome.stats.trace.hash();
    if trace == expected {
        println!("replayed: same run (trace {trace:016x})");
        return true;
    }
    println!(
        "replayed: NOT the same run: trace {trace:016x} where the run replayed had {expected:016x}; the code changed \
         since, or the run depends on something besides its seed (--check-determinism names where two runs part)"
    );
    false
}

/// Prints PASS or FAIL, with the run's figures (and the replay command);
/// returns whether it passed.
fn verdict(scenario: &Scenario, run: &runner::Run, outcome: &Outcome, followed: Option<&std::path::Path>) -> bool {
    let (name, seed) = (scenario.name, run.seed);
    let stats = &outcome.stats;
    let operations = outcome.history.as_ref().map_or(String::new(), |h| format!(", {} client operations", h.len()));
    let detail = format!(
        "virtual {}, {} events, {} RPCs{operations}, trace {:016x}",
        sim::time::format(stats.virtual_time),
        stats.trace.events(),
        stats.net.total_calls,
        stats.trace.hash()
    );
    match &outcome.result {
        Ok(()) => {
            println!("PASS {name} seed {seed} on {} ({detail})", scenario.implementation);
            for note in &outcome.notes {
                println!("  {note}");
            }
            true
        }
        Err(reason) => {
            let schedule = followed.map_or(String::new(), |path| format!(" --schedule {}", path.display()));
            println!(
                "FAIL {name} seed {seed} on {}: {reason}\n  ({detail})\n  replay: {}{schedule}",
                scenario.implementation,
                replay_command(scenario, seed, run, Some(stats.trace.hash()))
            );
            false
        }
    }
}

/// A JSON-lines writer of a run's events, and a maker of the sink that
/// feeds it; the first write error is kept for the end.
fn event_writer(partial: Partial) -> (Rc<RefCell<EventFile>>, impl Fn() -> EventSink) {
    let writer = Rc::new(RefCell::new(EventFile { out: Some(partial), error: None }));
    let shared = writer.clone();
    let make = move || -> EventSink {
        let writer = shared.clone();
        Box::new(move |line: &EventLine| {
            let mut w = writer.borrow_mut();
            let EventFile { out: Some(partial), error: error @ None } = &mut *w else { return };
            let written = serde_json::to_writer(&mut partial.file, line).map_err(std::io::Error::from);
            if let Err(e) = written.and_then(|()| partial.file.write_all(b"\n")) {
                *error = Some(e);
            }
        })
    };
    (writer, make)
}

/// A temporary file of JSON lines, remembering its first write error.
struct EventFile {
    out: Option<Partial>,
    error: Option<std::io::Error>,
}
