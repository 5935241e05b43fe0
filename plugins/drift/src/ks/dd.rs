//! Double-double arithmetic (a value as the unevaluated sum `hi + lo` of two
//! doubles, about 106 bits), the part of the QD package that SciPy's
//! `smirnov` uses (`xsf/cephes/dd_real.h`), operation for operation so the
//! results round the same way.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// `hi + lo`, with `|lo| <= ulp(hi) / 2`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dd {
    /// Leading part; the value as a double.
    pub hi: f64,
    /// Trailing part.
    pub lo: f64,
}

/// `fl(a + b)` and its rounding error, assuming `|a| >= |b|`.
fn quick_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

/// `fl(a + b)` and its rounding error.
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let c = s - a;
    let d = b - c;
    let e = s - c;
    (s, (a - e) + d)
}

/// `fl(a * b)` and its rounding error.
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

/// `frexp` of a double: `(m, e)` with `x = m * 2^e`, `0.5 <= |m| < 1`.
pub fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        let (m, e) = frexp(x * 2f64.powi(64));
        return (m, e - 64);
    }
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, exp - 1022)
}

/// `x * 2^e`, exact unless it overflows or underflows.
pub fn ldexp(x: f64, e: i32) -> f64 {
    let mut x = x;
    let mut e = e;
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e)
}

impl Dd {
    /// `hi + lo` as given.
    pub const fn new(hi: f64, lo: f64) -> Dd {
        Dd { hi, lo }
    }

    /// A double, exactly.
    pub const fn from(x: f64) -> Dd {
        Dd { hi: x, lo: 0.0 }
    }

    /// Not a number.
    pub const NAN: Dd = Dd::new(f64::NAN, f64::NAN);

    /// Largest integer not above the value.
    pub fn floor(self) -> Dd {
        let hi = self.hi.floor();
        if hi == self.hi {
            let (hi, lo) = quick_two_sum(hi, self.lo.floor());
            return Dd::new(hi, lo);
        }
        Dd::new(hi, 0.0)
    }

    /// `(m, e)` with value `m * 2^e`, `0.5 <= |m.hi| < 1` (or `|m.hi| == 1`
    /// with `lo` of the other sign).
    pub fn frexp(self) -> (Dd, i32) {
        let (mut man, mut exponent) = frexp(self.hi);
        let mut b1 = ldexp(self.lo, -exponent);
        if man.abs() == 0.5 && man * b1 < 0.0 {
            man *= 2.0;
            b1 *= 2.0;
            exponent -= 1;
        }
        (Dd::new(man, b1), exponent)
    }

    /// The value times `2^e`.
    pub fn ldexp(self, e: i32) -> Dd {
        Dd::new(ldexp(self.hi, e), ldexp(self.lo, e))
    }

    /// Whether the value is finite.
    pub fn is_finite(self) -> bool {
        self.hi.is_finite()
    }

    /// Whether the value is exactly zero.
    pub fn is_zero(self) -> bool {
        self.hi == 0.0 && self.lo == 0.0
    }
}

impl Neg for Dd {
    type Output = Dd;
    fn neg(self) -> Dd {
        Dd::new(-self.hi, -self.lo)
    }
}

impl Add for Dd {
    type Output = Dd;
    fn add(self, rhs: Dd) -> Dd {
        let (s1, s2) = two_sum(self.hi, rhs.hi);
        let (t1, t2) = two_sum(self.lo, rhs.lo);
        let (s1, s2) = quick_two_sum(s1, s2 + t1);
        let (s1, s2) = quick_two_sum(s1, s2 + t2);
        Dd::new(s1, s2)
    }
}

impl Add<f64> for Dd {
    type Output = Dd;
    fn add(self, rhs: f64) -> Dd {
        let (s1, s2) = two_sum(self.hi, rhs);
        let (s1, s2) = quick_two_sum(s1, s2 + self.lo);
        Dd::new(s1, s2)
    }
}

impl Sub for Dd {
    type Output = Dd;
    fn sub(self, rhs: Dd) -> Dd {
        self + (-rhs)
    }
}

impl Sub<f64> for Dd {
    type Output = Dd;
    fn sub(self, rhs: f64) -> Dd {
        let (s1, s2) = two_sum(self.hi, -rhs);
        let (s1, s2) = quick_two_sum(s1, s2 + self.lo);
        Dd::new(s1, s2)
    }
}

impl Mul for Dd {
    type Output = Dd;
    fn mul(self, rhs: Dd) -> Dd {
        let (p1, p2) = two_prod(self.hi, rhs.hi);
        let p2 = p2 + (self.hi * rhs.lo + self.lo * rhs.hi);
        let (p1, p2) = quick_two_sum(p1, p2);
        Dd::new(p1, p2)
    }
}

impl Mul<f64> for Dd {
    type Output = Dd;
    fn mul(self, rhs: f64) -> Dd {
        let (p1, e1) = two_prod(self.hi, rhs);
        let (p2, e2) = two_prod(self.lo, rhs);
        let (p1, e1) = quick_two_sum(p1, e2 + p2 + e1);
        Dd::new(p1, e1)
    }
}

impl Mul<Dd> for f64 {
    type Output = Dd;
    fn mul(self, rhs: Dd) -> Dd {
        let (p1, e1) = two_prod(self, rhs.hi);
        let (p2, e2) = two_prod(self, rhs.lo);
        let (p1, e1) = quick_two_sum(p1, e2 + p2 + e1);
        Dd::new(p1, e1)
    }
}

impl Div for Dd {
    type Output = Dd;
    fn div(self, rhs: Dd) -> Dd {
        let q1 = self.hi / rhs.hi;
        let r = self - rhs * q1;
        let q2 = r.hi / rhs.hi;
        let r = r - rhs * q2;
        let q3 = r.hi / rhs.hi;
        let (q1, q2) = quick_two_sum(q1, q2);
        Dd::new(q1, q2) + q3
    }
}

impl Div<f64> for Dd {
    type Output = Dd;
    fn div(self, rhs: f64) -> Dd {
        self / Dd::from(rhs)
    }
}

impl Div<Dd> for f64 {
    type Output = Dd;
    fn div(self, rhs: Dd) -> Dd {
        Dd::from(self) / rhs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_what_a_double_drops() {
        let third = Dd::from(1.0) / 3.0;
        let back = third * 3.0 - 1.0;
        assert!(back.hi.abs() < 1e-31, "{back:?}");
        let tiny = Dd::from(1.0) + 1e-20;
        assert_eq!((tiny.hi, tiny.lo), (1.0, 1e-20));
        assert_eq!((tiny - 1.0).hi, 1e-20);
    }

    #[test]
    fn frexp_and_floor() {
        assert_eq!(frexp(8.0), (0.5, 4));
        assert_eq!(frexp(-0.75), (-0.75, 0));
        assert_eq!(frexp(5e-324), (0.5, -1073));
        assert_eq!(ldexp(0.5, -1073), 5e-324);
        let (m, e) = Dd::new(0.5, -1e-20).frexp();
        assert_eq!((m.hi, e), (1.0, -1));
        assert_eq!(Dd::new(3.0, -1e-20).floor(), Dd::new(2.0, 0.0));
        assert_eq!(Dd::new(3.7, 1e-20).floor(), Dd::new(3.0, 0.0));
    }
}
