//! The Markdown table: printed row by row as the measurements finish (so a
//! run cut short still shows what it measured) and kept for `--out`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Column headers.
const HEADER: [&str; 4] = [
    "benchmark",
    "weft `compute`, GPU",
    "weft CPU fallback",
    "torch fp32, same GPU",
];

/// The table so far, also printed on stdout.
pub struct Table {
    text: String,
}

impl Table {
    /// Start with the `adapter` line and the header.
    pub fn start(adapter: &str) -> Table {
        let mut table = Table {
            text: String::new(),
        };
        table.line(&format!("adapter: {adapter}\n"));
        table.line(&format!("| {} |", HEADER.join(" | ")));
        table.line("| --- | ---: | ---: | ---: |");
        table
    }

    /// Add a row of `label` and one cell per column after it.
    pub fn row(&mut self, label: &str, cells: [&str; 3]) {
        self.line(&format!("| {label} | {} |", cells.join(" | ")));
    }

    /// Add the notes under the table.
    pub fn notes(&mut self, notes: &[String]) {
        self.line("");
        for note in notes {
            self.line(&format!("- {note}"));
        }
    }

    /// Append `line` and print it at once.
    fn line(&mut self, line: &str) {
        self.text += line;
        self.text.push('\n');
        println!("{line}");
        // A failed flush only delays the output.
        let _ = std::io::stdout().flush();
    }

    /// Write the table to `path` atomically: a temporary file beside it,
    /// then a rename.
    pub fn write(&self, path: &Path) -> Result<()> {
        let name = path.file_name().context("--out needs a file name")?;
        let mut temporary = name.to_owned();
        temporary.push(format!(".tmp{}", std::process::id()));
        let temporary = path.with_file_name(temporary);
        std::fs::write(&temporary, &self.text)
            .with_context(|| format!("writing {}", temporary.display()))?;
        std::fs::rename(&temporary, path)
            .with_context(|| format!("renaming {} to {}", temporary.display(), path.display()))
    }
}

/// A rate to three significant digits or more (none below 0.001).
pub fn rate(value: f64) -> String {
    match value {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 1.0 => format!("{v:.2}"),
        v => format!("{v:.3}"),
    }
}
