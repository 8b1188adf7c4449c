//! Shrinking a failing run: from the schedule of faults its seed made
//! (`sim::schedule`), find a much smaller one that still fails the same
//! way, by delta debugging (Zeller's ddmin) over the schedule's faults.
//!
//! The faults are taken out in levels, coarse first: every fault of one
//! source at once (the tester's, the network's faults, its delays, the
//! servers' buggify sites); then each instant of the tester's faults alone
//! and each of its faults alone; then about 8, 64, 512 ... units per source
//! (the tester's faults by instant, so a partition is one unit); last,
//! single faults until none can go. Between levels it tries a run cut short
//! (a history that is already illegal) and, in a swarm, fewer clients and
//! operations (`workload.rs`); at the end, shorter faults. A run that fails
//! the same way (the same check: `failure_signature`) replaces the
//! schedule with the choices it made. Every step is a run of a schedule,
//! and runs depend on their seed and schedule alone, so the same input
//! shrinks to the same output; a budget of runs and events (not of time)
//! keeps that true when it runs out.

use crate::hunt::caught_by;
use crate::registry::Scenario;
use crate::runner::{run_scenario, Outcome, Run, ScheduleUse};
use crate::soak::thread_cpu_ms;
use crate::workload::CapUse;
use sim::schedule::{Counts, Entry, WorkloadCap};
use sim::{Choice, Nanos, Schedule};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The most runs a shrink makes by default.
pub const MAX_RUNS: u64 = 2_000;

/// The most events a shrink simulates by default, over all its runs: under
/// a minute of CPU for the heaviest kv and shardkv runs on the machine of
/// the README's figures, where the history checks cost more than the events
/// (a shrink that runs out says so, and gives the smallest failing run
/// found). A budget of
/// events, not of time, so that the same input shrinks to the same output.
pub const MAX_EVENTS: u64 = 30_000_000;

/// When a shrink stops looking.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub max_runs: u64,
    pub max_events: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { max_runs: MAX_RUNS, max_events: MAX_EVENTS }
    }
}

/// One run's size: what a shrink makes smaller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Size {
    /// Instants at which the tester injected faults (a partition is one).
    pub fault_instants: usize,
    /// The choices of each kind (the tester's faults one by one: a
    /// partition of five is up to 12 cuts).
    pub counts: Counts,
    /// Virtual time until the run ended (a failing run ends at its failure).
    pub virtual_time: Nanos,
    /// Client operations that returned.
    pub operations: u64,
}

impl Size {
    pub fn of(schedule: &Schedule, outcome: &Outcome) -> Size {
        let instants: BTreeSet<Option<Nanos>> =
            schedule.entries.iter().filter(|e| matches!(e.choice, Choice::Fault { .. })).map(|e| e.at).collect();
        Size {
            fault_instants: instants.len(),
            counts: schedule.counts(),
            virtual_time: outcome.stats.virtual_time,
            operations: outcome.operations(),
        }
    }

    /// The size in words, for progress lines and reports.
    pub fn describe(&self) -> String {
        let c = &self.counts;
        format!(
            "{} fault instants ({} faults), {} network faults ({} messages lost), {} messages delayed, {} buggify \
             firings, virtual {}, {} operations",
            self.fault_instants,
            c.faults,
            c.network_faults,
            c.messages_lost,
            c.delays,
            c.buggify_firings,
            sim::time::format(self.virtual_time),
            self.operations
        )
    }
}

/// A failing run: its schedule, outcome and size.
#[derive(Clone, Debug)]
pub struct Failing {
    pub schedule: Schedule,
    pub outcome: Outcome,
    pub size: Size,
}

/// What a shrink found.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The check both runs failed (`failure_signature`).
    pub signature: String,
    pub original: Failing,
    pub shrunk: Failing,
    /// Runs made, the original's included, and the events they simulated.
    pub runs: u64,
    pub events: u64,
    /// CPU seconds of those runs.
    pub cpu_s: f64,
    /// Whether the budget (of runs or of events) ran out before the shrink
    /// was done.
    pub budget_ran_out: bool,
}

/// Why a run failed, as a shrink compares failures: the check that fired
/// (`hunt::caught_by`) and the first line of its reason with every number
/// replaced by `#` (and, for the harness's checks, only the rule's name):
/// a shrunk run fails "the same way" when this is the same.
pub fn failure_signature(reason: &str) -> String {
    let check = caught_by(reason);
    let first = reason.split("; and the ").next().unwrap_or(reason).lines().next().unwrap_or("");
    // A failure a server's check raised names the server first ("raft-2: ").
    let first = match first.split_once(": ") {
        Some((server, rest)) if !server.contains(' ') => rest,
        _ => first,
    };
    let detail = match check {
        "linearizability" => "",
        "step rules" | "raft observer" | "durability check" if first.contains(" in cluster ") => {
            let (_, cluster_on) = first.split_once(" in cluster ").expect("checked");
            let rule = cluster_on.split_once(": ").map_or(cluster_on, |(_, rest)| rest);
            rule.split(':').next().unwrap_or(rule)
        }
        "server assertion" => first.split_once(": ").map_or(first, |(_, message)| message),
        _ => first,
    };
    let detail = detail.split(" (").next().unwrap_or(detail);
    // A lab check's message may quote whole values: its first words say
    // which check it is.
    let detail: String = detail.split_whitespace().take(SIGNATURE_WORDS).collect::<Vec<_>>().join(" ");
    if detail.is_empty() {
        return check.to_string();
    }
    let mut out = format!("{check}: ");
    let mut in_number = false;
    for c in detail.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out.trim_end().to_string()
}

/// How long after the last operation that cannot be ordered a shorter run
/// ends.
const CUT_MARGIN: Nanos = 1_000_000;

/// How many instants of the tester's faults, and how many of its single
/// faults, a shrink tries alone.
const TRIED_ALONE: usize = 32;

/// The caps on clients a shrink tries, fewest first.
const CLIENT_CAPS: [u32; 3] = [1, 2, 4];

/// The caps on operations per client a shrink tries, fewest first.
const OPERATION_CAPS: [u64; 4] = [4, 16, 64, 256];

/// The durations a shrink tries for a fault that remains, shortest first.
const DURATIONS: [Nanos; 4] = [1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

/// How many words of a failure's first line name its check.
const SIGNATURE_WORDS: usize = 8;

/// Where a shrink stands, for progress lines.
pub struct Progress<'a> {
    pub runs: u64,
    pub step: &'a str,
    pub size: &'a Size,
}

/// Shrinks the failing run `run` of `scenario` (its switches, bugs and
/// disks as given; its schedule is ignored) within `budget`. `Err` when
/// the run does not fail.
pub fn shrink(
    scenario: &Scenario,
    run: &Run,
    budget: Budget,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> Result<Shrunk, String> {
    let started = thread_cpu_ms();
    let run = &run.again(run.trace).without_drawings();
    let original = run_scenario(scenario, &run.again(run.trace).with_schedule(ScheduleUse::Record));
    let Err(reason) = &original.result else {
        return Err(format!("{} seed {} passes: there is no failure to shrink", scenario.name, run.seed));
    };
    let signature = failure_signature(reason);
    let Some(schedule) = original.schedule.clone() else {
        return Err(format!("{} seed {} fails before its run starts: {reason}", scenario.name, run.seed));
    };
    let size = Size::of(&schedule, &original);
    let original = Failing { schedule, outcome: original, size };
    let events = original.outcome.stats.trace.events();
    let mut shrinker = Shrinker {
        scenario,
        run,
        signature,
        best: original.clone(),
        runs: 1,
        events,
        budget,
        progress,
        caps_done: (false, false),
    };
    shrinker.report("the original run");
    shrinker.shrink_in_levels();
    shrinker.try_smaller_workload();
    if shrinker.shorten() {
        // A shorter fault may leave others with nothing to do.
        let singles = shrinker.best.schedule.entries.iter().map(|e| vec![e.choice.clone()]).collect();
        shrinker.remove_one_at_a_time(singles, "single faults", true);
    }
    let budget_ran_out = shrinker.out_of_budget();
    let Shrinker { signature, best, runs, events, .. } = shrinker;
    let cpu_s = (thread_cpu_ms() - started) / 1000.0;
    Ok(Shrunk { signature, original, shrunk: best, runs, events, cpu_s, budget_ran_out })
}

/// What became of a tried schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tried {
    /// It failed the same way: the best now.
    Kept,
    /// It failed the same way, but not as wanted.
    Rejected,
    /// It did not fail the same way.
    Failed,
}

/// A set of choices taken out or kept together.
type Unit = Vec<Choice>;

struct Shrinker<'a> {
    scenario: &'a Scenario,
    run: &'a Run,
    signature: String,
    /// The smallest failing run found so far.
    best: Failing,
    runs: u64,
    events: u64,
    budget: Budget,
    progress: &'a mut dyn FnMut(&Progress<'_>),
    /// Whether fewer clients, and fewer operations, are done with: a cap
    /// on that axis cut nothing.
    caps_done: (bool, bool),
}

impl Shrinker<'_> {
    fn out_of_budget(&self) -> bool {
        self.runs >= self.budget.max_runs || self.events >= self.budget.max_events
    }

    fn report(&mut self, step: &str) {
        (self.progress)(&Progress { runs: self.runs, step, size: &self.best.size });
    }

    /// Tries fewer clients, then fewer operations each (`workload.rs`),
    /// on each axis the scenario reads: the smallest of a few caps that
    /// still fails the same way.
    fn try_smaller_workload(&mut self) {
        let reads = self.best.outcome.workload;
        let now = self.best.schedule.workload;
        if reads.reads_clients && !self.caps_done.0 {
            let fewer = CLIENT_CAPS.iter().filter(|&&c| now.clients.is_none_or(|n| c < n));
            let caps = fewer.map(|&c| WorkloadCap { clients: Some(c), ..now }).collect();
            self.caps_done.0 = self.try_caps(caps, "fewer clients", |used| used.clients_cut);
        }
        let now = self.best.schedule.workload;
        if reads.reads_operations && !self.caps_done.1 {
            let fewer = OPERATION_CAPS.iter().filter(|&&o| now.operations.is_none_or(|n| o < n));
            let caps = fewer.map(|&o| WorkloadCap { operations: Some(o), ..now }).collect();
            self.caps_done.1 = self.try_caps(caps, "fewer operations", |used| used.operations_cut);
        }
    }

    /// Tries `caps`, smallest first, until one that cuts the workload on
    /// its axis (`cut`) fails the same way. Returns whether the axis is
    /// done: a cap cut nothing (the scenario has no more than that, so a
    /// larger cap would cut nothing either).
    fn try_caps(&mut self, caps: Vec<WorkloadCap>, step: &str, cut: fn(&CapUse) -> bool) -> bool {
        for cap in caps {
            if self.out_of_budget() {
                return false;
            }
            let schedule = Schedule { workload: cap, ..self.best.schedule.clone() };
            match self.try_schedule_where(schedule, |outcome| cut(&outcome.workload)) {
                Tried::Kept => {
                    self.report(step);
                    return false;
                }
                Tried::Rejected => return true,
                Tried::Failed => {}
            }
        }
        false
    }

    /// Level by level, coarse to fine: each level cuts every source's
    /// faults into about 8 times as many units as the last, and tries
    /// taking each unit out in turn; the last level, single faults, goes
    /// on until no fault can go (the schedule is then 1-minimal).
    fn shrink_in_levels(&mut self) {
        for level in 0.. {
            self.try_cut();
            self.try_smaller_workload();
            let Some((units, finest)) = self.units_at(level) else { return };
            let step =
                if finest { "single faults".to_string() } else { format!("level {level} ({} units)", units.len()) };
            self.remove_one_at_a_time(units, &step, finest);
            if level == 0 {
                self.try_instants_alone();
            }
            if finest || self.out_of_budget() {
                return;
            }
        }
    }

    /// Tries each instant of the tester's faults alone, with nothing else,
    /// then each of its faults alone (latest first: a failure often
    /// follows soon after what causes it), at most `TRIED_ALONE` of each.
    /// Many bugs need one fault, or one partition, and trying it alone
    /// finds it in a run, where taking the others out one at a time may
    /// stop on the way: each removal changes the run, and the failure with
    /// it.
    fn try_instants_alone(&mut self) {
        let instants = atoms_of(&self.best.schedule.entries, 0);
        if instants.len() < 2 {
            return;
        }
        let latest_instants = instants.iter().rev().take(TRIED_ALONE).cloned();
        let faults = instants.iter().rev().flat_map(|unit| unit.iter().rev());
        let singles = faults.map(|c| vec![c.clone()]).filter(|unit| !instants.contains(unit)).take(TRIED_ALONE);
        let alone: Vec<Unit> = latest_instants.chain(singles).collect();
        // Only when every try fits in an eighth of the runs and events
        // left (a try as long as the best run): the levels after need the
        // rest, and a long run's shrink is better spent on them.
        let per_run = self.best.outcome.stats.trace.events().max(1);
        let runs_left = self.budget.max_runs.saturating_sub(self.runs);
        let events_left = self.budget.max_events.saturating_sub(self.events);
        if (runs_left / 8).min(events_left / 8 / per_run) < alone.len() as u64 {
            return;
        }
        for unit in alone {
            if self.out_of_budget() {
                return;
            }
            if self.try_units(&[unit]) {
                self.report("one fault alone");
                return;
            }
        }
    }

    /// The best schedule cut into units for `level`, and whether they are
    /// single faults; `None` when there is nothing left to cut. A source's
    /// atoms are its faults one by one, except the tester's, which go by
    /// instant (a partition is one atom) until the last level.
    fn units_at(&self, level: u32) -> Option<(Vec<Unit>, bool)> {
        let entries = &self.best.schedule.entries;
        if entries.is_empty() {
            return None;
        }
        let atoms: Vec<Vec<Unit>> = (0..SOURCES).map(|s| atoms_of(entries, s)).collect();
        let most_atoms = atoms.iter().map(Vec::len).max().unwrap_or(0);
        let per_level = 8usize.checked_pow(level).unwrap_or(usize::MAX);
        if level > 0 && per_level / 8 >= most_atoms {
            // Every atom stood alone at the level before: single faults.
            return Some((entries.iter().map(|e| vec![e.choice.clone()]).collect(), true));
        }
        let mut units = Vec::new();
        for source in atoms {
            let size = source.len().div_ceil(per_level).max(1);
            units.extend(source.chunks(size).map(|chunk| chunk.concat()));
        }
        Some((units, false))
    }

    /// Tries taking out each unit in turn, keeping every removal that
    /// still fails the same way; with `until_stable`, passes again until
    /// a pass removes nothing.
    fn remove_one_at_a_time(&mut self, mut units: Vec<Unit>, step: &str, until_stable: bool) {
        loop {
            let mut removed_any = false;
            let mut i = 0;
            while i < units.len() {
                if self.out_of_budget() {
                    return;
                }
                let rest: Vec<Unit> = units[..i].iter().chain(&units[i + 1..]).cloned().collect();
                if self.try_units(&rest) {
                    units = self.still_made(rest);
                    removed_any = true;
                    self.report(step);
                } else {
                    i += 1;
                }
            }
            if !(until_stable && removed_any) {
                return;
            }
        }
    }

    /// Shortens each fault that remains and that the world can heal alone
    /// (a cut, a pause, a drift, a slow network: not a crash): the
    /// shortest of `DURATIONS` that still fails the same way.
    /// Returns whether any was shortened.
    fn shorten(&mut self) -> bool {
        let mut shortened = false;
        let mut i = 0;
        while i < self.best.schedule.entries.len() && !self.out_of_budget() {
            let entry = &self.best.schedule.entries[i];
            if !entry.healable() || entry.lasts.is_some_and(|d| d <= DURATIONS[0]) {
                i += 1;
                continue;
            }
            let (choice, longest) = (entry.choice.clone(), entry.lasts.unwrap_or(Nanos::MAX));
            for &lasts in DURATIONS.iter().filter(|d| **d < longest) {
                let mut schedule = self.best.schedule.clone();
                let Some(at) = schedule.entries.iter().position(|e| e.choice == choice) else { break };
                schedule.entries[at].lasts = Some(lasts);
                if self.out_of_budget() {
                    return shortened;
                }
                if self.try_schedule(schedule) {
                    self.report("shorter faults");
                    shortened = true;
                    break;
                }
            }
            i += 1;
        }
        shortened
    }

    /// Runs the schedule of `units`; a run that fails the same way becomes
    /// the best.
    fn try_units(&mut self, units: &[Unit]) -> bool {
        let listed: Vec<Entry> = {
            let keep: BTreeSet<&Choice> = units.iter().flatten().collect();
            self.best.schedule.entries.iter().filter(|e| keep.contains(&e.choice)).cloned().collect()
        };
        self.try_schedule(Schedule { entries: listed, ..self.best.schedule.clone() })
    }

    /// For a history that is not linearizable: tries ending the run just
    /// after the operations that cannot be ordered returned, or later. A
    /// run cut short has no verdict but its history's, and its history is
    /// a prefix of the whole (operations not returned by then are
    /// pending), which may already fail the same way, in less virtual time
    /// and fewer operations.
    fn try_cut(&mut self) {
        let (Some(cx), Some(history)) = (&self.best.outcome.illegal, &self.best.outcome.history) else { return };
        let Some(last) = cx.unplaceable.iter().map(|&i| history[i].ret.unwrap_or(history[i].call)).max() else {
            return;
        };
        let (first, end) = (last + CUT_MARGIN, self.best.outcome.stats.virtual_time);
        let candidates = [first, first + end.saturating_sub(first) / 4, first + end.saturating_sub(first) / 2];
        for at in candidates {
            if at >= end || self.out_of_budget() {
                return;
            }
            if self.try_schedule(Schedule { stop_at: Some(at), ..self.best.schedule.clone() }) {
                self.report("a shorter run");
                return;
            }
        }
    }

    /// Runs `schedule`; a run that fails the same way becomes the best.
    fn try_schedule(&mut self, schedule: Schedule) -> bool {
        self.try_schedule_where(schedule, |_| true) == Tried::Kept
    }

    /// Runs `schedule`; a run that fails the same way and passes `wanted`
    /// becomes the best. A workload cap that cut nothing on its axis
    /// changed nothing in the run: the best's schedule drops it.
    fn try_schedule_where(&mut self, schedule: Schedule, wanted: impl Fn(&Outcome) -> bool) -> Tried {
        self.runs += 1;
        let run = self.run.again(self.run.trace).with_schedule(ScheduleUse::Follow(Arc::new(schedule)));
        let outcome = run_scenario(self.scenario, &run);
        self.events += outcome.stats.trace.events();
        let same = outcome.result.as_ref().err().is_some_and(|r| failure_signature(r) == self.signature);
        let Some(mut made) = outcome.schedule.clone().filter(|_| same) else { return Tried::Failed };
        if !wanted(&outcome) {
            return Tried::Rejected;
        }
        if !outcome.workload.clients_cut {
            made.workload.clients = None;
        }
        if !outcome.workload.operations_cut {
            made.workload.operations = None;
        }
        self.best = Failing { size: Size::of(&made, &outcome), schedule: made, outcome };
        Tried::Kept
    }

    /// Of `units`, the choices the best run made (a unit left empty goes).
    fn still_made(&self, units: Vec<Unit>) -> Vec<Unit> {
        let made: BTreeSet<&Choice> = self.best.schedule.entries.iter().map(|e| &e.choice).collect();
        units
            .into_iter()
            .map(|u| u.into_iter().filter(|c| made.contains(c)).collect::<Unit>())
            .filter(|u| !u.is_empty())
            .collect()
    }
}

/// What a failing run's check means, in plain words.
fn check_in_words(check: &str) -> &'static str {
    match check {
        "step rules" => "a Raft step broke one of Figure 2's rules",
        "raft observer" => "the Raft observer saw a safety property broken across the cluster",
        "durability check" => "a server acted on state its disk did not hold",
        "linearizability" => "the clients' history is not linearizable: no order of the operations explains it",
        "latency bound" => "a client waited longer than the latency bound",
        "liveness phase" => "after the faults healed, the cluster did not make progress in time",
        "server assertion" => "a server's own assertion failed (it panicked)",
        _ => "the lab test's own check failed",
    }
}

/// How many faults an explanation lists (the schedule has them all).
const EXPLAINED_FAULTS: usize = 24;

/// A failing run in words, short enough for a bug report: the check that
/// fired, the faults in order with their times and how the servers stood
/// (`L3`: leads term 3, `F3`: follows in term 3), and, for a history that
/// is not linearizable, the operations that cannot be ordered.
pub fn explain(failing: &Failing) -> String {
    let reason = failing.outcome.result.as_ref().err().map_or("(the run passed)", String::as_str);
    let check = caught_by(reason);
    let first = reason.lines().next().unwrap_or(reason);
    let mut out = format!("What failed: {} ({check}).\n  {first}\n", check_in_words(check));
    let cap = failing.schedule.workload;
    if cap != WorkloadCap::default() {
        let clients = cap.clients.map(|c| format!("only the first {c} client(s)"));
        let operations =
            cap.operations.map(|o| format!("at most {o} operations a client (a Raft swarm: {o} commands in all)"));
        let needs: Vec<String> = clients.into_iter().chain(operations).collect();
        out.push_str(&format!("The workload it needs: {}.\n", needs.join(", ")));
    }
    let at_failure = sim::time::format(failing.outcome.stats.virtual_time);
    if failing.schedule.entries.is_empty() {
        out.push_str(&format!("No fault is needed: the run fails at {at_failure} with none.\n"));
    } else {
        out.push_str(&format!("The faults it needs, in order (the run fails at {at_failure}):\n"));
    }
    let mut entries: Vec<&Entry> = failing.schedule.entries.iter().collect();
    entries.sort_by_key(|e| e.at.unwrap_or(Nanos::MAX));
    for e in entries.iter().take(EXPLAINED_FAULTS) {
        let at = e.at.map_or("(a server's choice)".to_string(), sim::time::format);
        let lasts = e.lasts.map_or(String::new(), |d| format!(" (healed after {})", sim::time::format(d)));
        out.push_str(&format!("  {at:>12}  {}{lasts}\n", e.what));
    }
    if entries.len() > EXPLAINED_FAULTS {
        out.push_str(&format!("  ... and {} more (the schedule lists them all)\n", entries.len() - EXPLAINED_FAULTS));
    }
    if let (Some(cx), Some(history)) = (&failing.outcome.illegal, &failing.outcome.history) {
        out.push_str(&format!(
            "The operations on {} that cannot be ordered: after {} that can (the state then: {}), none of these can \
             come next:\n",
            cx.part_name,
            cx.longest_prefix.len(),
            cx.state_after_prefix
        ));
        for &i in cx.unplaceable.iter().take(6) {
            let op = &history[i];
            let ret = op.ret.map_or("never returned".to_string(), sim::time::format);
            out.push_str(&format!(
                "  client {} {:?} -> {:?}, called at {}, returned {ret}\n",
                op.client,
                op.input,
                op.output,
                sim::time::format(op.call)
            ));
        }
    }
    out
}

/// How many sources of choices a shrink takes out whole at its first level.
const SOURCES: u8 = 4;

/// 0: the tester's faults; 1: the network's faults; 2: the servers' sites;
/// 3: the network's short delays.
fn source(choice: &Choice) -> u8 {
    match choice {
        Choice::Fault { .. } => 0,
        Choice::Buggify { .. } => 2,
        Choice::Delay(_) => 3,
        _ => 1,
    }
}

/// The atoms of one source's faults (`source`), in order: the tester's
/// grouped by instant, the others one each.
fn atoms_of(entries: &[Entry], source_wanted: u8) -> Vec<Unit> {
    let mut atoms: Vec<(Option<Nanos>, Unit)> = Vec::new();
    for e in entries.iter().filter(|e| source(&e.choice) == source_wanted) {
        match atoms.last_mut() {
            Some((at, unit)) if source_wanted == 0 && *at == e.at => unit.push(e.choice.clone()),
            _ => atoms.push((e.at, vec![e.choice.clone()])),
        }
    }
    atoms.into_iter().map(|(_, unit)| unit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_ignore_numbers_and_details() {
        let a = "raft-2: raft invariant broken in cluster raft: log matching: peer 2 has an entry at index 7, term 3";
        let b = "raft invariant broken in cluster raft: log matching: peer 0 has an entry at index 9, term 1";
        assert_eq!(failure_signature(a), failure_signature(b));
        assert_eq!(failure_signature(a), "raft observer: log matching");
        assert_eq!(
            failure_signature("one(Int(4475)) failed to reach agreement"),
            "lab check: one(Int(#)) failed to reach agreement"
        );
        assert_eq!(failure_signature("x: the history is not linearizable"), "linearizability");
        let long = format!("1 missing element x 1 2 y in Append result {}", "x 1 2 y".repeat(100));
        assert_eq!(failure_signature(&long), "lab check: # missing element x # # y in");
        assert_ne!(
            failure_signature("raft invariant broken in cluster raft: election safety: peers 0 and 1 both lead term 4"),
            failure_signature(a)
        );
    }
}
