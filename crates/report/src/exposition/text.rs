//! The Prometheus text exposition format (version 0.0.4).
//!
//! Families and their samples are indexed by name and by label set, so
//! building an exposition of n series takes O(n) map operations and
//! rendering it one pass.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;

use indexmap::IndexMap;

/// A sample's labels after `pipeline`, in the order rendered.
type Labels = Vec<(String, String)>;

/// Samples of one metric name.
#[derive(Debug, Clone)]
pub struct Family {
    help: String,
    counter: bool,
    /// Whether a step reported it (rather than weft itself).
    reported: bool,
    /// One value per label set, in the order first added.
    samples: IndexMap<Labels, f64>,
}

/// A set of metric families, rendered in the order they were first added.
#[derive(Debug, Clone)]
pub struct Exposition {
    pipeline: String,
    families: IndexMap<String, Family>,
}

impl Exposition {
    /// An empty exposition for `pipeline`.
    pub fn new(pipeline: &str) -> Exposition {
        Exposition {
            pipeline: pipeline.into(),
            families: IndexMap::new(),
        }
    }

    /// A gauge about the whole run.
    pub fn run(&mut self, name: &str, help: &str, value: f64) {
        self.add(name, help, false, false, Vec::new(), value);
    }

    /// A counter about the whole run.
    pub fn counter_run(&mut self, name: &str, help: &str, value: f64) {
        self.add(name, help, true, false, Vec::new(), value);
    }

    /// A gauge about one step.
    pub fn step(&mut self, step: &str, name: &str, help: &str, value: f64) {
        self.add(name, help, false, false, step_label(step), value);
    }

    /// A counter about one step.
    pub fn counter_step(&mut self, step: &str, name: &str, help: &str, value: f64) {
        self.add(name, help, true, false, step_label(step), value);
    }

    /// Whether one gate of `step` passed; `labels` include `metric`.
    pub fn gate(&mut self, step: &str, labels: &BTreeMap<String, String>, passed: bool) {
        let mut all = step_label(step);
        all.extend(own_labels(labels));
        let help = "1 if the gate on the metric passed, else 0";
        self.add(
            "weft_gate_passed",
            help,
            false,
            false,
            all,
            f64::from(u8::from(passed)),
        );
    }

    /// A metric `step` reported, as gauge `weft_<name>`. A name that would
    /// clash with one of weft's own becomes `weft_reported_<name>`.
    pub fn metric(
        &mut self,
        step: &str,
        name: &str,
        labels: &BTreeMap<String, String>,
        value: f64,
    ) {
        let mut family = format!("weft_{}", sanitize(name));
        if self.families.get(&family).is_some_and(|f| !f.reported) {
            family = format!("weft_reported_{}", sanitize(name));
        }
        let mut all = step_label(step);
        all.extend(own_labels(labels));
        let help = format!("{name}, as reported by the step");
        self.add(&family, &help, false, true, all, value);
    }

    /// Add one sample; a label set added again replaces its value in place.
    fn add(
        &mut self,
        name: &str,
        help: &str,
        counter: bool,
        reported: bool,
        labels: Labels,
        value: f64,
    ) {
        let family = self.families.entry(name.into()).or_insert_with(|| Family {
            help: help.into(),
            counter,
            reported,
            samples: IndexMap::new(),
        });
        family.samples.insert(labels, value);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let pipeline = format!("pipeline=\"{}\"", escape_value(&self.pipeline));
        let mut out = String::new();
        for (name, f) in &self.families {
            let kind = if f.counter { "counter" } else { "gauge" };
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&f.help));
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in &f.samples {
                let _ = write!(out, "{name}{{{pipeline}");
                for (k, v) in labels {
                    let _ = write!(out, ",{k}=\"{}\"", escape_value(v));
                }
                let _ = writeln!(out, "}} {}", number(*value));
            }
        }
        out
    }
}

fn step_label(step: &str) -> Labels {
    vec![("step".into(), step.into())]
}

/// A step's own labels, renamed where they would clash with weft's or
/// break the format. Of two that end up with the same name, the first stays.
fn own_labels(labels: &BTreeMap<String, String>) -> Labels {
    let mut seen = HashSet::new();
    labels
        .iter()
        .map(|(k, v)| {
            let mut name = sanitize(k);
            if matches!(name.as_str(), "pipeline" | "step" | "job" | "instance")
                || name.starts_with("__")
            {
                name = format!("exported_{name}");
            }
            (name, v.clone())
        })
        .filter(|(name, _)| seen.insert(name.clone()))
        .collect()
}

/// A valid metric or label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn sanitize(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// A label value escaped for the text exposition format.
pub fn escape_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as Prometheus spells it.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_group_samples_and_labels_are_escaped() {
        let mut x = Exposition::new("churn");
        let labels = BTreeMap::from([("column".to_owned(), "a\"b".to_owned())]);
        x.metric("drift", "psi", &labels, 0.25);
        x.step("drift", "weft_step_duration_seconds", "time", 1.5);
        x.metric("drift", "psi", &BTreeMap::new(), f64::NAN);
        let text = x.render();
        assert_eq!(
            text,
            "# HELP weft_psi psi, as reported by the step\n# TYPE weft_psi gauge\n\
             weft_psi{pipeline=\"churn\",step=\"drift\",column=\"a\\\"b\"} 0.25\n\
             weft_psi{pipeline=\"churn\",step=\"drift\"} NaN\n\
             # HELP weft_step_duration_seconds time\n# TYPE weft_step_duration_seconds gauge\n\
             weft_step_duration_seconds{pipeline=\"churn\",step=\"drift\"} 1.5\n"
        );
    }

    #[test]
    fn clashing_names_are_renamed_and_repeats_replace() {
        let mut x = Exposition::new("p");
        x.counter_step("s", "weft_step_errors_total", "errors", 0.0);
        let labels = BTreeMap::from([
            ("step".to_owned(), "x".to_owned()),
            ("1 bad".to_owned(), "v".to_owned()),
        ]);
        x.metric("s", "step_errors_total", &labels, 1.0);
        x.metric("s", "step_errors_total", &labels, 2.0);
        let text = x.render();
        assert!(text.contains(
            "weft_reported_step_errors_total{pipeline=\"p\",step=\"s\",_1_bad=\"v\",exported_step=\"x\"} 2\n"
        ), "{text}");
        assert_eq!(text.matches("weft_reported_step_errors_total{").count(), 1);
    }

    #[test]
    fn many_series_are_indexed_and_repeats_keep_their_place() {
        // Quadratic lookups would take minutes here; the index takes a blink.
        let n = 100_000;
        let mut x = Exposition::new("p");
        for round in 0..2 {
            for i in 0..n {
                let labels = BTreeMap::from([("i".to_owned(), i.to_string())]);
                x.metric("s", "flood", &labels, f64::from(round * n + i));
            }
        }
        x.counter_step("s", "weft_step_errors_total", "errors", 0.0);
        let text = x.render();
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(samples.len(), n as usize + 1);
        assert_eq!(
            samples[0],
            "weft_flood{pipeline=\"p\",step=\"s\",i=\"0\"} 100000"
        );
        assert_eq!(
            samples[n as usize - 1],
            "weft_flood{pipeline=\"p\",step=\"s\",i=\"99999\"} 199999"
        );
        assert_eq!(text.matches("# TYPE").count(), 2);
    }

    #[test]
    fn labels_that_sanitize_alike_are_kept_once() {
        let mut x = Exposition::new("p");
        let labels = BTreeMap::from([
            ("a b".to_owned(), "1".to_owned()),
            ("a_b".to_owned(), "2".to_owned()),
            ("exported_step".to_owned(), "3".to_owned()),
            ("step".to_owned(), "4".to_owned()),
        ]);
        x.metric("s", "m", &labels, 1.0);
        assert!(
            x.render()
                .contains("weft_m{pipeline=\"p\",step=\"s\",a_b=\"1\",exported_step=\"3\"} 1\n"),
            "{}",
            x.render()
        );
    }
}
