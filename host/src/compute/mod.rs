//! The host side of `weft:step/compute`: kernels run natively over the
//! host-resident columns a step names by handle.

use arrow::array::{Array, ArrayRef};
use wasmtime::component::Resource;
use weft_kernels::KernelError;

use crate::bindings::weft::step::compute::{Host, Stats, UnknownPolicy};
use crate::bindings::weft::step::types::{Scalar, StepError};
use crate::sandbox::{Column, StepCtx};

type Fallible<T> = wasmtime::Result<Result<T, StepError>>;

fn to_step_error(e: KernelError) -> StepError {
    StepError::InvalidInput(e.to_string())
}

/// The kernel's view of a WIT scalar.
pub(crate) fn kernel_scalar(s: Scalar) -> weft_kernels::Scalar {
    match s {
        Scalar::Null => weft_kernels::Scalar::Null,
        Scalar::Float(v) => weft_kernels::Scalar::Float(v),
        Scalar::Int(v) => weft_kernels::Scalar::Int(v),
        Scalar::Boolean(v) => weft_kernels::Scalar::Boolean(v),
        Scalar::Text(v) => weft_kernels::Scalar::Text(v),
    }
}

fn wit_scalar(s: weft_kernels::Scalar) -> Scalar {
    match s {
        weft_kernels::Scalar::Null => Scalar::Null,
        weft_kernels::Scalar::Float(v) => Scalar::Float(v),
        weft_kernels::Scalar::Int(v) => Scalar::Int(v),
        weft_kernels::Scalar::Boolean(v) => Scalar::Boolean(v),
        weft_kernels::Scalar::Text(v) => Scalar::Text(v),
    }
}

fn refs(arrays: &[ArrayRef]) -> Vec<&dyn Array> {
    arrays.iter().map(|a| a.as_ref()).collect()
}

impl StepCtx {
    /// Run a kernel over the named columns; kernel errors go back to the step.
    fn kernel<T>(
        &mut self,
        columns: &[Resource<Column>],
        f: impl FnOnce(&[&dyn Array]) -> weft_kernels::Result<T>,
    ) -> Fallible<T> {
        let arrays = self.arrays(columns)?;
        Ok(f(&refs(&arrays)).map_err(to_step_error))
    }

    /// Hand the columns a kernel made to the step, charged to its output budget.
    fn hand_over(
        &mut self,
        made: Result<Vec<ArrayRef>, StepError>,
    ) -> Fallible<Vec<Resource<Column>>> {
        match made {
            Err(e) => Ok(Err(e)),
            Ok(arrays) => Ok(Ok(arrays
                .into_iter()
                .map(|a| self.created_column(a))
                .collect::<wasmtime::Result<_>>()?)),
        }
    }
}

impl Host for StepCtx {
    fn column_stats(&mut self, columns: Vec<Resource<Column>>) -> Fallible<Stats> {
        Ok(self
            .kernel(&columns, weft_kernels::column_stats)?
            .map(|s| Stats {
                count: s.count,
                nulls: s.nulls,
                sum: s.sum,
                mean: s.mean,
                m2: s.m2,
                min: s.min,
                max: s.max,
            }))
    }

    fn quantiles(&mut self, columns: Vec<Resource<Column>>, qs: Vec<f64>) -> Fallible<Vec<f64>> {
        self.kernel(&columns, |a| weft_kernels::quantiles(a, &qs))
    }

    fn value_counts(&mut self, columns: Vec<Resource<Column>>) -> Fallible<Vec<(Scalar, u64)>> {
        let counts = self.kernel(&columns, weft_kernels::value_counts)?;
        Ok(counts.map(|c| c.into_iter().map(|(s, n)| (wit_scalar(s), n)).collect()))
    }

    fn affine(&mut self, column: Resource<Column>, a: f64, b: f64) -> Fallible<Resource<Column>> {
        let made = self.kernel(&[column], |c| {
            weft_kernels::affine(c[0], a, b).map(|x| vec![x])
        })?;
        Ok(self.hand_over(made)?.map(|mut v| v.remove(0)))
    }

    fn fill_nulls(
        &mut self,
        column: Resource<Column>,
        value: Scalar,
    ) -> Fallible<Resource<Column>> {
        let value = kernel_scalar(value);
        let made = self.kernel(&[column], |c| {
            weft_kernels::fill_nulls(c[0], &value).map(|x| vec![x])
        })?;
        Ok(self.hand_over(made)?.map(|mut v| v.remove(0)))
    }

    fn one_hot(
        &mut self,
        column: Resource<Column>,
        categories: Vec<Scalar>,
        unknown: UnknownPolicy,
    ) -> Fallible<Vec<Resource<Column>>> {
        let categories: Vec<_> = categories.into_iter().map(kernel_scalar).collect();
        let policy = match unknown {
            UnknownPolicy::Error => weft_kernels::UnknownPolicy::Error,
            UnknownPolicy::Ignore => weft_kernels::UnknownPolicy::Ignore,
        };
        let made = self.kernel(&[column], |c| {
            weft_kernels::one_hot(c[0], &categories, policy)
        })?;
        self.hand_over(made)
    }
}
