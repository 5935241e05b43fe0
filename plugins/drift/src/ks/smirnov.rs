//! `scipy.special.smirnov(n, x)`: the survival function of the one-sided
//! Kolmogorov-Smirnov statistic `D+_n`, ported from SciPy's
//! `xsf/cephes/kolmogorov.h` (van Mulbregt's algorithm, in double-double).
//!
//! `Pr(D+_n > x) = x * sum_{v=0}^{floor(n(1-x))} C(n,v) (x + v/n)^(v-1) (1 - x - v/n)^(n-v)`,
//! summed from the top (`v = n` down) when only a few terms remain.

use super::dd::Dd;

/// Past this `n`, SciPy switches to an approximation.
const SMIRNOV_MAX_COMPUTE_N: i64 = 1_000_000;
/// The upper sum is used when it has at most this many terms...
const SM_UPPER_MAX_TERMS: i64 = 3;
/// ... and `n` is at least this.
const SM_UPPERSUM_MIN_N: i64 = 10;
/// Largest exponent a scaled power may reach before it is split.
const SM_MAX_EXPONENT: i64 = 960;
/// Natural log of the smallest normal double (cephes `MINLOG`).
const MINLOG: f64 = -745.1332191019412;

/// `Pr(D+_n > x)`.
pub fn smirnov(n: i64, x: f64) -> f64 {
    if x.is_nan() || !(n > 0 && (0.0..=1.0).contains(&x)) {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let (alpha, nxfl) = mod_nx(n, x);
    let mut n1mxfl = n - nxfl - if alpha == 0.0 { 0 } else { 1 };
    let mut n1mxceil = n - nxfl;
    if alpha == 0.0 {
        n1mxfl -= 1;
        n1mxceil += 1;
    }
    if nxfl == 0 || (nxfl == 1 && alpha == 0.0) {
        let t = pow2(1.0, x, n - 1);
        return 1.0 - x * t;
    }
    if -2.0 * n as f64 * x * x < MINLOG {
        return 0.0;
    }
    if nxfl >= n - 1 {
        return pow2(1.0, -x, n);
    }
    if n > SMIRNOV_MAX_COMPUTE_N {
        let logp = -(6.0 * n as f64 * x + 1.0).powf(2.0) / 18.0 / n as f64;
        return if logp < -std::f64::consts::LN_2 {
            logp.exp()
        } else {
            1.0 - (-logp.exp_m1())
        };
    }
    let upper_terms = n - n1mxceil + 1;
    let upper = (upper_terms <= 1 && x < 0.5)
        || (n >= SM_UPPERSUM_MIN_N
            && upper_terms <= SM_UPPER_MAX_TERMS
            && x <= 0.5 / (n as f64).sqrt());
    let sf = if upper {
        1.0 - sum_terms(n, x, upper_terms, true)
    } else {
        sum_terms(n, x, n1mxfl + 1, false)
    };
    sf.clamp(0.0, 1.0)
}

/// `x * sum A_v` over `terms` terms, from `v = 0` up or from `v = n` down.
fn sum_terms(n: i64, x: f64, terms: i64, from_top: bool) -> f64 {
    let (start, step) = if from_top { (n, -1) } else { (0, 1) };
    let first = if from_top {
        pow4(1.0, x, 1.0, 0.0, n - 1)
    } else {
        pow4(1.0, -x, 1.0, 0.0, n) / x
    };
    let mut sum = Dd::from(0.0) + first;
    let mut binomial = (Dd::from(1.0), 0i64);
    update_binomial(&mut binomial, n, 0);
    let vmid = n / 2;
    for j in 1..terms {
        let v = start + j * step;
        let term = term_av(n, x, v, binomial);
        if term.is_finite() && !term.is_zero() {
            sum = sum + term;
        }
        if !term.is_zero() {
            if (4 * (terms - j)) as f64 * term.hi.abs() < f64::EPSILON * sum.hi && j != terms - 1 {
                break;
            }
        } else if j > vmid {
            break;
        }
        update_binomial(&mut binomial, n, j);
    }
    (x * sum).hi
}

/// `floor(n x)` and the fractional part, computed exactly.
fn mod_nx(n: i64, x: f64) -> (f64, i64) {
    let nx = n as f64 * Dd::from(x);
    let floor = nx.floor();
    let mut alpha = (nx - floor).hi;
    let mut nxfloor = floor.hi as i64;
    if alpha == 1.0 {
        nxfloor += 1;
        alpha = 0.0;
    }
    (alpha, nxfloor)
}

/// `C(n, j+1)` from `C(n, j)`, kept as a mantissa and a binary exponent.
fn update_binomial(c: &mut (Dd, i64), n: i64, j: i64) {
    let rat = Dd::from((n - j) as f64) / (j as f64 + 1.0);
    let (man, expt) = (c.0 * rat).frexp();
    c.1 += expt as i64;
    c.0 = man;
}

/// `a^m` for a double-double, trading a little accuracy for time as SciPy does.
fn pow_d(a: Dd, m: i64) -> Dd {
    if m <= 0 {
        if m == 0 {
            return Dd::from(1.0);
        }
        return 1.0 / pow_d(a, -m);
    }
    if a.is_zero() {
        return Dd::from(0.0);
    }
    let ans = a.hi.powf(m as f64);
    let r = a.lo / a.hi;
    let mut adj = m as f64 * r;
    if adj.abs() > 1e-8 {
        if adj.abs() < 1e-4 {
            adj += (m as f64 * r) * ((m - 1) as f64 / 2.0 * r);
        } else {
            adj = (m as f64 * r.ln_1p()).exp_m1();
        }
    }
    Dd::from(ans) + ans * adj
}

/// `(a + b)^m` as a double.
fn pow2(a: f64, b: f64, m: i64) -> f64 {
    pow_d(Dd::from(a) + b, m).hi
}

/// `((a + b) / (c + d))^m`.
fn pow4(a: f64, b: f64, c: f64, d: f64, m: i64) -> Dd {
    if m <= 0 {
        if m == 0 {
            return Dd::from(1.0);
        }
        return pow4(c, d, a, b, -m);
    }
    let big_a = Dd::from(a) + b;
    let big_c = Dd::from(c) + d;
    if big_a.is_zero() {
        return if big_c.is_zero() {
            Dd::NAN
        } else {
            Dd::from(0.0)
        };
    }
    if big_c.is_zero() {
        let inf = if big_a.hi < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
        return Dd::new(inf, inf);
    }
    pow_d(big_a / big_c, m)
}

/// SciPy's `nextPowerOf2`.
fn next_power_of_2(x: f64) -> f64 {
    let q = super::dd::ldexp(x, 1 - f64::MANTISSA_DIGITS as i32);
    let l = (q + x).abs();
    if l == 0.0 {
        return x.abs();
    }
    let lint = l as i32;
    if lint as f64 == l {
        lint as f64
    } else {
        l
    }
}

/// `a^m = significand * 2^exponent`, without overflow or underflow.
fn pow2_scaled(a: Dd, m: i64) -> (Dd, i64) {
    if m <= 0 {
        if m == 0 {
            return (Dd::from(1.0), 0);
        }
        let (ans, e1) = pow2_scaled(a, -m);
        let (ans, e2) = (1.0 / ans).frexp();
        return (ans, -e1 + e2 as i64);
    }
    let (y, ye) = a.frexp();
    let ye = ye as i64;
    if m == 1 {
        return (y, ye);
    }
    let mut max_expt = SM_MAX_EXPONENT;
    let ln2 = std::f64::consts::LN_2;
    if m as f64 * (y.hi - 1.0) / y.hi < -(SM_MAX_EXPONENT as f64) * ln2 {
        let lg2y = y.hi.ln() / ln2;
        let lg_ans = m as f64 * lg2y;
        if lg_ans <= -(SM_MAX_EXPONENT as f64) {
            max_expt = (next_power_of_2(-(SM_MAX_EXPONENT as f64) / lg2y + 1.0) / 2.0) as i64;
        }
    }
    if m <= max_expt {
        let (ans, e) = pow_d(y, m).frexp();
        return (ans, e as i64 + m * ye);
    }
    let (q, r) = (m / max_expt, m % max_expt);
    let (y2r, y2re) = pow2_scaled(y, r);
    let (y2m, y2me) = pow2_scaled(y, max_expt);
    let (y2mq, y2mqe) = pow2_scaled(y2m, q);
    let (ans, e) = (y2r * y2mq).frexp();
    (ans, e as i64 + y2mqe + y2me * q + y2re + m * ye)
}

/// One term `A_v = C(n,v) (1 - x - v/n)^(n-v) (x + v/n)^(v-1)`.
fn term_av(n: i64, x: f64, v: i64, binomial: (Dd, i64)) -> Dd {
    let t2x = Dd::from((n - v) as f64) / n as f64 - x;
    let (t2, t2e) = pow2_scaled(t2x, n - v);
    let t1x = Dd::from(v as f64) / n as f64 + x;
    let (t1, t1e) = pow2_scaled(t1x, v - 1);
    let ans = t1 * t2 * binomial.0;
    let e = binomial.1 + t1e + t2e;
    ans.ldexp(e.clamp(i32::MIN as i64, i32::MAX as i64) as i32)
}
