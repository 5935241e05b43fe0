//! The weft engine: steps as sandboxed WebAssembly components.
//!
//! Data flows one way: a [`weft_manifest::Manifest`] names the steps;
//! [`plugin`] loads and checks their components; [`sandbox`] runs an
//! instance under the step's limits, with the host kernels as its
//! `compute` interface;
//! [`exec`] reads the input through [`data`], drives fit, merge, transform
//! and evaluate over Arrow batches, and commits outputs, states and the run
//! record ([`weft_record::RunReport`]).

pub mod data;
pub mod exec;
pub mod plugin;
pub mod sandbox;
