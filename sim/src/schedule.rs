//! A run's faults as an explicit schedule: every fault a tester injects
//! that takes the world away from health (a cut link, a crash, a pause, a
//! drift, a crash point, an unreliable network), every fault the network
//! decides for one message (a request or reply dropped, a request
//! duplicated or delayed, a reply held back), and the choices servers make
//! inside (their fault injection points firing), each named by where it
//! falls in the run rather than by a random draw.
//!
//! A run records the choices it made (`World::record_schedule`); a run
//! that follows a schedule (`World::follow_schedule`) makes exactly the
//! choices listed and no other: a fault not listed is not injected, a
//! message not listed gets through. The draws are made all the same, so a
//! run that follows the schedule its own seed recorded is the same run.
//! Taking choices out of a schedule is how `labsim shrink` finds the few
//! faults a failure needs.
//!
//! Choices are named by what they act on and an ordinal there, so that
//! leaving one out renames as few others as can be: the n-th harmful fault
//! on one link or server setting (counted whether or not it changed
//! anything), the n-th call of one kind on a link. Undoing a fault
//! (healing a link, resuming, restarting) is never a choice: it is a no-op
//! when the fault it undoes was left out.

use crate::fault::Fault;
use crate::net::{Latency, NetConfig};
use crate::node::{Addr, Node};
use crate::time::{self, Nanos};
use crate::world::World;
use std::collections::BTreeSet;
use std::fmt;

/// One choice of a run, named so that a run can be told to make it again.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Choice {
    /// The `nth` (from 0) harmful fault the tester injects on `on`.
    Fault { on: FaultTarget, nth: u64 },
    /// The network loses the request of the `nth` call on the link.
    DropRequest(CallOnLink),
    /// The network loses the reply of that call (of its duplicate, when
    /// `copy`).
    DropReply { call: CallOnLink, copy: bool },
    /// The network delivers the request of that call twice.
    Duplicate(CallOnLink),
    /// The network holds the reply of that call back (long reordering).
    HoldReply { call: CallOnLink, copy: bool },
    /// The network delays the request of that call by labrpc's short
    /// delay (0-26 ms on an unreliable network, as drawn); a request not
    /// listed gets through without it.
    Delay(CallOnLink),
    /// A server's fault injection point (`bugs::buggify`) fires at its
    /// `nth` chance in the run.
    Buggify { site: String, nth: u64 },
}

/// What a tester's fault acts on: one direction of a link (its state,
/// clog or latency), the whole network, or one of a server's settings
/// (endpoints by number). Healing goes back to the target's state before
/// the fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultTarget {
    /// The link is cut (`Fault::Link`).
    Cut {
        from: u32,
        to: u32,
    },
    Clog {
        from: u32,
        to: u32,
    },
    Latency {
        from: u32,
        to: u32,
    },
    Net,
    Kill {
        server: u32,
    },
    Pause {
        server: u32,
    },
    Drift {
        server: u32,
    },
    CrashPoint {
        server: u32,
    },
    Disk {
        server: u32,
    },
}

impl FaultTarget {
    /// What `fault` acts on (a resume acts on the pause).
    pub fn of(fault: &Fault) -> FaultTarget {
        match *fault {
            Fault::Link { from, to, .. } => FaultTarget::Cut { from: from.0, to: to.0 },
            Fault::Clog { from, to, .. } => FaultTarget::Clog { from: from.0, to: to.0 },
            Fault::Latency { from, to, .. } => FaultTarget::Latency { from: from.0, to: to.0 },
            Fault::Net(_) => FaultTarget::Net,
            Fault::Kill { server, .. } => FaultTarget::Kill { server: server.0 },
            Fault::Pause { server } | Fault::Resume { server } => FaultTarget::Pause { server: server.0 },
            Fault::TimerDrift { server, .. } => FaultTarget::Drift { server: server.0 },
            Fault::CrashAtPersist { server, .. } => FaultTarget::CrashPoint { server: server.0 },
            Fault::DiskLatency { server, .. } => FaultTarget::Disk { server: server.0 },
        }
    }

    /// The target in a schedule's words: a kind, then its endpoints.
    fn text(&self) -> String {
        match self {
            FaultTarget::Cut { from, to } => format!("cut {from} {to}"),
            FaultTarget::Clog { from, to } => format!("clog {from} {to}"),
            FaultTarget::Latency { from, to } => format!("latency {from} {to}"),
            FaultTarget::Net => "net".to_string(),
            FaultTarget::Kill { server } => format!("kill {server}"),
            FaultTarget::Pause { server } => format!("pause {server}"),
            FaultTarget::Drift { server } => format!("drift {server}"),
            FaultTarget::CrashPoint { server } => format!("crash-point {server}"),
            FaultTarget::Disk { server } => format!("disk {server}"),
        }
    }

    /// Reads `text`'s words.
    fn parse(words: &[&str]) -> Result<FaultTarget, String> {
        let endpoint = |w: &str| number(w).and_then(|n| u32::try_from(n).map_err(|_| format!("no endpoint {n}")));
        let link = |make: fn(u32, u32) -> FaultTarget| match words[1..] {
            [from, to] => Ok(make(endpoint(from)?, endpoint(to)?)),
            _ => Err(format!("`{}` takes two endpoints, FROM TO", words[0])),
        };
        let server = |make: fn(u32) -> FaultTarget| match words[1..] {
            [server] => Ok(make(endpoint(server)?)),
            _ => Err(format!("`{}` takes one server's endpoint", words[0])),
        };
        match words.first().copied().unwrap_or("") {
            "cut" => link(|from, to| FaultTarget::Cut { from, to }),
            "clog" => link(|from, to| FaultTarget::Clog { from, to }),
            "latency" => link(|from, to| FaultTarget::Latency { from, to }),
            "net" if words.len() == 1 => Ok(FaultTarget::Net),
            "net" => Err("`net` takes no endpoint".into()),
            "kill" => server(|server| FaultTarget::Kill { server }),
            "pause" => server(|server| FaultTarget::Pause { server }),
            "drift" => server(|server| FaultTarget::Drift { server }),
            "crash-point" => server(|server| FaultTarget::CrashPoint { server }),
            "disk" => server(|server| FaultTarget::Disk { server }),
            other => {
                Err(format!("unknown fault `{other}` (cut, clog, latency, net, kill, pause, drift, crash-point, disk)"))
            }
        }
    }
}

/// The `nth` (from 0) call of one kind (its message's `label`) from
/// endpoint `from` to endpoint `to`. Counting calls of each kind apart
/// keeps a client's request named the same when a shrink changes how many
/// messages of other kinds go before it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallOnLink {
    pub from: u32,
    pub to: u32,
    pub label: String,
    pub nth: u64,
}

impl Choice {
    /// Whether the network made the choice (not a tester or a server).
    pub fn is_network(&self) -> bool {
        !matches!(self, Choice::Fault { .. } | Choice::Buggify { .. })
    }
}

/// A choice a run made, when, and what it was in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub choice: Choice,
    /// Virtual time (`None`: not known, for a buggify site).
    pub at: Option<Nanos>,
    /// What happened, with endpoint names (a comment in the file).
    pub what: String,
    /// For a tester's fault: healed this long after it began, by the
    /// world itself (a shrink shortens partitions and pauses so); `None`:
    /// when the tester heals it.
    pub lasts: Option<Nanos>,
}

impl Entry {
    /// A choice made at `at`, lasting as long as the tester lets it.
    pub fn new(choice: Choice, at: Option<Nanos>, what: String) -> Entry {
        Entry { choice, at, what, lasts: None }
    }

    /// Whether the world can heal the fault itself (a tester's fault, but
    /// not a crash: only the tester restarts a server).
    pub fn healable(&self) -> bool {
        matches!(&self.choice, Choice::Fault { on, .. } if !matches!(on, FaultTarget::Kill { .. }))
    }
}

/// The choices of one run, in the order they were made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// The scenario and seed the schedule belongs to.
    pub scenario: String,
    pub seed: u64,
    /// Where the run ends, if before its own end: a shrunk run whose
    /// clients' history is already illegal by then (`SimConfig::stop_at`).
    pub stop_at: Option<Nanos>,
    /// How much of the scenario's workload runs (a shrunk run may need
    /// fewer clients and operations).
    pub workload: WorkloadCap,
    pub entries: Vec<Entry>,
}

/// How much of its workload a run's clients issue, for scenarios that
/// allow it (the swarms: see `scenarios::workload`): only the first
/// `clients` of them, each at most `operations` operations (for Raft, the
/// tester's commands offered in all). `None`: as the scenario draws.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkloadCap {
    pub clients: Option<u32>,
    pub operations: Option<u64>,
}

/// How many choices of each kind a schedule lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Faults a tester injected.
    pub faults: usize,
    /// Requests and replies the network lost, duplicated or held back.
    pub network_faults: usize,
    /// Of those, requests and replies lost.
    pub messages_lost: usize,
    /// Requests the network delayed (labrpc's short delay).
    pub delays: usize,
    pub buggify_firings: usize,
}

impl Counts {
    /// Every choice: the tester's faults, the network's faults and delays,
    /// and the buggify firings.
    pub fn total(&self) -> usize {
        self.faults + self.network_faults + self.delays + self.buggify_firings
    }
}

/// What one file line of a schedule could not be.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

impl Schedule {
    /// How long the faults it shortens last.
    pub fn lasting(&self) -> std::collections::BTreeMap<Choice, Nanos> {
        let lasting = |e: &Entry| match (&e.choice, e.lasts) {
            (Choice::Fault { .. }, Some(d)) => Some((e.choice.clone(), d)),
            _ => None,
        };
        self.entries.iter().filter_map(lasting).collect()
    }

    /// The choices, as a set to follow.
    pub fn choices(&self) -> BTreeSet<Choice> {
        self.entries.iter().map(|e| e.choice.clone()).collect()
    }

    /// How many entries are of each kind.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for entry in &self.entries {
            match entry.choice {
                Choice::Fault { .. } => counts.faults += 1,
                Choice::Buggify { .. } => counts.buggify_firings += 1,
                Choice::Delay(_) => counts.delays += 1,
                Choice::DropRequest(_) | Choice::DropReply { .. } => {
                    counts.network_faults += 1;
                    counts.messages_lost += 1;
                }
                Choice::Duplicate(_) | Choice::HoldReply { .. } => counts.network_faults += 1,
            }
        }
        counts
    }

    /// The schedule as text: a header naming the scenario and seed, then
    /// one choice a line, with its time and what it was after `#`.
    pub fn to_text(&self) -> String {
        let mut out = String::from("# labsim schedule: the faults of one run, one a line (`#` begins a comment)\n");
        out.push_str(&format!("scenario {}\nseed {}\n", self.scenario, self.seed));
        if let Some(at) = self.stop_at {
            out.push_str(&format!("{:<28} # the run ends at {}\n", format!("stop-at {at}"), time::format(at)));
        }
        if let Some(clients) = self.workload.clients {
            out.push_str(&format!(
                "{:<28} # only the first {clients} of its clients run\n",
                format!("clients {clients}")
            ));
        }
        if let Some(most) = self.workload.operations {
            let what = format!("each client issues at most {most} operations (a Raft swarm: {most} commands in all)");
            out.push_str(&format!("{:<28} # {what}\n", format!("operations {most}")));
        }
        for entry in &self.entries {
            let at = entry.at.map_or("-".to_string(), time::format);
            let lasts = entry.lasts.map_or(String::new(), |d| format!(" lasts {d}"));
            out.push_str(&format!("{:<28} # {at} {}\n", format!("{}{lasts}", choice_text(&entry.choice)), entry.what));
        }
        out
    }

    /// Reads a schedule written by `to_text` (comments and blank lines
    /// are skipped; the times and words after `#` are not needed).
    pub fn parse(text: &str) -> Result<Schedule, ParseError> {
        let mut schedule = Schedule::default();
        let (mut has_scenario, mut has_seed) = (false, false);
        for (i, raw) in text.lines().enumerate() {
            let err = |message: String| ParseError { line: i + 1, message };
            let (content, comment) = raw.split_once('#').unwrap_or((raw, ""));
            let words: Vec<&str> = content.split_whitespace().collect();
            let Some((&kind, args)) = words.split_first() else { continue };
            match kind {
                "scenario" if args.len() == 1 => {
                    schedule.scenario = args[0].to_string();
                    has_scenario = true;
                }
                "seed" if args.len() == 1 => {
                    schedule.seed = number(args[0]).map_err(err)?;
                    has_seed = true;
                }
                "stop-at" if args.len() == 1 => schedule.stop_at = Some(duration(args[0]).map_err(err)?),
                "clients" if args.len() == 1 => {
                    let clients = number(args[0]).and_then(|n| u32::try_from(n).map_err(|_| format!("{n} clients")));
                    schedule.workload.clients = Some(clients.map_err(err)?);
                }
                "operations" if args.len() == 1 => schedule.workload.operations = Some(number(args[0]).map_err(err)?),
                _ => {
                    let (args, lasts) = match args {
                        [head @ .., "lasts", d] if kind == "fault" => (head, Some(duration(d).map_err(err)?)),
                        _ => (args, None),
                    };
                    let choice = parse_choice(kind, args).map_err(err)?;
                    let what = comment.trim().to_string();
                    schedule.entries.push(Entry { lasts, ..Entry::new(choice, None, what) });
                }
            }
        }
        if !(has_scenario && has_seed) {
            return Err(ParseError { line: 1, message: "a schedule names its `scenario` and `seed`".into() });
        }
        Ok(schedule)
    }
}

impl fmt::Display for Choice {
    /// The choice as a schedule's line names it (without `lasts`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&choice_text(self))
    }
}

fn call_text(c: &CallOnLink) -> String {
    format!("{} {} {} {}", c.from, c.to, c.label, c.nth)
}

fn choice_text(choice: &Choice) -> String {
    let copy = |copy: bool| if copy { " copy" } else { "" };
    match choice {
        Choice::Fault { on, nth } => format!("fault {} {nth}", on.text()),
        Choice::DropRequest(c) => format!("drop-request {}", call_text(c)),
        Choice::DropReply { call, copy: c } => format!("drop-reply {}{}", call_text(call), copy(*c)),
        Choice::Duplicate(c) => format!("duplicate {}", call_text(c)),
        Choice::HoldReply { call, copy: c } => format!("hold-reply {}{}", call_text(call), copy(*c)),
        Choice::Delay(c) => format!("delay {}", call_text(c)),
        Choice::Buggify { site, nth } => format!("buggify {site} {nth}"),
    }
}

/// The longest time a schedule names: a day of virtual time, in
/// nanoseconds (far beyond any run's limit).
const LONGEST: Nanos = 86_400 * 1_000_000_000;

/// A time in nanoseconds, at most `LONGEST`.
fn duration(word: &str) -> Result<Nanos, String> {
    let d = number(word)?;
    if d > LONGEST {
        return Err(format!("{d} ns is more than a day of virtual time"));
    }
    Ok(d)
}

fn number(word: &str) -> Result<u64, String> {
    word.parse().map_err(|_| format!("`{word}` is not a number"))
}

fn parse_call(args: &[&str]) -> Result<(CallOnLink, bool), String> {
    let copy = match args.len() {
        4 => false,
        5 if args[4] == "copy" => true,
        _ => return Err("a network choice is FROM TO KIND NTH (and `copy` for a duplicate's reply)".into()),
    };
    let endpoint = |w: &str| number(w).and_then(|n| u32::try_from(n).map_err(|_| format!("no endpoint {n}")));
    let (from, to, label, nth) = (endpoint(args[0])?, endpoint(args[1])?, args[2].to_string(), number(args[3])?);
    Ok((CallOnLink { from, to, label, nth }, copy))
}

fn parse_choice(kind: &str, args: &[&str]) -> Result<Choice, String> {
    let plain = |(call, copy): (CallOnLink, bool)| {
        if copy {
            Err(format!("`{kind}` takes no `copy`"))
        } else {
            Ok(call)
        }
    };
    match kind {
        "fault" => match args {
            [target @ .., nth] if !target.is_empty() => {
                Ok(Choice::Fault { on: FaultTarget::parse(target)?, nth: number(nth)? })
            }
            _ => Err("a tester's fault is `fault KIND ENDPOINTS... NTH` (as `fault cut 3 1 0`)".into()),
        },
        "buggify" if args.len() == 2 => Ok(Choice::Buggify { site: args[0].to_string(), nth: number(args[1])? }),
        "drop-request" => Ok(Choice::DropRequest(plain(parse_call(args)?)?)),
        "duplicate" => Ok(Choice::Duplicate(plain(parse_call(args)?)?)),
        "delay" => Ok(Choice::Delay(plain(parse_call(args)?)?)),
        "drop-reply" => parse_call(args).map(|(call, copy)| Choice::DropReply { call, copy }),
        "hold-reply" => parse_call(args).map(|(call, copy)| Choice::HoldReply { call, copy }),
        "buggify" => Err("a firing is `buggify SITE NTH`".into()),
        _ => Err(format!(
            "unknown choice `{kind}` (fault, drop-request, drop-reply, duplicate, hold-reply, delay, buggify, or the \
             header's scenario, seed, stop-at, clients and operations)"
        )),
    }
}

/// How a world makes its choices.
#[derive(Clone, Debug, Default)]
pub(crate) enum Mode {
    /// As drawn, remembering nothing (every run but a shrinker's).
    #[default]
    Drawn,
    /// As drawn, remembering those that harm.
    Record,
    /// Exactly those listed (remembering those made).
    Follow(BTreeSet<Choice>),
}

/// A world's choices: how it makes them, the ordinals that name them, and
/// those made so far.
#[derive(Debug, Default)]
pub(crate) struct Choices {
    pub(crate) mode: Mode,
    /// Harmful faults injected so far on each target (counted only when
    /// not `Drawn`).
    pub(crate) harmful_faults: std::collections::BTreeMap<FaultTarget, u64>,
    /// The harmful fault being injected, and whether it changed the world
    /// (it is then a choice made).
    pub(crate) injecting: Option<(Choice, bool)>,
    /// How long the faults a schedule shortens last.
    pub(crate) lasting: std::collections::BTreeMap<Choice, Nanos>,
    /// Changes to the world counted so far, and the last one of each
    /// target (a shortened fault heals only a target it changed last).
    pub(crate) changes: u64,
    pub(crate) last_change: std::collections::BTreeMap<FaultTarget, u64>,
    /// Calls of each kind sent on each link so far.
    pub(crate) calls_on_link: std::collections::BTreeMap<(u32, u32, &'static str), u64>,
    pub(crate) made: Vec<Entry>,
}

impl Choices {
    /// Whether choices are named at all (recorded or followed).
    #[inline]
    pub(crate) fn named(&self) -> bool {
        !matches!(self.mode, Mode::Drawn)
    }

    /// Whether the world makes `choice`, which its draw says `drawn`.
    pub(crate) fn decide(&self, choice: &Choice, drawn: bool) -> bool {
        match &self.mode {
            Mode::Follow(listed) => listed.contains(choice),
            Mode::Drawn | Mode::Record => drawn,
        }
    }

    /// The order of the next call of kind `label` from `from` to `to`
    /// among such calls.
    pub(crate) fn next_call(&mut self, from: Addr, to: Addr, label: &'static str) -> u64 {
        let count = self.calls_on_link.entry((from.0, to.0, label)).or_insert(0);
        *count += 1;
        *count - 1
    }
}

/// A shortened fault's healing, due when its time is up.
#[derive(Debug)]
pub(crate) struct Healing {
    target: FaultTarget,
    /// The target's last change when the fault was made.
    stamp: u64,
    heal: Fault,
}

/// Whether going from network settings `now` to `next` makes something
/// worse (a heal, as back to reliable, does not, even if other settings
/// stay bad).
fn net_worsens(now: &NetConfig, next: &NetConfig) -> bool {
    let default_latency = NetConfig::default().latency;
    (now.reliable && !next.reliable)
        || (!now.long_delays && next.long_delays)
        || (!now.long_reordering && next.long_reordering)
        || next.duplicate_per_mille > now.duplicate_per_mille
        || next.duplicate_delay_max > now.duplicate_delay_max
        || (next.latency != now.latency && next.latency != default_latency)
}

impl<N: Node> World<N> {
    /// From now on the run remembers the harmful choices it makes (as
    /// drawn): `choices_made` gives them.
    pub fn record_schedule(&mut self) {
        self.choices.mode = Mode::Record;
    }

    /// From now on the run makes exactly the choices `listed`, and no
    /// other (its draws are made all the same).
    pub fn follow_schedule(&mut self, listed: BTreeSet<Choice>) {
        self.choices.mode = Mode::Follow(listed);
    }

    /// The faults `lasting` names are healed by the world this long after
    /// they begin (when they can be: not a crash), whatever the tester does
    /// later.
    pub fn shorten_faults(&mut self, lasting: std::collections::BTreeMap<Choice, Nanos>) {
        self.choices.lasting = lasting;
    }

    /// The end of an injection: a harmful fault it made that the schedule
    /// shortens is healed when its time is up, back to the state before it
    /// (`prior`), unless its target changed again by then.
    pub(crate) fn end_injecting(&mut self, prior: Option<(FaultTarget, Fault)>) {
        let Some((made, true)) = self.choices.injecting.take() else { return };
        let (Some(&lasts), Some((target, heal))) = (self.choices.lasting.get(&made), prior) else { return };
        let stamp = self.choices.last_change.get(&target).copied().unwrap_or(0);
        let at = self.now.saturating_add(lasts);
        self.schedule(at, crate::event::EventKind::Heal(Box::new(Healing { target, stamp, heal })));
    }

    /// A shortened fault's time is up: its target goes back to the state
    /// before it, if nothing changed the target since.
    pub(crate) fn heal(&mut self, healing: Healing) {
        if self.choices.last_change.get(&healing.target) == Some(&healing.stamp) {
            self.apply_fault(healing.heal);
        }
    }

    /// What a fault changes (`None`: a crash, which only the tester undoes
    /// by a restart), and the fault that would put it back as it is now.
    pub(crate) fn prior_of(&self, fault: &Fault) -> Option<(FaultTarget, Fault)> {
        let index = |server: Addr| self.server_index(server);
        let heal = match *fault {
            Fault::Link { from, to, .. } => Fault::Link { from, to, enabled: self.link(from, to).enabled },
            Fault::Clog { from, to, .. } => Fault::Clog { from, to, clogged: self.link(from, to).clogged },
            Fault::Latency { from, to, .. } => Fault::Latency { from, to, latency: self.link(from, to).latency },
            Fault::Net(_) => Fault::Net(self.net),
            Fault::Pause { server } => Fault::Resume { server },
            Fault::TimerDrift { server, .. } => {
                Fault::TimerDrift { server, ppm: self.servers[index(server)].clock.ppm() }
            }
            Fault::CrashAtPersist { server, .. } => {
                Fault::CrashAtPersist { server, point: self.servers[index(server)].crash_point }
            }
            Fault::DiskLatency { server, .. } => {
                Fault::DiskLatency { server, latency: self.servers[index(server)].disk.latency }
            }
            Fault::Kill { .. } | Fault::Resume { .. } => return None,
        };
        Some((FaultTarget::of(fault), heal))
    }

    /// A fault changed the world: its targets' last change is now (a kill
    /// also ends a pause and disarms a crash point).
    pub(crate) fn note_change(&mut self, fault: &Fault) {
        if !self.choices.named() {
            return;
        }
        self.choices.changes += 1;
        let stamp = self.choices.changes;
        let targets = match *fault {
            Fault::Kill { server, .. } => {
                vec![FaultTarget::Pause { server: server.0 }, FaultTarget::CrashPoint { server: server.0 }]
            }
            _ => vec![FaultTarget::of(fault)],
        };
        for target in targets {
            self.choices.last_change.insert(target, stamp);
        }
    }

    /// Adds words on how some servers stand (a lab's roles and terms) to
    /// every fault the run records as a choice; it only reads the world.
    pub fn add_describer(&mut self, describer: crate::world::Describer<N>) {
        self.describers.push(describer);
    }

    /// Asks `watch` after every step of a server, in a run that records or
    /// follows a schedule, for the choices made inside the server in that
    /// step (its fault injection points firing: `bugs::buggify`); each is
    /// recorded at the step's time, with the server's name.
    pub fn watch_server_choices(&mut self, watch: crate::world::ServerChoices) {
        self.server_choices = Some(watch);
    }

    /// After a step of server `index`: the choices it made, recorded.
    pub(crate) fn collect_server_choices(&mut self, index: usize) {
        let Some(watch) = self.server_choices.as_mut() else { return };
        let made = watch();
        if made.is_empty() {
            return;
        }
        let (server, around) = (self.name(self.servers[index].addr).to_string(), self.around());
        for (choice, what) in made {
            self.choices.made.push(Entry::new(choice, Some(self.now), format!("{what} in {server}{around}")));
        }
    }

    /// Whether the run follows a schedule.
    pub fn follows_schedule(&self) -> bool {
        matches!(self.choices.mode, Mode::Follow(_))
    }

    /// The choices made so far, in order (none unless the run records or
    /// follows a schedule).
    pub fn choices_made(&self) -> &[Entry] {
        &self.choices.made
    }

    /// Before a fault is injected: whether it goes ahead. A harmful one
    /// takes the next ordinal on its target, and a schedule may leave it
    /// out.
    pub(crate) fn begin_injecting(&mut self, fault: &Fault) -> bool {
        if !self.choices.named() || !self.harms(fault) {
            return true;
        }
        let on = FaultTarget::of(fault);
        let count = self.choices.harmful_faults.entry(on).or_insert(0);
        let choice = Choice::Fault { on, nth: *count };
        *count += 1;
        let goes_ahead = self.choices.decide(&choice, true);
        self.choices.injecting = goes_ahead.then_some((choice, false));
        goes_ahead
    }

    /// A fault changed the world: if it was a harmful one injected, it is
    /// a choice made.
    pub(crate) fn note_fault_made(&mut self, fault: &Fault) {
        let Some((choice, false)) = &self.choices.injecting else { return };
        let choice = choice.clone();
        let what = format!("{}{}", self.describe_fault(fault), self.around());
        let lasts = self.choices.lasting.get(&choice).copied();
        self.choices.injecting = Some((choice.clone(), true));
        self.choices.made.push(Entry { lasts, ..Entry::new(choice, Some(self.now), what) });
    }

    /// How the servers stand, in the describers' words (` [...]`), or
    /// nothing when no describer is installed.
    fn around(&self) -> String {
        let around: Vec<String> = self.describers.iter().map(|d| d(self)).collect();
        if around.is_empty() {
            String::new()
        } else {
            format!(" [{}]", around.join("; "))
        }
    }

    /// Whether a fault takes the world away from health (undoing one, as
    /// healing a link or resuming a server, does not).
    fn harms(&self, fault: &Fault) -> bool {
        match fault {
            Fault::Link { enabled, .. } => !enabled,
            Fault::Clog { clogged, .. } => *clogged,
            Fault::Latency { latency, .. } => *latency != Latency::Zero,
            Fault::Net(config) => net_worsens(&self.net, config),
            Fault::Kill { .. } | Fault::Pause { .. } => true,
            Fault::Resume { .. } => false,
            Fault::TimerDrift { ppm, .. } => *ppm != 0,
            Fault::CrashAtPersist { point, .. } => point.is_some(),
            Fault::DiskLatency { latency, .. } => *latency != self.config.disk_latency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn cut(nth: u64) -> Choice {
        Choice::Fault { on: FaultTarget::Cut { from: 3, to: 1 }, nth }
    }

    fn call(nth: u64) -> CallOnLink {
        CallOnLink { from: 3, to: 1, label: "AppendEntries".into(), nth }
    }

    #[test]
    fn a_schedule_round_trips_through_text() {
        let entries = vec![
            Entry { lasts: Some(7_000), ..Entry::new(cut(4), Some(1_500_000), "cut".into()) },
            Entry::new(Choice::Fault { on: FaultTarget::Net, nth: 0 }, Some(1), "net".into()),
            Entry::new(Choice::Fault { on: FaultTarget::CrashPoint { server: 2 }, nth: 1 }, Some(2), String::new()),
            Entry::new(Choice::DropRequest(call(7)), Some(2_000_000), "AppendEntries".into()),
            Entry::new(Choice::DropReply { call: call(8), copy: true }, Some(3), String::new()),
            Entry::new(Choice::Duplicate(call(9)), Some(4), String::new()),
            Entry::new(Choice::HoldReply { call: call(10), copy: false }, Some(5), String::new()),
            Entry::new(Choice::Delay(call(11)), Some(6), String::new()),
            Entry::new(Choice::Buggify { site: "raft_x".into(), nth: 2 }, None, "raft_x".into()),
        ];
        let workload = WorkloadCap { clients: Some(2), operations: Some(40) };
        let schedule =
            Schedule { scenario: "raft/figure_8_2c".into(), seed: 17, stop_at: Some(5_000_000), workload, entries };
        let read = Schedule::parse(&schedule.to_text()).expect("parses");
        assert_eq!(read.scenario, schedule.scenario);
        assert_eq!(read.seed, 17);
        assert_eq!(read.stop_at, Some(5_000_000));
        assert_eq!(read.workload, schedule.workload);
        assert_eq!(read.choices(), schedule.choices());
        assert_eq!(read.lasting(), BTreeMap::from([(cut(4), 7_000)]));
        let counts = Counts { faults: 3, network_faults: 4, messages_lost: 2, delays: 1, buggify_firings: 1 };
        assert_eq!(read.counts(), counts);
    }

    #[test]
    fn a_bad_line_is_named() {
        let bad = "scenario raft/x\nseed 1\nfault kill 2 3\ndrop-request 1 2 Put\n";
        assert_eq!(Schedule::parse(bad).unwrap_err().line, 4);
        let unknown = "scenario raft/x\nseed 1\nexplode 3\n";
        assert!(Schedule::parse(unknown).unwrap_err().message.contains("unknown choice `explode`"));
        assert!(Schedule::parse("fault kill 1 0\n").unwrap_err().message.contains("scenario"));
        assert_eq!(Schedule::parse("scenario a\nseed x1\n").unwrap_err().line, 2);
        let forever = "scenario a\nseed 1\nfault cut 0 1 2 lasts 18446744073709551615\n";
        assert!(Schedule::parse(forever).unwrap_err().message.contains("more than a day"));
        for wrong in ["fault 3", "fault cut 1 3", "fault kill 1 2 3", "fault net 1 2", "fault boom 1 2"] {
            let text = format!("scenario a\nseed 1\n{wrong}\n");
            assert_eq!(Schedule::parse(&text).unwrap_err().line, 3, "{wrong}");
        }
    }
}
