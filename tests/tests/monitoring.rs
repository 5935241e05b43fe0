//! The monitoring assets in `examples/monitoring/`: the alerting rules pass
//! `promtool check rules` and their unit tests (`promtool test rules`); the
//! Grafana dashboard parses, queries only metrics weft exposes, and every
//! query is valid PromQL that returns data for series shaped like weft's.
//! `promtool` comes with the Debian package `prometheus`, installed by
//! `scripts/setup.sh --test`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use weft_tests::workspace;

/// Every metric name weft exposes (`metrics.prom`, the Pushgateway).
const METRICS: &[&str] = &[
    "weft_run_success",
    "weft_run_duration_seconds",
    "weft_run_timestamp_seconds",
    "weft_run_rows_out_total",
    "weft_step_duration_seconds",
    "weft_step_rows_in_total",
    "weft_step_rows_out_total",
    "weft_step_errors_total",
    "weft_metric_series_dropped_total",
    "weft_gate_passed",
    "weft_accuracy",
    "weft_precision",
    "weft_recall",
    "weft_f1",
    "weft_roc_auc",
    "weft_log_loss",
    "weft_confusion_matrix",
    "weft_mae",
    "weft_mse",
    "weft_rmse",
    "weft_r2",
    "weft_mape",
    "weft_psi",
    "weft_ks_statistic",
    "weft_ks_pvalue",
    "weft_unseen",
];

/// The alerts `alerts.yml` defines.
const ALERTS: &[&str] = &[
    "WeftGateFailed",
    "WeftRunFailed",
    "WeftRunStale",
    "WeftDriftHigh",
    "WeftDriftSevere",
    "WeftModelQualityDrop",
];

/// Grafana's core panel types the dashboard may use (no plugins).
const CORE_PANELS: &[&str] = &[
    "row",
    "stat",
    "timeseries",
    "table",
    "bargauge",
    "gauge",
    "text",
];

fn monitoring() -> PathBuf {
    workspace().join("examples/monitoring")
}

/// `promtool` from `PATH`; a clear failure where it is missing.
fn promtool() -> Command {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("promtool"))
        .find(|p| p.is_file());
    let Some(path) = found else {
        panic!(
            "promtool is not installed (it comes with the Debian package `prometheus`); \
             ./scripts/setup.sh --test installs it"
        )
    };
    let mut cmd = Command::new(path);
    cmd.current_dir(workspace());
    cmd
}

/// Run `promtool` with `args`; panic with its output unless it succeeds.
fn promtool_ok(args: &[&str]) -> String {
    let out: Output = promtool()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start promtool: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "`promtool {}` failed ({}):\n{text}",
        args.join(" "),
        out.status
    );
    text
}

fn dashboard() -> Value {
    let path = monitoring().join("dashboard.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every panel, those inside collapsed rows included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// `(panel title, refId, expr)` of every query in the dashboard.
fn queries(dashboard: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for p in panels(dashboard) {
        for t in p["targets"].as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or("?").to_owned();
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {title:?}: a target without an expr: {t}"));
            let ref_id = t["refId"].as_str().unwrap_or("?").to_owned();
            out.push((title, ref_id, expr.to_owned()));
        }
    }
    out
}

/// The `expr:` of every rule in `alerts.yml`.
fn alert_exprs() -> Vec<String> {
    let path = monitoring().join("alerts.yml");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .map(|e| e.trim().to_owned())
        .collect()
}

/// A Grafana query as plain PromQL: template variables replaced by values
/// for pipeline `churn`.
fn substituted(expr: &str) -> String {
    let mut e = expr.to_owned();
    for (var, value) in [
        ("${pipeline}", "churn"),
        ("$pipeline", "churn"),
        ("$__rate_interval", "5m"),
        ("$__interval", "1m"),
        ("$__range", "1h"),
    ] {
        e = e.replace(var, value);
    }
    let bytes = e.as_bytes();
    if let Some(i) = (0..bytes.len()).find(|&i| {
        bytes[i] == b'$'
            && bytes
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_' || *c == b'{')
    }) {
        panic!("unknown Grafana variable at {:?} in {expr:?}", &e[i..]);
    }
    e
}

/// The metric names a PromQL expression selects (a small scanner: skips
/// strings, label matchers, ranges, numbers and durations, grouping label
/// lists, keywords, and names called as functions).
fn metric_names(expr: &str) -> Vec<String> {
    // Operators and aggregations (`sum by (l) (x)` puts no `(` after `sum`).
    const KEYWORDS: &[&str] = &[
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "inf",
        "nan",
        "atan2",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    ];
    const GROUPING: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    // Skip from an opening bracket to its match, strings inside included.
    let skip_group = |mut i: usize, open: char, close: char| -> usize {
        let mut depth = 0;
        let mut quote: Option<char> = None;
        while i < chars.len() {
            let c = chars[i];
            match quote {
                Some(_) if c == '\\' => i += 1,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' || c == '`' => quote = Some(c),
                None if c == open => depth += 1,
                None if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                None => {}
            }
            i += 1;
        }
        panic!("unbalanced {open}{close} in {expr:?}");
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '{' {
            i = skip_group(i, '{', '}');
        } else if c == '[' {
            i = skip_group(i, '[', ']');
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_')
            {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let called = chars.get(next) == Some(&'(');
            if GROUPING.contains(&word.to_ascii_lowercase().as_str()) {
                if called {
                    i = skip_group(next, '(', ')');
                }
            } else if !called && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                names.push(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn metric_name_scanner_finds_selected_metrics_only() {
    assert_eq!(
        metric_names(
            r#"sum by (pipeline, step) (rate(weft_a_total{pipeline=~"$p", x="{y}"}[5m:1m]) offset 7d)
               / on (pipeline) group_left(step) weft_b > bool 0.5e3 or label_replace(up, "d", "$1", "s", "(.*)")"#
        ),
        ["weft_a_total", "weft_b", "up"]
    );
    assert_eq!(
        metric_names("time() - weft_run_timestamp_seconds > 2 * 86400"),
        ["weft_run_timestamp_seconds"]
    );
    assert!(metric_names("vector(1)").is_empty());
}

#[test]
fn alerts_pass_promtool_check_rules() {
    let text = promtool_ok(&["check", "rules", "examples/monitoring/alerts.yml"]);
    let count = format!("SUCCESS: {} rules found", ALERTS.len());
    assert!(text.contains(&count), "expected {count:?}:\n{text}");
    let rules = std::fs::read_to_string(monitoring().join("alerts.yml")).unwrap();
    for alert in ALERTS {
        assert!(
            rules.contains(&format!("- alert: {alert}\n")),
            "alerts.yml lacks {alert}"
        );
    }
}

#[test]
fn alerts_pass_their_promtool_unit_tests() {
    let text = promtool_ok(&["test", "rules", "examples/monitoring/alerts.test.yml"]);
    assert!(text.contains("SUCCESS"), "{text}");
    // Every alert is exercised.
    let tests = std::fs::read_to_string(monitoring().join("alerts.test.yml")).unwrap();
    for alert in ALERTS {
        assert!(
            tests.contains(&format!("alertname: {alert}\n")),
            "alerts.test.yml never tests {alert}"
        );
    }
}

#[test]
fn dashboard_is_a_grafana_dashboard_with_pipeline_and_datasource_variables() {
    let d = dashboard();
    assert!(
        d["schemaVersion"].as_u64().is_some_and(|v| v >= 36),
        "schemaVersion: {}",
        d["schemaVersion"]
    );
    assert!(d["uid"].is_string() && d["title"].is_string());
    let vars = d["templating"]["list"].as_array().expect("templating.list");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no template variable {name:?}"))
    };
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    let pipeline = var("pipeline");
    assert_eq!(pipeline["type"], "query");
    assert_eq!(
        pipeline["definition"],
        "label_values(weft_run_success, pipeline)"
    );
    assert_eq!(
        pipeline["query"]["query"],
        "label_values(weft_run_success, pipeline)"
    );

    let all = panels(&d);
    let mut ids: Vec<u64> = all
        .iter()
        .map(|p| p["id"].as_u64().expect("panel id"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "panel ids are not unique");
    for p in &all {
        let title = p["title"].as_str().expect("panel title");
        let kind = p["type"].as_str().expect("panel type");
        assert!(
            CORE_PANELS.contains(&kind),
            "panel {title:?}: {kind:?} is not a core panel"
        );
        let g = &p["gridPos"];
        let (x, w) = (g["x"].as_u64().unwrap(), g["w"].as_u64().unwrap());
        assert!(
            x + w <= 24 && g["h"].as_u64().unwrap() > 0,
            "panel {title:?}: gridPos {g}"
        );
        if kind != "row" {
            assert_eq!(
                p["datasource"]["uid"], "${datasource}",
                "panel {title:?} bypasses $datasource"
            );
            assert!(
                p["targets"].as_array().is_some_and(|t| !t.is_empty()),
                "panel {title:?} has no query"
            );
        }
    }
    let text = serde_json::to_string(&d).unwrap();
    assert!(
        !text.contains("http://") && !text.contains("https://"),
        "the dashboard links outside"
    );
    for title in [
        "Gates",
        "Confusion matrix",
        "PSI per column",
        "KS p-value per column",
    ] {
        assert!(
            all.iter().any(|p| p["title"] == title),
            "no panel {title:?}"
        );
    }
    let psi = all.iter().find(|p| p["title"] == "PSI per column").unwrap();
    let steps: Vec<&Value> = psi["fieldConfig"]["defaults"]["thresholds"]["steps"]
        .as_array()
        .expect("PSI thresholds")
        .iter()
        .map(|s| &s["value"])
        .collect();
    assert_eq!(
        steps,
        [&Value::Null, &json!(0.1), &json!(0.25)],
        "PSI thresholds"
    );
}

#[test]
fn dashboard_and_alerts_query_only_metrics_weft_exposes() {
    let d = dashboard();
    let queries = queries(&d);
    assert!(queries.len() >= 10, "only {} queries", queries.len());
    let mut used = std::collections::BTreeSet::new();
    let mut bad = Vec::new();
    for (title, ref_id, expr) in &queries {
        assert!(
            expr.contains(r#"pipeline=~"$pipeline""#),
            "panel {title:?} {ref_id}: {expr:?} ignores the $pipeline variable"
        );
        let names = metric_names(expr);
        assert!(
            !names.is_empty(),
            "panel {title:?} {ref_id}: {expr:?} selects no metric"
        );
        for name in names {
            if !METRICS.contains(&name.as_str()) {
                bad.push(format!("panel {title:?} {ref_id}: {name} in {expr:?}"));
            }
            used.insert(name);
        }
    }
    let alerts = alert_exprs();
    assert_eq!(
        alerts.len(),
        ALERTS.len(),
        "expr lines in alerts.yml: {alerts:?}"
    );
    for expr in &alerts {
        for name in metric_names(expr) {
            if !METRICS.contains(&name.as_str()) {
                bad.push(format!("alerts.yml: {name} in {expr:?}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "metrics weft does not expose:\n{}",
        bad.join("\n")
    );
    // The dashboard shows every metric weft exposes.
    let unused: Vec<&&str> = METRICS.iter().filter(|m| !used.contains(**m)).collect();
    assert!(unused.is_empty(), "the dashboard never shows {unused:?}");
}

/// A rule file (JSON is YAML) with every dashboard query as a recording rule.
fn recording_rules(queries: &[(String, String, String)]) -> Value {
    let rules: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(i, (_, _, expr))| json!({ "record": format!("weft_dashboard:query_{i}"), "expr": substituted(expr) }))
        .collect();
    json!({ "groups": [{ "name": "weft-dashboard", "rules": rules }] })
}

fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path
}

#[test]
fn every_dashboard_query_is_valid_promql() {
    let queries = queries(&dashboard());
    let dir = tempfile::tempdir().unwrap();
    let path = write_json(
        dir.path(),
        "dashboard.rules.yml",
        &recording_rules(&queries),
    );
    let out = promtool()
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot start promtool: {e}"));
    let listing: Vec<String> = queries
        .iter()
        .enumerate()
        .map(|(i, (title, ref_id, expr))| format!("query_{i}: panel {title:?} {ref_id}: {expr}"))
        .collect();
    assert!(
        out.status.success(),
        "promtool check rules on the dashboard's queries failed:\n{}{}\nqueries:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        listing.join("\n")
    );
}

/// Series shaped like weft's (as scraped from the Pushgateway), for
/// pipeline `churn` plus one other pipeline the `$pipeline` filter drops.
fn weft_series() -> Vec<Value> {
    let mut series = Vec::new();
    let mut add = |name: &str, labels: &str, value: &str| {
        for pipeline in ["churn", "other"] {
            let sep = if labels.is_empty() { "" } else { "," };
            series.push(json!({
                "series": format!(r#"{name}{{job="weft",pipeline="{pipeline}"{sep}{labels}}}"#),
                "values": format!("{value}x30"),
            }));
        }
    };
    add("weft_run_success", "", "1");
    add("weft_run_duration_seconds", "", "12.5");
    add("weft_run_timestamp_seconds", "", "0");
    add("weft_run_rows_out_total", "", "1000");
    for step in ["fill", "eval", "drift"] {
        let l = format!(r#"step="{step}""#);
        add("weft_step_duration_seconds", &l, "0.5");
        add("weft_step_rows_in_total", &l, "1000");
        add("weft_step_rows_out_total", &l, "1000");
        add("weft_step_errors_total", &l, "0");
        add("weft_metric_series_dropped_total", &l, "0");
    }
    add("weft_gate_passed", r#"step="eval",metric="roc_auc""#, "1");
    add(
        "weft_gate_passed",
        r#"step="drift",metric="psi",column="age""#,
        "0",
    );
    for m in [
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "log_loss",
    ] {
        add(&format!("weft_{m}"), r#"step="eval""#, "0.8");
    }
    for cell in ["tn", "fp", "fn", "tp"] {
        add(
            "weft_confusion_matrix",
            &format!(r#"step="eval",cell="{cell}""#),
            "250",
        );
    }
    for m in ["mae", "mse", "rmse", "r2", "mape"] {
        add(&format!("weft_{m}"), r#"step="score""#, "0.3");
    }
    for m in ["psi", "ks_statistic", "ks_pvalue"] {
        add(
            &format!("weft_{m}"),
            r#"step="drift",column="age",exact="true""#,
            "0.12",
        );
    }
    add(
        "weft_psi",
        r#"step="drift",column="plan",exact="true""#,
        "0.3",
    );
    add("weft_unseen", r#"step="drift",column="plan""#, "4");
    series
}

#[test]
fn every_dashboard_query_returns_data_for_weft_series() {
    let queries = queries(&dashboard());
    let dir = tempfile::tempdir().unwrap();
    // promtool needs a rule file; the dashboard's queries as recording
    // rules are as good as any.
    write_json(
        dir.path(),
        "dashboard.rules.yml",
        &recording_rules(&queries),
    );
    let checks: Vec<Value> = queries
        .iter()
        .map(|(_, _, expr)| {
            json!({
                "expr": format!("count({}) > bool 0", substituted(expr)),
                "eval_time": "10m",
                "exp_samples": [{ "labels": "{}", "value": 1 }],
            })
        })
        .collect();
    let tests = json!({
        "rule_files": ["dashboard.rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{
            "name": "dashboard queries",
            "interval": "1m",
            "input_series": weft_series(),
            "promql_expr_test": checks,
        }],
    });
    let path = write_json(dir.path(), "dashboard.test.yml", &tests);
    let out = promtool()
        .args(["test", "rules"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot start promtool: {e}"));
    assert!(
        out.status.success(),
        "a dashboard query returns nothing for weft's series (count(expr) has no sample):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
