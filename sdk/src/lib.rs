//! Write [weft](https://example.invalid/weft) pipeline steps in plain Rust.
//!
//! A step is a type implementing [`Step`] (config, optional fitted state) and
//! either [`Transform`] (batch in, batch out) or [`Evaluate`] (batches in,
//! metrics out), exported with [`export_transform!`] or [`export_evaluate!`]
//! and built with `cargo build --release --target wasm32-wasip2`.
//!
//! Data stays on the host: a [`Batch`] is a set of named [`Column`] handles.
//! Read only the columns you need (`batch.f64s("age")?` copies one column in),
//! pass the rest through untouched ([`Batch::with_columns`] shares them by
//! handle), and leave heavy math to the host's [`compute`] kernels.
//!
//! ```
//! use weft_sdk::{compute, Batch, Meta, Result, Step, Transform};
//!
//! /// The step's `config:`; the host checks it against the derived schema.
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct Config {
//!     /// The column to shift.
//!     column: String,
//!     /// What to subtract.
//!     by: f64,
//! }
//! struct Shift(Config);
//!
//! impl Step for Shift {
//!     type Config = Config;
//!     type State = ();
//!     const META: Meta = Meta { name: "shift", version: "0.1.0", description: "x - by", stateful: false };
//!     fn new(config: Config) -> Result<Self> { Ok(Shift(config)) }
//! }
//!
//! impl Transform for Shift {
//!     fn transform(&mut self, batch: &Batch) -> Result<Batch> {
//!         let shifted = compute::affine(&batch.column(&self.0.column)?, self.0.by, 1.0)?;
//!         batch.with_columns(&[(self.0.column.as_str(), &shifted)])
//!     }
//! }
//! weft_sdk::export_transform!(Shift);
//! ```
//!
//! On a native target (`cargo test`), the same API runs on the host's own
//! kernels, so a step's logic is unit-tested without WebAssembly, and
//! [`testing::Harness`] runs it the way the host does. `weft new` writes a
//! plugin crate to start from.

mod backend;
#[cfg(target_arch = "wasm32")]
mod convert;
mod export;
pub mod state;
mod step;
mod types;

#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin",
        default_bindings_module: "weft_sdk::bindings",
    });
}

#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub mod __rt;

pub use backend::{compute, f32s_of, log, metrics, model, Batch, Buffer, Column};
pub use step::{Evaluate, Meta, Metric, Step, Transform};
pub use types::{DeviceInfo, Port, Result, StepError};
pub use weft_types::{shape, Dtype, Indicator, QuantileMethod, Scalar, Stats, UnknownPolicy};

#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
