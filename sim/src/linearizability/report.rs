//! Explaining a verdict: in words (which part, the longest linearizable
//! prefix, the operations that could not be placed) and as a self-contained
//! HTML page that draws the failing part's history per client on a time axis.

use super::checker::Counterexample;
use super::history::Operation;
use super::model::Model;
use std::fmt::Write;

fn describe<M: Model>(model: &M, op: &Operation<M::Input, M::Output>) -> String {
    let ret = op.ret.map_or("pending".to_string(), |r| r.to_string());
    format!(
        "client {}: {} [call {}, return {}]",
        op.client,
        model.describe_operation(&op.input, op.output.as_ref()),
        op.call,
        ret
    )
}

/// The counterexample in words.
pub fn explain<M: Model>(model: &M, history: &[Operation<M::Input, M::Output>], cx: &Counterexample) -> String {
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
        writeln!(out, "  {}. {}", k + 1, describe(model, &history[i])).unwrap();
    }
    writeln!(out, "none of these can take effect next:").unwrap();
    for &i in &cx.unplaceable {
        writeln!(out, "  {}", describe(model, &history[i])).unwrap();
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A self-contained HTML page: the failing part, one row per client, each
/// operation a bar from call to return (pending ones run to the right edge).
/// Prefix operations are green and numbered in linearization order; the ones
/// that could not be placed are red.
pub fn html<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    cx: &Counterexample,
    title: &str,
) -> String {
    let ops: Vec<usize> = cx.part.clone();
    let mut clients: Vec<u64> = ops.iter().map(|&i| history[i].client).collect();
    clients.sort_unstable();
    clients.dedup();
    let t_min = ops.iter().map(|&i| history[i].call).min().unwrap_or(0);
    let t_max = ops.iter().map(|&i| history[i].ret.unwrap_or(history[i].call)).max().unwrap_or(1).max(t_min + 1) + 1;
    let (left, width, row_height) = (110.0, 1400.0, 34.0);
    let x = |t: u64| left + (t - t_min) as f64 / (t_max - t_min) as f64 * width;
    let order: std::collections::BTreeMap<usize, usize> =
        cx.longest_prefix.iter().enumerate().map(|(k, &i)| (i, k + 1)).collect();
    let mut svg = String::new();
    let height = 40.0 + row_height * clients.len() as f64;
    writeln!(svg, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="monospace" font-size="11">"#, left + width + 20.0)
        .unwrap();
    for (row, client) in clients.iter().enumerate() {
        let y = 30.0 + row_height * row as f64;
        writeln!(svg, r#"<text x="4" y="{}">client {client}</text>"#, y + 16.0).unwrap();
        writeln!(
            svg,
            r##"<line x1="{left}" x2="{}" y1="{}" y2="{}" stroke="#ddd"/>"##,
            left + width,
            y + 28.0,
            y + 28.0
        )
        .unwrap();
    }
    for &i in &ops {
        let op = &history[i];
        let row = clients.binary_search(&op.client).expect("every client has a row");
        let y = 30.0 + row_height * row as f64;
        let (x0, x1) = (x(op.call), op.ret.map_or(left + width, x));
        let (fill, mark) = if let Some(k) = order.get(&i) {
            ("#9be39b", format!("{k}. "))
        } else if cx.unplaceable.contains(&i) {
            ("#f28b82", "✗ ".to_string())
        } else {
            ("#d0d0d0", String::new())
        };
        let label = format!("{mark}{}", model.describe_operation(&op.input, op.output.as_ref()));
        writeln!(
            svg,
            r##"<g><title>{}</title><rect x="{x0:.1}" y="{y}" width="{:.1}" height="24" rx="3" fill="{fill}" stroke="#555"/><text x="{:.1}" y="{}">{}</text></g>"##,
            escape(&describe(model, op)),
            (x1 - x0).max(2.0),
            x0 + 3.0,
            y + 16.0,
            escape(&label)
        )
        .unwrap();
    }
    svg.push_str("</svg>");
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;margin:16px}} .g{{background:#9be39b}} .r{{background:#f28b82}} pre{{background:#f6f6f6;padding:8px}}</style></head>\
         <body><h2>{t}</h2><p><span class=\"g\">numbered</span>: the longest linearizable prefix, in linearization order; \
         <span class=\"r\">✗</span>: operations none of which can take effect next; grey: the rest. Hover for times.</p>\
         <div style=\"overflow-x:auto\">{svg}</div><pre>{}</pre></body></html>\n",
        escape(&explain(model, history, cx)),
        t = escape(title),
    )
}
