//! Decoding a CSV or JSON Lines file in batches. When decoding fails, the
//! failed batch is decoded again one record at a time to find the line of
//! the record at fault, so errors name the right line however the records
//! fall into batches, even where quoted CSV fields span lines.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::{io, DataError};

/// Bytes read from a file at a time.
const CHUNK: usize = 1 << 16;

/// Longest error message kept from a decoder (they quote whole rows).
const MESSAGE_CHARS: usize = 400;

/// A push decoder of records into batches (Arrow's CSV and JSON decoders).
pub(super) trait Decode: Send {
    /// Decode records from `buf`; the bytes used. Stops early once a batch
    /// is full; an empty `buf` marks the end of the input.
    fn decode(&mut self, buf: &[u8]) -> Result<usize, ArrowError>;
    /// The records decoded so far as a batch, if any.
    fn flush(&mut self) -> Result<Option<RecordBatch>, ArrowError>;
}

impl Decode for arrow::csv::reader::Decoder {
    fn decode(&mut self, buf: &[u8]) -> Result<usize, ArrowError> {
        arrow::csv::reader::Decoder::decode(self, buf)
    }
    fn flush(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        arrow::csv::reader::Decoder::flush(self)
    }
}

impl Decode for arrow::json::reader::Decoder {
    fn decode(&mut self, buf: &[u8]) -> Result<usize, ArrowError> {
        arrow::json::reader::Decoder::decode(self, buf)
    }
    fn flush(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        arrow::json::reader::Decoder::flush(self)
    }
}

/// Builds a decoder of batches of the given rows; the flag says whether the
/// bytes start with a CSV header row.
pub(super) type MakeDecoder =
    Box<dyn Fn(usize, bool) -> Result<Box<dyn Decode>, ArrowError> + Send>;

/// Why decoding stopped.
enum Failure {
    Io(std::io::Error),
    /// The decoder refused the bytes up to `end`.
    Decode {
        error: ArrowError,
        end: u64,
    },
}

/// The batches of one file; the file is opened and the decoder built on
/// the first batch, so a folder's files do not all hold buffers at once.
pub(super) struct Decoded {
    path: PathBuf,
    schema: SchemaRef,
    rows: usize,
    make: MakeDecoder,
    open: Option<(BufReader<File>, Box<dyn Decode>)>,
    /// Bytes of the file decoded so far.
    offset: u64,
    done: bool,
}

impl Decoded {
    /// Batches of `rows` rows of `path`, whose columns are `schema`.
    pub(super) fn new(path: &Path, schema: SchemaRef, rows: usize, make: MakeDecoder) -> Decoded {
        Decoded {
            path: path.to_owned(),
            schema,
            rows,
            make,
            open: None,
            offset: 0,
            done: false,
        }
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, Failure> {
        let (mut reader, mut decoder) = match self.open.take() {
            Some(open) => open,
            None => (
                BufReader::with_capacity(CHUNK, File::open(&self.path).map_err(Failure::Io)?),
                (self.make)(self.rows, true).map_err(|error| Failure::Decode { error, end: 0 })?,
            ),
        };
        loop {
            let chunk = reader.fill_buf().map_err(Failure::Io)?;
            let len = chunk.len();
            let used = decoder.decode(chunk).map_err(|error| Failure::Decode {
                error,
                end: self.offset + len as u64,
            })?;
            reader.consume(used);
            self.offset += used as u64;
            // A decoder takes nothing more once its batch is full.
            if len == 0 || used == 0 {
                break;
            }
        }
        let batch = decoder.flush().map_err(|error| Failure::Decode {
            error,
            end: self.offset,
        })?;
        self.open = Some((reader, decoder));
        Ok(batch)
    }

    /// The error for `failure` of the batch that started at byte `start`.
    fn error(&self, start: u64, failure: Failure) -> DataError {
        let (error, end) = match failure {
            Failure::Io(e) => return io(&self.path, e),
            Failure::Decode { error, end } => (error, end),
        };
        let (line, message) = match self.locate(start, end) {
            Ok((line, Some(found))) => (line, reword(&found, Some(&self.schema))),
            Ok((line, None)) => (
                line,
                format!(
                    "in a record from this line on: {}",
                    reword(&error, Some(&self.schema))
                ),
            ),
            Err(e) => return io(&self.path, e),
        };
        DataError::Line {
            path: self.path.clone(),
            line,
            message,
        }
    }

    /// Decode the bytes from `start` to `end` again one record at a time:
    /// the line of the first record that fails and its error, or the line
    /// at `start` and `None` when none fails.
    fn locate(&self, start: u64, end: u64) -> std::io::Result<(u64, Option<ArrowError>)> {
        let mut file = File::open(&self.path)?;
        let first = 1 + newlines((&mut file).take(start))?;
        file.seek(SeekFrom::Start(start))?;
        let mut reader = BufReader::with_capacity(CHUNK, file.take(end - start));
        let mut decoder = match (self.make)(1, start == 0) {
            Ok(d) => d,
            Err(e) => return Ok((first, Some(e))),
        };
        let (mut line, mut record) = (first, None);
        loop {
            let chunk = reader.fill_buf()?;
            let len = chunk.len();
            if record.is_none() {
                if let Some(skip) = chunk.iter().position(|b| !matches!(b, b'\r' | b'\n')) {
                    record = Some(line + count(&chunk[..skip]));
                }
            }
            let here = record.unwrap_or(line);
            let used = match decoder.decode(chunk) {
                Ok(used) => used,
                Err(e) => return Ok((here, Some(e))),
            };
            line += count(&chunk[..used]);
            reader.consume(used);
            // Stopping short, the decoder has a whole record (or the header).
            if len == 0 || used < len {
                match decoder.flush() {
                    Err(e) => return Ok((here, Some(e))),
                    Ok(flushed) if len == 0 || (used == 0 && flushed.is_none()) => {
                        return Ok((first, None))
                    }
                    Ok(_) => record = None,
                }
            }
        }
    }
}

impl Iterator for Decoded {
    type Item = Result<RecordBatch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let start = self.offset;
        match self.next_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => {
                self.done = true;
                self.open = None;
                None
            }
            Err(failure) => {
                self.done = true;
                self.open = None;
                Some(Err(self.error(start, failure)))
            }
        }
    }
}

fn count(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Newlines in everything `reader` yields.
fn newlines(mut reader: impl Read) -> std::io::Result<u64> {
    let mut buf = vec![0; CHUNK];
    let mut total = 0;
    loop {
        match reader.read(&mut buf)? {
            0 => return Ok(total),
            n => total += count(&buf[..n]),
        }
    }
}

/// A decoder's message for a person: without the decoder's own line
/// numbers (they count records, or restart when a batch is replayed),
/// with column names for column indices, and at most [`MESSAGE_CHARS`]
/// characters long.
pub(super) fn reword(error: &ArrowError, schema: Option<&SchemaRef>) -> String {
    let text = error.to_string();
    let text = ["Csv error: ", "Json error: ", "Parser error: "]
        .iter()
        .find_map(|p| text.strip_prefix(p))
        .unwrap_or(&text);
    let text = numbered(text, " at line 1 column ", |n| format!(" at column {n}"));
    let text = numbered(&text, " for line ", |_| String::new());
    let text = numbered(&text, " at line ", |_| String::new());
    let text = numbered(&text, " for column ", |n| {
        let name = schema
            .and_then(|s| s.fields().get(n.parse::<usize>().ok()?))
            .map_or_else(|| n.to_owned(), |f| format!("'{}'", f.name()));
        format!(" for column {name}")
    });
    match text.char_indices().nth(MESSAGE_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// `text` with each `marker` followed by digits replaced by `with(digits)`.
fn numbered(text: &str, marker: &str, with: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        let after = &rest[at + marker.len()..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        out.push_str(&rest[..at]);
        if digits == 0 {
            out.push_str(marker);
        } else {
            out.push_str(&with(&after[..digits]));
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}
