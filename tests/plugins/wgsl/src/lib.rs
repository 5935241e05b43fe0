//! `wgsl`: runs the WGSL kernel in its config over one f32 column and
//! writes the result as a new column. Binding 0 is the input column
//! (read-only), binding 1 the output (read-write, zeroed), then
//! `extra_buffers` read-only buffers of 4 bytes; `workgroups` defaults to
//! one workgroup of 64 per 64 rows.

use schemars::JsonSchema;
use serde::Deserialize;
use weft_sdk::{compute, f32s_of, metrics, Batch, Buffer, Column, Meta, Result, Step, Transform};

/// The step's config.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "wgsl")]
pub struct Config {
    /// The f32 column the kernel reads (binding 0).
    column: String,
    /// The new column the kernel writes (binding 1).
    output: String,
    /// WGSL source of the kernel.
    source: String,
    /// Entry point of the kernel.
    #[serde(default = "main")]
    entry: String,
    /// Workgroups to dispatch (default one per 64 rows).
    #[serde(default)]
    workgroups: Option<[u32; 3]>,
    /// Extra read-only buffers of 4 bytes after the output.
    #[serde(default)]
    extra_buffers: usize,
}

fn main() -> String {
    "main".into()
}

/// The step.
pub struct Wgsl(Config);

impl Step for Wgsl {
    type Config = Config;
    type State = ();
    const META: Meta = Meta {
        name: "wgsl",
        version: env!("CARGO_PKG_VERSION"),
        description: "Run a custom WGSL kernel over a column",
        stateful: false,
    };

    fn new(config: Config) -> Result<Self> {
        Ok(Wgsl(config))
    }
}

impl Transform for Wgsl {
    fn transform(&mut self, batch: &Batch) -> Result<Batch> {
        let c = &self.0;
        let input = batch.numeric(&c.column)?;
        let rows = input.len();
        let mut buffers = vec![
            Buffer::column(&input),
            Buffer::f32s(&vec![0.0; rows.max(1)]).writable(),
        ];
        buffers.extend((0..c.extra_buffers).map(|_| Buffer::f32s(&[0.0])));
        let groups = c
            .workgroups
            .unwrap_or([(rows as u32).div_ceil(64).max(1), 1, 1]);
        let out = compute::run_wgsl(&c.source, &c.entry, buffers, groups)?;
        let device = compute::device();
        metrics::emit("device_seen", 1.0, &[("kind", device.kind.as_str())]);
        let values = f32s_of(&out[0]);
        batch.with_columns(&[(c.output.as_str(), &Column::from_f32s(&values[..rows], None))])
    }
}

weft_sdk::export_transform!(Wgsl);
