//! The exact two-sided p-value of the two-sample Kolmogorov-Smirnov test,
//! ported from SciPy (`_attempt_exact_2kssamp`,
//! `_compute_prob_outside_square` in `scipy/stats/_stats_py.py` and
//! `_compute_outer_prob_inside_method` in `_stats_pythran.py`): lattice
//! paths from (0, 0) to (m, n) that leave the band `|x/m - y/n| < d`.

/// What the exact computation gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Exact {
    /// The statistic rounded to a multiple of `1/lcm(n1, n2)`, and its p-value.
    Done(f64, f64),
    /// The computation left [0, 1]; the rounded statistic, for the asymptotic formula.
    Failed(f64),
}

/// SciPy's `_attempt_exact_2kssamp(n1, n2, g, d, 'two-sided')`.
pub fn attempt(n1: u64, n2: u64, g: u64, d: f64) -> Exact {
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    let d = h as f64 / lcm as f64;
    if h == 0 {
        return Exact::Done(d, 1.0);
    }
    let prob = if n1 == n2 {
        prob_outside_square(n1, h)
    } else {
        outer_prob_inside(n1, n2, g, h)
    };
    if (0.0..=1.0).contains(&prob) {
        Exact::Done(d, prob)
    } else {
        Exact::Failed(d)
    }
}

/// `Pr(D_{n,n} >= h/n)`, by a Horner-like alternating sum.
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let (n, h) = (n as i64, h as i64);
    let mut p = 0.0;
    let mut k = (n as f64 / h as f64).floor() as i64;
    while k >= 0 {
        let mut p1 = 1.0;
        for j in 0..h {
            p1 = (n - k * h - j) as f64 * p1 / (n + k * h + j + 1) as f64;
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// The proportion of lattice paths that do not stay strictly inside the
/// band `|n x / g - m y / g| < h` (Hodges' inside method, with Viehmann's
/// recursion for `1 - p`).
fn outer_prob_inside(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (m, n, g, h) = (m as i64, n as i64, g as i64, h as i64);
    let (mg, ng) = (m / g, n / g);
    let mut minj = 0i64;
    let mut maxj = ((h as f64 / mg as f64).ceil() as i64).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a];
    fill(&mut a, minj, maxj, 0.0);
    for i in 1..=m {
        let (lastminj, lastlen) = (minj, curlen);
        minj = ((((ng * i - h) as f64 / mg as f64).floor() as i64) + 1).max(0);
        minj = minj.min(n);
        maxj = (((ng * i + h) as f64 / mg as f64).ceil() as i64).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            val = (a[(jj + minj - lastminj) as usize] * i as f64 + val * j as f64) / (i + j) as f64;
            a[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            fill(&mut a, maxj - minj, maxj - minj + (lastlen - curlen), 1.0);
        }
    }
    a[(maxj - minj - 1) as usize]
}

/// numpy's `a[start:end] = value`, clipped to the array.
fn fill(a: &mut [f64], start: i64, end: i64, value: f64) {
    let clamp = |i: i64| i.clamp(0, a.len() as i64) as usize;
    let (s, e) = (clamp(start), clamp(end));
    if s < e {
        a[s..e].iter_mut().for_each(|x| *x = value);
    }
}
