//! Run reports people read: a self-contained HTML page of a run's metrics,
//! gates, confusion matrix, ROC curve and drift.
//!
//! - `figures` picks what the charts draw out of a step's metrics;
//! - `svg` draws the ROC curve and the drift chart;
//! - [`html`] lays out the page and its tables;
//! - `text` escapes and formats what they write.

mod figures;
mod html;
mod svg;
mod text;

pub use html::html;
