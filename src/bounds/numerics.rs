//! Log-space helpers that keep every bound finite from radii `1e-12` to `1e12`
//! (`docs/derivations.md#10-numerics`).

/// `ln(f64::MAX)`: above this, `exp` overflows.
pub const LN_MAX: f64 = 709.782_712_893_384;

/// Largest integer below which every f64 is exactly representable (`2^53`): above it,
/// `ceil(x) == x` in f64, so ceilings are taken only below it.
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// `exp(x)`, saturating at `f64::MAX` instead of overflowing to infinity.
pub fn exp_sat(x: f64) -> f64 {
    if x >= LN_MAX { f64::MAX } else { x.exp() }
}

/// Saturating sum of non-negative terms.
pub fn add_sat(a: f64, b: f64) -> f64 {
    (a + b).min(f64::MAX)
}

/// `ln ceil(e^ln_x)` for `x > 0`, exact while `x < 2^53`.
pub fn ln_ceil(ln_x: f64) -> f64 {
    if ln_x <= 0.0 {
        // 0 < x <= 1 (also when e^ln_x underflows): ceil(x) = 1.
        0.0
    } else if ln_x < EXACT_INT.ln() {
        ln_x.exp().ceil().ln()
    } else {
        ln_x
    }
}

/// `ln(2 ceil(r + c) n + 1)` from `ln r`, for `r > 0`, an integer `c >= 0`, `n >= 1`, without
/// overflow. Uses `ceil(r + c) = c + ceil(r)` so that a tiny `r` is not rounded away.
pub fn ln_zhang_log_factor(ln_r: f64, c: f64, ln_n: f64) -> f64 {
    if ln_r < EXACT_INT.ln() - 1.0 {
        let q = c + ln_ceil(ln_r).exp().round();
        // 2 q n + 1 = exp(ln 2 + ln q + ln n) + 1; ln_1p keeps precision when the product is large.
        let ln_prod = std::f64::consts::LN_2 + q.ln() + ln_n;
        ln_prod + (-ln_prod).exp().ln_1p()
    } else {
        // ceil(r + c) = r (1 + c/r) up to rounding below one ulp; the +1 is below one ulp too.
        std::f64::consts::LN_2 + ln_r + (c * (-ln_r).exp()).ln_1p() + ln_n
    }
}

/// `ln(sum_j exp(x_j))`, stable for large and small `x_j`.
pub fn log_sum_exp(xs: &[f64]) -> f64 {
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + xs.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_and_log_factor_match_direct_evaluation() {
        // Direct evaluation where nothing overflows: ceil(36 * 2.5^2) = ceil(225) = 225.
        assert_eq!(ln_ceil((225.0f64).ln()).exp().round(), 225.0);
        // ceil(36 * 0.3^2) = ceil(3.24) = 4.
        assert!((ln_ceil((3.24f64).ln()) - 4f64.ln()).abs() < 1e-12);
        // ln(2 ceil(4*1.5 + 2) * 10 + 1) = ln(161).
        let v = ln_zhang_log_factor(6f64.ln(), 2.0, 10f64.ln());
        assert!((v - 161f64.ln()).abs() < 1e-12, "{v}");
        // Large branch: r = 1e20, c = 2, n = 1e6: ln(2e26) up to relative 1e-15.
        let v = ln_zhang_log_factor(1e20f64.ln(), 2.0, 1e6f64.ln());
        assert!((v - (2e26f64).ln()).abs() < 1e-12, "{v}");
    }

    #[test]
    fn saturation_and_log_sum_exp() {
        assert_eq!(exp_sat(1e6), f64::MAX);
        assert_eq!(add_sat(f64::MAX, f64::MAX), f64::MAX);
        // ln(e^1 + e^2) computed by hand.
        let v = log_sum_exp(&[1.0, 2.0]);
        assert!((v - (1f64.exp() + 2f64.exp()).ln()).abs() < 1e-14);
        // No overflow for huge exponents: ln(2 e^1000) = 1000 + ln 2.
        assert!((log_sum_exp(&[1000.0, 1000.0]) - (1000.0 + std::f64::consts::LN_2)).abs() < 1e-12);
    }
}
