//! JSON request bodies as Arrow rows, in time and memory linear in the
//! body: one pass checks the shape, gathers the column names and counts the
//! cells against the body's [`Budget`] before any row is built; Arrow's
//! JSON inference and decoder then build the columns.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::json::reader::infer_json_schema_from_iterator;
use arrow::json::ReaderBuilder;
use arrow::record_batch::RecordBatch;
use indexmap::IndexSet;
use serde_json::{Map, Value};

use super::codec::{BadBody, Budget, Shape};

/// Read a JSON body: `{"columns": {...}}`, `{"records": [...]}` or `[...]`.
pub(super) fn decode(body: &[u8]) -> Result<(RecordBatch, Shape), BadBody> {
    let value: Value = serde_json::from_slice(body).map_err(|e| BadBody::Json(e.to_string()))?;
    let budget = Budget::of(body.len());
    match value {
        Value::Object(mut o) if o.contains_key("columns") => {
            let columns = o.remove("columns").unwrap_or_default();
            Ok((of_columns(columns, budget)?, Shape::Columns))
        }
        Value::Object(mut o) if o.contains_key("records") => match o.remove("records") {
            Some(Value::Array(rows)) => Ok((of_records(&rows, budget)?, Shape::Records)),
            _ => Err(rows("\"records\" must be an array of objects")),
        },
        Value::Array(records) => Ok((of_records(&records, budget)?, Shape::Records)),
        _ => Err(rows(
            "expected {\"columns\": {name: [values]}}, {\"records\": [{...}]} or [{...}]",
        )),
    }
}

fn rows(message: impl Into<String>) -> BadBody {
    BadBody::Rows(message.into())
}

/// Refuse values other than numbers, strings, booleans and null: the
/// columns steps take hold only those.
fn scalar(value: &Value, at: impl FnOnce() -> String) -> Result<(), BadBody> {
    match value {
        Value::Array(_) | Value::Object(_) => Err(rows(format!(
            "{} holds {}; values must be numbers, strings, booleans or null",
            at(),
            if value.is_array() {
                "an array"
            } else {
                "an object"
            }
        ))),
        _ => Ok(()),
    }
}

/// `[{"a": 1, "b": "x"}, ...]` as rows: a column per distinct key, null
/// where a record lacks it.
fn of_records(records: &[Value], budget: Budget) -> Result<RecordBatch, BadBody> {
    let mut names: IndexSet<&str> = IndexSet::new();
    for (i, record) in records.iter().enumerate() {
        let Value::Object(record) = record else {
            return Err(rows(format!(
                "record {i} is not an object: records are objects of column names to values"
            )));
        };
        for (name, value) in record {
            scalar(value, || format!("key {name:?} of record {i}"))?;
            if names.insert(name) {
                budget.columns(names.len())?;
            }
        }
    }
    budget.cells(records.len() as u64 * names.len() as u64)?;
    let schema = infer_json_schema_from_iterator(records.iter().map(Ok)).map_err(unreadable)?;
    read_rows(schema, records)
}

/// `{"a": [1, 2], "b": ["x", "y"]}` as rows; every column the same length.
fn of_columns(columns: Value, budget: Budget) -> Result<RecordBatch, BadBody> {
    let Value::Object(columns) = columns else {
        return Err(rows("\"columns\" must be an object of arrays"));
    };
    budget.columns(columns.len())?;
    let mut length: Option<usize> = None;
    let mut only_nulls = Vec::new();
    for (name, values) in &columns {
        let Value::Array(values) = values else {
            return Err(rows(format!("column {name:?} must be an array")));
        };
        match length {
            Some(n) if n != values.len() => {
                return Err(rows(format!(
                    "column {name:?} has {} values, the others {n}",
                    values.len()
                )))
            }
            _ => length = Some(values.len()),
        }
        for (i, value) in values.iter().enumerate() {
            scalar(value, || format!("value {i} of column {name:?}"))?;
        }
        only_nulls.push(values.iter().all(Value::is_null));
    }
    budget.cells(length.unwrap_or(0) as u64 * columns.len() as u64)?;
    if length.unwrap_or(0) == 0 {
        return Err(rows("the request holds no rows"));
    }
    lists_as_columns(columns, &only_nulls)
}

/// The columns decoded as one row of lists, which Arrow infers and reads
/// with the same rules as records (types coerced across a column's values)
/// without a record per row; then each list is a column.
fn lists_as_columns(
    columns: Map<String, Value>,
    only_nulls: &[bool],
) -> Result<RecordBatch, BadBody> {
    let row = [Value::Object(columns)];
    let inferred = infer_json_schema_from_iterator(row.iter().map(Ok)).map_err(unreadable)?;
    // A column of nulls alone is of type null, as among records (a list
    // of nulls alone would be inferred as strings).
    let fields: Vec<Field> = inferred
        .fields()
        .iter()
        .zip(only_nulls)
        .map(|(f, &nulls)| match nulls {
            true => Field::new_list(f.name(), Field::new_list_field(DataType::Null, true), true),
            false => f.as_ref().clone(),
        })
        .collect();
    let lists = read_rows(Schema::new(fields), &row)?;
    let mut fields = Vec::with_capacity(lists.num_columns());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(lists.num_columns());
    for (field, list) in lists.schema().fields().iter().zip(lists.columns()) {
        let values = list
            .as_list_opt::<i32>()
            .ok_or_else(|| {
                rows(format!(
                    "column {:?} did not decode as a list",
                    field.name()
                ))
            })?
            .value(0);
        fields.push(Field::new(field.name(), values.data_type().clone(), true));
        arrays.push(values);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(unreadable)
}

/// Decode `values` (one object per row) with `schema`.
fn read_rows(schema: Schema, values: &[Value]) -> Result<RecordBatch, BadBody> {
    let mut decoder = ReaderBuilder::new(Arc::new(schema))
        .with_batch_size(values.len())
        .build_decoder()
        .map_err(unreadable)?;
    decoder.serialize(values).map_err(unreadable)?;
    decoder
        .flush()
        .map_err(unreadable)?
        .ok_or_else(|| rows("the request holds no rows"))
}

fn unreadable(e: arrow::error::ArrowError) -> BadBody {
    rows(format!("the rows do not read as columns: {e}"))
}
