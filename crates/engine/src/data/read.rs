//! Opening one data file: column types inferred from a bounded sample, the
//! column count checked, and the rows of a batch sized to a byte budget.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::decode::{Decode, Decoded, MakeDecoder};
use super::{content, io, DataError, Format, Reader};
use super::{BATCH_BYTES, INFER_BYTES, INFER_ROWS, MAX_COLUMNS};

/// Estimated bytes one value takes in a batch beyond its text: the
/// decoder's offsets and the Arrow array's slot.
const VALUE_BYTES: u64 = 16;

/// Copies of a row's text a batch holds while it is decoded.
const TEXT_COPIES: u64 = 2;

/// Open one file for reading in batches of at most `batch_rows` rows.
pub(super) fn open(path: &Path, batch_rows: usize) -> Result<Reader, DataError> {
    let format = Format::of(path).ok_or_else(|| DataError::Format(path.to_owned()))?;
    match format {
        Format::Csv => open_csv(path, batch_rows),
        Format::Jsonl => open_jsonl(path, batch_rows),
        Format::Parquet => open_parquet(path, batch_rows),
    }
}

/// Rows per batch: `batch_rows`, or fewer so that the estimated size of a
/// batch stays under [`BATCH_BYTES`]; at least one.
pub(super) fn rows_per_batch(batch_rows: usize, columns: usize, row_bytes: u64) -> usize {
    let per_row = (columns as u64)
        .saturating_mul(VALUE_BYTES)
        .saturating_add(row_bytes.saturating_mul(TEXT_COPIES))
        .max(1);
    let fit = usize::try_from(BATCH_BYTES / per_row).unwrap_or(usize::MAX);
    fit.min(batch_rows).max(1)
}

fn check_width(path: &Path, columns: usize) -> Result<(), DataError> {
    if columns > MAX_COLUMNS {
        return Err(DataError::TooWide {
            path: path.to_owned(),
            columns,
            max: MAX_COLUMNS,
        });
    }
    Ok(())
}

/// The first whole records of a file, within [`INFER_BYTES`] and
/// [`INFER_ROWS`] (plus a CSV header).
struct Sample {
    /// Bytes up to the end of the last whole record.
    bytes: u64,
    /// Records (lines) in them.
    records: u64,
    /// Bytes up to the end of the first record.
    first: u64,
}

impl Sample {
    /// The average bytes of a record.
    fn row_bytes(&self) -> u64 {
        self.bytes / self.records.max(1)
    }
}

/// Where a CSV scanner is within a record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scan {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

impl Scan {
    /// Take byte `b`; whether it ends a record.
    fn step(&mut self, b: u8) -> bool {
        let (next, ends) = match (*self, b) {
            (Scan::Quoted, b'"') => (Scan::QuoteInQuoted, false),
            (Scan::Quoted, _) => (Scan::Quoted, false),
            (Scan::FieldStart | Scan::QuoteInQuoted, b'"') => (Scan::Quoted, false),
            (_, b'\n') => (Scan::FieldStart, true),
            (_, b',') => (Scan::FieldStart, false),
            _ => (Scan::Unquoted, false),
        };
        *self = next;
        ends
    }
}

/// Find the sample: whole records (a newline outside CSV quotes ends one)
/// from the start of `file`, which is left at its start.
fn sample(path: &Path, file: &mut File, csv: bool) -> Result<Sample, DataError> {
    let len = file.metadata().map_err(|e| io(path, e))?.len();
    let limit = INFER_ROWS as u64 + u64::from(csv);
    let mut reader = BufReader::with_capacity(1 << 16, (&mut *file).take(INFER_BYTES));
    let (mut scan, mut pos) = (Scan::FieldStart, 0u64);
    let mut found = Sample {
        bytes: 0,
        records: 0,
        first: 0,
    };
    'read: loop {
        let chunk = reader.fill_buf().map_err(|e| io(path, e))?;
        if chunk.is_empty() {
            break;
        }
        for (i, &b) in chunk.iter().enumerate() {
            let ends = if csv { scan.step(b) } else { b == b'\n' };
            if ends {
                found.records += 1;
                found.bytes = pos + i as u64 + 1;
                if found.records == 1 {
                    found.first = found.bytes;
                }
                if found.records == limit {
                    break 'read;
                }
            }
        }
        let used = chunk.len();
        pos += used as u64;
        reader.consume(used);
    }
    if pos == len && found.bytes < len {
        found.records += 1;
        found.bytes = len;
    }
    if found.first == 0 {
        found.first = found.bytes;
    }
    file.rewind().map_err(|e| io(path, e))?;
    if found.bytes == 0 && len > 0 {
        return Err(DataError::Line {
            path: path.to_owned(),
            line: 1,
            message: format!(
                "longer than {} MiB, the most weft reads to infer the column types",
                INFER_BYTES >> 20
            ),
        });
    }
    Ok(found)
}

fn open_csv(path: &Path, batch_rows: usize) -> Result<Reader, DataError> {
    let mut file = File::open(path).map_err(|e| io(path, e))?;
    let found = sample(path, &mut file, true)?;
    // Ragged rows are left to the decoder, which names their lines.
    let format = arrow::csv::reader::Format::default()
        .with_header(true)
        .with_truncated_rows(true);
    let inferred = match format.infer_schema(BufReader::new(file.take(found.bytes)), None) {
        Ok((inferred, _)) => inferred,
        Err(e) => return Err(sample_error(path, found.first, e)),
    };
    if inferred.fields().is_empty() {
        return Err(DataError::Empty {
            path: path.to_owned(),
            missing: "header row (a CSV file starts with a row of column names)",
        });
    }
    check_width(path, inferred.fields().len())?;
    // A column without values in the sample is read as text, so that values
    // further on are kept rather than read as nulls.
    let schema = as_text(&inferred, |t| t == &DataType::Null);
    let rows = rows_per_batch(batch_rows, schema.fields().len(), found.row_bytes());
    Ok(decoded(path, schema.clone(), rows, csv_decoders(schema)))
}

/// `schema` with the types that `text` picks replaced by `Utf8`.
fn as_text(schema: &Schema, text: impl Fn(&DataType) -> bool) -> SchemaRef {
    SchemaRef::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match text(f.data_type()) {
                true => Arc::new(Field::new(f.name(), DataType::Utf8, true)),
                false => f.clone(),
            })
            .collect::<Vec<_>>(),
    ))
}

fn csv_decoders(schema: SchemaRef) -> MakeDecoder {
    Box::new(move |rows, header| {
        let decoder = arrow::csv::ReaderBuilder::new(schema.clone())
            .with_format(arrow::csv::reader::Format::default().with_header(header))
            .with_batch_size(rows)
            .build_decoder();
        Ok(Box::new(decoder) as Box<dyn Decode>)
    })
}

/// The error of a CSV sample that inference refused (`error`), located at
/// its line by decoding the file as text; the header row ends at byte
/// `header_end`.
fn sample_error(path: &Path, header_end: u64, error: ArrowError) -> DataError {
    let header = File::open(path).map_err(ArrowError::from).and_then(|file| {
        let format = arrow::csv::reader::Format::default().with_header(true);
        format.infer_schema(BufReader::new(file.take(header_end)), None)
    });
    let Ok((header, _)) = header else {
        return DataError::Line {
            path: path.to_owned(),
            line: 1,
            message: super::decode::reword(&error, None),
        };
    };
    let text = as_text(&header, |_| true);
    Decoded::new(path, text.clone(), 1024, csv_decoders(text))
        .find_map(Result::err)
        .unwrap_or_else(|| content(path, error))
}

fn open_jsonl(path: &Path, batch_rows: usize) -> Result<Reader, DataError> {
    let mut file = File::open(path).map_err(|e| io(path, e))?;
    let found = sample(path, &mut file, false)?;
    let (schema, records) = infer_jsonl(path, file.take(found.bytes))?;
    if records == 0 {
        return Err(DataError::Empty {
            path: path.to_owned(),
            missing: "JSON object (a JSON Lines file holds one object per line)",
        });
    }
    let schema = SchemaRef::new(schema);
    let columns = schema.flattened_fields().len();
    if columns == 0 {
        return Err(content(path, "no columns: its objects have no fields"));
    }
    check_width(path, columns)?;
    let rows = rows_per_batch(batch_rows, columns, found.row_bytes());
    let decoder_schema = schema.clone();
    let make: MakeDecoder = Box::new(move |rows, _| {
        let decoder = arrow::json::ReaderBuilder::new(decoder_schema.clone())
            .with_batch_size(rows)
            .with_strict_mode(true)
            .with_coerce_primitive(true)
            .build_decoder()?;
        Ok(Box::new(decoder) as Box<dyn Decode>)
    });
    Ok(decoded(path, schema, rows, make))
}

/// The fields of the JSON objects of `sample`, one per line, and how many
/// there are; an error names the line.
fn infer_jsonl(path: &Path, sample: impl Read) -> Result<(Schema, u64), DataError> {
    let mut lines = BufReader::new(sample).split(b'\n');
    let (mut line, mut records) = (0u64, 0u64);
    let inferred = {
        let values = std::iter::from_fn(|| loop {
            let text = match lines.next()? {
                Ok(text) => text,
                Err(e) => return Some(Err(ArrowError::from(e))),
            };
            line += 1;
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            records += 1;
            return Some(
                serde_json::from_slice::<serde_json::Value>(&text)
                    .map_err(|e| ArrowError::JsonError(e.to_string())),
            );
        });
        arrow::json::reader::infer_json_schema_from_iterator(values)
    };
    let schema = inferred.map_err(|e| DataError::Line {
        path: path.to_owned(),
        line,
        message: super::decode::reword(&e, None),
    })?;
    Ok((schema, records))
}

fn open_parquet(path: &Path, batch_rows: usize) -> Result<Reader, DataError> {
    let file = File::open(path).map_err(|e| io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| content(path, e))?;
    let metadata = builder.metadata().clone();
    let rows = metadata.file_metadata().num_rows().max(0) as u64;
    let columns = builder.parquet_schema().num_columns();
    check_width(path, columns)?;
    let bytes: u64 = metadata
        .row_groups()
        .iter()
        .map(|g| g.total_byte_size().max(0) as u64)
        .sum();
    let batch = rows_per_batch(batch_rows, columns, bytes / rows.max(1));
    let schema = builder.schema().clone();
    let reader = builder
        .with_batch_size(batch)
        .build()
        .map_err(|e| content(path, e))?;
    let path = path.to_owned();
    Ok(Reader {
        schema,
        total_rows: Some(rows),
        batches: Box::new(reader.map(move |b| b.map_err(|e| content(&path, e)))),
    })
}

fn decoded(path: &Path, schema: SchemaRef, rows: usize, make: MakeDecoder) -> Reader {
    Reader {
        schema: schema.clone(),
        total_rows: None,
        batches: Box::new(Decoded::new(path, schema, rows, make)),
    }
}
