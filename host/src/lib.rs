//! weft: machine-learning pipeline steps as sandboxed WebAssembly components.
//!
//! The host reads columnar data, hands it to steps as Arrow-backed handles,
//! runs their heavy math natively through the `compute` interface, and writes
//! the results, reports and fitted states.

pub mod cli;
pub mod compute;
pub mod data;
pub mod exec;
#[cfg(test)]
mod fuzz;
pub mod manifest;
pub mod monitor;
pub mod operator;
pub mod plugin;
pub mod record;
pub mod report;
pub mod sandbox;
pub mod serve;
