//! A run drawn as one self-contained HTML page (`labsim run --html`): one
//! lane per server over virtual time, coloured by role (follower, candidate,
//! leader, with the term written on leaderships), dark where the server was
//! down and striped where it was paused; bands over the top for the periods
//! when links between servers were cut and when the network was unreliable;
//! below, one lane per client with each operation as a bar, and for an
//! illegal history the operations that could not be placed in red.
//!
//! The view is built from the run's event lines (`sim::event_log`), keeping
//! only what it draws: status changes, starts and faults.

use checker::report::escape;
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
        if cut {
            self.cut_links.insert((from, to));
        } else {
            self.cut_links.remove(&(from, to));
        }
        toggle(&mut self.partitioned, at, !self.cut_links.is_empty());
    }

    /// The page, with the run's outcome (its result, and its clients'
    /// operations if it has any).
    pub fn html(&self, title: &str, outcome: &Outcome) -> String {
        let end = self.last_at.max(outcome.stats.virtual_time).max(1);
        let mut page = Page::new(end);
        page.bands(&self.partitioned, &self.unreliable);
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
        page.finish(title, &verdict)
    }
}

/// The SVG being drawn, row by row.
struct Page {
    svg: String,
    end: Nanos,
    y: f64,
}

const LEFT: f64 = 130.0;
const WIDTH: f64 = 1400.0;
const ROW: f64 = 20.0;

fn role_colour(role: &str) -> &'static str {
    match role {
        "leader" => "#4caf50",
        "candidate" => "#f5c542",
        "follower" => "#dde3ea",
        _ => "#bbbbbb",
    }
}

impl Page {
    fn new(end: Nanos) -> Page {
        Page { svg: String::new(), end, y: 34.0 }
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

    fn bands(&mut self, partitioned: &[(Nanos, Option<Nanos>)], unreliable: &[(Nanos, Option<Nanos>)]) {
        for (name, periods, colour) in [("links cut", partitioned, "#9ecae1"), ("unreliable", unreliable, "#c9b3e6")] {
            self.label(name);
            for &(from, to) in periods {
                let to = to.unwrap_or(self.end);
                let tip = format!("{name}: {} to {}", sim::time::format(from), sim::time::format(to));
                self.rect(from, to, self.y + 3.0, ROW - 6.0, &format!(r#"fill="{colour}""#), &tip);
            }
            self.y += ROW;
        }
        self.y += 6.0;
    }

    fn server_lane(&mut self, name: &str, lane: &Lane) {
        self.label(name);
        let y = self.y + 2.0;
        for (k, &(from, role, term)) in lane.statuses.iter().enumerate() {
            let to = lane.statuses.get(k + 1).map_or(self.end, |next| next.0);
            let tip = format!("{name}: {role} in term {term} from {}", sim::time::format(from));
            self.rect(from, to, y, ROW - 4.0, &format!(r#"fill="{}""#, role_colour(role)), &tip);
            if role == "leader" && self.x(to) - self.x(from) > 18.0 {
                let x = self.x(from) + 2.0;
                writeln!(self.svg, r#"<text x="{x:.1}" y="{:.1}" fill="white">{term}</text>"#, y + ROW * 0.6).unwrap();
            }
        }
        for (periods, style, what) in [
            (&lane.down, r##"fill="#3b0a0a" fill-opacity="0.85""##, "down"),
            (&lane.paused, r##"fill="url(#paused)""##, "paused"),
        ] {
            for &(from, to) in periods {
                let to = to.unwrap_or(self.end);
                let tip = format!("{name} {what} from {} to {}", sim::time::format(from), sim::time::format(to));
                self.rect(from, to, y, ROW - 4.0, style, &tip);
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
        for (client, ops) in by_client {
            self.label(&format!("client {client}"));
            for i in ops {
                let op = &history[i];
                let to = op.ret.unwrap_or(self.end);
                let colour = if bad.contains(&i) { "#e53935" } else { "#5b8def" };
                let config = served.and_then(|s| s[i]).map_or(String::new(), |c| format!(" in configuration {c}"));
                let tip = format!("#{i} {:?} -> {:?}{config}", op.input, op.output);
                let style = format!(r#"fill="{colour}" stroke="white" stroke-width="0.5""#);
                self.rect(op.call, to, self.y + 3.0, ROW - 6.0, &style, &tip);
            }
            self.y += ROW;
        }
        if history.len() > OPERATIONS_DRAWN {
            self.label(&format!("({} more operations not drawn)", history.len() - OPERATIONS_DRAWN));
            self.y += ROW;
        }
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

    fn finish(self, title: &str, verdict: &str) -> String {
        let height = self.y + 10.0;
        format!(
            r##"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font-family: sans-serif; margin: 16px; }} .verdict {{ white-space: pre-wrap; }} .key span {{ display: inline-block; width: 14px; height: 10px; margin: 0 4px 0 12px; }}</style>
</head><body>
<h2>{title}</h2>
<pre class="verdict">{verdict}</pre>
<p class="key"><span style="background:#dde3ea"></span>follower<span style="background:#f5c542"></span>candidate<span style="background:#4caf50"></span>leader (term)<span style="background:#3b0a0a"></span>down<span style="background:#f0a030"></span>paused<span style="background:#9ecae1"></span>links cut<span style="background:#c9b3e6"></span>unreliable<span style="background:#5b8def"></span>operation<span style="background:#e53935"></span>could not be placed</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height:.0}" font-family="monospace" font-size="11">
<defs><pattern id="paused" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" fill="#f0a030"/></pattern></defs>
{}</svg>
</body></html>
"##,
            LEFT + WIDTH + 20.0,
            self.svg,
            title = escape(title),
            verdict = escape(verdict),
        )
    }
}
