//! The HTML page of `weft report --html`: one self-contained file (inline
//! CSS and SVG, no script, no URL) with the run's summary, its gates and a
//! section per step with its metrics and figures.

use std::fmt::Write as _;

use super::figures::{self, Confusion};
use super::svg;
use super::text::{bytes, esc, num, seconds};
use weft_record::{GateResult, RunReport, StepReport};

const STYLE: &str = "
body { font: 14px/1.45 system-ui, sans-serif; color: #1f2328; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; } h2 { font-size: 1.25rem; border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .15rem 1rem; margin: .5rem 0; }
dl.facts dt { color: #57606a; } dl.facts dd { margin: 0; }
.verdict { display: inline-block; padding: .3rem .7rem; border-radius: 4px; font-weight: 600; }
.verdict.pass { background: #dafbe1; color: #116329; } .verdict.fail { background: #ffebe9; color: #a40e26; }
.verdict.none { background: #eaeef2; color: #57606a; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
thead th { background: #f6f8fa; }
#gates tr.pass td.result { color: #116329; font-weight: 600; } #gates tr.fail td.result { color: #a40e26; font-weight: 600; }
#gates tr.fail { background: #fff5f5; }
.labels { color: #57606a; font-family: ui-monospace, monospace; font-size: .9em; }
.figures { display: flex; flex-wrap: wrap; gap: 2rem; align-items: flex-start; }
figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: .3rem; }
table.confusion-matrix td { width: 5rem; height: 2.6rem; text-align: center; font-weight: 600; }
svg text { font: 11px system-ui, sans-serif; fill: #1f2328; } svg text.title { font-size: 13px; font-weight: 600; }
svg .axis { stroke: #1f2328; } svg .tick { stroke: #1f2328; } svg .diagonal { stroke: #8c959f; stroke-dasharray: 4 4; }
svg polyline.roc { fill: none; stroke: #0969da; stroke-width: 2; }
svg .threshold { stroke: #8c959f; stroke-dasharray: 3 3; }
";

/// A self-contained HTML page for `report` (no scripts, no network fetches).
pub fn html(report: &RunReport) -> String {
    let mut page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>weft run: {}</title><style>{STYLE}</style></head><body>\n",
        esc(&report.pipeline)
    );
    page.push_str(&header(report));
    page.push_str(&gates(report));
    for step in &report.steps {
        page.push_str(&step_section(step));
    }
    page.push_str("</body></html>\n");
    page
}

/// Pipeline, rows, duration, workers, peak memory and the gate verdict.
fn header(report: &RunReport) -> String {
    let mut facts = vec![
        ("output", esc(&report.output)),
        ("rows out", report.rows_out.to_string()),
        ("duration", seconds(report.duration_seconds)),
        ("workers", report.workers.to_string()),
    ];
    if let Some(rss) = report.peak_rss_bytes {
        facts.push(("peak memory", bytes(rss)));
    }
    format!(
        "<header id=\"summary\"><h1>weft run: <span class=\"pipeline\">{}</span></h1>{}{}</header>\n",
        esc(&report.pipeline),
        fact_list(&facts),
        verdict(report)
    )
}

/// `<dl class="facts">` of already escaped values.
fn fact_list(facts: &[(&str, String)]) -> String {
    let mut s = String::from("<dl class=\"facts\">");
    for (name, value) in facts {
        let _ = write!(s, "<dt>{name}</dt><dd>{value}</dd>");
    }
    s.push_str("</dl>");
    s
}

/// Whether every gate passed, as `<p id="verdict" class="verdict pass|fail|none">`.
fn verdict(report: &RunReport) -> String {
    let total: usize = report.steps.iter().map(|s| s.gates.len()).sum();
    let failed = report.failed_gates().len();
    let (class, text) = match (total, failed) {
        (0, _) => ("none", "no gates".to_string()),
        (1, 0) => ("pass", "the gate passed".to_string()),
        (n, 0) => ("pass", format!("all {n} gates passed")),
        (n, f) => ("fail", format!("{f} of {n} gates failed")),
    };
    format!("<p id=\"verdict\" class=\"verdict {class}\">{text}</p>")
}

/// The gates table, a row per gate with class `pass` or `fail`.
fn gates(report: &RunReport) -> String {
    let rows: Vec<String> = report
        .steps
        .iter()
        .flat_map(|s| s.gates.iter().map(move |g| gate_row(&s.name, g)))
        .collect();
    if rows.is_empty() {
        return "<section class=\"gates\"><h2>Gates</h2><p>This run has no gates.</p></section>\n"
            .into();
    }
    format!(
        "<section class=\"gates\"><h2>Gates</h2><table id=\"gates\"><thead><tr>\
         <th>step</th><th>gate</th><th>value</th><th>bound</th><th>result</th></tr></thead>\
         <tbody>{}</tbody></table></section>\n",
        rows.concat()
    )
}

fn gate_row(step: &str, gate: &GateResult) -> String {
    let (class, result) = if gate.passed {
        ("pass", "pass")
    } else {
        ("fail", "FAIL")
    };
    let value = gate.value.map_or("not reported".to_string(), num);
    format!(
        "<tr class=\"{class}\"><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"result\">{result}</td></tr>",
        esc(step),
        esc(&gate.target()),
        esc(&value),
        esc(&gate.bound()),
    )
}

/// A step's facts, figures and metrics table, as `<section id="step-NAME">`.
fn step_section(step: &StepReport) -> String {
    let facts = [
        (
            "plugin",
            esc(&format!("{} ({})", step.plugin, step.plugin_version)),
        ),
        ("kind", esc(&format!("{:?}", step.kind).to_lowercase())),
        (
            "rows in / out",
            format!("{} / {}", step.rows_in, step.rows_out),
        ),
        ("fit rows", step.fit_rows.to_string()),
        ("duration", seconds(step.duration_seconds)),
    ];
    format!(
        "<section class=\"step\" id=\"step-{}\"><h2>Step <span class=\"step-name\">{}</span></h2>{}{}{}</section>\n",
        esc(&step.name.replace(char::is_whitespace, "-")),
        esc(&step.name),
        fact_list(&facts),
        figures(step),
        metrics_table(step)
    )
}

/// Every metric of `step`: name, labels and value.
fn metrics_table(step: &StepReport) -> String {
    if step.metrics.is_empty() {
        return "<p>No metrics.</p>".into();
    }
    let mut s = String::from(
        "<table class=\"metrics\"><thead><tr><th>metric</th><th>labels</th><th>value</th></tr></thead><tbody>",
    );
    for m in &step.metrics {
        let labels: Vec<String> = m.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"labels\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&m.name),
            esc(&labels.join(", ")),
            num(m.value)
        );
    }
    s.push_str("</tbody></table>");
    s
}

/// The confusion matrix, ROC curve and drift chart `step` has data for.
fn figures(step: &StepReport) -> String {
    let mut parts = Vec::new();
    if let Some(c) = figures::confusion(step) {
        parts.push(figure("Confusion matrix", &confusion_table(&c)));
    }
    let roc = figures::roc(step);
    if !roc.is_empty() {
        let chart = svg::roc_curve(&roc, figures::value(step, "roc_auc"));
        parts.push(figure("ROC curve", &chart));
    }
    let drift = figures::drift(step);
    if !drift.is_empty() {
        parts.push(figure("Drift (PSI per column)", &svg::drift_chart(&drift)));
    }
    if parts.is_empty() {
        return String::new();
    }
    format!("<div class=\"figures\">{}</div>", parts.concat())
}

fn figure(caption: &str, body: &str) -> String {
    format!(
        "<figure><figcaption>{}</figcaption>{body}</figure>",
        esc(caption)
    )
}

/// The 2×2 matrix, actual by predicted, each count shaded by its share of
/// the largest: blue where right, red where wrong.
fn confusion_table(c: &Confusion) -> String {
    let max = [c.tn, c.fp, c.fn_, c.tp]
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let cell = |class: &str, v: f64, right: bool| {
        let share = if max > 0.0 && v.is_finite() {
            (v / max).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let alpha = 0.08 + 0.8 * share;
        let rgb = if right { "9, 105, 218" } else { "207, 34, 46" };
        let ink = if alpha > 0.5 { "#fff" } else { "#1f2328" };
        format!(
            "<td class=\"{class}\" style=\"background-color: rgba({rgb}, {alpha:.2}); color: {ink}\">{}</td>",
            num(v)
        )
    };
    format!(
        "<table class=\"confusion-matrix\"><thead>\
         <tr><th rowspan=\"2\">actual</th><th colspan=\"2\">predicted</th></tr>\
         <tr><th>negative</th><th>positive</th></tr></thead><tbody>\
         <tr><th scope=\"row\">negative</th>{}{}</tr>\
         <tr><th scope=\"row\">positive</th>{}{}</tr></tbody></table>",
        cell("tn", c.tn, true),
        cell("fp", c.fp, false),
        cell("fn", c.fn_, false),
        cell("tp", c.tp, true),
    )
}
