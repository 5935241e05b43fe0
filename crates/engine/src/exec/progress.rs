//! What a run says of its progress as it goes: the passes it makes over
//! the input and the rows each has read. The engine logs passes itself;
//! whoever runs it may show more (the `weft` binary draws a bar).

use std::time::Duration;

/// Told of each pass over the input as it runs.
pub trait Progress: Sync {
    /// A pass (`fit`, `transform`, ...) started; `total_rows` when the
    /// input says how many rows it has.
    fn start(&self, _pass: &str, _total_rows: Option<u64>) {}
    /// `rows` more rows went through the pass.
    fn advance(&self, _rows: u64) {}
    /// The pass ended after `rows` rows in `took`.
    fn finish(&self, _pass: &str, _rows: u64, _took: Duration) {}
}

/// Shows nothing.
pub struct Quiet;

impl Progress for Quiet {}
