//! Log-space helpers that keep every bound finite from radii `1e-12` to `1e12`
//! (`docs/derivations.md#10-numerics`).

/// `ln(f64::MAX)`: above this, `exp` overflows.
pub const LN_MAX: f64 = 709.782_712_893_384;

/// Largest integer below which every f64 is exactly representable (`2^53`): above it,
/// `ceil(x) == x` in f64, so ceilings are taken only below it.
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// Relative outward-rounding margin of every rigorous row (`docs/derivations.md#10-numerics`):
/// a quantity computed as `exp(sum of logs)`, a ceiling argument, a Rademacher or gap value is
/// raised by this factor before it is used. It exceeds the first-order rounding error
/// `(n - 1) u sum_i |t_i|` (`u = 2^-53`) of any sum of `n` logs with `(n - 1) sum_i |t_i| <= 1e6`,
/// plus the few ulps of `exp`, `ln` and `ceil`'s argument.
pub const OUTWARD: f64 = 1e-9;

/// `x` raised by the outward margin: `x (1 + OUTWARD)` for `x >= 0` (saturating).
pub fn up(x: f64) -> f64 {
    (x * (1.0 + OUTWARD)).min(f64::MAX)
}

/// `ln x` raised by the outward margin, so that `exp(ln_up(y)) >= x` when `y` is a computed
/// `ln x` (a sum of logs).
pub fn ln_up(ln_x: f64) -> f64 {
    ln_x + OUTWARD
}

/// `ceil(x)` of a computed argument, rounded outward: `ceil(x (1 + OUTWARD))`. An argument whose
/// exact value is an integer `n` but which was computed one ulp below `n` still gives `>= n`;
/// one computed at exactly `n` gives `n + 1` (conservative).
pub fn ceil_up(x: f64) -> f64 {
    up(x).ceil()
}

/// `exp(x)`, saturating at `f64::MAX` instead of overflowing to infinity.
pub fn exp_sat(x: f64) -> f64 {
    if x >= LN_MAX { f64::MAX } else { x.exp() }
}

/// `exp(x)` rounded outward (`exp(ln_up(x))`), saturating: for ranges and radius products
/// computed as `exp(sum of logs)`.
pub fn exp_up(x: f64) -> f64 {
    exp_sat(ln_up(x))
}

/// Saturating sum of non-negative terms.
pub fn add_sat(a: f64, b: f64) -> f64 {
    (a + b).min(f64::MAX)
}

/// `ln ceil_up(e^ln_x)` for `x > 0` (the argument rounded outward, [`ceil_up`]); above `2^53`
/// every f64 is an integer and the result is `ln_up(ln_x)`.
pub fn ln_ceil(ln_x: f64) -> f64 {
    let ln_x = ln_up(ln_x);
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
        // Direct evaluation where nothing overflows. An argument that is (or was computed as)
        // exactly the integer 225 is rounded outward to 226: conservative by design.
        assert_eq!(ln_ceil((225.0f64).ln()).exp().round(), 226.0);
        // ceil(36 * 0.3^2) = ceil(3.24) = 4.
        assert!((ln_ceil((3.24f64).ln()) - 4f64.ln()).abs() < 1e-12);
        // ln(2 ceil(5.5 + 2) * 10 + 1) = ln(161).
        let v = ln_zhang_log_factor(5.5f64.ln(), 2.0, 10f64.ln());
        assert!((v - 161f64.ln()).abs() < 1e-12, "{v}");
        // Large branch: r = 1e20, c = 2, n = 1e6: ln(2e26) up to relative 1e-15.
        let v = ln_zhang_log_factor(1e20f64.ln(), 2.0, 1e6f64.ln());
        assert!((v - (2e26f64).ln()).abs() < 1e-12, "{v}");
    }

    #[test]
    fn near_integer_and_one_ulp_cases_round_outward() {
        // An argument whose exact value is 7 + 1e-13 (ceiling 8) but which was computed one ulp
        // below 7 (log-space rounding): the plain ceiling undercounts, the outward one does not.
        let below = f64::from_bits(7.0f64.to_bits() - 1);
        assert!(below < 7.0 && below.ceil() == 7.0);
        assert_eq!(ceil_up(below), 8.0);
        assert_eq!(ceil_up(7.0 - 2e-15), 8.0);
        assert_eq!(ceil_up(7.0), 8.0);
        // Away from integers the outward ceiling is the plain one.
        assert_eq!(ceil_up(6.5), 7.0);
        // ln_ceil of a log-space argument one ulp below ln 7 (exp of it lands below 7): >= ln 8.
        let ln7_below = f64::from_bits(7f64.ln().to_bits() - 1);
        assert!(ln7_below.exp() <= 7.0);
        assert!(ln_ceil(ln7_below) >= 8f64.ln() - 1e-15);
        // A range computed as exp(sum of logs) can land below the direct product; exp_up cannot.
        // b_w L b_v b_x with factors whose logs do not sum exactly:
        let f = [0.7f64, 1.3, 2.9, 0.11];
        let direct: f64 = f.iter().product();
        let via_logs: f64 = f.iter().map(|x| x.ln()).sum::<f64>();
        assert!(
            exp_up(via_logs) >= direct,
            "{} < {direct}",
            exp_up(via_logs)
        );
        assert!(exp_up(via_logs) <= direct * (1.0 + 2.0 * OUTWARD));
        // A value one ulp below the true one is raised above it by `up`.
        let v = f64::from_bits(0.5f64.to_bits() - 1);
        assert!(up(v) > 0.5 && up(v) < 0.5 * (1.0 + 2.0 * OUTWARD));
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
