//! The Prometheus text exposition format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write;

/// Samples of one metric name.
#[derive(Debug, Clone)]
pub struct Family {
    name: String,
    help: String,
    counter: bool,
    /// Whether a step reported it (rather than weft itself).
    reported: bool,
    samples: Vec<(Vec<(String, String)>, f64)>,
}

/// A set of metric families, rendered in the order they were first added.
#[derive(Debug, Clone)]
pub struct Exposition {
    pipeline: String,
    families: Vec<Family>,
}

impl Exposition {
    /// An empty exposition for `pipeline`.
    pub fn new(pipeline: &str) -> Exposition {
        Exposition {
            pipeline: pipeline.into(),
            families: Vec::new(),
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
        if self
            .families
            .iter()
            .any(|f| f.name == family && !f.reported)
        {
            family = format!("weft_reported_{}", sanitize(name));
        }
        let mut all = step_label(step);
        all.extend(own_labels(labels));
        let help = format!("{name}, as reported by the step");
        self.add(&family, &help, false, true, all, value);
    }

    fn add(
        &mut self,
        name: &str,
        help: &str,
        counter: bool,
        reported: bool,
        labels: Vec<(String, String)>,
        value: f64,
    ) {
        let mut labels_with_pipeline = vec![("pipeline".to_owned(), self.pipeline.clone())];
        labels_with_pipeline.extend(labels);
        let family = match self.families.iter().position(|f| f.name == name) {
            Some(i) => &mut self.families[i],
            None => {
                self.families.push(Family {
                    name: name.into(),
                    help: help.into(),
                    counter,
                    reported,
                    samples: Vec::new(),
                });
                self.families.last_mut().expect("just pushed")
            }
        };
        // One sample per label set: a value emitted again replaces the last.
        match family
            .samples
            .iter_mut()
            .find(|(l, _)| *l == labels_with_pipeline)
        {
            Some(sample) => sample.1 = value,
            None => family.samples.push((labels_with_pipeline, value)),
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            let kind = if f.counter { "counter" } else { "gauge" };
            let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(&f.help));
            let _ = writeln!(out, "# TYPE {} {kind}", f.name);
            for (labels, value) in &f.samples {
                let pairs: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape_value(v)))
                    .collect();
                let _ = writeln!(out, "{}{{{}}} {}", f.name, pairs.join(","), number(*value));
            }
        }
        out
    }
}

fn step_label(step: &str) -> Vec<(String, String)> {
    vec![("step".into(), step.into())]
}

/// A step's own labels, renamed where they would clash with weft's or
/// break the format.
fn own_labels(labels: &BTreeMap<String, String>) -> Vec<(String, String)> {
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
pub(crate) fn escape_value(v: &str) -> String {
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
}
