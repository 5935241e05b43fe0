//! Writing batches to a file atomically: a temporary file beside the
//! destination, renamed into place when complete.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Encoding;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};
use weft_manifest::Compression;

use super::{content, describe, io, DataError, Format};

/// Parquet row groups are flushed at this encoded size, so the writer's
/// buffer stays bounded however wide the rows and long the input.
const ROW_GROUP_BYTES: usize = 16 << 20;

/// Above this many columns, Parquet outputs are written without dictionary
/// encoding: its buffers take about 17 KiB per column (20 000 columns: 330
/// MiB more peak memory).
const DICTIONARY_COLUMNS: usize = 1_000;

/// Parquet properties of an output with `schema`, chosen for the speed of
/// writing (measured with `bench/e2e.sh`, 5M rows, 52 columns): no
/// dictionary for numbers, whose hashing cost a third of the transform pass
/// (floats rarely repeat); integers delta-encoded, which packs one-hot
/// indicators to a bit per value about as well as a dictionary does, at a
/// fraction of its cost (transform pass 2.4 s -> 1.9 s, file 11 % larger);
/// text and booleans as before; pages compressed as asked.
fn parquet_properties(schema: &SchemaRef, compression: Compression) -> WriterProperties {
    let columns = schema.fields().len();
    let mut builder = WriterProperties::builder()
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_dictionary_enabled(columns <= DICTIONARY_COLUMNS)
        .set_compression(match compression {
            Compression::None => parquet::basic::Compression::UNCOMPRESSED,
            Compression::Snappy => parquet::basic::Compression::SNAPPY,
            Compression::Lz4 => parquet::basic::Compression::LZ4_RAW,
            Compression::Zstd => parquet::basic::Compression::ZSTD(Default::default()),
        });
    for field in schema.fields() {
        let path = || ColumnPath::from(field.name().as_str());
        let kind = field.data_type();
        if kind.is_floating() || kind.is_integer() {
            builder = builder.set_column_dictionary_enabled(path(), false);
        }
        if kind.is_integer() {
            builder = builder.set_column_encoding(path(), Encoding::DELTA_BINARY_PACKED);
        }
    }
    builder.build()
}

enum Sink {
    Csv(arrow::csv::Writer<Hashed>),
    Jsonl(arrow::json::LineDelimitedWriter<Hashed>),
    Parquet(ArrowWriter<Hashed>),
}

/// The file being written, hashed as it is written (every format writes
/// its file front to back), so its digest needs no second read.
struct Hashed {
    file: File,
    hash: Sha256,
}

impl std::io::Write for Hashed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// What a finished [`Writer`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Rows written.
    pub rows: u64,
    /// sha256 of the file, hex.
    pub sha256: String,
}

/// Writes batches to a temporary file beside `path`; `finish` renames it into
/// place, and dropping an unfinished writer removes it.
pub struct Writer {
    path: PathBuf,
    temp: Option<tempfile::TempPath>,
    sink: Option<Sink>,
    schema: Option<SchemaRef>,
    rows: u64,
    compression: Compression,
}

impl Writer {
    /// [`Writer::create`], Parquet pages compressed with `compression`.
    pub fn compressed(path: &Path, compression: Compression) -> Result<Writer, DataError> {
        Ok(Writer {
            compression,
            ..Writer::create(path)?
        })
    }

    /// Prepare to write `path` (its extension picks the format).
    pub fn create(path: &Path) -> Result<Writer, DataError> {
        Format::of(path).ok_or_else(|| DataError::Format(path.to_owned()))?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let temp = tempfile::Builder::new()
            .prefix(".weft-")
            .tempfile_in(dir)
            .map_err(|e| io(dir, e))?
            .into_temp_path();
        Ok(Writer {
            path: path.to_owned(),
            temp: Some(temp),
            sink: None,
            schema: None,
            rows: 0,
            compression: Compression::None,
        })
    }

    /// Append one batch; every batch must have the schema of the first.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), DataError> {
        if self.sink.is_none() {
            self.open(batch.schema())?;
        }
        let expected = self.schema.as_ref().expect("schema set on open");
        if batch.schema().fields() != expected.fields() {
            return Err(content(&self.path, format!(
                "a batch has columns [{}] but earlier batches had [{}]; a step must produce the same columns for every batch",
                describe(&batch.schema()),
                describe(expected)
            )));
        }
        let written = match self.sink.as_mut().expect("sink opened") {
            Sink::Csv(w) => w.write(batch),
            Sink::Jsonl(w) => w.write(batch),
            Sink::Parquet(w) => w
                .write(batch)
                .map_err(|e| ArrowError::ExternalError(Box::new(e))),
        };
        self.rows += batch.num_rows() as u64;
        written.map_err(|e| content(&self.path, e))
    }

    fn open(&mut self, schema: SchemaRef) -> Result<(), DataError> {
        let temp = self.temp.as_ref().expect("writer not finished");
        let file = Hashed {
            file: File::create(temp).map_err(|e| io(&self.path, e))?,
            hash: Sha256::new(),
        };
        self.sink = Some(match Format::of(&self.path).expect("checked in create") {
            Format::Csv => Sink::Csv(arrow::csv::Writer::new(file)),
            Format::Jsonl => Sink::Jsonl(arrow::json::LineDelimitedWriter::new(file)),
            Format::Parquet => Sink::Parquet(
                ArrowWriter::try_new(
                    file,
                    schema.clone(),
                    Some(parquet_properties(&schema, self.compression)),
                )
                .map_err(|e| content(&self.path, e))?,
            ),
        });
        self.schema = Some(schema);
        Ok(())
    }

    /// Flush, close and move the file into place; returns the rows written
    /// and the file's digest. Without any batch written, the file has no
    /// rows and `empty_schema`'s columns (a CSV file its header row; a JSON
    /// Lines file is empty).
    pub fn finish(mut self, empty_schema: SchemaRef) -> Result<Written, DataError> {
        if self.sink.is_none() {
            self.write(&RecordBatch::new_empty(empty_schema))?;
        }
        let closed = |e: &dyn std::fmt::Display| content(&self.path, e.to_string());
        let mut file = match self.sink.take().expect("sink opened") {
            Sink::Csv(w) => w.into_inner(),
            Sink::Jsonl(mut w) => {
                w.finish().map_err(|e| closed(&e))?;
                w.into_inner()
            }
            Sink::Parquet(w) => w.into_inner().map_err(|e| closed(&e))?,
        };
        std::io::Write::flush(&mut file).map_err(|e| io(&self.path, e))?;
        publish(self.temp.take().expect("writer not finished"), &self.path)?;
        Ok(Written {
            rows: self.rows,
            sha256: hex::encode(file.hash.finalize()),
        })
    }
}

/// Write `bytes` to `path` atomically (temporary file, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".weft-")
        .tempfile_in(dir)
        .map_err(|e| io(dir, e))?;
    std::io::Write::write_all(&mut temp, bytes).map_err(|e| io(path, e))?;
    publish(temp.into_temp_path(), path)
}

/// Give a finished temporary file ordinary permissions and rename it into place.
fn publish(temp: tempfile::TempPath, path: &Path) -> Result<(), DataError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| io(path, e))?;
    temp.persist(path).map_err(|e| io(path, e.error))?;
    Ok(())
}
