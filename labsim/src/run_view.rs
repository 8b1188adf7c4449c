//! A run drawn as one self-contained HTML page (`labsim run --html`): one
//! lane per server over virtual time, coloured by role (follower, candidate,
//! leader, with the term written on leaderships), dark where the server was
//! down and striped where it was paused; bands over the top for the periods
//! when links between servers were cut (which ones, on hover) and when the
//! network was unreliable; below, one lane per client with each operation
//! as a bar coloured by its kind, and for an illegal history the operations
//! that could not be placed in red, outlined, at least a few pixels wide,
//! and scrolled into view. The drawing fits the window's width; the legend
//! lists only what the run has.
//!
//! The view is built from the run's event lines (`sim::event_log`), keeping
//! only what it draws: status changes, starts and faults.

use checker::report::escape;
use checker::KvInput;
use scenarios::runner::Outcome;
use sim::event_log::{EventLine, EventSink};
use sim::Nanos;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::rc::Rc;

/// Client operations drawn at most (the rest are counted).
pub const OPERATIONS_DRAWN: usize = 20_000;

/// One server's lane.
#[derive(Default)]
struct Lane {
    /// (from, role, term), in time order.
    statuses: Vec<(Nanos, &'static str, u64)>,
    /// [from, to) while down; `to` None while still down.
    down: Vec<(Nanos, Option<Nanos>)>,
    paused: Vec<(Nanos, Option<Nanos>)>,
}

/// What the page shows, gathered while the run goes.
#[derive(Default)]
pub struct RunView {
    lanes: BTreeMap<String, Lane>,
    /// Cut server-to-server links, and the periods with at least one.
    cut_links: BTreeSet<(String, String)>,
    partitioned: Vec<(Nanos, Option<Nanos>)>,
    /// `partition_links[k]`: the links cut during `partitioned[k]` (a new
    /// period begins whenever they change).
    partition_links: Vec<BTreeSet<(String, String)>>,
    unreliable: Vec<(Nanos, Option<Nanos>)>,
    last_at: Nanos,
}

/// Opens a period at `at` if none is open, or closes the open one.
fn toggle(periods: &mut Vec<(Nanos, Option<Nanos>)>, at: Nanos, open: bool) {
    let is_open = periods.last().is_some_and(|p| p.1.is_none());
    match (open, is_open) {
        (true, false) => periods.push((at, None)),
        (false, true) => periods.last_mut().expect("an open period").1 = Some(at),
        _ => {}
    }
}

impl RunView {
    /// A sink that feeds `view`.
    pub fn sink(view: Rc<RefCell<RunView>>) -> EventSink {
        Box::new(move |line: &EventLine| view.borrow_mut().take(line))
    }

    fn take(&mut self, line: &EventLine) {
        self.last_at = self.last_at.max(line.at);
        match line.kind {
            "status" => {
                let lane = self.lanes.entry(line.node.clone().unwrap_or_default()).or_default();
                lane.statuses.push((line.at, line.role.unwrap_or("?"), line.term.unwrap_or(0)));
            }
            "start" => {
                let lane = self.lanes.entry(line.node.clone().unwrap_or_default()).or_default();
                toggle(&mut lane.down, line.at, false);
            }
            "fault" => self.take_fault(line),
            _ => {}
        }
    }

    fn take_fault(&mut self, line: &EventLine) {
        let at = line.at;
        let node = line.node.clone().unwrap_or_default();
        match line.label.unwrap_or("") {
            "kill" => toggle(&mut self.lanes.entry(node).or_default().down, at, true),
            "pause" => toggle(&mut self.lanes.entry(node).or_default().paused, at, true),
            "resume" => toggle(&mut self.lanes.entry(node).or_default().paused, at, false),
            "unreliable" => toggle(&mut self.unreliable, at, true),
            "reliable" => toggle(&mut self.unreliable, at, false),
            label @ ("link cut" | "link up") => self.take_link(at, node, line.peer.clone(), label == "link cut"),
            _ => {}
        }
    }

    /// A link between two servers (lanes) cut or restored; links from
    /// clients are not drawn.
    fn take_link(&mut self, at: Nanos, from: String, to: Option<String>, cut: bool) {
        let Some(to) = to else { return };
        if !self.lanes.contains_key(&from) || !self.lanes.contains_key(&to) {
            return;
        }
        if from == to {
            return; // a server's link to itself
        }
        let changed = if cut { self.cut_links.insert((from, to)) } else { self.cut_links.remove(&(from, to)) };
        if !changed {
            return;
        }
        toggle(&mut self.partitioned, at, false);
        if !self.cut_links.is_empty() {
            toggle(&mut self.partitioned, at, true);
            self.partition_links.push(self.cut_links.clone());
        }
    }

    /// The page, with the run's outcome (its result, and its clients'
    /// operations if it has any).
    pub fn html(&self, title: &str, outcome: &Outcome) -> String {
        self.html_explained(title, outcome, None)
    }

    /// The page with a panel of plain words on what happened (a shrunk
    /// run's explanation) under its verdict.
    pub fn html_explained(&self, title: &str, outcome: &Outcome, explanation: Option<&str>) -> String {
        let end = self.last_at.max(outcome.stats.virtual_time).max(1);
        let mut page = Page::new(end);
        let servers: Vec<&str> = self.lanes.keys().map(String::as_str).collect();
        let cuts: Vec<String> = self.partition_links.iter().map(|links| describe_cut(links, &servers)).collect();
        page.bands(&self.partitioned, &cuts, &self.unreliable);
        for (name, lane) in &self.lanes {
            page.server_lane(name, lane);
        }
        if let Some(history) = &outcome.history {
            let bad: BTreeSet<usize> = outcome.illegal.iter().flat_map(|cx| cx.unplaceable.iter().copied()).collect();
            page.client_lanes(history, &bad, outcome.served_under.as_deref());
        }
        page.axis();
        let verdict = match &outcome.result {
            Ok(()) => "passed".to_string(),
            Err(reason) => format!("FAILED: {reason}"),
        };
        page.finish(title, &verdict, explanation)
    }
}

/// Which links were cut, in few words: "raft-2 cut off" for a server cut
/// from every other both ways, then the other cut links ("raft-0->raft-1").
fn describe_cut(links: &BTreeSet<(String, String)>, servers: &[&str]) -> String {
    let cut = |a: &str, b: &str| links.contains(&(a.to_string(), b.to_string()));
    let isolated: Vec<&str> = servers
        .iter()
        .copied()
        .filter(|s| servers.iter().filter(|t| *t != s).all(|t| cut(s, t) && cut(t, s)))
        .collect();
    let mut parts: Vec<String> = isolated.iter().map(|s| format!("{s} cut off")).collect();
    parts.extend(
        links
            .iter()
            .filter(|(a, b)| !isolated.contains(&a.as_str()) && !isolated.contains(&b.as_str()))
            .map(|(a, b)| format!("{a}->{b}")),
    );
    parts.join(", ")
}

/// The SVG being drawn, row by row, and the kinds of mark it used (the
/// legend lists only those).
struct Page {
    svg: String,
    end: Nanos,
    y: f64,
    used: BTreeSet<Mark>,
}

/// A kind of mark on the page, in the legend's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Mark {
    Follower,
    Candidate,
    Leader,
    Down,
    Paused,
    LinksCut,
    Unreliable,
    Get,
    Put,
    Append,
    Unplaceable,
}

impl Mark {
    fn colour(self) -> &'static str {
        match self {
            Mark::Follower => "#dde3ea",
            Mark::Candidate => "#f5c542",
            Mark::Leader => "#4caf50",
            Mark::Down => "#3b0a0a",
            Mark::Paused => "#f0a030",
            Mark::LinksCut => "#9ecae1",
            Mark::Unreliable => "#c9b3e6",
            Mark::Get => "#5b8def",
            Mark::Put => "#26a69a",
            Mark::Append => "#8e6bd1",
            Mark::Unplaceable => "#e53935",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mark::Follower => "follower",
            Mark::Candidate => "candidate",
            Mark::Leader => "leader (term)",
            Mark::Down => "down",
            Mark::Paused => "paused",
            Mark::LinksCut => "links cut",
            Mark::Unreliable => "unreliable",
            Mark::Get => "Get",
            Mark::Put => "Put",
            Mark::Append => "Append",
            Mark::Unplaceable => "could not be placed",
        }
    }

    fn role(role: &str) -> Mark {
        match role {
            "leader" => Mark::Leader,
            "candidate" => Mark::Candidate,
            _ => Mark::Follower,
        }
    }
}

const LEFT: f64 = 130.0;
const WIDTH: f64 = 1400.0;
const ROW: f64 = 20.0;

impl Page {
    fn new(end: Nanos) -> Page {
        Page { svg: String::new(), end, y: 34.0, used: BTreeSet::new() }
    }

    fn x(&self, t: Nanos) -> f64 {
        LEFT + WIDTH * t as f64 / self.end as f64
    }

    fn rect(&mut self, from: Nanos, to: Nanos, y: f64, h: f64, style: &str, tip: &str) {
        let (x0, x1) = (self.x(from), self.x(to));
        writeln!(
            self.svg,
            r#"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" {style}><title>{}</title></rect>"#,
            (x1 - x0).max(0.5),
            escape(tip)
        )
        .unwrap();
    }

    fn label(&mut self, text: &str) {
        let y = self.y + ROW * 0.7;
        writeln!(self.svg, r#"<text x="4" y="{y:.1}">{}</text>"#, escape(text)).unwrap();
    }

    /// The bands of cut links (each period says which links) and of an
    /// unreliable network; a band the run never has is left out.
    fn bands(
        &mut self,
        partitioned: &[(Nanos, Option<Nanos>)],
        cuts: &[String],
        unreliable: &[(Nanos, Option<Nanos>)],
    ) {
        let cut_text = |k: usize| cuts.get(k).map_or(String::new(), |c| format!(": {c}"));
        for (mark, periods) in [(Mark::LinksCut, partitioned), (Mark::Unreliable, unreliable)] {
            if periods.is_empty() {
                continue;
            }
            self.used.insert(mark);
            self.label(mark.name());
            for (k, &(from, to)) in periods.iter().enumerate() {
                let to = to.unwrap_or(self.end);
                if to == from {
                    continue; // links cut one after another at one instant
                }
                let which = if mark == Mark::LinksCut { cut_text(k) } else { String::new() };
                let tip = format!("{}: {} to {}{which}", mark.name(), sim::time::format(from), sim::time::format(to));
                self.rect(from, to, self.y + 3.0, ROW - 6.0, &format!(r#"fill="{}""#, mark.colour()), &tip);
            }
            self.y += ROW;
        }
        self.y += 6.0;
    }

    /// A server's lane: its roles (a role ends where the server went down,
    /// so a term is never written on a dead server, and it restarts a
    /// follower), then its down and paused periods over them.
    fn server_lane(&mut self, name: &str, lane: &Lane) {
        self.label(name);
        let y = self.y + 2.0;
        for (k, &(from, role, term)) in lane.statuses.iter().enumerate() {
            let next = lane.statuses.get(k + 1).map_or(self.end, |next| next.0);
            let downs: Vec<(Nanos, Nanos)> = lane
                .down
                .iter()
                .map(|&(d, up)| (d, up.unwrap_or(self.end)))
                .filter(|&(d, up)| d < next && up > from)
                .collect();
            let to = downs.first().map_or(next, |d| d.0.max(from));
            self.status(name, (from, to), role, term, y);
            for (j, &(_, up)) in downs.iter().enumerate() {
                let until = downs.get(j + 1).map_or(next, |d| d.0);
                if up < until {
                    self.status(name, (up, until), "follower", term, y);
                }
            }
        }
        for (periods, style, mark) in [
            (&lane.down, format!(r#"fill="{}""#, Mark::Down.colour()), Mark::Down),
            (&lane.paused, r#"fill="url(#paused)""#.to_string(), Mark::Paused),
        ] {
            for &(from, to) in periods {
                self.used.insert(mark);
                let to = to.unwrap_or(self.end);
                let what = mark.name();
                let tip = format!("{name} {what} from {} to {}", sim::time::format(from), sim::time::format(to));
                self.rect(from, to, y, ROW - 4.0, &style, &tip);
            }
        }
        self.y += ROW;
    }

    fn client_lanes(
        &mut self,
        history: &scenarios::checks::history::KvHistory,
        bad: &BTreeSet<usize>,
        served: Option<&[Option<u64>]>,
    ) {
        self.y += 10.0;
        let mut by_client: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for (i, op) in history.iter().enumerate().take(OPERATIONS_DRAWN) {
            by_client.entry(op.client).or_default().push(i);
        }
        let mut first_bad = true;
        for (client, ops) in by_client {
            self.label(&format!("client {client}"));
            for i in ops {
                let op = &history[i];
                let kind = match op.input {
                    KvInput::Get { .. } => Mark::Get,
                    KvInput::Put { .. } => Mark::Put,
                    KvInput::Append { .. } => Mark::Append,
                };
                self.used.insert(kind);
                let config = served.and_then(|s| s[i]).map_or(String::new(), |c| format!(", in configuration {c}"));
                let times = match op.ret {
                    Some(ret) => format!(
                        "called at {}, returned at {} ({})",
                        sim::time::format(op.call),
                        sim::time::format(ret),
                        crate::duration_text((ret - op.call) as f64 / 1e9)
                    ),
                    None => format!("called at {}, never returned", sim::time::format(op.call)),
                };
                let tip = format!("#{i} {:?} -> {:?}: {times}{config}", op.input, op.output);
                let (from, to) = (op.call, op.ret.unwrap_or(self.end));
                if bad.contains(&i) {
                    self.used.insert(Mark::Unplaceable);
                    let id = if std::mem::take(&mut first_bad) { r#" id="first-unplaceable""# } else { "" };
                    self.unplaceable(from, to, &tip, id);
                } else {
                    let style = format!(r#"fill="{}" stroke="white" stroke-width="0.5""#, kind.colour());
                    self.rect(from, to, self.y + 3.0, ROW - 6.0, &style, &tip);
                }
            }
            self.y += ROW;
        }
        if history.len() > OPERATIONS_DRAWN {
            self.label(&format!("({} more operations not drawn)", history.len() - OPERATIONS_DRAWN));
            self.y += ROW;
        }
    }

    /// One stretch of a role on a server's lane, with the term written on
    /// a leadership wide enough to hold it.
    fn status(&mut self, name: &str, (from, to): (Nanos, Nanos), role: &str, term: u64, y: f64) {
        let mark = Mark::role(role);
        self.used.insert(mark);
        let tip = format!("{name}: {role} in term {term} from {}", sim::time::format(from));
        self.rect(from, to, y, ROW - 4.0, &format!(r#"fill="{}""#, mark.colour()), &tip);
        if mark == Mark::Leader && self.x(to) - self.x(from) > 18.0 {
            let x = self.x(from) + 2.0;
            writeln!(self.svg, r#"<text x="{x:.1}" y="{:.1}" fill="white">{term}</text>"#, y + ROW * 0.6).unwrap();
        }
    }

    /// An operation that could not be placed: red, outlined, and at least
    /// 8 px wide however short it was, so it is seen at once.
    fn unplaceable(&mut self, from: Nanos, to: Nanos, tip: &str, id: &str) {
        let (x0, x1) = (self.x(from), self.x(to));
        let width = (x1 - x0).max(8.0);
        let x = x0.min(LEFT + WIDTH - width);
        writeln!(
            self.svg,
            r##"<rect{id} x="{x:.1}" y="{:.1}" width="{width:.1}" height="{:.1}" fill="{}" stroke="#7f0000" stroke-width="2"><title>{}</title></rect>"##,
            self.y + 2.0,
            ROW - 4.0,
            Mark::Unplaceable.colour(),
            escape(tip)
        )
        .unwrap();
    }

    /// Ticks: about ten, at round virtual times.
    fn axis(&mut self) {
        let raw = self.end / 10;
        let step = [1, 2, 5]
            .iter()
            .flat_map(|m| (0..12).map(move |e| m * 10u64.pow(e)))
            .filter(|s| *s >= raw.max(1))
            .min()
            .unwrap_or(raw.max(1));
        let mut t = 0;
        while t <= self.end {
            let x = self.x(t);
            writeln!(self.svg, r##"<line x1="{x:.1}" y1="24" x2="{x:.1}" y2="{:.1}" stroke="#0002"/>"##, self.y)
                .unwrap();
            writeln!(self.svg, r#"<text x="{x:.1}" y="18">{}</text>"#, sim::time::format(t)).unwrap();
            t += step;
        }
    }

    fn finish(self, title: &str, verdict: &str, explanation: Option<&str>) -> String {
        let explanation = explanation.map_or(String::new(), |text| {
            format!("<h3>What happened</h3>\n<pre class=\"explanation\">{}</pre>\n", escape(text))
        });
        let height = self.y + 10.0;
        let legend: String = self
            .used
            .iter()
            .map(|m| {
                let fill = if *m == Mark::Paused {
                    "background:repeating-linear-gradient(45deg,#f0a030 0 3px,#fff 3px 6px)".to_string()
                } else {
                    format!("background:{}", m.colour())
                };
                format!(r#"<span style="{fill}"></span>{}"#, m.name())
            })
            .collect();
        format!(
            r##"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font-family: sans-serif; margin: 16px; }} .verdict {{ white-space: pre-wrap; }} .key span {{ display: inline-block; width: 14px; height: 10px; margin: 0 4px 0 12px; }}</style>
</head><body>
<h2>{title}</h2>
<pre class="verdict">{verdict}</pre>
{explanation}<p class="key">{legend}</p>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {height:.0}" width="100%" font-family="monospace" font-size="11">
<defs><pattern id="paused" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" fill="#f0a030"/></pattern></defs>
{}</svg>
<script>const bad = document.getElementById("first-unplaceable"); if (bad) bad.scrollIntoView({{block: "center", inline: "center"}});</script>
</body></html>
"##,
            LEFT + WIDTH + 50.0,
            self.svg,
            title = escape(title),
            verdict = escape(verdict),
        )
    }
}
