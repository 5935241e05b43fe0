//! Deterministic synthetic data: f32 and f64 batches, and the files made
//! from them (Parquet for `weft run`, `.npy` for scikit-learn). Files are
//! written once under `target/bench-data` and reused.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{ArrayRef, AsArray, Float32Array, Float64Array};
use arrow::datatypes::{DataType, Field, Float32Type, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;

/// splitmix64: small, fast and good enough for benchmark data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Names `c0`, `c1`, ... of `n` columns.
pub fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("c{i}")).collect()
}

/// Column `j` of batch `batch`: uniform values whose mean and spread differ
/// per column, so a scaler has something to do.
fn values(batch: usize, j: usize, rows: usize) -> impl Iterator<Item = f64> {
    let mut rng = Rng::new(((batch as u64) << 16) | j as u64);
    let (offset, spread) = (10.0 * j as f64 - 20.0, 3.0 * (j + 1) as f64);
    (0..rows).map(move |_| offset + spread * rng.unit())
}

fn schema(columns: usize, dtype: DataType) -> SchemaRef {
    let fields: Vec<Field> = names(columns)
        .iter()
        .map(|n| Field::new(n, dtype.clone(), true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// Batch number `batch` of an f32 table: `rows` rows, `columns` columns.
pub fn f32_batch(batch: usize, rows: usize, columns: usize) -> RecordBatch {
    let arrays: Vec<ArrayRef> = (0..columns)
        .map(|j| {
            let a: Float32Array = values(batch, j, rows).map(|v| v as f32).collect();
            Arc::new(a) as ArrayRef
        })
        .collect();
    RecordBatch::try_new(schema(columns, DataType::Float32), arrays).expect("consistent batch")
}

/// A batch of `rows` rows and `columns` f64 columns.
pub fn f64_batch(rows: usize, columns: usize) -> RecordBatch {
    let arrays: Vec<ArrayRef> = (0..columns)
        .map(|j| Arc::new(values(0, j, rows).collect::<Float64Array>()) as ArrayRef)
        .collect();
    RecordBatch::try_new(schema(columns, DataType::Float64), arrays).expect("consistent batch")
}

/// The first `rows` rows of the f32 table, in batches of `batch_rows`.
pub fn f32_batches(
    rows: usize,
    batch_rows: usize,
    columns: usize,
) -> impl Iterator<Item = RecordBatch> {
    (0..rows.div_ceil(batch_rows))
        .map(move |b| f32_batch(b, batch_rows.min(rows - b * batch_rows), columns))
}

/// Write `path` through a temporary file unless it exists already.
fn ensure(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let temp = path.with_extension("partial");
    let mut out = BufWriter::new(File::create(&temp)?);
    write(&mut out).with_context(|| format!("writing {}", temp.display()))?;
    out.flush()?;
    drop(out);
    std::fs::rename(&temp, path)?;
    Ok(())
}

/// A Parquet file of the first `rows` rows of the f32 table (8 columns).
pub fn ensure_parquet(path: &Path, rows: usize, batch_rows: usize) -> Result<()> {
    ensure(path, |out| {
        let mut writer = ArrowWriter::try_new(out, schema(8, DataType::Float32), None)?;
        for batch in f32_batches(rows, batch_rows, 8) {
            writer.write(&batch)?;
        }
        writer.close()?;
        Ok(())
    })
}

/// `batches` as one C-ordered float32 `.npy` array (rows × columns).
pub fn ensure_npy(path: &Path, batches: &[RecordBatch]) -> Result<()> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let columns = batches.first().map_or(0, |b| b.num_columns());
    ensure(path, |out| {
        out.write_all(&npy_header(rows, columns))?;
        for batch in batches {
            write_rows(out, batch)?;
        }
        Ok(())
    })
}

/// The header of a version 1.0 `.npy` file, padded to 64 bytes.
fn npy_header(rows: usize, columns: usize) -> Vec<u8> {
    let dict =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {columns}), }}");
    let unpadded = 10 + dict.len() + 1;
    let text = format!(
        "{dict}{}\n",
        " ".repeat(unpadded.div_ceil(64) * 64 - unpadded)
    );
    let mut header = b"\x93NUMPY\x01\x00".to_vec();
    header.extend_from_slice(&(text.len() as u16).to_le_bytes());
    header.extend_from_slice(text.as_bytes());
    header
}

/// The rows of an f32 batch, interleaved, little-endian.
fn write_rows(out: &mut impl Write, batch: &RecordBatch) -> Result<()> {
    let columns: Vec<&[f32]> = batch
        .columns()
        .iter()
        .map(|c| c.as_primitive::<Float32Type>().values().as_ref())
        .collect();
    let mut row = Vec::with_capacity(columns.len() * 4);
    for i in 0..batch.num_rows() {
        row.clear();
        for c in &columns {
            row.extend_from_slice(&c[i].to_le_bytes());
        }
        out.write_all(&row)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_the_rows_and_repeat() {
        let sizes: Vec<usize> = f32_batches(10, 4, 3).map(|b| b.num_rows()).collect();
        assert_eq!(sizes, [4, 4, 2]);
        assert_eq!(f32_batch(1, 5, 2), f32_batch(1, 5, 2));
        assert_ne!(f32_batch(1, 5, 2), f32_batch(2, 5, 2));
    }

    #[test]
    fn npy_header_is_aligned() {
        let h = npy_header(10_000_000, 8);
        assert_eq!(h.len() % 64, 0);
        assert!(h.ends_with(b"\n"));
        assert!(String::from_utf8_lossy(&h).contains("'shape': (10000000, 8)"));
    }
}
