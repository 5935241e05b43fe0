//! Joining the batches several steps produced from one input batch into
//! the one batch a step that needs them all reads.

use std::collections::HashMap;

use arrow::datatypes::FieldRef;

use crate::sandbox::{Batch, Column};

/// Which step (by position in execution order, 0 for the input) first
/// produced each column of one batch's trip through the graph. Columns
/// passed through by handle keep their producer.
#[derive(Default)]
pub(super) struct Provenance(HashMap<usize, usize>);

impl Provenance {
    pub(super) fn record(&mut self, rank: usize, batch: &Batch) {
        for c in batch.columns() {
            self.0.entry(c.identity()).or_insert(rank);
        }
    }

    pub(super) fn rank(&self, column: &Column) -> usize {
        self.0.get(&column.identity()).copied().unwrap_or(0)
    }
}

/// Columns of `batches` merged left to right. Where several hold a column of
/// the same name, the one produced last in execution order wins, so two
/// branches that each change different columns merge into both changes.
pub(super) fn batch_union(batches: &[&Batch], provenance: &Provenance) -> Result<Batch, String> {
    let Some(first) = batches.first() else {
        return Err("the pipeline produced no output batch".into());
    };
    if batches.len() == 1 {
        return Ok((*first).clone());
    }
    let mut fields: Vec<FieldRef> = Vec::new();
    let mut columns: Vec<Column> = Vec::new();
    for b in batches {
        for (f, c) in b.fields().iter().zip(b.columns()) {
            match fields.iter().position(|x| x.name() == f.name()) {
                Some(i) if provenance.rank(c) > provenance.rank(&columns[i]) => {
                    (fields[i], columns[i]) = (f.clone(), c.clone())
                }
                Some(_) => {}
                None => {
                    fields.push(f.clone());
                    columns.push(c.clone());
                }
            }
        }
    }
    Batch::try_new(fields, columns, first.num_rows())
        .map_err(|e| format!("cannot merge the outputs of several steps: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array};
    use arrow::record_batch::RecordBatch;

    fn batch(cols: &[(&str, &ArrayRef)]) -> Batch {
        RecordBatch::try_from_iter(cols.iter().map(|(n, c)| (*n, (*c).clone())))
            .unwrap()
            .into()
    }

    #[test]
    fn union_keeps_each_branch_change() {
        let (a, b) = (
            Arc::new(Int64Array::from(vec![1])) as ArrayRef,
            Arc::new(Int64Array::from(vec![2])) as ArrayRef,
        );
        let (a2, b2) = (
            Arc::new(Int64Array::from(vec![10])) as ArrayRef,
            Arc::new(Int64Array::from(vec![20])) as ArrayRef,
        );
        let mut p = Provenance::default();
        let input = batch(&[("a", &a), ("b", &b)]);
        p.record(0, &input);
        let left = batch(&[("a", &a2), ("b", &b)]);
        p.record(1, &left);
        let right = batch(&[("a", &a), ("b", &b2), ("c", &b2)]);
        p.record(2, &right);
        let merged = batch_union(&[&left, &right], &p).unwrap();
        let names: Vec<_> = merged.fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let array = |i: usize| merged.columns()[i].array().unwrap();
        assert!(Arc::ptr_eq(&array(0), &a2), "left's change to a survives");
        assert!(Arc::ptr_eq(&array(1), &b2), "right's change to b survives");
    }
}
