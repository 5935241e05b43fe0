//! The results table: one row per measurement, rendered as Markdown.

/// Whether a measurement met its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No target for this row.
    None,
    /// The target was met.
    Met,
    /// The target was missed.
    Missed,
}

impl Verdict {
    /// `Met` when `ok`, else `Missed`.
    pub fn of(ok: bool) -> Verdict {
        if ok {
            Verdict::Met
        } else {
            Verdict::Missed
        }
    }

    fn cell(self) -> &'static str {
        match self {
            Verdict::None => "",
            Verdict::Met => "met",
            Verdict::Missed => "**missed**",
        }
    }
}

/// One line of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub name: String,
    /// The measurement, with its unit.
    pub result: String,
    /// The measurement relative to its baseline, when there is one.
    pub relative: String,
    /// The target, when there is one.
    pub target: String,
    /// Whether the target was met.
    pub verdict: Verdict,
}

impl Row {
    /// A row with a result and nothing else.
    pub fn new(name: impl Into<String>, result: impl Into<String>) -> Row {
        Row {
            name: name.into(),
            result: result.into(),
            relative: String::new(),
            target: String::new(),
            verdict: Verdict::None,
        }
    }

    /// A row saying that measuring `name` failed, and why.
    pub fn failed(name: impl Into<String>, error: &anyhow::Error) -> Row {
        let why = format!("{error:#}").replace(['|', '\n'], " ");
        Row::new(name, format!("failed: {why}"))
    }

    /// This row with a relative figure.
    pub fn relative(mut self, relative: impl Into<String>) -> Row {
        self.relative = relative.into();
        self
    }

    /// This row with a target and whether it was met.
    pub fn target(mut self, target: impl Into<String>, met: bool) -> Row {
        self.target = target.into();
        self.verdict = Verdict::of(met);
        self
    }
}

/// The rows as a Markdown table.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| benchmark | result | relative | target | verdict |\n| --- | ---: | ---: | --- | --- |\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.name,
            r.result,
            r.relative,
            r.target,
            r.verdict.cell()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_line_per_row() {
        let rows = [
            Row::new("hop", "3.0 µs").target("≤ 5 µs", true),
            Row::new("rss", "90 MiB").relative("1.10×"),
        ];
        let text = render(&rows);
        assert_eq!(text.lines().count(), 4);
        assert!(
            text.contains("| hop | 3.0 µs |  | ≤ 5 µs | met |"),
            "{text}"
        );
        assert!(text.contains("| rss | 90 MiB | 1.10× |  |  |"), "{text}");
    }
}
