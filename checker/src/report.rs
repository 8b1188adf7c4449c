//! Explaining a verdict: in words (which part, the longest linearizable
//! prefix, the operations that could not be placed) and as a self-contained
//! HTML page that draws the failing part's history per client on a time axis.

use super::checker::Counterexample;
use super::history::Operation;
use super::model::Model;
use std::fmt::Write;

/// What a history's times count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Times {
    /// Positions in a log (recorded files without times).
    Steps,
    /// Virtual nanoseconds (the lab's histories): shown as seconds.
    Nanos,
}

impl Times {
    fn show(self, t: u64) -> String {
        match self {
            Times::Steps => t.to_string(),
            Times::Nanos => format!("{}.{:06} s", t / 1_000_000_000, (t % 1_000_000_000) / 1_000),
        }
    }
}

fn describe<M: Model>(model: &M, op: &Operation<M::Input, M::Output>, times: Times) -> String {
    let ret = op.ret.map_or("pending".to_string(), |r| times.show(r));
    format!(
        "client {}: {} [call {}, return {}]",
        op.client,
        model.describe_operation(&op.input, op.output.as_ref()),
        times.show(op.call),
        ret
    )
}

/// The counterexample in words, times as positions.
pub fn explain<M: Model>(model: &M, history: &[Operation<M::Input, M::Output>], cx: &Counterexample) -> String {
    explain_in(model, history, cx, Times::Steps)
}

/// The counterexample in words, with times shown as `times` says.
pub fn explain_in<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    cx: &Counterexample,
    times: Times,
) -> String {
    let mut out = String::new();
    writeln!(out, "not linearizable: {} ({} operations)", cx.part_name, cx.part.len()).unwrap();
    writeln!(
        out,
        "longest linearizable prefix: {} operations, leaving the state {}",
        cx.longest_prefix.len(),
        cx.state_after_prefix
    )
    .unwrap();
    const SHOWN: usize = 12;
    let skipped = cx.longest_prefix.len().saturating_sub(SHOWN);
    if skipped > 0 {
        writeln!(out, "  ... {skipped} earlier operations").unwrap();
    }
    for (k, &i) in cx.longest_prefix.iter().enumerate().skip(skipped) {
        writeln!(out, "  {}. {}", k + 1, describe(model, &history[i], times)).unwrap();
    }
    writeln!(out, "none of these can take effect next:").unwrap();
    for &i in &cx.unplaceable {
        writeln!(out, "  {}", describe(model, &history[i], times)).unwrap();
    }
    out
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A self-contained HTML page: the failing part, one row per client, each
/// operation a bar from call to return (pending ones run to the right edge),
/// its label clipped to the bar (hover for the whole operation). Prefix
/// operations are green and numbered in linearization order; the ones that
/// could not be placed are outlined in red, with dashed lines at their call
/// and return across all rows.
pub fn html<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    cx: &Counterexample,
    title: &str,
) -> String {
    html_in(model, history, cx, title, Times::Steps)
}

/// `html`, with times shown as `clock` says.
pub fn html_in<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    cx: &Counterexample,
    title: &str,
    clock: Times,
) -> String {
    let ops: Vec<usize> = cx.part.clone();
    let mut clients: Vec<u64> = ops.iter().map(|&i| history[i].client).collect();
    clients.sort_unstable();
    clients.dedup();
    let mut times: Vec<u64> = ops.iter().flat_map(|&i| [Some(history[i].call), history[i].ret]).flatten().collect();
    times.sort_unstable();
    times.dedup();
    // Time runs left to right with the distinct instants evenly spaced: the
    // order of calls and returns is what matters, not the gaps between them.
    let step = (40_000.0 / times.len().max(1) as f64).min(28.0);
    let width = (step * times.len() as f64).max(1200.0);
    let (left, row_height, top) = (90.0, 34.0, 30.0);
    let x = |t: u64| left + times.binary_search(&t).expect("every instant is listed") as f64 * step;
    let order: std::collections::BTreeMap<usize, usize> =
        cx.longest_prefix.iter().enumerate().map(|(k, &i)| (i, k + 1)).collect();
    let height = top + row_height * clients.len() as f64 + 10.0;
    let mut svg = String::new();
    writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="monospace" font-size="11">"#,
        left + width + 30.0
    )
    .unwrap();
    for (row, client) in clients.iter().enumerate() {
        let y = top + row_height * row as f64;
        writeln!(svg, r#"<text x="4" y="{}">client {client}</text>"#, y + 16.0).unwrap();
        writeln!(
            svg,
            r##"<line x1="{left}" x2="{}" y1="{}" y2="{}" stroke="#e4e4e4"/>"##,
            left + width,
            y + 28.0,
            y + 28.0
        )
        .unwrap();
    }
    for &i in &cx.unplaceable {
        let op = &history[i];
        for t in [Some(op.call), op.ret].into_iter().flatten() {
            let tx = x(t);
            writeln!(
                svg,
                r##"<line x1="{tx:.1}" x2="{tx:.1}" y1="{}" y2="{}" stroke="#d93025" stroke-dasharray="4 3"/>"##,
                top - 8.0,
                height - 6.0
            )
            .unwrap();
        }
    }
    for &i in &ops {
        let op = &history[i];
        let row = clients.binary_search(&op.client).expect("every client has a row");
        let y = top + row_height * row as f64;
        let x0 = x(op.call);
        let w = (op.ret.map_or(left + width, x) - x0).max(6.0);
        let failing = cx.unplaceable.contains(&i);
        let (fill, stroke, stroke_width, mark) = match order.get(&i) {
            Some(k) => ("#9be39b", "#3c763d", 1, format!("{k}. ")),
            None if failing => ("#f9d0cc", "#d93025", 3, "✗ ".to_string()),
            None => ("#dcdcdc", "#777", 1, String::new()),
        };
        let label = format!("{mark}{}", model.describe_operation(&op.input, op.output.as_ref()));
        writeln!(
            svg,
            r##"<svg x="{x0:.1}" y="{y}" width="{w:.1}" height="24"><title>{}</title><rect x="0" y="0" width="{w:.1}" height="24" rx="3" fill="{fill}" stroke="{stroke}" stroke-width="{stroke_width}"/><text x="3" y="16">{}</text></svg>"##,
            escape(&describe(model, op, clock)),
            escape(&label)
        )
        .unwrap();
    }
    svg.push_str("</svg>");
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;margin:16px}} .g{{background:#9be39b}} .r{{background:#f9d0cc;border:2px solid #d93025}} pre{{background:#f6f6f6;padding:8px}}</style></head>\
         <body><h2>{t}</h2><p><span class=\"g\">numbered</span>: the longest linearizable prefix, in linearization order; \
         <span class=\"r\">✗</span>: operations none of which can take effect next (dashed: their call and return); grey: the rest. \
         Time runs left to right, one step per distinct instant. Hover over an operation for its text and times; scroll sideways for the whole history.</p>\
         <div style=\"overflow-x:auto\">{svg}</div><pre>{}</pre></body></html>\n",
        escape(&explain_in(model, history, cx, clock)),
        t = escape(title),
    )
}
