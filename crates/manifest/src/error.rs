//! Manifest errors, located in their file, and the location as data for
//! what reports it elsewhere (the operator's status, serve's answers).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A manifest problem, located in its file.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ManifestError {
    /// The manifest file.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// What is wrong and what to do.
    pub message: String,
}

/// Where in a manifest a problem is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct Location {
    /// The manifest file, as it was named.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
}

impl ManifestError {
    /// Where the problem is, as data.
    pub fn location(&self) -> Location {
        Location {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
        }
    }
}
