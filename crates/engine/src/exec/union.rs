//! Joining the batches several steps produced from one input batch into
//! the one batch a step that needs them all reads.

use std::collections::{HashMap, HashSet};

use arrow::datatypes::FieldRef;

use crate::sandbox::{Batch, Column};

/// Which step (by position in execution order, 0 for the input) first
/// produced each column of one batch's trip through the graph, and which
/// columns each step's lineage held. Columns passed through by handle keep
/// their producer.
pub(super) struct Provenance {
    first: HashMap<usize, usize>,
    /// By step: the columns (by identity) its input, its output and its
    /// ancestors' held.
    seen: Vec<HashSet<usize>>,
}

/// The identities of `batch`'s columns, for [`Provenance::saw`].
pub(super) fn identities(batch: &Batch) -> Vec<usize> {
    batch.columns().iter().map(Column::identity).collect()
}

/// One step's output, with what its lineage held.
pub(super) struct Branch<'a> {
    batch: &'a Batch,
    seen: &'a HashSet<usize>,
}

impl Provenance {
    /// Provenance of a trip through `steps` steps.
    pub(super) fn new(steps: usize) -> Provenance {
        Provenance {
            first: HashMap::new(),
            seen: vec![HashSet::new(); steps],
        }
    }

    pub(super) fn record(&mut self, rank: usize, batch: &Batch) {
        for c in batch.columns() {
            self.first.entry(c.identity()).or_insert(rank);
        }
    }

    pub(super) fn rank(&self, column: &Column) -> usize {
        self.first.get(&column.identity()).copied().unwrap_or(0)
    }

    /// Step `step`, downstream of `needs`, read columns `input` (their
    /// identities) and made `output`.
    pub(super) fn saw(&mut self, step: usize, needs: &[usize], input: &[usize], output: &Batch) {
        let mut seen: HashSet<usize> = needs
            .iter()
            .flat_map(|n| self.seen[*n].iter().copied())
            .collect();
        seen.extend(input);
        seen.extend(output.columns().iter().map(Column::identity));
        self.seen[step] = seen;
    }

    /// Step `step`'s output `batch` as a branch to join.
    pub(super) fn branch<'a>(&'a self, step: usize, batch: &'a Batch) -> Branch<'a> {
        Branch {
            batch,
            seen: &self.seen[step],
        }
    }
}

/// Columns of `branches` merged left to right. Where several hold a column
/// of the same name, the one produced last in execution order wins, so two
/// branches that each change different columns merge into both changes; a
/// column a branch dropped after its lineage held it stays dropped (a
/// one-hot that replaces `c` in one branch is not undone by another branch
/// passing the same `c` through).
pub(super) fn batch_union(branches: &[Branch], provenance: &Provenance) -> Result<Batch, String> {
    let Some(first) = branches.first() else {
        return Err("the pipeline produced no output batch".into());
    };
    if branches.len() == 1 {
        return Ok(first.batch.clone());
    }
    let names: Vec<HashSet<&str>> = branches
        .iter()
        .map(|b| b.batch.fields().iter().map(|f| f.name().as_str()).collect())
        .collect();
    let dropped = |name: &str, column: &Column| {
        branches
            .iter()
            .zip(&names)
            .any(|(b, n)| !n.contains(name) && b.seen.contains(&column.identity()))
    };
    let mut fields: Vec<FieldRef> = Vec::new();
    let mut columns: Vec<Column> = Vec::new();
    for b in branches {
        for (f, c) in b.batch.fields().iter().zip(b.batch.columns()) {
            if dropped(f.name(), c) {
                continue;
            }
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
    Batch::try_new(fields, columns, first.batch.num_rows())
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
        let mut p = Provenance::new(2);
        let input = batch(&[("a", &a), ("b", &b)]);
        p.record(0, &input);
        let left = batch(&[("a", &a2), ("b", &b)]);
        p.record(1, &left);
        p.saw(0, &[], &identities(&input), &left);
        let right = batch(&[("a", &a), ("b", &b2), ("c", &b2)]);
        p.record(2, &right);
        p.saw(1, &[], &identities(&input), &right);
        let merged = batch_union(&[p.branch(0, &left), p.branch(1, &right)], &p).unwrap();
        let names: Vec<_> = merged.fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let array = |i: usize| merged.columns()[i].array().unwrap();
        assert!(Arc::ptr_eq(&array(0), &a2), "left's change to a survives");
        assert!(Arc::ptr_eq(&array(1), &b2), "right's change to b survives");
    }

    #[test]
    fn a_column_one_branch_dropped_stays_dropped() {
        let (c, x) = (
            Arc::new(Int64Array::from(vec![1])) as ArrayRef,
            Arc::new(Int64Array::from(vec![2])) as ArrayRef,
        );
        let (x2, hot) = (
            Arc::new(Int64Array::from(vec![20])) as ArrayRef,
            Arc::new(Int64Array::from(vec![1])) as ArrayRef,
        );
        let mut p = Provenance::new(2);
        let input = batch(&[("c", &c), ("x", &x)]);
        p.record(0, &input);
        // A scaler changes x and passes c through; an encoder replaces c.
        let scaled = batch(&[("c", &c), ("x", &x2)]);
        p.record(1, &scaled);
        p.saw(0, &[], &identities(&input), &scaled);
        let encoded = batch(&[("c=a", &hot), ("x", &x)]);
        p.record(2, &encoded);
        p.saw(1, &[], &identities(&input), &encoded);
        let merged = batch_union(&[p.branch(0, &scaled), p.branch(1, &encoded)], &p).unwrap();
        let names: Vec<_> = merged.fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["x", "c=a"]);
        assert!(Arc::ptr_eq(&merged.columns()[0].array().unwrap(), &x2));
        // A column only one branch ever held is kept.
        let mut p = Provenance::new(2);
        let made = batch(&[("c", &c), ("new", &hot)]);
        p.saw(0, &[], &identities(&input), &made);
        let only_c = batch(&[("c", &c)]);
        p.saw(1, &[], &identities(&only_c), &only_c);
        let kept = batch_union(&[p.branch(0, &made), p.branch(1, &only_c)], &p).unwrap();
        assert_eq!(kept.fields().len(), 2);
    }
}
