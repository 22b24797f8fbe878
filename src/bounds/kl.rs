//! The binary relative entropy and its inverses, the one implementation every kl-form
//! certificate (Occam, PAC-Bayes, Monte Carlo confidence) uses (`docs/certificates.md`).
//!
//! `kl(q || p) = q ln(q/p) + (1-q) ln((1-q)/(1-p))`, with `0 ln 0 = 0`. For fixed `q` it is
//! decreasing in `p` on `[0, q]` and increasing on `[q, 1]`, so the two inverses are found by
//! bisection. Both are rounded outward: the returned upper inverse is never below the true
//! supremum, the lower inverse never above the true infimum, whatever the rounding of `ln`.

use crate::error::{Error, Result};

/// Bisection steps over the bit patterns of `[0, 1]` (fewer than 2^63 of them): 64 steps end
/// on `lo`/`hi` being adjacent floats (the loop stops early when they are).
const STEPS: usize = 70;

/// Relative slack granted to the f64 evaluation of `kl`: many ulps of its terms' magnitude. A
/// bracket end is accepted as "kl above c" only when the computed value exceeds `c` by more
/// than this, so rounding in `ln` cannot move the returned end to the wrong side.
const KL_SLACK: f64 = 1e-13;

/// `kl(q || p)` in nats for `q, p` in `[0, 1]`; `+inf` when `p` is 0 or 1 and `q` differs.
/// Formula: the binary relative entropy (Cover and Thomas, eq. 2.26); status: exact up to f64
/// rounding of `ln` (callers needing a bound use [`kl_inverse_upper`]/[`kl_inverse_lower`]).
pub fn binary_kl(q: f64, p: f64) -> Result<f64> {
    unit("q", q)?;
    unit("p", p)?;
    Ok(kl_unchecked(q, p))
}

fn kl_unchecked(q: f64, p: f64) -> f64 {
    kl_with_magnitude(q, p).0
}

/// `(kl(q || p), |first term| + |second term|)`: the magnitude bounds the f64 rounding error
/// of the sum (a few ulps of it), which [`clearly_above`] needs.
fn kl_with_magnitude(q: f64, p: f64) -> (f64, f64) {
    // q ln(q/p), with 0 ln 0 = 0.
    let a = if q == 0.0 {
        0.0
    } else if p == 0.0 {
        f64::INFINITY
    } else {
        q * (q.ln() - p.ln())
    };
    // (1-q) ln((1-q)/(1-p)) through ln_1p, so that p or q below one ulp of 1 are not lost.
    let b = if q == 1.0 {
        0.0
    } else if p == 1.0 {
        f64::INFINITY
    } else {
        (1.0 - q) * ((-q).ln_1p() - (-p).ln_1p())
    };
    // Both terms are finite or +inf; their sum is >= 0 up to rounding, so clamp at 0.
    ((a + b).max(0.0), a.abs() + b.abs())
}

/// `kl(q || p) > c` even after the worst f64 rounding of its evaluation.
fn clearly_above(q: f64, p: f64, c: f64) -> bool {
    let (kl, magnitude) = kl_with_magnitude(q, p);
    kl - c > KL_SLACK * magnitude.max(c)
}

/// `sup { p in [q, 1] : kl(q || p) <= c }`: the upper kl inverse, the certified error in every
/// kl-form bound (Langford 2005, Thm 3.3; Maurer 2004). Rounded outward: the result `hi`
/// satisfies `hi = 1` or `kl(q || hi) > c` with margin, so the true supremum is `<= hi`.
/// `c = +inf` gives 1. Errors: `q` outside `[0, 1]`, `c` negative or NaN (field named).
pub fn kl_inverse_upper(q: f64, c: f64) -> Result<f64> {
    unit("q", q)?;
    rhs(c)?;
    if q >= 1.0 || c == f64::INFINITY {
        return Ok(1.0);
    }
    let above = |p: f64| clearly_above(q, p, c);
    if !above(next_below_one()) {
        return Ok(1.0);
    }
    let (mut lo, mut hi) = (q, next_below_one());
    for _ in 0..STEPS {
        let mid = midpoint_bits(lo, hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if above(mid) { hi = mid } else { lo = mid }
    }
    Ok(hi)
}

/// `inf { p in [0, q] : kl(q || p) <= c }`: the lower kl inverse (a lower confidence limit).
/// Rounded outward: the result `lo` satisfies `lo = 0` or `kl(q || lo) > c` with margin, so
/// the true infimum is `>= lo`. Errors as [`kl_inverse_upper`].
pub fn kl_inverse_lower(q: f64, c: f64) -> Result<f64> {
    unit("q", q)?;
    rhs(c)?;
    if q <= 0.0 || c == f64::INFINITY {
        return Ok(0.0);
    }
    let above = |p: f64| clearly_above(q, p, c);
    let tiny = f64::MIN_POSITIVE;
    if !above(tiny) {
        return Ok(0.0);
    }
    let (mut lo, mut hi) = (tiny, q);
    for _ in 0..STEPS {
        let mid = midpoint_bits(lo, hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if above(mid) { lo = mid } else { hi = mid }
    }
    Ok(lo)
}

/// The float halfway between `lo` and `hi` (both in `[0, 1]`) in bit order: for non-negative
/// floats the bit pattern is monotone, so 64 steps end on adjacent floats at any scale
/// (a tiny `c` puts the inverse near 1e-300, far below what value bisection reaches).
fn midpoint_bits(lo: f64, hi: f64) -> f64 {
    let (a, b) = (lo.to_bits(), hi.to_bits());
    f64::from_bits(a + (b - a) / 2)
}

/// The largest f64 below 1.
fn next_below_one() -> f64 {
    f64::from_bits(1f64.to_bits() - 1)
}

fn unit(field: &str, x: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(Error::invalid(field, x, "a number in [0, 1]"))
    }
}

fn rhs(c: f64) -> Result<f64> {
    if c >= 0.0 {
        Ok(c)
    } else {
        Err(Error::invalid(
            "kl right-hand side",
            c,
            "a number >= 0 (or +inf)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_matches_closed_forms() {
        // kl(0 || p) = -ln(1 - p); kl(1/2 || 1/4) = 0.5 ln 2 + 0.5 ln(2/3) (by hand).
        assert!((binary_kl(0.0, 0.3).unwrap() + (0.7f64).ln()).abs() < 1e-15);
        let v = 0.5 * 2f64.ln() + 0.5 * (2.0f64 / 3.0).ln();
        assert!((binary_kl(0.5, 0.25).unwrap() - v).abs() < 1e-15);
        assert_eq!(binary_kl(0.2, 0.2).unwrap(), 0.0);
        assert_eq!(binary_kl(0.2, 0.0).unwrap(), f64::INFINITY);
        assert_eq!(binary_kl(0.2, 1.0).unwrap(), f64::INFINITY);
        assert_eq!(binary_kl(0.0, 0.0).unwrap(), 0.0);
        assert_eq!(binary_kl(1.0, 1.0).unwrap(), 0.0);
    }

    #[test]
    fn upper_inverse_at_zero_training_error_is_one_minus_exp() {
        // kl(0 || p) = c  <=>  p = 1 - e^{-c}: the realisable Occam bound.
        for c in [1e-300, 1e-12, 1e-3, 0.1, 1.0, 10.0, 700.0] {
            let p = kl_inverse_upper(0.0, c).unwrap();
            let exact = -(-c).exp_m1();
            assert!(p >= exact, "c = {c:e}: {p:e} < {exact:e}");
            assert!(
                p <= exact * (1.0 + 1e-9) + 1e-300,
                "c = {c:e}: {p:e} vs {exact:e}"
            );
        }
    }

    #[test]
    fn inverses_are_outward_and_tight() {
        for q in [0.0, 1e-9, 0.01, 0.3, 0.5, 0.9, 1.0 - 1e-9] {
            for c in [0.0, 1e-10, 1e-4, 0.05, 0.7, 5.0] {
                let hi = kl_inverse_upper(q, c).unwrap();
                let lo = kl_inverse_lower(q, c).unwrap();
                assert!(lo <= q && q <= hi, "q = {q}, c = {c}: {lo} {hi}");
                // Outward: the ends are at or beyond the level set.
                assert!(hi == 1.0 || binary_kl(q, hi).unwrap() >= c, "q={q} c={c}");
                assert!(lo == 0.0 || binary_kl(q, lo).unwrap() >= c, "q={q} c={c}");
                // Tight: a point slightly inside has kl <= c (up to the slack).
                let inside = q + (hi - q) * (1.0 - 1e-6);
                assert!(binary_kl(q, inside).unwrap() <= c * (1.0 + 1e-9) + 1e-11);
            }
        }
    }

    #[test]
    fn edges_and_bad_input() {
        assert_eq!(kl_inverse_upper(1.0, 0.3).unwrap(), 1.0);
        assert_eq!(kl_inverse_upper(0.4, f64::INFINITY).unwrap(), 1.0);
        assert_eq!(kl_inverse_upper(0.4, 1e6).unwrap(), 1.0);
        assert_eq!(kl_inverse_lower(0.0, 0.3).unwrap(), 0.0);
        assert_eq!(kl_inverse_lower(0.4, 1e6).unwrap(), 0.0);
        // c = 0: the inverse is q itself, returned at or just above it.
        let hi = kl_inverse_upper(0.25, 0.0).unwrap();
        assert!((0.25..0.25 + 1e-5).contains(&hi), "{hi}");
        for bad in [f64::NAN, -0.1, 1.1] {
            assert!(kl_inverse_upper(bad, 0.1).is_err());
            assert!(binary_kl(0.1, bad).is_err());
        }
        assert!(kl_inverse_upper(0.1, -1.0).is_err());
        assert!(kl_inverse_upper(0.1, f64::NAN).is_err());
        let msg = kl_inverse_upper(0.1, -1.0).unwrap_err().to_string();
        assert!(msg.contains("kl right-hand side"), "{msg}");
    }

    #[test]
    fn mutant_symmetric_bound_is_caught() {
        // A mutant that returned q + sqrt(c/2) (Pinsker, looser) must differ: at q = 0 the kl
        // inverse is far tighter. This is what the exact inversion buys.
        let (q, c) = (0.0, 38.0 * 2f64.ln() / 300.0 + (20f64).ln() / 300.0);
        let exact = kl_inverse_upper(q, c).unwrap();
        let pinsker = q + (c / 2.0).sqrt();
        assert!(exact < 0.6 * pinsker, "{exact} vs {pinsker}");
        // Worked example of docs/certificates.md: K = 38 bits, m = 300, delta = 0.05 gives about 0.09.
        assert!((0.08..0.10).contains(&exact), "{exact}");
    }
}
