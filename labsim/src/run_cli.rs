//! `labsim run` on the command line: one run of one scenario, with what
//! the user asked written beside it: the clients' history (`--history`),
//! every event as JSON lines (`--trace`), the run drawn as HTML (`--html`).
//! Prints PASS or FAIL with the run's figures and the replay command.

use crate::run_view::RunView;
use scenarios::runner::{self, replay_command, Outcome};
use scenarios::Scenario;
use sim::event_log::{EventLine, EventSink};
use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

/// The files a run writes, if asked.
pub struct Outputs {
    pub history: Option<PathBuf>,
    pub trace: Option<PathBuf>,
    pub html: Option<PathBuf>,
}

fn usage(message: String) -> ExitCode {
    eprintln!("labsim: {message}");
    ExitCode::from(2)
}

/// Runs `scenario` for `seed` (twice, comparing traces, if asked) and
/// writes the outputs: exit 0 pass, 1 fail, 2 bad usage or an unwritable
/// file.
pub fn run(scenario: &Scenario, seed: u64, bugs: bugs::Bugs, check_determinism: bool, outputs: Outputs) -> ExitCode {
    let name = scenario.name;
    if outputs.history.is_some() && !name.starts_with("kv/") && !name.starts_with("shardkv/") {
        return usage(format!("{name} records no client history (--history is for kv/ and shardkv/ scenarios)"));
    }
    sim::log::init_from_env();
    let trace_file = match outputs.trace.as_ref().map(std::fs::File::create).transpose() {
        Ok(file) => file.map(event_writer),
        Err(e) => return usage(format!("cannot write {}: {e}", outputs.trace.as_ref().expect("given").display())),
    };
    let view = Rc::new(RefCell::new(RunView::default()));
    let mut sinks: Vec<EventSink> = Vec::new();
    if let Some((_, sink)) = &trace_file {
        sinks.push(sink());
    }
    if outputs.html.is_some() {
        sinks.push(RunView::sink(view.clone()));
    }
    let mut run = runner::Run::new(seed).with_bugs(bugs);
    if !sinks.is_empty() {
        run = run.with_event_sink(Box::new(move |line: &EventLine| sinks.iter_mut().for_each(|s| s(line))));
    }
    let outcome = if check_determinism {
        runner::run_checking_determinism(scenario, &run)
    } else {
        runner::run_scenario(scenario, &run)
    };
    let title = format!("{name} seed {seed} on {}", scenario.implementation);
    if let Err(e) = write_outputs(&outputs, &outcome, &view.borrow(), trace_file.map(|(w, _)| w), &title) {
        return usage(e);
    }
    verdict(scenario, seed, bugs, &outcome)
}

/// Writes the drawing, the trace and the history that were asked for.
fn write_outputs(
    outputs: &Outputs,
    outcome: &Outcome,
    view: &RunView,
    trace: Option<Rc<RefCell<EventFile>>>,
    title: &str,
) -> Result<(), String> {
    let cannot = |path: &PathBuf, e: std::io::Error| format!("cannot write {}: {e}", path.display());
    if let Some(path) = &outputs.html {
        runner::write_replacing(path, &view.html(title, outcome)).map_err(|e| cannot(path, e))?;
        eprintln!("drawing: {}", path.display());
    }
    if let (Some(path), Some(writer)) = (&outputs.trace, trace) {
        let mut file = writer.borrow_mut();
        file.flush().and(file.error()).map_err(|e| cannot(path, e))?;
        eprintln!("trace: {}", path.display());
    }
    if let (Some(path), Some(recorded)) = (&outputs.history, &outcome.history) {
        let edn = checker::parse::write_kv_served(recorded, outcome.served_under.as_deref());
        std::fs::write(path, edn).map_err(|e| cannot(path, e))?;
        eprintln!("history: {} ({} operations)", path.display(), recorded.len());
    }
    Ok(())
}

/// PASS or FAIL, with the run's figures (and the replay command).
fn verdict(scenario: &Scenario, seed: u64, bugs: bugs::Bugs, outcome: &Outcome) -> ExitCode {
    let name = scenario.name;
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
            ExitCode::SUCCESS
        }
        Err(reason) => {
            println!(
                "FAIL {name} seed {seed} on {}: {reason}\n  ({detail})\n  replay: {}",
                scenario.implementation,
                replay_command(scenario, seed, bugs)
            );
            ExitCode::from(1)
        }
    }
}

/// A JSON-lines writer of a run's events, and a maker of the sink that
/// feeds it; the first write error is kept for the end.
fn event_writer(file: std::fs::File) -> (Rc<RefCell<EventFile>>, impl Fn() -> sim::event_log::EventSink) {
    let writer =
        std::rc::Rc::new(std::cell::RefCell::new(EventFile { out: std::io::BufWriter::new(file), error: None }));
    let shared = writer.clone();
    let make = move || -> sim::event_log::EventSink {
        let writer = shared.clone();
        Box::new(move |line: &sim::event_log::EventLine| {
            let mut w = writer.borrow_mut();
            if w.error.is_none() {
                let written = serde_json::to_writer(&mut w.out, line).map_err(std::io::Error::from);
                if let Err(e) = written.and_then(|()| w.out.write_all(b"\n")) {
                    w.error = Some(e);
                }
            }
        })
    };
    (writer, make)
}

/// A file of JSON lines, remembering its first write error.
struct EventFile {
    out: std::io::BufWriter<std::fs::File>,
    error: Option<std::io::Error>,
}

impl EventFile {
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    fn error(&self) -> std::io::Result<()> {
        match &self.error {
            Some(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            None => Ok(()),
        }
    }
}
