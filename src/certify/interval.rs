//! Closed intervals of f64 with outward rounding (docs/certificates.md#3-exact-verification).
//!
//! Every operation computes its end points in round-to-nearest and then moves the lower end
//! down and the upper end up by a few ulps, so the true real-arithmetic result of the
//! operation on any points of the operands lies inside the returned interval. `+ - *` and
//! `/` and `sqrt` are correctly rounded in IEEE 754 (half an ulp), so one ulp suffices; `exp`
//! from the platform's libm is within one ulp on every libm we know of, and we grant it
//! [`EXP_ULPS`]. An end point that is not finite makes the interval useless but never unsound:
//! callers treat a non-finite end as "no information".

/// Ulps granted to libm's `exp` (documented accuracy is below 1 ulp; 4 is a wide margin).
pub const EXP_ULPS: usize = 4;

/// `[lo, hi]` with `lo <= hi` (both may be infinite, never NaN).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

fn down(x: f64, ulps: usize) -> f64 {
    (0..ulps).fold(x, |v, _| v.next_down())
}
fn up(x: f64, ulps: usize) -> f64 {
    (0..ulps).fold(x, |v, _| v.next_up())
}

impl Interval {
    /// The degenerate interval of an exactly known point (a stored weight is exact).
    pub fn point(x: f64) -> Interval {
        Interval { lo: x, hi: x }
    }

    /// Hull of two computed ends, widened by `ulps` each way (NaN ends give the whole line).
    fn widened(a: f64, b: f64, ulps: usize) -> Interval {
        let (lo, hi) = (a.min(b), a.max(b));
        if lo.is_nan() || hi.is_nan() {
            return Interval {
                lo: f64::NEG_INFINITY,
                hi: f64::INFINITY,
            };
        }
        Interval {
            lo: down(lo, ulps),
            hi: up(hi, ulps),
        }
    }

    pub fn plus(self, o: Interval) -> Interval {
        Interval {
            lo: down(self.lo + o.lo, 1),
            hi: up(self.hi + o.hi, 1),
        }
    }

    pub fn negated(self) -> Interval {
        Interval {
            lo: -self.hi,
            hi: -self.lo,
        }
    }

    pub fn minus(self, o: Interval) -> Interval {
        self.plus(o.negated())
    }

    pub fn times(self, o: Interval) -> Interval {
        let p = [
            self.lo * o.lo,
            self.lo * o.hi,
            self.hi * o.lo,
            self.hi * o.hi,
        ];
        // 0 * inf = NaN: an unbounded operand times a possible 0 is unbounded.
        if p.iter().any(|x| x.is_nan()) {
            return Interval {
                lo: f64::NEG_INFINITY,
                hi: f64::INFINITY,
            };
        }
        let lo = p.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Interval::widened(lo, hi, 1)
    }

    /// Times an exact scalar.
    pub fn scale(self, w: f64) -> Interval {
        self.times(Interval::point(w))
    }

    /// Division by an interval of positive numbers (`o.lo > 0`); otherwise the whole line.
    pub fn div_positive(self, o: Interval) -> Interval {
        if o.lo.is_nan() || o.lo <= 0.0 {
            return Interval {
                lo: f64::NEG_INFINITY,
                hi: f64::INFINITY,
            };
        }
        let q = [
            self.lo / o.lo,
            self.lo / o.hi,
            self.hi / o.lo,
            self.hi / o.hi,
        ];
        let lo = q.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = q.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Interval::widened(lo, hi, 1)
    }

    /// e^x, increasing; the lower end is clamped at 0 (e^x > 0).
    pub fn exp(self) -> Interval {
        let w = Interval::widened(self.lo.exp(), self.hi.exp(), EXP_ULPS);
        Interval {
            lo: w.lo.max(0.0),
            hi: w.hi,
        }
    }

    /// x^2 (tight: 0 when the interval contains 0).
    pub fn square(self) -> Interval {
        let (a, b) = (self.lo.abs(), self.hi.abs());
        let hi = up(a.max(b) * a.max(b), 1);
        let lo = if self.lo <= 0.0 && self.hi >= 0.0 {
            0.0
        } else {
            down(a.min(b) * a.min(b), 1).max(0.0)
        };
        Interval { lo, hi }
    }

    /// sqrt of a non-negative interval (a negative lower end is treated as 0).
    pub fn sqrt(self) -> Interval {
        Interval {
            lo: down(self.lo.max(0.0).sqrt(), 1).max(0.0),
            hi: up(self.hi.max(0.0).sqrt(), 1),
        }
    }

    /// max(c, x) for an exact constant c (monotone).
    pub fn max_const(self, c: f64) -> Interval {
        Interval {
            lo: self.lo.max(c),
            hi: self.hi.max(c),
        }
    }

    /// Smallest interval holding both.
    pub fn hull(self, o: Interval) -> Interval {
        Interval {
            lo: self.lo.min(o.lo),
            hi: self.hi.max(o.hi),
        }
    }

    pub fn contains(self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }

    pub fn mid(self) -> f64 {
        0.5 * self.lo + 0.5 * self.hi
    }
}

/// `sum_i a_i * w_i` for exact weights `w`, rounded outward.
pub fn dot_exact(a: &[Interval], w: &[f64]) -> Interval {
    a.iter()
        .zip(w)
        .fold(Interval::point(0.0), |acc, (x, &wi)| acc.plus(x.scale(wi)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outward_rounding_contains_the_exact_result() {
        // 0.1 + 0.2 is not representable: the interval must contain the real sum of the two
        // stored doubles, which lies strictly between the two nearest doubles around 0.3.
        let s = Interval::point(0.1).plus(Interval::point(0.2));
        assert!(s.lo < 0.1 + 0.2 && s.hi > 0.1 + 0.2);
        // 1/3 rounded outward brackets 1/3: 3 * lo < 1 < 3 * hi in exact arithmetic; checked
        // through the f64 products, which are exact here to within one ulp of 1.
        let q = Interval::point(1.0).div_positive(Interval::point(3.0));
        assert!(q.lo < 1.0 / 3.0 && q.hi > 1.0 / 3.0);
        // e^1 contains std's E.
        assert!(Interval::point(1.0).exp().contains(std::f64::consts::E));
        // Squares of intervals around 0.
        assert_eq!(Interval { lo: -2.0, hi: 1.0 }.square().lo, 0.0);
        assert!(Interval { lo: -2.0, hi: 1.0 }.square().hi >= 4.0);
        // Division by an interval reaching 0 gives no information.
        assert_eq!(
            Interval::point(1.0)
                .div_positive(Interval { lo: 0.0, hi: 1.0 })
                .hi,
            f64::INFINITY
        );
        // inf * 0 is unbounded, not NaN.
        let m = Interval {
            lo: 0.0,
            hi: f64::INFINITY,
        }
        .times(Interval::point(0.0));
        assert!(!m.lo.is_nan() && !m.hi.is_nan());
    }
}
