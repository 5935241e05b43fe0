//! The `log` interface: the guest's log records, rate-limited and
//! sanitised, into the host's log under the step's name.

use crate::sandbox::bindings::weft::step::log::{Host, Level};
use crate::sandbox::stdio;
use crate::sandbox::StepCtx;

impl Host for StepCtx {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if !self.records.admit() {
            return Ok(());
        }
        let step = &*self.step;
        let message = stdio::sanitise(&message, stdio::MAX_LINE);
        match level {
            Level::Trace => tracing::trace!(step, "{message}"),
            Level::Debug => tracing::debug!(step, "{message}"),
            Level::Info => tracing::info!(step, "{message}"),
            Level::Warn => tracing::warn!(step, "{message}"),
            Level::Error => tracing::error!(step, "{message}"),
        }
        Ok(())
    }
}
