//! The host memory a step holds: every column the host makes for the step
//! (values it hands over, kernel outputs) is charged before it is handed
//! over and released when the last handle to it (the column's own, or a
//! batch's holding it) drops. Columns of the step's input are the run's,
//! not the step's, and cost it nothing.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use super::columns::Column;

/// A step would hold more host memory than `limits.hostMemory` allows.
#[derive(Debug, thiserror::Error)]
#[error(
    "step would hold more than {limit} bytes of host memory in columns, batches and models \
     (limits.hostMemory): {held} held, {asked} more asked; drop handles it no longer needs, \
     or raise the limit"
)]
pub struct HostMemoryLimit {
    /// The limit in bytes.
    pub limit: u64,
    /// Bytes held when the step asked.
    pub held: u64,
    /// Bytes it asked for.
    pub asked: u64,
}

/// What one step holds, by column identity.
#[derive(Debug)]
pub(crate) struct Ledger {
    limit: u64,
    held: u64,
    /// Of `held`, the bytes of models the step holds (which no spill frees).
    models: u64,
    peak: u64,
    made: HashMap<usize, Made>,
}

#[derive(Debug)]
struct Made {
    bytes: u64,
    handles: u32,
}

impl Ledger {
    /// An empty ledger allowing `limit` bytes.
    pub(crate) fn new(limit: u64) -> Ledger {
        Ledger {
            limit,
            held: 0,
            models: 0,
            peak: 0,
            made: HashMap::new(),
        }
    }

    /// Whether `bytes` more would fit, asked before allocating them.
    pub(crate) fn check(&self, bytes: u64) -> Result<(), HostMemoryLimit> {
        if self.held.saturating_add(bytes) > self.limit {
            return Err(HostMemoryLimit {
                limit: self.limit,
                held: self.held,
                asked: bytes,
            });
        }
        Ok(())
    }

    /// Charge `column`, just made for the step, at `bytes`; a column
    /// already charged is not charged twice.
    pub(crate) fn charge(&mut self, column: &Column, bytes: u64) -> Result<(), HostMemoryLimit> {
        if self.made.contains_key(&column.identity()) {
            return Ok(());
        }
        self.add(bytes)?;
        self.made
            .insert(column.identity(), Made { bytes, handles: 0 });
        Ok(())
    }

    /// A new handle holds `columns`.
    pub(crate) fn hold<'a>(&mut self, columns: impl IntoIterator<Item = &'a Column>) {
        for column in columns {
            if let Some(made) = self.made.get_mut(&column.identity()) {
                made.handles += 1;
            }
        }
    }

    /// A handle holding `columns` dropped; columns no handle holds any
    /// more are released.
    pub(crate) fn release<'a>(&mut self, columns: impl IntoIterator<Item = &'a Column>) {
        for column in columns {
            if let Entry::Occupied(mut made) = self.made.entry(column.identity()) {
                made.get_mut().handles = made.get().handles.saturating_sub(1);
                if made.get().handles == 0 {
                    self.held -= made.remove().bytes;
                }
            }
        }
    }

    fn add(&mut self, bytes: u64) -> Result<(), HostMemoryLimit> {
        self.check(bytes)?;
        self.held += bytes;
        self.peak = self.peak.max(self.held);
        Ok(())
    }

    /// Charge the `bytes` of a model the step loaded.
    pub(crate) fn take(&mut self, bytes: u64) -> Result<(), HostMemoryLimit> {
        self.add(bytes)?;
        self.models += bytes;
        Ok(())
    }

    /// Release `bytes` charged by [`Ledger::take`].
    pub(crate) fn give_back(&mut self, bytes: u64) {
        self.held = self.held.saturating_sub(bytes);
        self.models = self.models.saturating_sub(bytes);
    }

    /// Bytes held in columns and batches (what a spill can free).
    pub(crate) fn in_columns(&self) -> u64 {
        self.held - self.models
    }

    /// Bytes held now.
    pub(crate) fn held(&self) -> u64 {
        self.held
    }

    /// The most bytes it allows.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    /// Most bytes held at once so far.
    pub(crate) fn peak(&self) -> u64 {
        self.peak
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Float64Array;

    use super::*;

    fn column(rows: usize) -> Column {
        Column::Host(Arc::new(Float64Array::from(vec![1.0; rows])))
    }

    #[test]
    fn a_column_is_released_when_its_last_holder_drops() {
        let mut ledger = Ledger::new(1000);
        let (a, b) = (column(10), column(10));
        ledger.charge(&a, 600).unwrap();
        ledger.hold([&a]);
        // A batch holding `a` and an input column `b` (never charged).
        ledger.hold([&a, &b]);
        ledger.release([&a]);
        assert_eq!(ledger.held(), 600);
        let refused = ledger.charge(&b, 500).unwrap_err();
        assert_eq!(
            (refused.limit, refused.held, refused.asked),
            (1000, 600, 500)
        );
        ledger.release([&a, &b]);
        assert_eq!(ledger.held(), 0);
        ledger.charge(&b, 500).unwrap();
        assert_eq!((ledger.held(), ledger.peak()), (500, 600));
    }

    #[test]
    fn a_column_made_twice_is_charged_once() {
        let mut ledger = Ledger::new(1000);
        let a = column(1);
        ledger.charge(&a, 400).unwrap();
        ledger.hold([&a]);
        ledger.charge(&a.clone(), 400).unwrap();
        ledger.hold([&a]);
        assert_eq!(ledger.held(), 400);
        ledger.release([&a]);
        ledger.release([&a]);
        assert_eq!(ledger.held(), 0);
    }
}
