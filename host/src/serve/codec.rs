//! Request and response bodies: JSON (`{"columns": {...}}`, `{"records":
//! [...]}` or a bare array of records) and Arrow IPC streams.

use std::io::Cursor;
use std::sync::Arc;

use arrow::datatypes::Schema;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::json::reader::infer_json_schema_from_iterator;
use arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};

/// The media type of Arrow IPC streams.
pub const ARROW: &str = "application/vnd.apache.arrow.stream";

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

/// A body that cannot be read, and why (a 400 for the client).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadBody(pub String);

fn bad(e: impl std::fmt::Display) -> BadBody {
    BadBody(e.to_string())
}

/// Read a body of media type `content_type` (JSON when absent).
pub fn decode(content_type: Option<&str>, body: &[u8]) -> Result<(RecordBatch, Shape), BadBody> {
    let media = content_type.map(|c| c.split(';').next().unwrap_or("").trim());
    match media {
        Some(ARROW) => decode_arrow(body).map(|b| (b, Shape::Arrow)),
        None | Some("application/json") => decode_json(body),
        Some(other) => Err(BadBody(format!(
            "unsupported content type {other:?}: send application/json or {ARROW}"
        ))),
    }
}

fn decode_arrow(body: &[u8]) -> Result<RecordBatch, BadBody> {
    let reader = StreamReader::try_new(Cursor::new(body), None)
        .map_err(|e| BadBody(format!("not an Arrow IPC stream: {e}")))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BadBody(format!("reading the Arrow IPC stream: {e}")))?;
    arrow::compute::concat_batches(&schema, &batches).map_err(bad)
}

fn decode_json(body: &[u8]) -> Result<(RecordBatch, Shape), BadBody> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| BadBody(format!("malformed JSON: {e}")))?;
    let (records, shape) = match value {
        Value::Object(mut o) if o.contains_key("columns") => (
            records_of_columns(o.remove("columns").unwrap_or_default())?,
            Shape::Columns,
        ),
        Value::Object(mut o) if o.contains_key("records") => match o.remove("records") {
            Some(Value::Array(rows)) => (rows, Shape::Records),
            _ => return Err(BadBody("\"records\" must be an array of objects".into())),
        },
        Value::Array(rows) => (rows, Shape::Records),
        _ => {
            return Err(BadBody(
                "expected {\"columns\": {name: [values]}}, {\"records\": [{...}]} or [{...}]"
                    .into(),
            ))
        }
    };
    if records.is_empty() {
        return Err(BadBody("the request holds no rows".into()));
    }
    let schema = infer_json_schema_from_iterator(records.iter().map(Ok)).map_err(bad)?;
    let mut decoder = arrow::json::ReaderBuilder::new(Arc::new(schema))
        .with_batch_size(records.len())
        .build_decoder()
        .map_err(bad)?;
    decoder.serialize(&records).map_err(bad)?;
    let batch = decoder
        .flush()
        .map_err(bad)?
        .ok_or_else(|| BadBody("no rows".into()))?;
    Ok((batch, shape))
}

/// `{"a": [1, 2], "b": [3, 4]}` as records; every column the same length.
fn records_of_columns(columns: Value) -> Result<Vec<Value>, BadBody> {
    let Value::Object(columns) = columns else {
        return Err(BadBody("\"columns\" must be an object of arrays".into()));
    };
    let mut rows: Option<usize> = None;
    for (name, values) in &columns {
        let Value::Array(values) = values else {
            return Err(BadBody(format!("column {name:?} must be an array")));
        };
        match rows {
            Some(n) if n != values.len() => {
                return Err(BadBody(format!(
                    "column {name:?} has {} values, the others {n}",
                    values.len()
                )))
            }
            _ => rows = Some(values.len()),
        }
    }
    Ok((0..rows.unwrap_or(0))
        .map(|i| {
            let row: Map<String, Value> = columns
                .iter()
                .map(|(name, values)| (name.clone(), values[i].clone()))
                .collect();
            Value::Object(row)
        })
        .collect())
}

/// `batch` written as `shape`, with its media type.
pub fn encode(batch: &RecordBatch, shape: Shape) -> Result<(Vec<u8>, &'static str), String> {
    if shape == Shape::Arrow {
        let mut writer =
            StreamWriter::try_new(Vec::new(), &batch.schema()).map_err(|e| e.to_string())?;
        writer.write(batch).map_err(|e| e.to_string())?;
        return Ok((writer.into_inner().map_err(|e| e.to_string())?, ARROW));
    }
    let records = records_of(batch)?;
    let value = match shape {
        Shape::Records => serde_json::json!({ "records": records }),
        _ => serde_json::json!({ "columns": columns_of(&batch.schema(), &records) }),
    };
    Ok((
        serde_json::to_vec(&value).map_err(|e| e.to_string())?,
        "application/json",
    ))
}

fn records_of(batch: &RecordBatch) -> Result<Vec<Value>, String> {
    let builder = arrow::json::WriterBuilder::new().with_explicit_nulls(true);
    let mut writer = builder.build::<_, arrow::json::writer::JsonArray>(Vec::new());
    writer.write(batch).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

fn columns_of(schema: &Schema, records: &[Value]) -> Map<String, Value> {
    schema
        .fields()
        .iter()
        .map(|f| {
            let values = records.iter().map(|r| r[f.name()].clone()).collect();
            (f.name().clone(), Value::Array(values))
        })
        .collect()
}
