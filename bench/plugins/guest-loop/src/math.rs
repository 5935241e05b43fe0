//! The standard-scaler math, written once and compiled twice: into the
//! guest-loop plugin (wasm32-wasip2 with simd128) and into `weft-bench` as
//! the native baseline. Hot loops work on fixed-size chunks so they
//! vectorise and carry no bounds checks.

/// Independent accumulators per loop: enough to fill the SIMD lanes and to
/// hide the latency of floating-point adds.
const LANES: usize = 8;

/// Count, mean and sum of squared deviations (`m2`) of some values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    /// Number of values.
    pub count: u64,
    /// Their mean.
    pub mean: f64,
    /// Sum of squared deviations from the mean (variance = m2 / count).
    pub m2: f64,
}

/// Sum of `values` widened to f64.
fn sum(values: &[f32]) -> f64 {
    let (chunks, tail) = values.as_chunks::<LANES>();
    let mut acc = [0.0f64; LANES];
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += f64::from(v);
        }
    }
    acc.iter().sum::<f64>() + tail.iter().map(|&v| f64::from(v)).sum::<f64>()
}

/// Sum of squared deviations from `mean` and sum of deviations.
fn deviations(values: &[f32], mean: f64) -> (f64, f64) {
    let (chunks, tail) = values.as_chunks::<LANES>();
    let (mut sq, mut dev) = ([0.0f64; LANES], [0.0f64; LANES]);
    for chunk in chunks {
        for i in 0..LANES {
            let d = f64::from(chunk[i]) - mean;
            sq[i] += d * d;
            dev[i] += d;
        }
    }
    let (mut sq, mut dev) = (sq.iter().sum::<f64>(), dev.iter().sum::<f64>());
    for &v in tail {
        let d = f64::from(v) - mean;
        sq += d * d;
        dev += d;
    }
    (sq, dev)
}

impl Moments {
    /// Moments of `values` in two passes: the mean, then squared deviations
    /// with the rounding correction scikit-learn applies.
    pub fn of(values: &[f32]) -> Moments {
        if values.is_empty() {
            return Moments::default();
        }
        let n = values.len() as f64;
        let mean = sum(values) / n;
        let (sq, dev) = deviations(values, mean);
        Moments {
            count: values.len() as u64,
            mean,
            m2: (sq - dev * dev / n).max(0.0),
        }
    }

    /// Moments of the union of two disjoint sets (Chan et al.).
    pub fn merge(self, other: Moments) -> Moments {
        if self.count == 0 {
            return other;
        }
        if other.count == 0 {
            return self;
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        Moments {
            count: self.count + other.count,
            mean: self.mean + delta * nb / n,
            m2: self.m2 + other.m2 + delta * delta * na * nb / n,
        }
    }

    /// Population standard deviation (ddof 0); 1 when it is (nearly) zero,
    /// as scikit-learn does.
    pub fn scale(&self) -> f64 {
        let std = (self.m2 / self.count.max(1) as f64).sqrt();
        if std < 10.0 * f64::EPSILON {
            1.0
        } else {
            std
        }
    }
}

/// `(x - mean) / scale` for every value, in f32. A plain map over a slice:
/// the compiler knows the length, so it vectorises without bounds checks.
pub fn standardize(values: &[f32], mean: f64, scale: f64) -> Vec<f32> {
    let (mean, scale) = (mean as f32, scale as f32);
    values.iter().map(|&x| (x - mean) / scale).collect()
}
