//! `weft report`: the metrics and gates table, the exit code of the gates,
//! and the `--html` page as headless Chromium parses it (Debian package
//! `chromium`, installed by `scripts/setup.sh --test`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weft_tests::{Run, Workdir};

/// A pipeline name that needs escaping everywhere it appears.
const PIPELINE: &str = "churn <v2> & \"beta\"";
/// A drift column name that needs escaping.
const ODD_COLUMN: &str = "<b>&";
/// The confusion matrix of the fixture: tn, fp, fn, tp.
const CONFUSION: [(&str, f64); 4] = [("tn", 412.0), ("fp", 38.0), ("fn", 51.0), ("tp", 199.0)];
/// A drift column of the fixture: name, psi, KS (statistic, p-value) or
/// none (a categorical column, with unseen categories instead).
type Column = (&'static str, f64, Option<(f64, f64)>);
/// The drift columns of the fixture.
const DRIFT: [Column; 3] = [
    ("age", 0.031, Some((0.04, 0.61))),
    ("income", 0.41, Some((0.22, 0.00001))),
    (ODD_COLUMN, 0.14, None),
];
/// How long Chromium may take to dump one page.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(120);

fn metric(name: &str, value: f64, labels: &[(&str, &str)]) -> Value {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({ "name": name, "value": value, "labels": labels })
}

/// The 21 points of the ROC curve, tpr = fpr^0.3, listed from fpr 1 down to
/// 0 so the page has to sort them.
fn roc_points() -> Vec<(String, f64)> {
    (0..=20)
        .rev()
        .map(|i| {
            let fpr = f64::from(i) / 20.0;
            (format!("{fpr:.2}"), fpr.powf(0.3))
        })
        .collect()
}

fn step(name: &str, plugin: &str, kind: &str, metrics: Vec<Value>, gates: Vec<Value>) -> Value {
    json!({
        "name": name,
        "plugin": plugin,
        "pluginSha256": "ab".repeat(32),
        "pluginVersion": format!("{plugin} 0.1.0"),
        "kind": kind,
        "rowsIn": 700,
        "rowsOut": 700,
        "fitRows": 0,
        "durationSeconds": 0.0123,
        "metrics": metrics,
        "gates": gates,
    })
}

fn classification_step() -> Value {
    let mut m = vec![
        metric("accuracy", 0.872857, &[]),
        metric("precision", 0.839662, &[]),
        metric("recall", 0.796, &[]),
        metric("f1", 0.817248, &[]),
        metric("roc_auc", 0.9134, &[]),
        metric("log_loss", 0.3121, &[]),
    ];
    m.extend(
        CONFUSION
            .iter()
            .map(|(cell, n)| metric("confusion_matrix", *n, &[("cell", cell)])),
    );
    m.extend(
        roc_points()
            .iter()
            .map(|(fpr, tpr)| metric("roc_tpr", *tpr, &[("fpr", fpr)])),
    );
    let gate = json!({"metric": "accuracy", "value": 0.872857, "min": 0.8, "passed": true});
    step("classify", "classification", "evaluate", m, vec![gate])
}

fn drift_step(psi_max: f64) -> Value {
    let mut m = Vec::new();
    for (column, psi, ks) in DRIFT {
        let col = [("column", column)];
        m.push(metric("rows", 700.0, &col));
        m.push(metric("nulls", 3.0, &col));
        m.push(metric("psi", psi, &[("column", column), ("exact", "true")]));
        match ks {
            Some((stat, p)) => {
                let labels = [("column", column), ("exact", "true")];
                m.push(metric("ks_statistic", stat, &labels));
                m.push(metric("ks_pvalue", p, &labels));
            }
            None => m.push(metric("unseen", 12.0, &col)),
        }
    }
    let gate = json!({
        "metric": "psi", "labels": {"column": "income", "exact": "true"},
        "value": 0.41, "max": psi_max, "passed": 0.41 <= psi_max,
    });
    step("drift", "drift", "evaluate", m, vec![gate])
}

fn regression_step() -> Value {
    let m = [
        ("mae", 0.5),
        ("mse", 0.25),
        ("rmse", 0.5),
        ("r2", 0.9731),
        ("mape", 0.0412),
    ];
    let metrics = m.iter().map(|(n, v)| metric(n, *v, &[])).collect();
    step("regress", "regression", "evaluate", metrics, Vec::new())
}

/// A run report with the three steps; the drift gate allows psi up to
/// `psi_max` (0.41 is reported).
fn report(psi_max: f64) -> Value {
    json!({
        "pipeline": PIPELINE,
        "output": "out/data.parquet",
        "rowsOut": 700,
        "durationSeconds": 1.5,
        "workers": 4,
        "peakRssBytes": 52_428_800u64,
        "steps": [classification_step(), drift_step(psi_max), regression_step()],
    })
}

/// A folder with `out/report.json` of a run whose drift gate fails.
fn failed_run() -> Workdir {
    let dir = Workdir::new();
    let text = serde_json::to_string_pretty(&report(0.25)).expect("json");
    dir.write("out/report.json", text);
    dir
}

#[track_caller]
fn assert_code(run: &Run, code: i32) {
    assert_eq!(
        run.code,
        Some(code),
        "`{}`: expected exit code {code}\n--- stdout\n{}\n--- stderr\n{}",
        run.command,
        run.stdout,
        run.stderr
    );
}

#[test]
fn table_lists_every_metric_and_gate_and_a_failed_gate_exits_3() {
    let dir = failed_run();
    let run = dir.weft(["report", "out"]);
    assert_code(&run, 3);
    let report = report(0.25);
    for step in report["steps"].as_array().expect("steps") {
        for m in step["metrics"].as_array().expect("metrics") {
            run.stdout_has(&[m["name"].as_str().expect("name")]);
        }
    }
    run.stdout_has(&[
        "classify",
        "drift",
        "regress",
        "cell=tp",
        "fpr=0.35",
        "column=<b>&",
        "0.913400",
        "psi{column=income,exact=true}",
        "<= 0.25",
        "FAIL",
        "accuracy",
        ">= 0.8",
        "pass",
    ]);

    let passing = Workdir::new();
    let text = serde_json::to_string(&self::report(0.5)).expect("json");
    passing.write("out/report.json", text);
    let run = passing.weft(["report", "out/report.json"]);
    assert_code(&run, 0);
    run.stdout_has(&["psi{column=income,exact=true}", "<= 0.5", "pass"])
        .never_says("FAIL");
}

#[test]
fn html_page_renders_in_chromium_with_tables_and_charts() {
    let dir = failed_run();
    let run = dir.weft(["report", "out", "--html", "page.html"]);
    assert_code(&run, 3);
    run.stdout_has(&["wrote page.html"]);
    let page = dir.join("page.html");
    let source = std::fs::read_to_string(&page).expect("read page.html");
    for banned in ["http://", "https://", "<script", "xmlns", "url("] {
        assert!(
            !source.contains(banned),
            "the page source has {banned:?}:\n{source}"
        );
    }

    let dom = chromium_dom(&page);
    assert_header(&dom);
    assert_gates(&dom);
    assert_sections(&dom);
    assert_confusion_matrix(&dom);
    assert_roc_curve(&dom);
    assert_drift_chart(&dom);
}

#[test]
fn a_missing_or_invalid_report_fails_naming_the_path() {
    let dir = Workdir::new();
    dir.weft(["report", "nowhere", "--html", "page.html"])
        .failed()
        .stderr_has(&["nowhere", "cannot read the run report"]);
    assert!(
        !dir.join("page.html").exists(),
        "a page was written for no report"
    );

    dir.write("bad/report.json", "{\"pipeline\": 3");
    dir.weft(["report", "bad"])
        .failed()
        .stderr_has(&["bad/report.json", "not a weft run report"]);
}

fn assert_header(dom: &str) {
    let title = decode(inner(dom, "<title>", "title"));
    assert_eq!(title, format!("weft run: {PIPELINE}"), "page title");
    let header = inner(dom, "<header id=\"summary\"", "header");
    let h1 = decode(&strip_tags(inner(header, "<h1", "h1")));
    assert_eq!(h1, format!("weft run: {PIPELINE}"), "heading");
    let text = decode(&strip_tags(header));
    for fact in [
        "700",
        "1.500 s",
        "workers4",
        "50.0 MiB",
        "1 of 2 gates failed",
    ] {
        assert!(text.contains(fact), "header lacks {fact:?}: {text}");
    }
    let verdict = open_tags(header, "p");
    assert_eq!(attr(verdict[0], "class").as_deref(), Some("verdict fail"));
    assert!(!dom.contains("</b>"), "a name was parsed as markup:\n{dom}");
}

fn assert_gates(dom: &str) {
    let table = inner(dom, "<table id=\"gates\"", "table");
    let rows: Vec<Option<String>> = open_tags(table, "tr")
        .into_iter()
        .map(|t| attr(t, "class"))
        .collect();
    let body: Vec<_> = rows.iter().flatten().map(String::as_str).collect();
    assert_eq!(body, ["pass", "fail"], "gate row classes: {table}");
    let text = decode(&strip_tags(table));
    for needle in [
        "accuracy",
        ">= 0.8",
        "psi{column=income,exact=true}",
        "<= 0.25",
        "FAIL",
    ] {
        assert!(
            text.contains(needle),
            "gates table lacks {needle:?}: {text}"
        );
    }
}

fn assert_sections(dom: &str) {
    let wanted = [
        (
            "classify",
            vec!["accuracy", "log_loss", "roc_tpr", "fpr=0.35"],
        ),
        ("drift", vec!["psi", "ks_pvalue", "column=<b>&, exact=true"]),
        ("regress", vec!["mae", "rmse", "mape", "0.9731"]),
    ];
    for (name, needles) in wanted {
        let section = inner(
            dom,
            &format!("<section class=\"step\" id=\"step-{name}\""),
            "section",
        );
        let table = decode(&strip_tags(inner(
            section,
            "<table class=\"metrics\"",
            "table",
        )));
        for n in needles {
            assert!(
                table.contains(n),
                "metrics of step {name} lack {n:?}: {table}"
            );
        }
    }
    let regress = inner(dom, "id=\"step-regress\"", "section");
    for chart in ["confusion-matrix", "roc-curve", "class=\"drift\""] {
        assert!(
            !regress.contains(chart),
            "the regression step has a {chart}"
        );
    }
}

fn assert_confusion_matrix(dom: &str) {
    let section = inner(dom, "id=\"step-classify\"", "section");
    let table = inner(section, "<table class=\"confusion-matrix\"", "table");
    let cells: Vec<(String, String)> = elements(table, "td")
        .into_iter()
        .map(|(tag, body)| (attr(tag, "class").unwrap_or_default(), strip_tags(body)))
        .collect();
    let want: Vec<(String, String)> = CONFUSION
        .iter()
        .map(|(c, n)| (c.to_string(), n.to_string()))
        .collect();
    assert_eq!(
        cells, want,
        "confusion matrix cells (row-major, actual x predicted)"
    );
    let heads = decode(&strip_tags(table));
    assert!(
        heads.contains("actual") && heads.contains("predicted"),
        "{heads}"
    );
    for (tag, _) in elements(table, "td") {
        let style = attr(tag, "style").unwrap_or_default();
        assert!(style.contains("background-color"), "unshaded cell {tag}");
    }
}

fn assert_roc_curve(dom: &str) {
    let section = inner(dom, "id=\"step-classify\"", "section");
    let svg = inner(section, "<svg class=\"roc-curve\"", "svg");
    assert!(
        decode(svg).contains("AUC 0.9134"),
        "ROC title lacks the AUC: {svg}"
    );
    let lines = open_tags(svg, "line");
    let classes: Vec<String> = lines.iter().filter_map(|t| attr(t, "class")).collect();
    assert!(
        classes.iter().any(|c| c == "diagonal"),
        "no diagonal: {classes:?}"
    );
    assert_eq!(
        classes.iter().filter(|c| *c == "axis").count(),
        2,
        "axes: {classes:?}"
    );
    let polylines = open_tags(svg, "polyline");
    assert_eq!(polylines.len(), 1, "{svg}");
    assert_eq!(attr(polylines[0], "class").as_deref(), Some("roc"));
    let points: Vec<(f64, f64)> = attr(polylines[0], "points")
        .expect("points")
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').expect("x,y");
            (x.parse().expect("x"), y.parse().expect("y"))
        })
        .collect();
    assert_eq!(points.len(), 21, "ROC points: {points:?}");
    for w in points.windows(2) {
        assert!(w[1].0 > w[0].0, "not sorted by fpr: {points:?}");
        assert!(w[1].1 <= w[0].1, "tpr falls along the curve: {points:?}");
    }
}

fn assert_drift_chart(dom: &str) {
    let section = inner(dom, "id=\"step-drift\"", "section");
    let svg = inner(section, "<svg class=\"drift\"", "svg");
    let bars: Vec<&str> = open_tags(svg, "rect")
        .into_iter()
        .filter(|t| attr(t, "class").as_deref() == Some("bar"))
        .collect();
    let columns: Vec<String> = bars.iter().filter_map(|t| attr(t, "data-column")).collect();
    let want: Vec<&str> = DRIFT.iter().map(|d| d.0).collect();
    assert_eq!(columns, want, "drift bars: {svg}");
    let bands: Vec<String> = bars.iter().filter_map(|t| attr(t, "data-band")).collect();
    assert_eq!(bands, ["stable", "major", "moderate"]);
    let fills: Vec<String> = bars.iter().filter_map(|t| attr(t, "fill")).collect();
    assert!(
        fills[0] != fills[1] && fills[1] != fills[2] && fills[0] != fills[2],
        "{fills:?}"
    );
    let per_psi: Vec<f64> = bars
        .iter()
        .zip(DRIFT)
        .map(|(t, d)| {
            attr(t, "width")
                .expect("width")
                .parse::<f64>()
                .expect("number")
                / d.1
        })
        .collect();
    for r in &per_psi {
        assert!(
            (r / per_psi[0] - 1.0).abs() < 0.01,
            "widths not proportional to psi: {per_psi:?}"
        );
    }
    let text = decode(&strip_tags(svg));
    for needle in [
        "KS 0.04",
        "p = 0.61",
        "KS 0.22",
        "p = 0.00001",
        "unseen 12",
        "<b>&",
        "stable",
        "moderate",
        "major",
    ] {
        assert!(
            text.contains(needle),
            "drift chart lacks {needle:?}: {text}"
        );
    }
}

/// The DOM headless Chromium builds from `page`.
fn chromium_dom(page: &Path) -> String {
    let profile = Workdir::new();
    let url = format!(
        "file://{}",
        page.canonicalize().expect("page path").display()
    );
    let mut child = Command::new(chromium())
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
        ])
        .args([
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", &url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if start.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium ran longer than {CHROMIUM_TIMEOUT:?} on {url}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (dom, err) = (out.join().expect("stdout"), err.join().expect("stderr"));
    assert!(
        status.success() && dom.contains("</html>"),
        "chromium --dump-dom {url} failed ({status}):\n--- stdout\n{dom}\n--- stderr\n{err}"
    );
    dom
}

/// Chromium on PATH (`chromium`, else `chromium-browser`); panics saying how
/// to install it when there is none.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::split_paths(&path) {
            let bin = dir.join(name);
            if bin.is_file() {
                return bin;
            }
        }
    }
    panic!(
        "the report tests render pages in headless Chromium, but neither `chromium` nor \
         `chromium-browser` is on PATH; install it with `apt-get install chromium` \
         (or run `scripts/setup.sh --test`)"
    );
}

/// The text between the end of the first tag starting with `open` and the
/// next `</tag>`; panics when either is missing.
fn inner<'a>(html: &'a str, open: &str, tag: &str) -> &'a str {
    let at = html
        .find(open)
        .unwrap_or_else(|| panic!("no {open:?} in the DOM:\n{html}"));
    let body = at + tag_end(&html[at..]);
    let close = format!("</{tag}>");
    let len = html[body..]
        .find(&close)
        .unwrap_or_else(|| panic!("no {close} after {open:?}"));
    &html[body..body + len]
}

/// Length of the tag that starts `s` (up to its `>`, skipping quoted values).
fn tag_end(s: &str) -> usize {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '>' if !quoted => return i + 1,
            _ => {}
        }
    }
    panic!("unterminated tag: {s}");
}

/// Every opening `<tag ...>` in `html`, whole.
fn open_tags<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = html[from..].find(&open).map(|i| from + i) {
        let next = html[at + open.len()..].chars().next();
        let end = at + tag_end(&html[at..]);
        if matches!(next, Some(' ' | '>')) {
            out.push(&html[at..end]);
        }
        from = end;
    }
    out
}

/// Every `<tag ...>body</tag>` (not nested) in `html`, as (opening tag, body).
fn elements<'a>(html: &'a str, tag: &str) -> Vec<(&'a str, &'a str)> {
    let close = format!("</{tag}>");
    open_tags(html, tag)
        .into_iter()
        .map(|open| {
            let start = open.as_ptr() as usize - html.as_ptr() as usize + open.len();
            let len = html[start..].find(&close).expect("closing tag");
            (open, &html[start..start + len])
        })
        .collect()
}

/// The decoded value of attribute `name` of the opening tag `tag`.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    let len = tag[at..].find('"')?;
    Some(decode(&tag[at..at + len]))
}

/// `html` without its tags (text still escaped).
fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        out.push_str(&rest[..at]);
        rest = &rest[at + tag_end(&rest[at..])..];
    }
    out.push_str(rest);
    out
}

/// Text with the entities an HTML serializer writes decoded.
fn decode(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// Whether `report` follows `schema`, by Python's `jsonschema` (Draft 2020-12).
fn follows(schema: &Path, report: &Path) -> bool {
    let check = "import json, sys, jsonschema\n\
                 schema = json.load(open(sys.argv[1]))\n\
                 jsonschema.Draft202012Validator.check_schema(schema)\n\
                 errors = list(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))))\n\
                 print(*errors, sep='\\n')\n\
                 sys.exit(1 if errors else 0)";
    let out = Command::new(weft_tests::python())
        .args(["-c", check])
        .arg(schema)
        .arg(report)
        .output()
        .expect("run python");
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)) && !said.contains("Traceback"),
        "{said}"
    );
    out.status.success()
}

#[test]
fn report_json_follows_its_published_schema() {
    let schema = weft_tests::workspace().join("docs/report.schema.json");
    let printed = weft_tests::weft_in(weft_tests::workspace(), ["report", "--schema"]);
    let committed = std::fs::read_to_string(&schema).unwrap_or_default();
    assert!(
        printed.ok().stdout == committed,
        "docs/report.schema.json differs from `weft report --schema`; regenerate it with\n  \
         cargo run -q -p weft -- report --schema > docs/report.schema.json"
    );
    let dir = Workdir::new();
    let data = weft_tests::workspace().join("examples/churn/data/train.csv");
    std::fs::copy(data, dir.join("train.csv")).unwrap();
    let manifest = weft_tests::churn_pipeline("median").write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    let report = dir.join("out/report.json");
    assert!(
        follows(&schema, &report),
        "a run's report.json does not follow the schema"
    );
    // The check can fail: a report with a wrongly typed field does not pass.
    let mut broken: Value = weft_tests::read_json(&report);
    broken["steps"][0]["rowsOut"] = json!("many");
    let broken_path = dir.write("broken.json", broken.to_string());
    assert!(!follows(&schema, &broken_path), "a broken report passed");
}

#[test]
fn an_undefined_metric_reads_back_and_the_run_is_reused() {
    // One class only: ROC AUC is NaN, which JSON has no number for.
    let dir = Workdir::new();
    dir.write("in.csv", "y,s\n1,0.2\n1,0.9\n1,0.7\n");
    let manifest = weft_tests::Pipeline::new("in.csv")
        .plugin("cm", &weft_tests::plugin("classification-metrics"))
        .step("eval", "cm", json!({ "label": "y", "score": "s" }), "")
        .write(&dir, "pipeline.yaml");
    dir.run(&manifest, &[]).ok();
    let report = dir.join("out/report.json");
    let written: Value = weft_tests::read_json(&report);
    let metrics = written["steps"][0]["metrics"].as_array().unwrap();
    let auc = metrics.iter().find(|m| m["name"] == "roc_auc").unwrap();
    assert_eq!(auc["value"], "NaN");
    let schema = weft_tests::workspace().join("docs/report.schema.json");
    assert!(follows(&schema, &report));
    dir.weft(["report", "out"])
        .ok()
        .stdout_has(&["roc_auc", "NaN"]);
    dir.run(&manifest, &[]).ok().stderr_has(&["up to date"]);
}
