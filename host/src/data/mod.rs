//! Reading and writing columnar files: CSV, Parquet and JSON Lines, in
//! batches, with outputs written to a temporary file and renamed when done.

use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

/// Rows read to infer the types of a CSV or JSON Lines file.
const INFER_ROWS: usize = 100_000;

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

/// Parquet row groups are flushed at this encoded size, so the writer's
/// buffer stays bounded however wide the rows and long the input.
const ROW_GROUP_BYTES: usize = 16 << 20;

fn parquet_properties() -> parquet::file::properties::WriterProperties {
    parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .build()
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
}

fn content(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::Content {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

fn io(path: &Path, error: std::io::Error) -> DataError {
    DataError::Io {
        path: path.to_owned(),
        error,
    }
}

/// Which part of a folder's files a reader takes: the files whose position
/// (sorted by name) is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// This share, from 0.
    pub index: u32,
    /// How many shares there are.
    pub count: u32,
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
    /// reading in batches of `batch_rows` rows.
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
        let first = Reader::open_file(&all[0], batch_rows)?;
        let taken: Vec<&PathBuf> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| share.is_none_or(|s| *i as u32 % s.count == s.index))
            .map(|(_, f)| f)
            .collect();
        let mut readers = Vec::with_capacity(taken.len());
        for file in taken {
            let reader = Reader::open_file(file, batch_rows)?;
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

    /// Open one file.
    fn open_file(path: &Path, batch_rows: usize) -> Result<Reader, DataError> {
        let format = Format::of(path).ok_or_else(|| DataError::Format(path.to_owned()))?;
        let mut file = File::open(path).map_err(|e| io(path, e))?;
        let (schema, total_rows, batches): (
            SchemaRef,
            _,
            Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>,
        ) = match format {
            Format::Csv => {
                let csv = arrow::csv::reader::Format::default().with_header(true);
                let (schema, _) = csv
                    .infer_schema(&mut file, Some(INFER_ROWS))
                    .map_err(|e| content(path, e))?;
                file.rewind().map_err(|e| io(path, e))?;
                let schema = SchemaRef::new(schema);
                let reader = arrow::csv::ReaderBuilder::new(schema.clone())
                    .with_format(csv)
                    .with_batch_size(batch_rows)
                    .build(file)
                    .map_err(|e| content(path, e))?;
                (schema, None, Box::new(reader))
            }
            Format::Jsonl => {
                let mut buffered = BufReader::new(file);
                let (schema, _) = arrow::json::reader::infer_json_schema_from_seekable(
                    &mut buffered,
                    Some(INFER_ROWS),
                )
                .map_err(|e| content(path, e))?;
                let schema = SchemaRef::new(schema);
                let reader = arrow::json::ReaderBuilder::new(schema.clone())
                    .with_batch_size(batch_rows)
                    .build(buffered)
                    .map_err(|e| content(path, e))?;
                (schema, None, Box::new(reader))
            }
            Format::Parquet => {
                let builder =
                    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| content(path, e))?;
                let rows = builder.metadata().file_metadata().num_rows() as u64;
                let schema = builder.schema().clone();
                let reader = builder
                    .with_batch_size(batch_rows)
                    .build()
                    .map_err(|e| content(path, e))?;
                (schema, Some(rows), Box::new(reader))
            }
        };
        let path = path.to_owned();
        Ok(Reader {
            schema,
            total_rows,
            batches: Box::new(batches.map(move |b| b.map_err(|e| content(&path, e)))),
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

enum Sink {
    Csv(arrow::csv::Writer<File>),
    Jsonl(arrow::json::LineDelimitedWriter<File>),
    Parquet(ArrowWriter<File>),
}

/// Writes batches to a temporary file beside `path`; `finish` renames it into
/// place, and dropping an unfinished writer removes it.
pub struct Writer {
    path: PathBuf,
    temp: Option<tempfile::TempPath>,
    sink: Option<Sink>,
    schema: Option<SchemaRef>,
    rows: u64,
}

impl Writer {
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
        let file = File::create(temp).map_err(|e| io(&self.path, e))?;
        self.sink = Some(match Format::of(&self.path).expect("checked in create") {
            Format::Csv => Sink::Csv(arrow::csv::Writer::new(file)),
            Format::Jsonl => Sink::Jsonl(arrow::json::LineDelimitedWriter::new(file)),
            Format::Parquet => Sink::Parquet(
                ArrowWriter::try_new(file, schema.clone(), Some(parquet_properties()))
                    .map_err(|e| content(&self.path, e))?,
            ),
        });
        self.schema = Some(schema);
        Ok(())
    }

    /// Flush, close and move the file into place; returns the rows written.
    pub fn finish(mut self, empty_schema: SchemaRef) -> Result<u64, DataError> {
        if self.sink.is_none() {
            self.open(empty_schema)?;
        }
        match self.sink.take().expect("sink opened") {
            Sink::Csv(w) => drop(w.into_inner()),
            Sink::Jsonl(mut w) => w.finish().map_err(|e| content(&self.path, e))?,
            Sink::Parquet(w) => drop(w.close().map_err(|e| content(&self.path, e))?),
        }
        publish(self.temp.take().expect("writer not finished"), &self.path)?;
        Ok(self.rows)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(ext: &str) {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("in.csv");
        std::fs::write(&csv, "a,b\n1,x\n2,\n3,z\n").unwrap();
        let batches: Vec<_> = Reader::open(&csv, 2)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
            vec![2, 1]
        );
        let out = dir.path().join(format!("out.{ext}"));
        let mut w = Writer::create(&out).unwrap();
        for b in &batches {
            w.write(b).unwrap();
        }
        assert!(!out.exists(), "nothing appears before finish");
        assert_eq!(w.finish(batches[0].schema()).unwrap(), 3);
        let back: Vec<_> = Reader::open(&out, 10)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back[0].num_rows(), 3);
        assert_eq!(back[0].column(1).null_count(), 1);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temporary files left"
        );
    }

    #[test]
    fn csv_parquet_jsonl_roundtrip() {
        roundtrip("parquet");
        roundtrip("csv");
        roundtrip("jsonl");
    }

    #[test]
    fn malformed_csv_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("bad.csv");
        std::fs::write(&csv, "a,b\n1,2\n3\n").unwrap();
        let err = match Reader::open(&csv, 10) {
            Err(e) => e,
            Ok(mut r) => r.find_map(Result::err).unwrap(),
        };
        let err = err.to_string();
        assert!(err.contains("bad.csv") && err.contains("line"), "{err}");
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o.parquet");
        let batch = Reader::open(
            &{
                let p = dir.path().join("i.csv");
                std::fs::write(&p, "a\n1\n").unwrap();
                p
            },
            10,
        )
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
        let mut w = Writer::create(&out).unwrap();
        w.write(&batch).unwrap();
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
