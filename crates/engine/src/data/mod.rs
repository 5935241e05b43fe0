//! Reading and writing columnar files: CSV, Parquet and JSON Lines, in
//! batches, with outputs written to a temporary file and renamed when done.
//!
//! Reading is bounded by bytes, not rows: column types are inferred from at
//! most [`INFER_BYTES`] (and [`INFER_ROWS`] rows) of a file, a file may have
//! at most [`MAX_COLUMNS`] columns, and a batch holds at most as many rows as
//! fit in [`BATCH_BYTES`] by estimate, whatever `batch_rows` asks for. Errors
//! in a CSV or JSON Lines file name the file and the 1-based line of the
//! record they are about.

mod decode;
mod read;
mod write;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use weft_manifest::Share;

pub use write::{write_atomic, Writer, Written};

/// Rows read at most to infer the types of a CSV or JSON Lines file.
pub const INFER_ROWS: usize = 100_000;

/// Bytes read at most to infer the types of a CSV or JSON Lines file (whole
/// lines only: the header and the first row must end within them).
pub const INFER_BYTES: u64 = 16 << 20;

/// The most columns a file may have (leaf fields, for nested JSON or
/// Parquet); a wider file is refused with an error naming it.
pub const MAX_COLUMNS: usize = 30_000;

/// Estimated memory one batch read from a file may take: batches hold fewer
/// rows than `batch_rows` where the columns are many or the rows long.
pub const BATCH_BYTES: u64 = 64 << 20;

/// File formats weft reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// The format a file name's extension names.
    pub fn of(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "csv" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// A data file problem, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The extension names no format weft knows.
    #[error("{0}: unknown data format (use .csv, .parquet or .jsonl)")]
    Format(PathBuf),
    /// Opening, reading or writing failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The content is malformed.
    #[error("{path}: {message}")]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line where the parser knows it.
        message: String,
    },
    /// One record (row) of a CSV or JSON Lines file is malformed.
    #[error("{path}: line {line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// The 1-based line where the record starts.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The file holds nothing to take columns from.
    #[error("{path}: empty: no {missing}")]
    Empty {
        /// The file.
        path: PathBuf,
        /// What a file of its format starts with.
        missing: &'static str,
    },
    /// The file has more columns than weft reads.
    #[error("{path}: {columns} columns, more than the {max} weft reads; split the columns over several files")]
    TooWide {
        /// The file.
        path: PathBuf,
        /// Its columns (leaf fields).
        columns: usize,
        /// [`MAX_COLUMNS`].
        max: usize,
    },
}

fn content(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::Content {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// An I/O error on `path`.
pub(crate) fn io(path: &Path, error: std::io::Error) -> DataError {
    DataError::Io {
        path: path.to_owned(),
        error,
    }
}

/// The data files `path` names: itself, or the files of a format weft
/// reads directly in that folder, sorted by name.
pub fn files(path: &Path) -> Result<Vec<PathBuf>, DataError> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| io(path, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| io(path, e))?
        .into_iter()
        .filter(|f| f.is_file() && Format::of(f).is_some())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(content(
            path,
            "the folder holds no data files (.csv, .parquet, .jsonl)",
        ));
    }
    Ok(files)
}

type Batches = Box<dyn Iterator<Item = Result<RecordBatch, DataError>> + Send>;

/// Batches read from a file, or from the files of a folder one after another.
pub struct Reader {
    schema: SchemaRef,
    total_rows: Option<u64>,
    batches: Batches,
}

impl Reader {
    /// Open `path`, a file or a folder of files with one schema, for
    /// reading in batches of at most `batch_rows` rows (fewer where the
    /// batch would exceed [`BATCH_BYTES`]).
    pub fn open(path: &Path, batch_rows: usize) -> Result<Reader, DataError> {
        Reader::open_share(path, batch_rows, None)
    }

    /// [`Reader::open`] of `share` of the folder's files (all when `None`).
    /// A share without files reads no rows, with the folder's schema.
    pub fn open_share(
        path: &Path,
        batch_rows: usize,
        share: Option<Share>,
    ) -> Result<Reader, DataError> {
        let all = files(path)?;
        let first = read::open(&all[0], batch_rows)?;
        let taken: Vec<&PathBuf> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| share.is_none_or(|s| *i as u32 % s.count == s.index))
            .map(|(_, f)| f)
            .collect();
        let mut readers = Vec::with_capacity(taken.len());
        for file in taken {
            let reader = read::open(file, batch_rows)?;
            if reader.schema.fields() != first.schema.fields() {
                return Err(content(
                    file,
                    format!(
                        "its columns ({}) differ from those of {} ({}); every file of the folder needs the same columns and types",
                        describe(&reader.schema),
                        all[0].display(),
                        describe(&first.schema)
                    ),
                ));
            }
            readers.push(reader);
        }
        let total_rows = readers.iter().map(|r| r.total_rows).sum();
        Ok(Reader {
            schema: first.schema,
            total_rows,
            batches: Box::new(readers.into_iter().flat_map(|r| r.batches)),
        })
    }

    /// Column names and types.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Rows in the file, when the format records it.
    pub fn total_rows(&self) -> Option<u64> {
        self.total_rows
    }
}

impl Iterator for Reader {
    type Item = Result<RecordBatch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.batches.next()
    }
}

fn describe(schema: &SchemaRef) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}
