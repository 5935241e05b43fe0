//! Live parity of the `drift` step with numpy and SciPy.
//!
//! Three data sets are written as CSV (reference and current): `mixed`
//! (9 000 vs 7 000 rows: shifted, identically distributed, tied, s64,
//! gappy, text with unseen categories, boolean), `large` (24 000 vs 15 000
//! rows: the asymptotic KS branch, including a sparse column whose current
//! side has ~100 values) and `small` (40 vs 40 rows: the exact branches for
//! equal and unequal sizes). `tests/python/drift.py` computes every metric
//! with numpy and `scipy.stats.ks_2samp`; each test runs the real `weft`
//! binary with the real component (`batchRows: 4096`, so several batches)
//! and compares `report.json` to it to 1e-9 relative.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};
use weft_tests::*;

const REL: f64 = 1e-9;
const ABS: f64 = 1e-300;

/// A deterministic generator (PCG's LCG step, top 53 bits).
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal: a sum of four uniforms, centred.
    fn normal(&mut self) -> f64 {
        (0..4).map(|_| self.uniform()).sum::<f64>() - 2.0
    }
}

/// A number as CSV text both Arrow and pandas read to the same double.
fn num(v: f64) -> String {
    format!("{v:.4}")
}

/// A column of `rows` values from `f(row, rng)`.
fn column(rows: usize, seed: u64, f: impl Fn(usize, &mut Lcg) -> String) -> Vec<String> {
    let mut rng = Lcg(seed);
    (0..rows).map(|i| f(i, &mut rng)).collect()
}

/// CSV text of named columns.
fn csv(columns: &[(&str, Vec<String>)]) -> String {
    let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    let mut out = format!("{}\n", names.join(","));
    for r in 0..columns[0].1.len() {
        let row: Vec<&str> = columns.iter().map(|(_, c)| c[r].as_str()).collect();
        let _ = writeln!(out, "{}", row.join(","));
    }
    out
}

/// One of each value `(i * 7919) mod 1000 / 8`, cycling: the same
/// distribution on both sides whatever the row count (a multiple of 1000).
fn cycle(rows: usize) -> Vec<String> {
    column(rows, 0, |i, _| num(((i * 7919) % 1000) as f64 / 8.0))
}

/// `x` or, with probability `p`, an empty field.
fn gap(rng: &mut Lcg, p: f64, x: String) -> String {
    if rng.uniform() < p {
        String::new()
    } else {
        x
    }
}

/// The `mixed` data: `(reference, current)` CSV text.
fn mixed() -> (String, String) {
    let side = |rows: usize, cur: bool| {
        let s = u64::from(cur) * 1000;
        let colors: &[&str] = if cur {
            &["red", "green", "blue", "purple", "red", "teal"]
        } else {
            &["red", "green", "blue", "amber", "red", "green"]
        };
        csv(&[
            (
                "shift",
                column(rows, 1 + s, |_, r| {
                    num(r.normal() * 10.0 + if cur { 1.5 } else { 0.0 })
                }),
            ),
            ("same", cycle(rows)),
            (
                "ties",
                column(rows, 2 + s, |_, r| {
                    num(
                        [0.5, 0.5, 0.5, 0.5, 1.5, 1.5, 2.5, 7.25][(r.uniform() * 8.0) as usize]
                            + if cur && r.uniform() < 0.1 { 1.0 } else { 0.0 },
                    )
                }),
            ),
            (
                "count",
                column(rows, 3 + s, |_, r| {
                    ((r.uniform() * 200.0) as i64 + if cur { 10 } else { 0 }).to_string()
                }),
            ),
            (
                "gappy",
                column(rows, 4 + s, |_, r| {
                    let x = num(r.normal() * 3.0);
                    gap(r, if cur { 0.3 } else { 0.15 }, x)
                }),
            ),
            (
                "color",
                column(rows, 5 + s, |_, r| {
                    let c = colors[(r.uniform() * 6.0) as usize].to_string();
                    gap(r, 0.05, c)
                }),
            ),
            (
                "flag",
                column(rows, 6 + s, |_, r| {
                    (r.uniform() < if cur { 0.5 } else { 0.7 }).to_string()
                }),
            ),
        ])
    };
    (side(9000, false), side(7000, true))
}

/// The `large` data: past 10 000 values per side, SciPy's asymptotic branch.
fn large() -> (String, String) {
    let side = |rows: usize, cur: bool| {
        let s = u64::from(cur) * 1000;
        let by = |d: f64| if cur { d } else { 0.0 };
        csv(&[
            (
                "small_shift",
                column(rows, 11 + s, |_, r| num(r.normal() * 10.0 + by(0.2))),
            ),
            (
                "mid_shift",
                column(rows, 12 + s, |_, r| num(r.normal() * 10.0 + by(1.0))),
            ),
            (
                "big_shift",
                column(rows, 13 + s, |_, r| num(r.normal() * 10.0 + by(8.0))),
            ),
            ("same", cycle(rows)),
            (
                "sparse",
                column(rows, 14 + s, |_, r| {
                    let x = num(r.normal() * 10.0 + by(0.6));
                    gap(r, if cur { 0.993 } else { 0.0 }, x)
                }),
            ),
            (
                "ties",
                column(rows, 15 + s, |_, r| {
                    ((r.uniform() * 6.0) as i64 + i64::from(cur && r.uniform() < 0.05)).to_string()
                }),
            ),
        ])
    };
    (side(24_000, false), side(15_000, true))
}

/// The `small` data: 40 rows a side, the exact branches.
fn small() -> (String, String) {
    let side = |cur: bool| {
        let s = u64::from(cur) * 1000;
        csv(&[
            (
                "equal",
                column(40, 21 + s, |_, r| {
                    num(r.normal() + if cur { 0.4 } else { 0.0 })
                }),
            ),
            (
                "unequal",
                column(40, 22 + s, |_, r| {
                    let x = num(r.normal());
                    gap(r, if cur { 0.35 } else { 0.0 }, x)
                }),
            ),
            (
                "word",
                column(40, 23 + s, |_, r| {
                    ["a", "b", "c", if cur { "d" } else { "a" }][(r.uniform() * 4.0) as usize]
                        .to_string()
                }),
            ),
        ])
    };
    (side(false), side(true))
}

/// A data set on disk and the columns compared.
struct Case {
    name: &'static str,
    columns: Vec<&'static str>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "mixed",
            columns: vec!["shift", "same", "ties", "count", "gappy", "color", "flag"],
        },
        Case {
            name: "large",
            columns: vec![
                "small_shift",
                "mid_shift",
                "big_shift",
                "same",
                "sparse",
                "ties",
            ],
        },
        Case {
            name: "small",
            columns: vec!["equal", "unequal", "word"],
        },
    ]
}

fn case(name: &str) -> Case {
    cases()
        .into_iter()
        .find(|c| c.name == name)
        .expect("known case")
}

struct Fixture {
    dir: PathBuf,
    expected: Value,
}

impl Fixture {
    fn reference(&self, case: &str) -> PathBuf {
        self.dir.join(format!("{case}.ref.csv"))
    }
    fn current(&self, case: &str) -> PathBuf {
        self.dir.join(format!("{case}.cur.csv"))
    }
}

/// The data and SciPy's metrics for every case, made once per run.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = scratch().join("drift");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut spec = Vec::new();
        for (name, (reference, current)) in
            [("mixed", mixed()), ("large", large()), ("small", small())]
        {
            std::fs::write(dir.join(format!("{name}.ref.csv")), reference).unwrap();
            std::fs::write(dir.join(format!("{name}.cur.csv")), current).unwrap();
            spec.push(json!({
                "name": name,
                "reference": dir.join(format!("{name}.ref.csv")),
                "current": dir.join(format!("{name}.cur.csv")),
                "columns": case(name).columns,
                "bins": 10,
                "epsilon": 1e-4,
            }));
        }
        let spec_path = dir.join("spec.json");
        std::fs::write(
            &spec_path,
            serde_json::to_vec_pretty(&json!({"cases": spec})).unwrap(),
        )
        .unwrap();
        let out_path = dir.join("scipy.json");
        let out = Command::new(python())
            .arg(workspace().join("tests/python/drift.py"))
            .arg(&spec_path)
            .arg(&out_path)
            .output()
            .expect("run drift.py");
        assert!(
            out.status.success(),
            "drift.py failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Fixture {
            expected: read_json(&out_path),
            dir,
        }
    })
}

/// A pipeline running `drift` with `config` over `input`; `extra` adds to
/// the step (e.g. `reference: { path: ... }`).
fn pipeline(input: &Path, config: Value, extra: &str) -> Pipeline {
    Pipeline::new(input.to_str().unwrap())
        .name("drift")
        .plugin("drift", &plugin("drift"))
        .spec("batchRows: 4096")
        .step("drift", "drift", config, extra)
}

fn with_reference(path: &Path) -> String {
    format!("reference: {{ path: \"{}\" }}", path.display())
}

/// The drift step's metrics in a run's report: `(name, column) -> (value, exact)`.
fn reported(out: &Path) -> Vec<(String, String, f64, Option<String>)> {
    let report = read_json(&out.join("report.json"));
    let metrics = report["steps"][0]["metrics"]
        .as_array()
        .expect("metrics")
        .clone();
    metrics
        .iter()
        .map(|m| {
            let label = |k: &str| m["labels"][k].as_str().map(str::to_string);
            (
                m["name"].as_str().unwrap().to_string(),
                label("column").expect("a column label"),
                m["value"].as_f64().unwrap_or(f64::NAN),
                label("exact"),
            )
        })
        .collect()
}

/// Assert weft reported exactly SciPy's metrics for `case`, with `exact`
/// labels as given on `psi` and the KS figures.
#[track_caller]
fn assert_matches_scipy(out: &Path, case: &str, exact: &str) {
    let got = reported(out);
    let want = fixture().expected[case]
        .as_array()
        .expect("case in scipy.json");
    let mut problems = Vec::new();
    for w in want {
        let (name, column, value) = (
            w["name"].as_str().unwrap(),
            w["column"].as_str().unwrap(),
            w["value"].as_f64().unwrap(),
        );
        match got.iter().find(|g| g.0 == name && g.1 == column) {
            None => problems.push(format!(
                "{name}{{column={column}}}: missing, SciPy {value:e}"
            )),
            Some((_, _, v, _)) if !close(Some(*v), Some(value), REL, ABS) => problems.push(
                format!("{name}{{column={column}}}: weft {v:e}, SciPy {value:e}"),
            ),
            Some((_, _, _, label)) => {
                let want_label =
                    matches!(name, "psi" | "ks_statistic" | "ks_pvalue").then_some(exact);
                if label.as_deref() != want_label {
                    problems.push(format!(
                        "{name}{{column={column}}}: exact={label:?}, expected {want_label:?}"
                    ));
                }
            }
        }
    }
    if got.len() != want.len() {
        problems.push(format!(
            "weft reported {} metrics, SciPy {}: {got:?}",
            got.len(),
            want.len()
        ));
    }
    assert!(
        problems.is_empty(),
        "case {case}:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn mixed_columns_fitted_on_reference_data_match_scipy() {
    let fx = fixture();
    let dir = Workdir::new();
    let config = json!({"columns": case("mixed").columns});
    let manifest = pipeline(
        &fx.current("mixed"),
        config,
        &with_reference(&fx.reference("mixed")),
    )
    .write(&dir, "p.yaml");
    dir.validate(&manifest).ok();
    dir.run(&manifest, &[]).ok();
    assert_matches_scipy(&dir.join("out"), "mixed", "true");
    let step = &read_json(&dir.join("out/report.json"))["steps"][0];
    assert_eq!(step["fitRows"], 9000, "{step:#}");
    assert!(dir.join("out/state/drift.bin").exists());
}

#[test]
fn large_samples_take_the_asymptotic_branch_and_match_scipy() {
    let fx = fixture();
    let dir = Workdir::new();
    let config = json!({"columns": case("large").columns});
    let manifest = pipeline(
        &fx.current("large"),
        config,
        &with_reference(&fx.reference("large")),
    )
    .write(&dir, "p.yaml");
    dir.run(&manifest, &[]).ok();
    assert_matches_scipy(&dir.join("out"), "large", "true");
}

#[test]
fn small_samples_take_the_exact_branch_and_match_scipy() {
    let fx = fixture();
    let dir = Workdir::new();
    let config = json!({"columns": case("small").columns});
    let manifest = pipeline(
        &fx.current("small"),
        config,
        &with_reference(&fx.reference("small")),
    )
    .write(&dir, "p.yaml");
    dir.run(&manifest, &[]).ok();
    assert_matches_scipy(&dir.join("out"), "small", "true");
}

#[test]
fn a_state_fitted_in_an_earlier_run_gives_the_same_report() {
    let fx = fixture();
    let dir = Workdir::new();
    let config = json!({"columns": case("mixed").columns});
    // Run 1 fits on its input (the reference) and compares it with itself.
    let first = pipeline(&fx.reference("mixed"), config.clone(), "")
        .output("first/")
        .write(&dir, "first.yaml");
    dir.run(&first, &[]).ok();
    let itself = reported(&dir.join("first"));
    for (name, column, value, _) in &itself {
        match name.as_str() {
            "psi" | "ks_statistic" | "unseen" => assert_eq!(*value, 0.0, "{name} of {column}"),
            "ks_pvalue" => assert_eq!(*value, 1.0, "{name} of {column}"),
            _ => {}
        }
    }
    // Run 2 loads that state and reads the current data.
    let second = pipeline(&fx.current("mixed"), config, "")
        .output("second/")
        .write(&dir, "second.yaml");
    let state = dir.join("first/state");
    dir.run(&second, &["--state", state.to_str().unwrap()]).ok();
    assert_matches_scipy(&dir.join("second"), "mixed", "true");
}

#[test]
fn past_max_sample_the_figures_are_marked_approximate() {
    let fx = fixture();
    let dir = Workdir::new();
    let config = json!({"columns": case("mixed").columns, "max_sample": 2000});
    let manifest = pipeline(
        &fx.current("mixed"),
        config,
        &with_reference(&fx.reference("mixed")),
    )
    .write(&dir, "p.yaml");
    dir.run(&manifest, &[]).ok();
    let got = reported(&dir.join("out"));
    let want = fx.expected["mixed"].as_array().unwrap();
    assert_eq!(got.len(), want.len(), "{got:?}");
    for w in want {
        let (name, column, value) = (
            w["name"].as_str().unwrap(),
            w["column"].as_str().unwrap(),
            w["value"].as_f64().unwrap(),
        );
        let (_, _, v, exact) = got
            .iter()
            .find(|g| g.0 == name && g.1 == column)
            .expect("reported");
        let categorical = matches!(column, "color" | "flag");
        match name {
            "rows" | "nulls" | "unseen" => assert_eq!(*v, value, "{name} of {column}"),
            "psi" if categorical => {
                assert!(
                    close(Some(*v), Some(value), REL, ABS),
                    "{column}: {v} vs {value}"
                );
                assert_eq!(exact.as_deref(), Some("true"));
            }
            "psi" | "ks_statistic" => {
                assert!(
                    (v - value).abs() < 0.05,
                    "{name} of {column}: {v} vs {value}"
                );
                assert_eq!(exact.as_deref(), Some("false"), "{name} of {column}");
            }
            _ => assert_eq!(exact.as_deref(), Some("false"), "{name} of {column}"),
        }
    }
    // The same data and config give the same sample: the report repeats.
    dir.run(&manifest, &[]).ok();
    assert_eq!(
        reported(&dir.join("out"))
            .iter()
            .map(|g| g.2.to_bits())
            .collect::<Vec<_>>(),
        got.iter().map(|g| g.2.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn bad_input_fails_naming_the_column() {
    let dir = Workdir::new();
    dir.write("ref.csv", "x,t,e\n1.5,a,\n2.5,b,\n");
    dir.write("cur.csv", "x,t,e\n1.5,1,2\n3.5,2,3\n");
    let reference = with_reference(&dir.join("ref.csv"));
    let cases: [(&str, Value, &[&str]); 3] = [
        (
            "missing",
            json!({"columns": ["x", "nope"]}),
            &["nope", "no column"],
        ),
        (
            "kind",
            json!({"columns": ["t"]}),
            &["\"t\"", "numeric", "text"],
        ),
        (
            "empty",
            json!({"columns": ["x", "e"]}),
            &["\"e\"", "no valid values in the reference"],
        ),
    ];
    for (name, config, needles) in cases {
        let manifest = pipeline(&dir.join("cur.csv"), config, &reference)
            .output(&format!("{name}/"))
            .write(&dir, &format!("{name}.yaml"));
        let run = dir.run(&manifest, &[]);
        run.failed().stderr_has(needles);
        assert_no_outputs(&dir.join(name));
    }
}

#[test]
fn current_data_without_a_reference_is_refused() {
    let dir = Workdir::new();
    dir.write("cur.csv", "x\n1.5\n2.5\n");
    let manifest = pipeline(
        &dir.join("cur.csv"),
        json!({"columns": ["x"]}),
        "fit: false",
    )
    .write(&dir, "p.yaml");
    dir.run(&manifest, &[])
        .failed()
        .stderr_has(&["no reference", "\"x\""]);
}

#[test]
fn the_config_is_checked_against_the_schema() {
    let dir = Workdir::new();
    dir.write("cur.csv", "x\n1.5\n");
    let manifest = pipeline(
        &dir.join("cur.csv"),
        json!({"columns": ["x"], "bin": 5}),
        &with_reference(&dir.join("cur.csv")),
    )
    .write(&dir, "p.yaml");
    dir.validate(&manifest).failed().stderr_has(&["bin"]);
    let manifest = pipeline(
        &dir.join("cur.csv"),
        json!({"columns": ["x"], "epsilon": 0}),
        "",
    )
    .write(&dir, "q.yaml");
    dir.validate(&manifest).failed().stderr_has(&["epsilon"]);
}

#[test]
fn the_comparison_catches_a_different_psi() {
    let fx = fixture();
    let dir = Workdir::new();
    let config = json!({"columns": case("small").columns, "bins": 5});
    let manifest = pipeline(
        &fx.current("small"),
        config,
        &with_reference(&fx.reference("small")),
    )
    .write(&dir, "p.yaml");
    dir.run(&manifest, &[]).ok();
    let out = dir.join("out");
    let caught = std::panic::catch_unwind(|| assert_matches_scipy(&out, "small", "true"));
    let message = caught.expect_err("5 bins against SciPy's 10 must differ");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        text.contains("psi{column=equal}") && !text.contains("ks_pvalue"),
        "{text}"
    );
}
