//! Arrow IPC stream bodies as rows, read defensively: before Arrow's reader
//! sees a body, one pass over its messages checks that each metadata
//! flatbuffer verifies, that each message's body and every buffer in it
//! lie inside the request, and that the rows declared stay within the
//! body's [`Budget`]; Arrow's reader then validates the arrays.

use std::io::Cursor;

use arrow::ipc::reader::StreamReader;
use arrow::ipc::{root_as_message, MessageHeader};
use arrow::record_batch::RecordBatch;

use super::codec::{BadBody, Budget};

/// The marker before a message's metadata length (absent in old streams).
const CONTINUATION: [u8; 4] = [0xff; 4];

/// Read an Arrow IPC stream: its batches as one.
pub(super) fn decode(body: &[u8]) -> Result<RecordBatch, BadBody> {
    check(body, Budget::of(body.len()))?;
    let reader = StreamReader::try_new(Cursor::new(body), None).map_err(bad)?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(bad)?;
    arrow::compute::concat_batches(&schema, &batches).map_err(bad)
}

fn bad(e: impl std::fmt::Display) -> BadBody {
    BadBody::Arrow(e.to_string())
}

/// Walk the stream's messages without reading their bodies.
fn check(body: &[u8], budget: Budget) -> Result<(), BadBody> {
    let mut at = 0;
    let mut cells = 0u64;
    let mut messages = 0;
    while at < body.len() {
        let (start, length) = metadata_length(body, at)?;
        if length == 0 {
            break;
        }
        let metadata = body
            .get(start..)
            .and_then(|rest| rest.get(..length))
            .ok_or_else(|| {
                bad(format!(
                    "message {messages} declares {length} bytes of metadata, but only {} remain",
                    body.len() - start
                ))
            })?;
        let message = root_as_message(metadata).map_err(|e| {
            bad(format!(
                "the metadata of message {messages} is not valid: {e}"
            ))
        })?;
        let end = start + length;
        let length = usize::try_from(message.bodyLength())
            .ok()
            .filter(|&n| n <= body.len() - end)
            .ok_or_else(|| {
                bad(format!(
                    "message {messages} declares a body of {} bytes, but only {} remain",
                    message.bodyLength(),
                    body.len() - end
                ))
            })?;
        cells += frame(&message, length, budget)?;
        budget.cells(cells)?;
        at = end + length;
        messages += 1;
    }
    match messages {
        0 => Err(bad("the body holds no Arrow IPC message")),
        _ => Ok(()),
    }
}

/// Where the metadata of the message at `at` starts, and its length
/// (0 marks the end of the stream).
fn metadata_length(body: &[u8], at: usize) -> Result<(usize, usize), BadBody> {
    let word = |at: usize| -> Result<[u8; 4], BadBody> {
        body.get(at..at + 4)
            .and_then(|w| w.try_into().ok())
            .ok_or_else(|| {
                bad(format!(
                    "the stream ends inside a message length at byte {at}"
                ))
            })
    };
    let mut start = at + 4;
    let mut length = word(at)?;
    if length == CONTINUATION {
        length = word(start)?;
        start += 4;
    }
    let length = i32::from_le_bytes(length);
    let length = usize::try_from(length).map_err(|_| {
        bad(format!(
            "a message declares a negative metadata length ({length})"
        ))
    })?;
    Ok((start, length))
}

/// Check one message whose body has `length` bytes; the cells it declares.
fn frame(message: &arrow::ipc::Message<'_>, length: usize, budget: Budget) -> Result<u64, BadBody> {
    let batch = match message.header_type() {
        MessageHeader::Schema => {
            let fields = message.header_as_schema().and_then(|s| s.fields());
            budget.columns(fields.map_or(0, |f| f.len()))?;
            return Ok(0);
        }
        MessageHeader::RecordBatch => message.header_as_record_batch(),
        MessageHeader::DictionaryBatch => {
            message.header_as_dictionary_batch().and_then(|d| d.data())
        }
        _ => None,
    };
    let Some(batch) = batch else {
        return Ok(0);
    };
    for buffer in batch.buffers().iter().flatten() {
        let (offset, size) = (buffer.offset(), buffer.length());
        let end = offset.checked_add(size);
        if offset < 0 || size < 0 || end.is_none_or(|e| e as u64 > length as u64) {
            return Err(bad(format!(
                "a buffer of {size} bytes at offset {offset} lies outside its message body of {length} bytes"
            )));
        }
        if offset % 8 != 0 {
            return Err(bad(format!(
                "a buffer starts at offset {offset}; the format aligns buffers to 8 bytes"
            )));
        }
    }
    let nodes = batch.nodes();
    budget.columns(nodes.map_or(0, |n| n.len()))?;
    let negative = || bad("a batch declares a negative length");
    let rows = u64::try_from(batch.length()).map_err(|_| negative())?;
    let values = nodes
        .iter()
        .flatten()
        .try_fold(0u64, |sum, n| {
            u64::try_from(n.length())
                .ok()
                .map(|n| sum.saturating_add(n))
        })
        .ok_or_else(negative)?;
    // The rows of every column, nested ones included; a batch without
    // columns still has its rows.
    Ok(values.max(rows))
}
