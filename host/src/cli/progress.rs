//! The progress bar of `weft run` on a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use weft_engine::exec::Progress;

/// A bar on stderr, drawn only when stderr is a terminal and the run is
/// not `--quiet`.
pub struct Bar(Option<ProgressBar>);

impl Bar {
    /// A spinner until a pass says how many rows it will read.
    pub fn new(quiet: bool) -> Bar {
        Bar((!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} {human_pos} rows ({per_sec}) {elapsed}",
                )
                .expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        }))
    }
}

impl Progress for Bar {
    fn start(&self, pass: &str, total_rows: Option<u64>) {
        let Some(bar) = &self.0 else { return };
        bar.set_position(0);
        bar.set_length(total_rows.unwrap_or(0));
        if total_rows.is_some() {
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {human_pos}/{human_len} rows ({per_sec}, eta {eta})",
                )
                .expect("valid template"),
            );
        }
        bar.set_message(pass.to_owned());
    }

    fn advance(&self, rows: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(rows);
        }
    }

    fn finish(&self, _pass: &str, _rows: u64, _took: Duration) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
