//! `labsim compare --html` and `--svg`: a bar chart per measure (a bar per
//! combination of optimisations: its mean, with a tick at its maximum), as
//! one page with the table under the charts, or as one SVG image (which a
//! README can show).

use scenarios::compare::Row;
use std::collections::BTreeSet;
use std::fmt::Write;

const BAR_WIDTH: f64 = 60.0;
const BAR_GAP: f64 = 30.0;
const CHART_HEIGHT: f64 = 160.0;
const LABEL_HEIGHT: f64 = 34.0;
const CHART_TOTAL_HEIGHT: f64 = CHART_HEIGHT + 20.0 + LABEL_HEIGHT;
const TITLE_HEIGHT: f64 = 48.0;
const COLOURS: [&str; 4] = ["#8c8c8c", "#3b7dd8", "#d8873b", "#3ba55c"];

/// The page for `rows`, titled `title`.
pub fn page(title: &str, rows: &[Row]) -> String {
    let names: BTreeSet<&String> = rows.iter().flat_map(|r| r.measures.keys()).collect();
    let mut html = format!(
        "<!doctype html><meta charset=utf-8><title>{t}</title><style>body{{font:14px sans-serif;margin:24px}}\
         figure{{display:inline-block;margin:0 24px 24px 0}}figcaption{{font-weight:bold;margin-bottom:6px}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}</style>\
         <h1>{t}</h1><p>Each bar is the mean over the runs of one combination; the tick above it is the largest \
         value seen.</p>",
        t = escape(title)
    );
    for name in names {
        let (body, width) = chart(name, rows);
        let _ = write!(
            html,
            "<figure><figcaption>{}</figcaption><svg width='{width}' height='{CHART_TOTAL_HEIGHT}'>{body}</svg>\
             </figure>",
            escape(name)
        );
    }
    html.push_str("<h2>Table</h2><pre>");
    html.push_str(&escape(&scenarios::compare::table(rows)));
    html.push_str("</pre>");
    html
}

/// The charts side by side in one SVG image, titled `title`.
pub fn svg(title: &str, rows: &[Row]) -> String {
    let names: BTreeSet<&String> = rows.iter().flat_map(|r| r.measures.keys()).collect();
    let mut x = 0.0;
    let mut groups = String::new();
    for name in names {
        let (body, width) = chart(name, rows);
        let _ = write!(
            groups,
            "<g transform='translate({x},{TITLE_HEIGHT})'><text x='{BAR_GAP}' y='-6' font-weight='bold'>{}</text>{body}\
             </g>",
            escape(name)
        );
        x += width;
    }
    format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='{x}' height='{}' font-family='sans-serif' font-size='13'>\
         <rect width='100%' height='100%' fill='white'/><text x='{BAR_GAP}' y='20' font-size='15'>{}</text>{groups}</svg>\n",
        TITLE_HEIGHT + CHART_TOTAL_HEIGHT,
        escape(title)
    )
}

/// One measure's bar chart: the SVG elements, and their width.
fn chart(name: &str, rows: &[Row]) -> (String, f64) {
    let bars: Vec<(String, Option<(f64, f64)>)> = rows
        .iter()
        .map(|r| {
            let m = r.measures.get(name).filter(|m| m.runs > 0);
            (r.optimisations.to_string(), m.map(|m| (m.sum / m.runs as f64, m.max)))
        })
        .collect();
    let top = bars.iter().filter_map(|(_, b)| b.map(|(_, max)| max)).fold(0.0, f64::max);
    let scale = if top > 0.0 { CHART_HEIGHT / top } else { 0.0 };
    let width = bars.len() as f64 * (BAR_WIDTH + BAR_GAP) + BAR_GAP;
    let mut svg = String::new();
    for (k, (label, bar)) in bars.iter().enumerate() {
        let x = BAR_GAP + k as f64 * (BAR_WIDTH + BAR_GAP);
        let base = CHART_HEIGHT + 20.0;
        if let Some((mean, max)) = bar {
            let (h, tick) = (mean * scale, base - max * scale);
            let colour = COLOURS[k % COLOURS.len()];
            let _ = write!(
                svg,
                "<rect x='{x}' y='{}' width='{BAR_WIDTH}' height='{h}' fill='{colour}'><title>{}: mean {mean:.2}, \
                 max {max}</title></rect><line x1='{x}' x2='{}' y1='{tick}' y2='{tick}' stroke='black'></line>\
                 <text x='{}' y='{}' font-size='11' text-anchor='middle'>{mean:.2}</text>",
                base - h,
                escape(label),
                x + BAR_WIDTH,
                x + BAR_WIDTH / 2.0,
                (base - h - 4.0).min(tick - 4.0),
            );
        }
        for (line, name) in label.split(',').enumerate() {
            let _ = write!(
                svg,
                "<text x='{}' y='{}' font-size='11' text-anchor='middle'>{}</text>",
                x + BAR_WIDTH / 2.0,
                base + 16.0 + 13.0 * line as f64,
                escape(name)
            );
        }
    }
    (svg, width)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use scenarios::compare::Measure;

    #[test]
    fn a_bar_per_combination_scaled_to_the_largest_value() {
        let row = |set: &str, sum: f64, max: f64| Row {
            optimisations: contract::Optimisations::parse(set).unwrap(),
            runs: 2,
            failures: 0,
            first_failure: None,
            measures: [("leader changes".to_string(), Measure { runs: 2, sum, max, other: 0 })].into(),
            cpu_ms: 1.0,
            operations: 0,
        };
        let page = page("raft/x <on> reference", &[row("none", 20.0, 12.0), row("pre_vote,check_quorum", 0.0, 0.0)]);
        assert!(page.contains("<title>raft/x &lt;on&gt; reference</title>"), "{page}");
        assert_eq!(page.matches("<rect").count(), 2);
        assert!(page.contains("height='133.33333333333334' fill"), "the mean 10 of a top of 12: {page}");
        assert!(page.contains(">pre_vote</text>") && page.contains(">check_quorum</text>"), "a line per name");
        let image = svg("t", &[row("none", 20.0, 12.0)]);
        assert!(
            image.starts_with("<svg xmlns='http://www.w3.org/2000/svg'") && image.contains(">leader changes</text>")
        );
    }
}
