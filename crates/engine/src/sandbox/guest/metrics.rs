//! The `metrics` interface: what the guest emits goes to the step's
//! series table, capped.

use crate::sandbox::bindings::weft::step::metrics::Host;
use crate::sandbox::StepCtx;

impl Host for StepCtx {
    fn emit(
        &mut self,
        name: String,
        value: f64,
        labels: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        self.series.record(name, labels, value);
        Ok(())
    }
}
