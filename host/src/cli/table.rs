//! Plain-text tables for the terminal.

use std::fmt::Write;
use std::path::Path;

use weft_engine::plugin::Plugin;
use weft_manifest::Pipeline;
use weft_manifest::{Role, Stage};
use weft_models::graph::Node;
use weft_models::Model;
use weft_record::RunReport;

/// Columns padded to their widest cell.
fn render(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

/// The end-of-run summary.
pub fn summary(report: &RunReport) -> String {
    let mut rows = vec![[
        "step", "plugin", "kind", "rows in", "rows out", "fit rows", "time", "compute", "metrics",
    ]
    .map(String::from)
    .to_vec()];
    for s in &report.steps {
        let metrics: Vec<String> = s
            .metrics
            .iter()
            .take(4)
            .map(|m| format!("{}={:.4}", m.name, m.value))
            .collect();
        rows.push(vec![
            s.name.clone(),
            s.plugin_version.clone(),
            format!("{:?}", s.kind).to_lowercase(),
            s.rows_in.to_string(),
            s.rows_out.to_string(),
            s.fit_rows.to_string(),
            format!("{:.3}s", s.duration_seconds),
            s.compute.iter().cloned().collect::<Vec<_>>().join(", "),
            metrics.join(" "),
        ]);
    }
    let peak = report
        .peak_rss_bytes
        .map(|b| format!(", peak memory {} MiB", b >> 20))
        .unwrap_or_default();
    format!(
        "{}\n{} rows -> {} in {:.2}s ({} workers{peak})\n",
        render(&rows),
        report.rows_out,
        report.output,
        report.duration_seconds,
        report.workers
    )
}

/// `weft report`: every metric of every step, then every gate.
pub fn metrics(report: &RunReport) -> String {
    let mut rows = vec![["step", "metric", "labels", "value"]
        .map(String::from)
        .to_vec()];
    for s in &report.steps {
        for m in &s.metrics {
            let labels: Vec<String> = m.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            rows.push(vec![
                s.name.clone(),
                m.name.clone(),
                labels.join(","),
                format!("{:.6}", m.value),
            ]);
        }
    }
    let mut out = format!(
        "run of pipeline {:?}: {} rows out\n\n",
        report.pipeline, report.rows_out
    );
    out.push_str(&render(&rows));
    let gates: Vec<_> = report
        .steps
        .iter()
        .flat_map(|s| s.gates.iter().map(move |g| (s, g)))
        .collect();
    if !gates.is_empty() {
        let mut rows = vec![["step", "gate", "value", "bound", "result"]
            .map(String::from)
            .to_vec()];
        for (s, g) in gates {
            rows.push(vec![
                s.name.clone(),
                g.target(),
                g.value.map_or("not reported".into(), |v| format!("{v:.6}")),
                g.bound(),
                if g.passed { "pass" } else { "FAIL" }.into(),
            ]);
        }
        out.push('\n');
        out.push_str(&render(&rows));
    }
    out
}

/// `weft inspect` as text.
pub fn inspect(plugin: &Plugin) -> String {
    let m = &plugin.meta;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} ({:?}, {})",
        m.name,
        m.version,
        m.kind,
        if m.stateful { "stateful" } else { "stateless" }
    );
    let _ = writeln!(out, "  {}", m.description);
    let _ = writeln!(
        out,
        "file:    {}\nsha256:  {}",
        plugin.path.display(),
        plugin.digest
    );
    let _ = writeln!(out, "imports: {}", plugin.imports.join(", "));
    let _ = writeln!(out, "exports: {}", plugin.exports.join(", "));
    let _ = writeln!(
        out,
        "config schema:\n{}",
        serde_json::to_string_pretty(&m.config_schema).unwrap_or_default()
    );
    out
}

/// `weft inspect MODEL.onnx`: inputs, outputs with the columns
/// `onnx-model` names after them, and the operators used.
pub fn model(path: &Path, model: &Model, nodes: &[Node]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "file:    {}\nsha256:  {}",
        path.display(),
        model.digest()
    );
    let width = model
        .feature_columns()
        .map_or_else(|| "any number of".to_owned(), |w| w.to_string());
    let _ = writeln!(out, "inputs (features: {width} columns, in this order):");
    for port in model.inputs() {
        let _ = writeln!(out, "  {:<16} {}", port.name, port.onnx_type);
    }
    let _ = writeln!(out, "outputs (and the columns onnx-model writes):");
    for port in model.outputs() {
        let columns = match (port.dtype, port.shape.as_slice()) {
            (None, _) => "not a tensor: skipped".to_owned(),
            _ if port.single_column() => port.name.clone(),
            (_, [_, c]) if *c > 1 => format!("{0}_0 .. {0}_{1}", port.name, c - 1),
            _ => format!("{0}_0, {0}_1, ...", port.name),
        };
        let _ = writeln!(out, "  {:<16} {:<28} {columns}", port.name, port.onnx_type);
    }
    let _ = writeln!(out, "operators: {}", operators(nodes).join(", "));
    let _ = writeln!(out, "runs on: {}", model.runs_on());
    out
}

/// The operators `nodes` use, each once, as `domain:op_type`, sorted.
pub fn operators(nodes: &[Node]) -> Vec<String> {
    let mut ops: Vec<String> = nodes
        .iter()
        .map(|n| format!("{}:{}", n.domain, n.op_type))
        .collect();
    ops.sort();
    ops.dedup();
    ops
}

/// `weft plan`: one row per stage.
pub fn stages(pipeline: &Pipeline, stages: &[Stage]) -> String {
    let mut rows = vec![["stage", "steps", "does", "pods", "retries", "resources"]
        .map(String::from)
        .to_vec()];
    for stage in stages {
        let names: Vec<&str> = stage
            .steps
            .iter()
            .map(|&i| pipeline.spec.steps[i].name.as_str())
            .collect();
        let resources = stage.resources.as_ref().map_or_else(String::new, |r| {
            let mut parts = Vec::new();
            if let Some(cpu) = &r.cpu {
                parts.push(format!("cpu={}", cpu.0));
            }
            if let Some(memory) = &r.memory {
                parts.push(format!("memory={}", memory.0));
            }
            if let Some(gpu) = r.gpu {
                parts.push(format!("nvidia.com/gpu={gpu}"));
            }
            parts.join(" ")
        });
        let does = match stage.role {
            Role::Run => "run",
            Role::FitShares => "fit shares",
            Role::Merge => "merge, transform",
        };
        rows.push(vec![
            stage.index.to_string(),
            names.join(", "),
            does.to_owned(),
            stage.shards.to_string(),
            stage.retries.to_string(),
            resources,
        ]);
    }
    render(&rows)
}
