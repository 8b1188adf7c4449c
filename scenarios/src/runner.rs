//! Running one scenario for one seed: building the simulation around a
//! tester's main task, turning every way a run can end into an `Outcome`,
//! and checking determinism by running a seed twice.

use crate::labs::kv::tester::KvHistory;
use checker::{Counterexample, KvModel};
use sim::{check_determinism, Divergence, Node, RunStats, Sim, SimConfig, SimHandle, TraceMode};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// How one run ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// `Err` carries the failure reason.
    pub result: Result<(), String>,
    pub stats: RunStats,
    /// The clients' history, for labs that record one (kv, shardkv).
    pub history: Option<KvHistory>,
    /// Why the history is not linearizable, when it is not.
    pub illegal: Option<Counterexample>,
    /// shardkv: for each operation of the history, the configuration the
    /// group that served it was in (`None`: it never returned).
    pub served_under: Option<Vec<Option<u64>>>,
    /// shardkv: shards pulled from one group into another.
    pub shards_moved: u64,
    /// Facts the run noted about itself (a swarm run's fault mix); a
    /// failure's reason ends with them too.
    pub notes: Vec<String>,
    /// The faults the run chose, when it recorded or followed a schedule.
    pub schedule: Option<sim::Schedule>,
    /// Whether the scenario reads a schedule's workload cap, and whether
    /// the cap left out clients or operations (`workload.rs`).
    pub workload: crate::workload::CapUse,
}

impl Outcome {
    pub fn new(result: Result<(), String>, stats: RunStats) -> Outcome {
        Outcome {
            result,
            stats,
            history: None,
            illegal: None,
            served_under: None,
            shards_moved: 0,
            notes: Vec::new(),
            schedule: None,
            workload: crate::workload::CapUse::default(),
        }
    }

    /// Client operations that returned (pending ones, cut off by the end of
    /// a failed run, do not count).
    pub fn operations(&self) -> u64 {
        self.history.as_ref().map_or(0, |h| h.iter().filter(|op| op.ret.is_some()).count() as u64)
    }
}

/// The virtual-time limit of every lab test (LABSPEC.md: 120 s per test),
/// with room for the final checks after the test body.
pub const LAB_TEST_TIME_LIMIT: sim::Nanos = sim::secs(130);

/// One run of one scenario: its seed, and everything else that decides
/// what it does or what it reports. Every scenario is handed one.
pub struct Run {
    pub seed: u64,
    /// What the trace keeps (hashes only, or every event's contents).
    pub trace: TraceMode,
    /// The harness's own checks (the Raft observer and the durability
    /// checks): on, except to measure what the lab tests catch without
    /// them (`labsim hunt --baseline`).
    pub harness_checks: bool,
    /// The catalogued bugs switched on in the servers.
    pub bugs: bugs::Bugs,
    /// A stop flag set from outside (a soak's wall-clock watchdog). It
    /// never changes what a run does, only whether it goes on.
    pub cancel: Option<&'static AtomicBool>,
    /// Where the run sends every event (`labsim run --trace`, `--html`).
    event_sink: std::cell::RefCell<Option<sim::event_log::EventSink>>,
    /// The layers of the project's code the implementation runs (its
    /// `CATALOGUE_LAYERS`), set by `run_scenario`: a swarm run names the
    /// injection points of these only.
    catalogue_layers: std::cell::Cell<&'static [bugs::Layer]>,
    /// The Raft optimisations the run asks for (`labsim run --with`),
    /// resolved against the implementation's default when it runs;
    /// `None`: that default (a swarm run draws its own).
    pub optimisations: Option<contract::AskedOptimisations>,
    /// What the implementation honours and runs by default, set by
    /// `run_scenario` from the scenario.
    honoured: std::cell::Cell<(contract::Optimisations, contract::Optimisations)>,
    /// How long each server's disk takes per write (`labsim
    /// --disk-write-us`; 0: durable at once, the lab's persister). A
    /// scenario may set its own (`Fault::DiskLatency`).
    pub disk_write: sim::Nanos,
    /// Whether the run records the faults it chooses, or follows a
    /// schedule of them (`sim::schedule`).
    pub schedule: ScheduleUse,
    /// Whether a failing run draws its illegal history to a file (not the
    /// many runs of a shrink).
    pub drawings: bool,
}

/// What a run does with a schedule of faults.
#[derive(Clone, Debug, Default)]
pub enum ScheduleUse {
    /// Faults as drawn, not named (every run but a shrinker's).
    #[default]
    None,
    /// Faults as drawn, recorded in `Outcome::schedule`.
    Record,
    /// Exactly the faults of this schedule (recorded too).
    Follow(std::sync::Arc<sim::Schedule>),
}

impl ScheduleUse {
    /// Where a followed schedule ends the run, if it does.
    fn stop_at(&self) -> Option<sim::Nanos> {
        match self {
            ScheduleUse::Follow(schedule) => schedule.stop_at,
            _ => None,
        }
    }

    /// How much of its workload a followed schedule lets the run issue.
    fn workload(&self) -> sim::schedule::WorkloadCap {
        match self {
            ScheduleUse::Follow(schedule) => schedule.workload,
            _ => sim::schedule::WorkloadCap::default(),
        }
    }
}

impl Run {
    /// A run of `seed`: hashes only, harness checks on, no bug.
    pub fn new(seed: u64) -> Run {
        Run {
            seed,
            trace: TraceMode::HashOnly,
            harness_checks: true,
            bugs: bugs::Bugs::NONE,
            cancel: None,
            event_sink: std::cell::RefCell::new(None),
            catalogue_layers: std::cell::Cell::new(&[bugs::Layer::Raft, bugs::Layer::Kv, bugs::Layer::ShardKv]),
            optimisations: None,
            honoured: std::cell::Cell::new((contract::Optimisations::NONE, contract::Optimisations::NONE)),
            disk_write: 0,
            schedule: ScheduleUse::None,
            drawings: true,
        }
    }

    /// The optimisations in effect: the run's own, or the implementation's
    /// default.
    pub fn optimisations_in_effect(&self) -> contract::Optimisations {
        let default = self.honoured.get().1;
        self.optimisations.map_or(default, |asked| asked.resolve(default))
    }

    /// A swarm run: with no optimisations named, those in effect are drawn
    /// from the seed, each honoured one on with probability 1/2 (batching
    /// stays at the default: see `optimisations::draw`).
    pub fn drawing_optimisations(&self) -> Run {
        let mut run = self.again(self.trace);
        if run.optimisations.is_none() {
            let (honoured, default) = self.honoured.get();
            let drawn = crate::optimisations::draw(self.seed, honoured, default);
            run.optimisations = Some(contract::AskedOptimisations::exactly(drawn));
        }
        run
    }

    /// Of `layers` (the code a scenario runs), those that are the project's
    /// own code in this run's implementation.
    pub fn project_layers(&self, layers: &[bugs::Layer]) -> Vec<bugs::Layer> {
        layers.iter().copied().filter(|l| self.catalogue_layers.get().contains(l)).collect()
    }

    pub fn with_trace(self, trace: TraceMode) -> Run {
        Run { trace, ..self }
    }

    pub fn with_bugs(self, bugs: bugs::Bugs) -> Run {
        Run { bugs, ..self }
    }

    /// The run with exactly these optimisations switched on (`None`: the
    /// implementation's default).
    pub fn with_optimisations(self, optimisations: Option<contract::Optimisations>) -> Run {
        Run { optimisations: optimisations.map(contract::AskedOptimisations::exactly), ..self }
    }

    /// The run with the optimisations asked for as `labsim --with` asks
    /// (`default,pre_vote` keeps the implementation's default and adds).
    pub fn with_asked_optimisations(self, optimisations: Option<contract::AskedOptimisations>) -> Run {
        Run { optimisations, ..self }
    }

    /// The run with every server's disk taking `disk_write` per write.
    pub fn with_disk_write(self, disk_write: sim::Nanos) -> Run {
        Run { disk_write, ..self }
    }

    /// The run writes no drawing of an illegal history (a shrink's runs).
    pub fn without_drawings(self) -> Run {
        Run { drawings: false, ..self }
    }

    /// The run records its faults, or follows a schedule of them.
    pub fn with_schedule(self, schedule: ScheduleUse) -> Run {
        Run { schedule, ..self }
    }

    pub fn with_harness_checks(self, harness_checks: bool) -> Run {
        Run { harness_checks, ..self }
    }

    pub fn with_cancel(self, cancel: &'static AtomicBool) -> Run {
        Run { cancel: Some(cancel), ..self }
    }

    /// Every event of the run goes to `sink`.
    pub fn with_event_sink(self, sink: sim::event_log::EventSink) -> Run {
        Run { event_sink: std::cell::RefCell::new(Some(sink)), ..self }
    }

    /// The same run with another trace mode: the two halves of a
    /// determinism check. The first copy takes the event sink along.
    pub fn again(&self, trace: TraceMode) -> Run {
        Run {
            seed: self.seed,
            trace,
            harness_checks: self.harness_checks,
            bugs: self.bugs,
            cancel: self.cancel,
            event_sink: std::cell::RefCell::new(self.event_sink.borrow_mut().take()),
            catalogue_layers: self.catalogue_layers.clone(),
            optimisations: self.optimisations,
            honoured: self.honoured.clone(),
            disk_write: self.disk_write,
            schedule: self.schedule.clone(),
            drawings: self.drawings,
        }
    }
}

/// Runs a tester's `main` in a fresh simulation for `run`.
pub fn simulate<N, F>(run: &Run, main: impl FnOnce(SimHandle<N>) -> F) -> Outcome
where
    N: Node,
    F: Future<Output = Result<(), String>> + 'static,
{
    let config = SimConfig {
        trace_mode: run.trace,
        time_limit: LAB_TEST_TIME_LIMIT,
        cancel: run.cancel,
        harness_checks: run.harness_checks,
        disk_latency: run.disk_write,
        stop_at: run.schedule.stop_at(),
        ..SimConfig::new(run.seed)
    };
    let sim = Sim::<N>::new(config);
    if let Some(sink) = run.event_sink.borrow_mut().take() {
        sim.with_world(|w| w.set_event_sink(sink));
    }
    bugs::buggify::disable(); // a swarm run enables its sites itself
    bugs::buggify::take_fired(); // no naming left over from a run that unwound
    start_schedule(&sim, &run.schedule);
    let optimisations = run.optimisations_in_effect();
    if run.optimisations.is_some() {
        sim.with_world(|w| w.note(format!("raft optimisations: {optimisations}")));
    }
    if run.disk_write > 0 {
        sim.with_world(|w| w.note(format!("disk write: {}", sim::time::format(run.disk_write))));
    }
    let (ran, workload) = crate::workload::with(run.schedule.workload(), || {
        crate::optimisations::with(optimisations, || {
            bugs::with(run.bugs, || catching_panics(|| sim.run(main(sim.handle()))))
        })
    });
    bugs::buggify::disable();
    let schedule = finish_schedule(&sim, run);
    if let Ok(Err(cut @ sim::SimError::Cut { .. })) = &ran {
        sim.with_world(|w| w.note(format!("{cut} (no verdict but the clients' history, if any)")));
    }
    let notes = sim.with_world(|w| w.notes().to_vec());
    let stats = sim.stats();
    let result = match ran {
        Ok(Ok(r)) => r,
        // The schedule ended the run: it has no verdict of its own (the
        // clients' history, where there is one, is checked as it stands).
        Ok(Err(sim::SimError::Cut { .. })) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(format!(
            "panicked at virtual {}, event #{}: {panic}",
            sim::time::format(stats.virtual_time),
            stats.trace.events()
        )),
    };
    let result = result.map_err(|reason| notes.iter().fold(reason, |r, note| format!("{r}\n  {note}")));
    Outcome { notes, schedule, workload, ..Outcome::new(result, stats) }
}

/// Sets the world (and the servers' buggify sites) to record or follow;
/// the sites' firings are recorded at the step of the server that fired.
fn start_schedule<N: Node>(sim: &Sim<N>, schedule: &ScheduleUse) {
    if !matches!(schedule, ScheduleUse::None) {
        sim.with_world(|w| w.watch_server_choices(Box::new(|| fired(bugs::buggify::drain_fired()))));
    }
    match schedule {
        ScheduleUse::None => {}
        ScheduleUse::Record => {
            sim.with_world(|w| w.record_schedule());
            bugs::buggify::name_chances(None);
        }
        ScheduleUse::Follow(schedule) => {
            let (sites, world): (Vec<_>, Vec<_>) =
                schedule.choices().into_iter().partition(|c| matches!(c, sim::Choice::Buggify { .. }));
            sim.with_world(|w| {
                w.follow_schedule(world.into_iter().collect());
                w.shorten_faults(schedule.lasting());
            });
            let fired = sites.iter().filter_map(|c| match c {
                sim::Choice::Buggify { site, nth } => bugs::buggify::site_named(site).map(|s| (s, *nth)),
                _ => None,
            });
            bugs::buggify::name_chances(Some(fired.collect()));
        }
    }
}

/// Buggify firings as choices, with what each site does in words.
fn fired(firings: Vec<(bugs::buggify::Site, u64)>) -> Vec<(sim::Choice, String)> {
    let named = |(site, nth): (bugs::buggify::Site, u64)| {
        (sim::Choice::Buggify { site: site.name().to_string(), nth }, format!("buggify: {}", site.what()))
    };
    firings.into_iter().map(named).collect()
}

/// The choices a recording or following run made, in order. The sites
/// fire only in a server's step, whose firings the world collects when it
/// ends; those of a step a panic cut short come last, with no time.
fn finish_schedule<N: Node>(sim: &Sim<N>, run: &Run) -> Option<sim::Schedule> {
    if matches!(run.schedule, ScheduleUse::None) {
        return None;
    }
    let mut entries = sim.with_world(|w| w.choices_made().to_vec());
    let outside = fired(bugs::buggify::take_fired());
    entries.extend(outside.into_iter().map(|(choice, what)| sim::schedule::Entry::new(choice, None, what)));
    Some(sim::Schedule {
        scenario: String::new(),
        seed: run.seed,
        stop_at: run.schedule.stop_at(),
        workload: run.schedule.workload(),
        entries,
    })
}

/// The bugs `LABSIM_BUGS` names (a comma-separated list); an error names
/// the variable and the unknown bug.
pub fn env_bugs() -> Result<bugs::Bugs, String> {
    static PARSED: std::sync::OnceLock<Result<bugs::Bugs, String>> = std::sync::OnceLock::new();
    PARSED
        .get_or_init(|| match std::env::var("LABSIM_BUGS") {
            Ok(list) => bugs::Bugs::parse(&list).map_err(|e| format!("LABSIM_BUGS: {e}")),
            Err(_) => Ok(bugs::Bugs::NONE),
        })
        .clone()
}

thread_local! {
    /// Set while this thread runs a simulation: its panics are recorded
    /// (message and location) for the failure reason instead of printed.
    static RECORDING_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f`; a panic becomes `Err` with its message and where it was
/// raised. Other threads' panics, and panics outside `f`, print as usual.
fn catching_panics<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if RECORDING_PANICS.with(|r| r.get()) {
                let at = info.location().map_or(String::new(), |l| format!(" ({}:{})", l.file(), l.line()));
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{}{at}", panic_message(info.payload()))));
            } else {
                previous(info);
            }
        }));
    });
    let was_recording = RECORDING_PANICS.with(|r| r.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    RECORDING_PANICS.with(|r| r.set(was_recording));
    result.map_err(|payload| {
        LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| panic_message(payload.as_ref()).to_string())
    })
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
}

/// Runs a scenario, turning a panic into a failure. An illegal history is
/// drawn as HTML to a file whose path the failure reason gives.
pub fn run_scenario(scenario: &crate::Scenario, run: &Run) -> Outcome {
    let scenario_fn = scenario.run;
    run.catalogue_layers.set(scenario.catalogue_layers);
    run.honoured.set((scenario.honoured, scenario.default_optimisations));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario_fn(run))) {
        Ok(mut outcome) => {
            if let Some(schedule) = &mut outcome.schedule {
                schedule.scenario = scenario.name.to_string();
            }
            if run.drawings {
                add_drawing(scenario.name, run.seed, &mut outcome);
            }
            outcome
        }
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            let stats =
                RunStats { trace: sim::Trace::default(), virtual_time: 0, net: Default::default(), task_polls: 0 };
            Outcome::new(Err(format!("panicked: {message}")), stats)
        }
    }
}

/// Runs a scenario twice for one seed and compares the traces; on a
/// difference, names the first event where the runs part. Also fails if the
/// two runs disagree on passing.
pub fn run_checking_determinism(scenario: &crate::Scenario, run: &Run) -> Outcome {
    let seed = run.seed;
    let mut outcomes = Vec::new();
    let checked = check_determinism(|mode| {
        let outcome = run_scenario(scenario, &run.again(mode));
        let trace = outcome.stats.trace.clone();
        outcomes.push(outcome);
        trace
    });
    let first = outcomes.swap_remove(0);
    match checked {
        Ok(_) => first,
        Err(Divergence { event_index, first_run, second_run }) => Outcome {
            result: Err(format!(
                "NOT DETERMINISTIC: two runs of seed {seed} did not replay each other; they part at event \
                 #{event_index}:\n    first run:  {first_run}\n    second run: {second_run}\n{NONDETERMINISM_HINT}"
            )),
            ..first
        },
    }
}

/// A failure whose history is illegal gets a drawing of it, named in its
/// reason.
fn add_drawing(name: &str, seed: u64, outcome: &mut Outcome) {
    let (Some(cx), Some(history), Err(reason)) = (&outcome.illegal, &outcome.history, &mut outcome.result) else {
        return;
    };
    match draw_illegal_history(name, seed, history, cx) {
        Ok(path) => reason.push_str(&format!("\n  drawing: {}", path.display())),
        Err(e) => reason.push_str(&format!("\n  (the drawing could not be written: {e})")),
    }
}

/// Runs a scenario for one seed recording its schedule of faults, then
/// again following that schedule: the two must be the same run (the same
/// trace hash), or the outcome fails saying so.
pub fn run_checking_schedule(scenario: &crate::Scenario, run: &Run) -> Outcome {
    let recorded = run_scenario(scenario, &run.again(run.trace).with_schedule(ScheduleUse::Record));
    let Some(schedule) = recorded.schedule.clone() else { return recorded };
    let followed = run_scenario(scenario, &run.again(run.trace).with_schedule(ScheduleUse::Follow(Arc::new(schedule))));
    let (a, b) = (recorded.stats.trace.hash(), followed.stats.trace.hash());
    if a == b {
        return recorded;
    }
    Outcome {
        result: Err(format!(
            "NOT THE SAME RUN from its own schedule: seed {} made trace {a:016x}, and following the schedule it \
             recorded made {b:016x} (the schedule does not name every choice the run makes)",
            run.seed
        )),
        ..recorded
    }
}

/// What a user reads when a run does not replay: the usual causes in a
/// server's code, and what to use instead.
pub const NONDETERMINISM_HINT: &str = "  A run must depend on its seed alone. Something in the servers (or the test) \
differs from one run to the next; the usual causes:
    - the wall clock (std::time::Instant, SystemTime): use the time the lab gives (io.now_ms());
    - randomness of its own (rand::thread_rng, rand::random, a generator seeded from the time): draw \
from a generator seeded with PeerConfig::rng_seed;
    - iterating a HashMap or HashSet where the order matters (their order changes from run to run): \
use a BTreeMap/BTreeSet, a Vec, or a fixed hasher;
    - state kept between runs (statics, thread-locals, lazy caches), threads, or sleeps.
  The event named above is the first that differs: look at what the server did just before it.";

/// Where failing runs leave their drawings: `$LABSIM_OUT_DIR`, or `labsim`
/// in the temporary directory.
pub fn out_dir() -> PathBuf {
    std::env::var_os("LABSIM_OUT_DIR").map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("labsim"))
}

/// Writes the HTML drawing of an illegal history; returns its path. The file
/// is written beside and then renamed over its name, so a link at that name
/// is replaced, never followed.
fn draw_illegal_history(
    scenario: &str,
    seed: u64,
    history: &KvHistory,
    cx: &Counterexample,
) -> std::io::Result<PathBuf> {
    let dir = out_dir();
    std::fs::create_dir_all(&dir)?;
    let stem = format!("{}-seed{seed}", scenario.replace('/', "-"));
    let path = dir.join(format!("{stem}.linearizability.html"));
    let title = format!("{scenario} seed {seed}: the history is not linearizable");
    let page = checker::report::html_in(&KvModel, history, cx, &title, checker::report::Times::Nanos);
    write_replacing(&path, &page)?;
    Ok(path)
}

/// Writes `contents` beside `path` and renames it over it, so a link at
/// that name is replaced, never followed.
pub fn write_replacing(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    let name = path.file_name().map_or("out".into(), |n| n.to_string_lossy().into_owned());
    let partial = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    std::fs::write(&partial, contents)?;
    std::fs::rename(&partial, path)
}

/// The one command that replays a failing run with logs, with the bugs it
/// had switched on, the optimisations it named and, when known, its trace
/// hash (`--expect-trace`: the replay says whether it is the same run).
pub fn replay_command(scenario: &crate::Scenario, seed: u64, run: &Run, trace: Option<u64>) -> String {
    let bugs = run.bugs;
    let with_bugs = if bugs.is_empty() { String::new() } else { format!(" --bugs {bugs}") };
    let with = run.optimisations.map_or(String::new(), |set| format!(" --with {set}"));
    let disk = if run.disk_write > 0 { format!(" --disk-write-us {}", run.disk_write / 1_000) } else { String::new() };
    let expect = trace.map_or(String::new(), |t| format!(" --expect-trace {t:016x}"));
    format!("RUST_LOG=debug {} run {} --seed {seed}{with_bugs}{with}{disk}{expect}", scenario.replay, scenario.name)
}
