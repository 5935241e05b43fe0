//! `scipy.stats.kstwo.sf(x, n)`: the survival function of the two-sided
//! one-sample Kolmogorov-Smirnov statistic `D_n`, ported from SciPy's
//! `scipy/stats/_ksstats.py` (Simard & L'Ecuyer's choice of method by `n`
//! and `n x^2`: Ruben-Gambino, Durbin's matrix (Marsaglia-Tsang-Wang),
//! Pomeranz, Pelz-Good and twice the one-sided `smirnov`).

use std::f64::consts::PI;

use super::smirnov::smirnov;

/// `2^128`, SciPy's rescaling step.
const EP128: f64 = 3.402_823_669_209_385e38;
/// `2^-128`.
const EM128: f64 = 2.938_735_877_055_719e-39;
/// exp() of anything below this is 0.
const MIN_LOG: f64 = -708.0;
/// Stirling coefficients `B_2j / (2j (2j-1))`, j = 8..1.
const STIRLING: [f64; 8] = [
    -0.029550653594771242,
    0.00641025641025641,
    -0.0019175269175269176,
    0.0008417508417508417,
    -0.0005952380952380953,
    0.0007936507936507937,
    -0.002777777777777778,
    0.08333333333333333,
];

/// `kstwo.sf(x, n)`: `Pr(D_n > x)`, with SciPy's support handling (1 at
/// or below `1/(2n)`, 0 from 1 on).
pub fn sf(x: f64, n: i64) -> f64 {
    if n < 1 || x.is_nan() {
        return f64::NAN;
    }
    let nf = n as f64;
    if x <= 0.5 / nf {
        return 1.0;
    }
    if x >= 1.0 {
        return 0.0;
    }
    kolmogn_sf(n, x)
}

/// SciPy's `_kolmogn(n, x, cdf=False)` for `1/(2n) < x < 1`.
fn kolmogn_sf(n: i64, x: f64) -> f64 {
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        let cdf = if n <= 140 {
            (1..=n).fold(1.0, |p, i| p * (i as f64 * (1.0 / nf) * (2.0 * t - 1.0)))
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return clip(1.0 - cdf);
    }
    if t >= nf - 1.0 {
        return clip(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        return clip(2.0 * smirnov(n, x));
    }
    let nxsquared = t * x;
    if n <= 140 {
        if nxsquared <= 0.754693 {
            return clip(1.0 - durbin(n, x));
        }
        if nxsquared <= 4.0 {
            return clip(1.0 - pomeranz(n, x));
        }
        return clip(2.0 * smirnov(n, x));
    }
    if nxsquared >= 370.0 {
        return 0.0;
    }
    if nxsquared >= 2.2 {
        return clip(2.0 * smirnov(n, x));
    }
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin(n, x)
    } else {
        pelz_good(n, x)
    };
    clip(1.0 - cdf)
}

fn clip(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

/// `log(n! / n^n)` by Stirling's series.
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    let rn = 1.0 / n;
    let poly = STIRLING.iter().fold(0.0, |y, c| y * (rn / n) + c);
    n.ln() / 2.0 - n + (2.0 * PI).ln() / 2.0 + rn * poly
}

/// A dense square matrix, row-major.
struct Matrix {
    m: usize,
    a: Vec<f64>,
}

impl Matrix {
    fn identity(m: usize) -> Matrix {
        let mut a = vec![0.0; m * m];
        for i in 0..m {
            a[i * m + i] = 1.0;
        }
        Matrix { m, a }
    }

    fn at(&self, i: usize, j: usize) -> f64 {
        self.a[i * self.m + j]
    }

    fn mul(&self, other: &Matrix) -> Matrix {
        let m = self.m;
        let mut a = vec![0.0; m * m];
        for i in 0..m {
            for k in 0..m {
                let left = self.a[i * m + k];
                for j in 0..m {
                    a[i * m + j] += left * other.a[k * m + j];
                }
            }
        }
        Matrix { m, a }
    }
}

/// Durbin's matrix `H` for `d = (k - h) / n`.
fn durbin_matrix(k: usize, h: f64) -> Matrix {
    let m = 2 * k - 1;
    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powf(j as f64)).collect();
    let mut w = vec![0.0; m];
    let mut fac = 1.0;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powf(m as f64) - 2.0 * h.powf(m as f64);
    v[m - 1] = (1.0 + tt) * fac;
    let mut hm = Matrix {
        m,
        a: vec![0.0; m * m],
    };
    for i in 1..m {
        for r in (i - 1)..m {
            hm.a[r * m + i] = w[r - (i - 1)];
        }
    }
    for (r, value) in v.iter().enumerate() {
        hm.a[r * m] = *value;
    }
    for c in 0..m {
        hm.a[(m - 1) * m + c] = v[m - 1 - c];
    }
    hm
}

/// `Pr(D_n <= d)` by Durbin's matrix method (SciPy's `_kolmogn_DMTW`).
fn durbin(n: i64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let mut h = durbin_matrix(k, k as f64 - nd);
    let mut power = Matrix::identity(h.m);
    let (mut nn, mut expnt, mut hexpnt) = (n, 0i32, 0i32);
    while nn > 0 {
        if nn % 2 == 1 {
            power = power.mul(&h);
            expnt += hexpnt;
        }
        h = h.mul(&h);
        hexpnt *= 2;
        if h.at(k - 1, k - 1).abs() > EP128 {
            h.a.iter_mut().for_each(|x| *x /= EP128);
            hexpnt += 128;
        }
        nn /= 2;
    }
    let mut p = power.at(k - 1, k - 1);
    for i in 1..=n {
        p = i as f64 * p / n as f64;
        if p.abs() < EM128 {
            p *= EP128;
            expnt -= 128;
        }
    }
    if expnt != 0 {
        p = super::dd::ldexp(p, expnt);
    }
    clip(p)
}

/// SciPy's `_pomeranz_compute_j1j2`: the live columns of row `i`.
fn pomeranz_j1j2(i: i64, n: i64, ll: i64, ceilf: i64, roundf: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceilf - 1, ll + ceilf - 1)
    } else {
        let (ip1div2, ip1mod2) = ((i + 1) / 2, (i + 1) % 2);
        if ip1mod2 == 0 {
            if ip1div2 == n + 1 {
                (n - ll - ceilf - 1, n + ll + ceilf - 1)
            } else {
                (ip1div2 - 1 - ll - roundf - 1, ip1div2 + ll - 1 + ceilf - 1)
            }
        } else {
            (ip1div2 - 1 - ll - 1, ip1div2 + ll + roundf - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// `p^m / m!` for m in `0..len`.
fn powers(p: f64, len: usize) -> Vec<f64> {
    let mut out = vec![1.0; len];
    for m in 1..len {
        out[m] = out[m - 1] * p / m as f64;
    }
    out
}

/// numpy's `convolve(a, b)` (full).
fn convolve(a: &[f64], b: &[f64]) -> Vec<f64> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

/// Python's `v[start:end]` for non-negative bounds.
fn slice(v: &[f64], start: i64, end: i64) -> &[f64] {
    let clamp = |i: i64| i.clamp(0, v.len() as i64) as usize;
    let (s, e) = (clamp(start), clamp(end));
    &v[s..e.max(s)]
}

/// `Pr(D_n <= x)` by Pomeranz's recursion (SciPy's `_kolmogn_Pomeranz`).
fn pomeranz(n: i64, x: f64) -> f64 {
    let t = n as f64 * x;
    let ll = t.floor() as i64;
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceilf = i64::from(f > 0.0);
    let roundf = i64::from(f > 0.5);
    let npwrs = (2 * (ll + 1)) as usize;
    let nf = n as f64;
    let gpower = powers(g / nf, npwrs);
    let twogpower = powers(2.0 * g / nf, npwrs);
    let onem2gpower = powers((1.0 - 2.0 * g) / nf, npwrs);
    let mut v0 = vec![0.0; npwrs];
    let mut v1 = vec![0.0; npwrs];
    v1[0] = 1.0;
    let (mut v0s, mut v1s, mut expnt) = (0i64, 0i64, 0i32);
    let (mut j1, _) = pomeranz_j1j2(0, n, ll, ceilf, roundf);
    for i in 1..(2 * n + 2) {
        let k1 = j1;
        std::mem::swap(&mut v0, &mut v1);
        std::mem::swap(&mut v0s, &mut v1s);
        v1.iter_mut().for_each(|x| *x = 0.0);
        let (next_j1, j2) = pomeranz_j1j2(i, n, ll, ceilf, roundf);
        j1 = next_j1;
        let pwrs = if i == 1 || i == 2 * n + 1 {
            &gpower
        } else if i % 2 == 1 {
            &twogpower
        } else {
            &onem2gpower
        };
        let ln2 = j2 - k1 + 1;
        if ln2 > 0 {
            let conv = convolve(slice(&v0, k1 - v0s, k1 - v0s + ln2), slice(pwrs, 0, ln2));
            let start = j1 - k1;
            let len = j2 - j1 + 1;
            let take = slice(&conv, start, start + len);
            v1[..take.len()].copy_from_slice(take);
            let max = v1.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            if 0.0 < max && max < EM128 {
                v1.iter_mut().for_each(|x| *x *= EP128);
                expnt -= 128;
            }
            v1s = v0s + j1 - k1;
        }
    }
    let mut ans = v1[(n - v1s) as usize];
    for m in 1..=n {
        if ans.abs() > EP128 {
            ans *= EM128;
            expnt += 128;
        }
        ans *= m as f64;
    }
    if expnt != 0 {
        ans = super::dd::ldexp(ans, expnt);
    }
    clip(ans)
}

/// `Pr(D_n <= x)` by the Pelz-Good asymptotic series.
fn pelz_good(n: i64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let z = (n as f64).sqrt() * x;
    let (z2, z3, z4, z6) = (z.powf(2.0), z.powf(3.0), z.powf(4.0), z.powf(6.0));
    let (pi2, pi4, pi6) = (PI.powf(2.0), PI.powf(4.0), PI.powf(6.0));
    let qlog = -pi2 / 8.0 / z2;
    if qlog < MIN_LOG {
        return 0.0;
    }
    let q = qlog.exp();
    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powf(8.0);
    let mut k = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for kk in (1..=maxk).rev() {
        let m = (2 * kk - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf((8 * kk) as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (ki, c) in k.iter_mut().zip(coeffs) {
            *ki = *ki * qpower + c;
        }
    }
    let sqrt2pi = (2.0 * PI).sqrt();
    let divisors = [z, 6.0 * z4, 72.0 * z.powf(7.0), 6480.0 * z.powf(10.0)];
    for (ki, d) in k.iter_mut().zip(divisors) {
        *ki = *ki * q * sqrt2pi / d;
    }
    let q = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    for kk in (1..=maxk).rev() {
        let ksq = (kk * kk) as f64;
        let qp = q.powf(ksq);
        let kspi = PI * kk as f64;
        k2extra += ksq * qp;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp;
    }
    k[2] += k2extra * (pi2 * sqrt2pi / (-36.0 * z3));
    k[3] += k3extra * (pi2 * sqrt2pi / (216.0 * z6));
    let nf = n as f64;
    (0..4).map(|i| k[i] / nf.powf(i as f64 / 2.0)).sum()
}
