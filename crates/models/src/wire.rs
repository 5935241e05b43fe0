//! The protobuf wire format, as far as ONNX files need it: reading a
//! message's fields (each with its raw bytes, to copy it unchanged) and
//! writing length-delimited and varint fields.

/// A field's value as encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 5 (`float`, `fixed32`).
    Fixed32(u32),
    /// Wire type 1 (`double`, `fixed64`).
    Fixed64(u64),
    /// Wire type 2: a string, bytes, a message or a packed repeated field.
    Bytes(&'a [u8]),
}

/// One field of a message: its number, value and whole encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'a> {
    pub number: u64,
    pub value: Value<'a>,
    /// The key and the value, as in the message.
    pub raw: &'a [u8],
}

impl<'a> Field<'a> {
    /// The bytes of a length-delimited field.
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match self.value {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// A string field, lossily decoded.
    pub fn text(&self) -> Option<String> {
        self.bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// A varint field read as a signed `int64`.
    pub fn int(&self) -> Option<i64> {
        match self.value {
            Value::Varint(v) => Some(v as i64),
            _ => None,
        }
    }
}

/// The fields of one message; `None` when it is not well-formed.
pub(crate) fn fields(bytes: &[u8]) -> Option<Vec<Field<'_>>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let start = rest;
        let key = varint(&mut rest)?;
        let value = match key & 7 {
            0 => Value::Varint(varint(&mut rest)?),
            1 => Value::Fixed64(u64::from_le_bytes(skip(&mut rest, 8)?.try_into().ok()?)),
            2 => {
                let len = usize::try_from(varint(&mut rest)?).ok()?;
                Value::Bytes(skip(&mut rest, len)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(skip(&mut rest, 4)?.try_into().ok()?)),
            _ => return None,
        };
        let raw = &start[..start.len() - rest.len()];
        out.push(Field {
            number: key >> 3,
            value,
            raw,
        });
    }
    Some(out)
}

/// The values of a repeated varint field, packed or not.
pub(crate) fn varints(fields: &[Field<'_>], number: u64) -> Option<Vec<i64>> {
    let mut out = Vec::new();
    for field in fields.iter().filter(|f| f.number == number) {
        match field.value {
            Value::Varint(v) => out.push(v as i64),
            Value::Bytes(mut packed) => {
                while !packed.is_empty() {
                    out.push(varint(&mut packed)? as i64);
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The values of a repeated `float` field, packed or not.
pub(crate) fn floats(fields: &[Field<'_>], number: u64) -> Option<Vec<f32>> {
    let mut out = Vec::new();
    for field in fields.iter().filter(|f| f.number == number) {
        match field.value {
            Value::Fixed32(v) => out.push(f32::from_bits(v)),
            Value::Bytes(packed) => out.extend(little_endian(packed)?),
            _ => return None,
        }
    }
    Some(out)
}

/// Little-endian `f32`s, as in ONNX's `raw_data`.
pub(crate) fn little_endian(bytes: &[u8]) -> Option<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn skip<'a>(bytes: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if bytes.len() < len {
        return None;
    }
    let (taken, rest) = bytes.split_at(len);
    *bytes = rest;
    Some(taken)
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Append a length-delimited field.
pub(crate) fn put_bytes(out: &mut Vec<u8>, number: u64, value: &[u8]) {
    put_varint(out, number << 3 | 2);
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// Append a varint field.
pub(crate) fn put_int(out: &mut Vec<u8>, number: u64, value: u64) {
    put_varint(out, number << 3);
    put_varint(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_fields_read_back_with_their_raw_bytes() {
        let mut message = Vec::new();
        put_int(&mut message, 1, 300);
        put_bytes(&mut message, 4, &[0, 0, 128, 63, 0, 0, 0, 64]);
        message.extend([5 << 3 | 5, 0, 0, 64, 64]);
        put_bytes(&mut message, 9, &[1, 2]);
        let read = fields(&message).unwrap();
        assert_eq!(read[0].int(), Some(300));
        assert_eq!(floats(&read, 4), Some(vec![1.0, 2.0]), "packed");
        assert_eq!(floats(&read, 5), Some(vec![3.0]), "one at a time");
        assert_eq!(varints(&read, 9), Some(vec![1, 2]), "packed varints");
        let joined: Vec<u8> = read.iter().flat_map(|f| f.raw.to_vec()).collect();
        assert_eq!(joined, message);
        assert!(fields(&message[..message.len() - 1]).is_none(), "truncated");
    }
}
