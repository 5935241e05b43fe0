//! Compensated (Neumaier) summation: the error stays a few ulps of the sum
//! however many terms and however mixed their magnitudes.

/// A running sum with its rounding error carried separately.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sum {
    sum: f64,
    carry: f64,
}

impl Sum {
    /// Add `x`.
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        self.carry += if self.sum.abs() >= x.abs() {
            (self.sum - t) + x
        } else {
            (x - t) + self.sum
        };
        self.sum = t;
    }

    /// The sum (an infinite sum stays infinite).
    pub fn value(&self) -> f64 {
        if self.sum.is_finite() {
            self.sum + self.carry
        } else {
            self.sum
        }
    }
}

impl FromIterator<f64> for Sum {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Sum {
        let mut s = Sum::default();
        iter.into_iter().for_each(|x| s.add(x));
        s
    }
}
