//! Request and response bodies: JSON (`{"columns": {...}}`, `{"records":
//! [...]}` or a bare array of records) and Arrow IPC streams.
//!
//! Decoding is linear in the body and bounded: a request may have at most
//! [`MAX_COLUMNS`] columns and make at most [`cell_limit`] cells (rows x
//! columns, nested ones included), checked before the rows are built, and
//! a decoder that panics on a malformed body answers [`BadBody`] too.

use std::cell::Cell;
use std::panic::{catch_unwind, UnwindSafe};
use std::sync::Once;

use arrow::error::ArrowError;
use arrow::ipc::writer::StreamWriter;
use arrow::json::writer::{make_encoder, EncoderOptions, JsonArray};
use arrow::record_batch::RecordBatch;
use axum::http::StatusCode;

use super::{ipc, json};

/// The media type of Arrow IPC streams.
pub const ARROW: &str = "application/vnd.apache.arrow.stream";

/// Distinct columns one request may have.
pub const MAX_COLUMNS: usize = 10_000;

/// Cells (rows x columns) a request may make per byte of its body.
pub const CELLS_PER_BYTE: usize = 8;

/// Cells any request may make, however small its body.
pub const MIN_CELLS: usize = 1 << 20;

/// Cells no request may make, however large its body.
pub const MAX_CELLS: usize = 1 << 24;

/// The cells a body of `bytes` bytes may make: [`CELLS_PER_BYTE`] per
/// byte, at least [`MIN_CELLS`] and at most [`MAX_CELLS`]. A dense body
/// holds fewer (JSON spends at least 2 bytes on a value, Arrow at least a
/// bit), so only rows that a body leaves out (a key missing from most
/// records, an Arrow column of type null) can go past it.
pub fn cell_limit(bytes: usize) -> usize {
    bytes
        .saturating_mul(CELLS_PER_BYTE)
        .clamp(MIN_CELLS, MAX_CELLS)
}

/// How a request's rows were written; the response is written the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"columns": {"name": [values...]}}`.
    Columns,
    /// `{"records": [{...}]}` or `[{...}]`.
    Records,
    /// An Arrow IPC stream.
    Arrow,
}

/// A body that cannot be read, and why (a 4xx for the client).
#[derive(Debug, thiserror::Error)]
pub enum BadBody {
    /// A media type other than JSON or Arrow IPC.
    #[error("unsupported content type {0:?}: send application/json or {ARROW}")]
    MediaType(String),
    /// Not JSON.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// JSON, but not rows weft reads.
    #[error("{0}")]
    Rows(String),
    /// Not an Arrow IPC stream, or a damaged one.
    #[error("malformed Arrow IPC body: {0}")]
    Arrow(String),
    /// More distinct columns than [`MAX_COLUMNS`].
    #[error("the request has more than {MAX_COLUMNS} columns, the most one request may have: send fewer distinct keys or columns")]
    Columns,
    /// More cells than [`cell_limit`] allows the body.
    #[error("the request makes {cells} cells (rows x columns), more than the {limit} a body of {bytes} bytes may make ({CELLS_PER_BYTE} per byte, at least {MIN_CELLS}, at most {MAX_CELLS}): send fewer distinct keys per request, or split the rows")]
    Cells {
        /// Cells the body would make.
        cells: u64,
        /// Cells it may make.
        limit: usize,
        /// Its size.
        bytes: usize,
    },
}

impl BadBody {
    /// The HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            BadBody::MediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BadBody::Cells { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// What a body may make, and checks of it as it is read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Budget {
    bytes: usize,
    limit: usize,
}

impl Budget {
    /// The budget of a body of `bytes` bytes.
    pub(super) fn of(bytes: usize) -> Budget {
        Budget {
            bytes,
            limit: cell_limit(bytes),
        }
    }

    /// Refuse `columns` past [`MAX_COLUMNS`].
    pub(super) fn columns(&self, columns: usize) -> Result<(), BadBody> {
        match columns > MAX_COLUMNS {
            true => Err(BadBody::Columns),
            false => Ok(()),
        }
    }

    /// Refuse `cells` past the limit.
    pub(super) fn cells(&self, cells: u64) -> Result<(), BadBody> {
        if cells > self.limit as u64 {
            return Err(BadBody::Cells {
                cells,
                limit: self.limit,
                bytes: self.bytes,
            });
        }
        Ok(())
    }
}

/// How a body on which the decoder panicked is described.
pub(super) const DECODER_FAILED: &str = "the decoder failed on it";

thread_local! {
    /// Whether a panic on this thread is caught and answered, not a bug.
    static ANSWERED: Cell<bool> = const { Cell::new(false) };
}

/// Run `f`, catching a panic without the panic hook printing it: a
/// malformed body is the client's mistake, answered with a 400, not a
/// crash report on the server's stderr. Panics elsewhere print as before.
fn caught<T>(f: impl FnOnce() -> T + UnwindSafe) -> std::thread::Result<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !ANSWERED.get() {
                previous(info);
            }
        }));
    });
    ANSWERED.set(true);
    let result = catch_unwind(f);
    ANSWERED.set(false);
    result
}

/// Read a body of media type `content_type` (JSON when absent). Never
/// panics: a decoder that panics on a malformed body gives a [`BadBody`].
pub fn decode(content_type: Option<&str>, body: &[u8]) -> Result<(RecordBatch, Shape), BadBody> {
    let media = content_type.map(|c| c.split(';').next().unwrap_or("").trim());
    let decoded = match media {
        Some(ARROW) => caught(|| ipc::decode(body).map(|b| (b, Shape::Arrow))),
        None | Some("application/json") => caught(|| json::decode(body)),
        Some(other) => return Err(BadBody::MediaType(other.to_owned())),
    };
    decoded.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        let what = format!("{DECODER_FAILED} ({what})");
        Err(match media {
            Some(ARROW) => BadBody::Arrow(what),
            _ => BadBody::Json(what),
        })
    })
}

/// `batch` written as `shape`, with its media type. JSON is written
/// straight from the columns, one pass, nulls explicit.
pub fn encode(batch: &RecordBatch, shape: Shape) -> Result<(Vec<u8>, &'static str), ArrowError> {
    let bytes = match shape {
        Shape::Arrow => {
            let mut writer = StreamWriter::try_new(Vec::new(), &batch.schema())?;
            writer.write(batch)?;
            return Ok((writer.into_inner()?, ARROW));
        }
        Shape::Records => records(batch)?,
        Shape::Columns => columns(batch)?,
    };
    Ok((bytes, "application/json"))
}

/// `{"records": [{"name": value, ...}, ...]}`.
fn records(batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
    let head = b"{\"records\":";
    let builder = arrow::json::WriterBuilder::new().with_explicit_nulls(true);
    let mut writer = builder.build::<_, JsonArray>(head.to_vec());
    writer.write(batch)?;
    writer.finish()?;
    let mut out = writer.into_inner();
    if out.len() == head.len() {
        out.extend_from_slice(b"[]");
    }
    out.push(b'}');
    Ok(out)
}

/// `{"columns": {"name": [values], ...}}`.
fn columns(batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
    let options = EncoderOptions::default();
    let schema = batch.schema();
    let mut out = b"{\"columns\":{".to_vec();
    for (i, (field, array)) in schema.fields().iter().zip(batch.columns()).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let name =
            serde_json::to_vec(field.name()).map_err(|e| ArrowError::JsonError(e.to_string()))?;
        out.extend_from_slice(&name);
        out.extend_from_slice(b":[");
        let mut encoder = make_encoder(field, array.as_ref(), &options)?;
        for row in 0..array.len() {
            if row > 0 {
                out.push(b',');
            }
            match encoder.is_null(row) {
                true => out.extend_from_slice(b"null"),
                false => encoder.encode(row, &mut out),
            }
        }
        out.push(b']');
    }
    out.extend_from_slice(b"}}");
    Ok(out)
}
