//! Dudley's entropy integral (`docs/derivations.md#6-dudleys-entropy-integral`).

use super::numerics::up;
use crate::error::{Error, Result, check};

/// Result of [`dudley_numeric`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dudley {
    /// Rigorous upper bound on `Rad_S(F)`: the upper-sum objective at the best grid `alpha`,
    /// capped at the trivial bound `b`.
    pub value: f64,
    /// The `alpha` achieving it.
    pub alpha: f64,
    /// `(upper - lower) / upper` of the objective: the discretisation error estimate.
    pub rel_gap: f64,
}

/// Relative discretisation error the numeric integral aims for.
pub const DUDLEY_TOL: f64 = 1e-2;
/// The grid covers `[b 1e-12, b]`.
const DECADES: f64 = 12.0;

/// Dudley's bound (I19) on the exact `eps -> ln N(eps)`, numerically, **rigorous**:
///
/// `Rad_S(F) <= min(b, inf_alpha 4 alpha + (12/sqrt m) int_alpha^b sqrt(ln N(eps)) d eps)`.
///
/// `ln_n` must be non-increasing in `eps` (every covering bound is). The integral is the upper
/// Riemann sum (I20) on a geometric grid; `alpha` ranges over the grid; the grid step is refined
/// (in proportion to the observed gap) until the upper and lower objectives agree to
/// [`DUDLEY_TOL`] (at most 3 refinements; the achieved gap is reported).
///
/// The class's output range `B`; for a head it is the product `b_w l_sigma b_v b_x` of the
/// radii, so radii that are each fine can still underflow it to 0: the error says so.
fn check_range(b: f64) -> Result<f64> {
    if b.is_finite() && b > 0.0 {
        return Ok(b);
    }
    Err(Error::invalid(
        "output range B = b_w * l_sigma * b_v * b_x (product of the radii)",
        b,
        "a finite number > 0 (radii whose product underflows or overflows f64 are refused)",
    ))
}

/// Source: `docs/derivations.md#6-dudleys-entropy-integral`.
pub fn dudley_numeric(ln_n: impl Fn(f64) -> f64, b: f64, m: usize) -> Result<Dudley> {
    dudley_numeric_top(ln_n, b, b, m)
}

/// Dudley's bound with the integral ending at `b/2` (I30), **rigorous**, numerically as
/// [`dudley_numeric`]: `Rad_S(F) <= min(b, inf_alpha 4 alpha + (12/sqrt m) int_alpha^{b/2}
/// sqrt(ln N(eps)) d eps)` for `F` with `sup_f ||f||_{L2(S)} <= b` (the chain starts from the
/// cover `{0}` at scale `b`).
///
/// Source: `docs/derivations.md#61-dudley-from-the-cover-0-at-scale-b`.
pub fn dudley_numeric_half(ln_n: impl Fn(f64) -> f64, b: f64, m: usize) -> Result<Dudley> {
    check_range(b)?;
    dudley_numeric_top(ln_n, b, b / 2.0, m)
}

/// The numeric integral from `top` down, capped at `b`.
fn dudley_numeric_top(ln_n: impl Fn(f64) -> f64, b: f64, top: f64, m: usize) -> Result<Dudley> {
    check_range(b)?;
    check_range(top)?;
    check::at_least("num_samples", m, 1)?;
    let coef = 12.0 / (m as f64).sqrt();
    let stop = (m as f64).sqrt() / 3.0;
    let mut h = std::f64::consts::LN_2 / 8.0;
    let mut best = Dudley {
        value: b,
        alpha: b,
        rel_gap: 0.0,
    };
    for _ in 0..4 {
        let ratio = (-h).exp();
        let steps = (DECADES * std::f64::consts::LN_10 / h).ceil() as usize;
        // (upper, lower) objectives at alpha = eps_0 = top: 4 top, no integral.
        let (mut hi_sum, mut lo) = (0.0f64, 0.0f64);
        let (mut best_up, mut best_alpha, mut best_lo) = (4.0 * top, top, 4.0 * top);
        let mut eps_prev = top;
        let mut g_prev = ln_n(top).max(0.0).sqrt();
        for _ in 1..=steps {
            let eps = eps_prev * ratio;
            let g = ln_n(eps).max(0.0).sqrt();
            // Past this point the discrete objective only grows (derivation document, I20).
            if g > stop {
                break;
            }
            let width = eps_prev - eps;
            // For alpha in [eps, eps_prev] the continuous objective is >= 4 eps + coef * (lower
            // sum down to eps_prev): a lower bound used only for the error estimate.
            best_lo = best_lo.min(4.0 * eps + coef * lo);
            hi_sum += g * width;
            lo += g_prev * width;
            let obj_up = 4.0 * eps + coef * hi_sum;
            if obj_up < best_up {
                best_up = obj_up;
                best_alpha = eps;
            }
            eps_prev = eps;
            g_prev = g;
        }
        let rel_gap = if best_up > 0.0 {
            (best_up - best_lo).max(0.0) / best_up
        } else {
            0.0
        };
        best = Dudley {
            // Outward: the upper sum's own rounding (a few thousand additions) is far below
            // the margin of `up`.
            value: up(best_up).min(b),
            alpha: best_alpha,
            rel_gap,
        };
        if rel_gap <= DUDLEY_TOL {
            break;
        }
        // The gap is about proportional to the step: jump to the step that should meet the
        // tolerance (with margin) instead of halving repeatedly.
        h *= (0.7 * DUDLEY_TOL / rel_gap).clamp(1e-3, 0.5);
    }
    Ok(best)
}

/// Dudley's bound in closed form for `ln N(eps) = C / eps^2` (I21), **rigorous** for such a
/// class: `12 sqrt(C/m) (1 + ln(b / (3 sqrt(C/m))))` if `3 sqrt(C/m) < b`, else `4b`; capped at `b`.
///
/// Source: `docs/derivations.md#6-dudleys-entropy-integral`.
pub fn dudley_closed_form(c: f64, b: f64, m: usize) -> Result<f64> {
    check::non_negative("c", c)?;
    check_range(b)?;
    check::at_least("num_samples", m, 1)?;
    let s = (c / m as f64).sqrt();
    if s == 0.0 {
        return Ok(0.0); // a single function: no complexity
    }
    let v = if 3.0 * s < b {
        12.0 * s * (1.0 + (b / (3.0 * s)).ln())
    } else {
        4.0 * b
    };
    Ok(up(v).min(b))
}

/// Dudley's bound (I30) in closed form for `ln N(eps) = C / eps^2`, integral ending at `b/2`:
/// `12 s (1 + ln(b / (6 s)))`, `s = sqrt(C/m)`, if `6 s < b` (the minimiser `alpha* = 3 s` lies
/// below `b/2`), else `b`; capped at `b`. **Rigorous** for such a class.
///
/// Source: `docs/derivations.md#61-dudley-from-the-cover-0-at-scale-b`.
pub fn dudley_closed_form_half(c: f64, b: f64, m: usize) -> Result<f64> {
    check::non_negative("c", c)?;
    check_range(b)?;
    check::at_least("num_samples", m, 1)?;
    let s = (c / m as f64).sqrt();
    if s == 0.0 {
        return Ok(0.0);
    }
    let v = if 6.0 * s < b {
        12.0 * s * (1.0 + (b / (6.0 * s)).ln())
    } else {
        b
    };
    Ok(up(v).min(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_agrees_with_closed_form_for_c_over_eps_squared() {
        // ln N = C/eps^2 exactly: the numeric upper sum is >= the closed form (I21), which is the
        // exact infimum, and within the reported discretisation gap of it.
        for &(c, b, m) in &[
            (1e-4, 1.0, 1000usize),
            (0.3, 5.0, 100_000),
            (1e3, 1e3, 10_000_000),
        ] {
            let closed = dudley_closed_form(c, b, m).unwrap();
            let num = dudley_numeric(|e: f64| c / (e * e), b, m).unwrap();
            assert!(num.value >= closed * (1.0 - 1e-12), "{num:?} < {closed}");
            assert!(
                num.value <= closed * (1.0 + 2.0 * DUDLEY_TOL),
                "c={c}: numeric {num:?} vs closed {closed}"
            );
            // alpha* = 3 sqrt(C/m) (closed form) within one grid step.
            let astar = 3.0 * (c / m as f64).sqrt();
            assert!(
                (num.alpha / astar - 1.0).abs() < 0.1,
                "{} vs {astar}",
                num.alpha
            );
        }
    }

    #[test]
    fn trivial_regimes() {
        // 3 sqrt(C/m) >= b: 4b, capped at b.
        assert_eq!(dudley_closed_form(100.0, 1.0, 1).unwrap(), 1.0);
        // C = 0 (a single function): 0.
        assert_eq!(dudley_closed_form(0.0, 1.0, 10).unwrap(), 0.0);
        let num = dudley_numeric(|_| 0.0, 2.0, 10).unwrap();
        assert!(num.value <= 2.0 * 1e-11, "{num:?}");
    }
}
