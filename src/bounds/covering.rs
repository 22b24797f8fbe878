//! Covering-number building blocks (`docs/derivations.md#2-building-blocks`).
//!
//! Each function returns a bound on `ln N` (natural log; Zhang's `log2` statements are the same
//! inequalities, see the derivation document's preamble). Public functions validate their inputs;
//! the `*_ratio` versions are the unchecked log-space kernels used inside composite bounds.

use super::numerics::{add_sat, ceil_up, exp_up, ln_ceil, ln_zhang_log_factor, up};
use crate::error::{Result, check};

/// Kernel of (I1)/(I2): `ceil(c r^2) ln(2 ceil(4 r + 2) n + 1)` from `ln r`, `r = a b / eps`,
/// computed in log space and saturated at `f64::MAX`.
pub(crate) fn zhang_ratio(ln_const: f64, ln_r: f64, ln_n: f64) -> f64 {
    // Fast path (3 transcendental calls instead of 10): every intermediate is far from overflow
    // and `c r^2 < 2^53`, so the ceilings are exact in linear space. Same value as the log path.
    if ln_r < 15.0 && ln_const < 10.0 && ln_n < 600.0 {
        let r = ln_r.exp();
        // Outward rounding: ceilings of the inflated arguments, the product raised by `up`.
        let k = ceil_up(ln_const.exp() * r * r).max(1.0);
        let q = 2.0 + ceil_up(4.0 * r).max(1.0);
        return up(k * up(2.0 * q * ln_n.exp() + 1.0).ln());
    }
    let ln_k = ln_ceil(ln_const + 2.0 * ln_r);
    let log_factor = ln_zhang_log_factor(std::f64::consts::LN_2 * 2.0 + ln_r, 2.0, ln_n);
    exp_up(ln_k + log_factor.ln())
}

/// Zhang (2002) Theorem 4, `p = q = 2` — inequality (I1), **rigorous**.
///
/// `ln N_inf({x -> <w,x> : ||w||_2 <= a}, eps, n points with ||x||_2 <= b)
///   <= ceil(36 a^2 b^2 / eps^2) ln(2 ceil(4 a b / eps + 2) n + 1)`.
///
/// Source: Zhang, JMLR 2 (2002), Thm 4; `docs/derivations.md#21-zhang-2002-theorem-4-l2--l2--rigorous`.
pub fn zhang_l2(a: f64, b: f64, eps: f64, n: usize) -> Result<f64> {
    check::positive("a", a)?;
    check::positive("b", b)?;
    check::positive("eps", eps)?;
    check::at_least("n", n, 1)?;
    Ok(zhang_ratio(
        36f64.ln(),
        a.ln() + b.ln() - eps.ln(),
        (n as f64).ln(),
    ))
}

/// Zhang (2002) Theorem 3 (l1 weights, l_inf inputs in `R^dim`) — inequality (I2), **\[shape\]**:
/// the constant `c_z` (288 as remembered) is a parameter because it could not be confirmed.
///
/// `ln N_inf <= ceil(c_z a^2 b^2 (2 + ln dim) / eps^2) ln(2 ceil(4 a b / eps + 2) n + 1)`.
///
/// Source: `docs/derivations.md#22-zhang-2002-theorem-3-l1-weights--l_inf-inputs--shape`.
pub fn zhang_l1_shape(a: f64, b: f64, eps: f64, n: usize, dim: usize, c_z: f64) -> Result<f64> {
    check::positive("a", a)?;
    check::positive("b", b)?;
    check::positive("eps", eps)?;
    check::positive("zhang3_const", c_z)?;
    check::at_least("n", n, 1)?;
    check::at_least("dim", dim, 1)?;
    let ln_r = a.ln() + b.ln() - eps.ln();
    let ln_k = ln_ceil(c_z.ln() + (2.0 + (dim as f64).ln()).ln() + 2.0 * ln_r);
    let log_factor = ln_zhang_log_factor(std::f64::consts::LN_2 * 2.0 + ln_r, 2.0, (n as f64).ln());
    Ok(exp_up(ln_k + log_factor.ln()))
}

/// Kernel of (I3): `ceil(r^2) ln(2 D + 1)` from `ln r`, `r = R b / eps`.
pub(crate) fn maurey_ratio(ln_r: f64, dim: f64) -> f64 {
    exp_up(ln_ceil(2.0 * ln_r) + (2.0 * dim + 1.0).ln().ln())
}

/// Maurey's lemma — inequality (I3), **rigorous**: the l1 ball of radius `r` in `R^dim`, on points
/// with `||x||_inf <= b`, has `ln N_2(eps, L2(S)) <= ceil(r^2 b^2 / eps^2) ln(2 dim + 1)`, i.e.
/// `N <= (2D + 1)^{ceil(R^2/eps^2)}` with `R = r b`.
///
/// Source: `docs/derivations.md#23-maureys-lemma--rigorous`.
pub fn maurey(r: f64, b: f64, eps: f64, dim: usize) -> Result<f64> {
    check::positive("r", r)?;
    check::positive("b", b)?;
    check::positive("eps", eps)?;
    check::at_least("dim", dim, 1)?;
    Ok(maurey_ratio(r.ln() + b.ln() - eps.ln(), dim as f64))
}

/// Bartlett-Foster-Telgarsky (2017) Lemma 3.2 — inequality (I4), **rigorous**:
/// `ln N({X A : ||A||_{2,1} <= a}, eps, ||.||_F) <= ceil(a^2 ||X||_F^2 / eps^2) ln(2 W^2)`,
/// `W = max(d, k)`, the metric the un-normalised Frobenius norm over all rows of `X`.
///
/// Source: `docs/derivations.md#24-bartlett-foster-telgarsky-2017-lemma-32--rigorous`.
pub fn bft_matrix(a: f64, x_frob: f64, eps: f64, max_dim: usize) -> Result<f64> {
    check::positive("a", a)?;
    check::positive("x_frob", x_frob)?;
    check::positive("eps", eps)?;
    check::at_least("max_dim", max_dim, 1)?;
    Ok(bft_ratio(
        a.ln() + x_frob.ln() - eps.ln(),
        bft_ln_log(max_dim as f64),
    ))
}

/// `ln ln(2 W^2)`, the log factor of (I4) in log space.
pub(crate) fn bft_ln_log(max_dim: f64) -> f64 {
    (std::f64::consts::LN_2 + 2.0 * max_dim.ln()).ln()
}

/// Kernel of (I4): `ceil(r^2) ln(2 W^2)` from `ln r` (`r = a ||X||_F / eps`) and
/// `ln ln(2 W^2)`, rounded outward.
pub(crate) fn bft_ratio(ln_r: f64, ln_log: f64) -> f64 {
    exp_up(ln_ceil(2.0 * ln_r) + ln_log)
}

/// Kernel of (I27): `dim2 ln(1 + 2 r)` from `ln r`, rounded outward.
pub(crate) fn volume_ratio(ln_r: f64, dim2: f64) -> f64 {
    // ln(1 + 2r) = softplus(ln 2 + ln r).
    let x = std::f64::consts::LN_2 + ln_r;
    let ln1p = if x > 35.0 { x } else { x.exp().ln_1p() };
    up(dim2 * up(ln1p)).min(f64::MAX)
}

/// Volumetric cover of the score class — inequality (I27), **rigorous**: for
/// `{(x_t^T Theta z) : ||Theta||_F <= a}`, `Theta in R^{dim x dim}`, on rows with
/// `||x_t||, ||z|| <= b`, `ln N_inf(eps) <= dim^2 ln(1 + 2 a b^2 / eps)`; no dependence on the
/// number of points.
///
/// Source: `docs/derivations.md#122-a-t-free-cover-of-the-score-stage`.
pub fn volumetric(a: f64, b: f64, eps: f64, dim: usize) -> Result<f64> {
    check::positive("a", a)?;
    check::positive("b", b)?;
    check::positive("eps", eps)?;
    check::at_least("dim", dim, 1)?;
    let d = dim as f64;
    Ok(volume_ratio(a.ln() + 2.0 * b.ln() - eps.ln(), d * d))
}

/// Volumetric cover of the centred score class of one fixed query — (I34), **rigorous**: for
/// `{((x - c)^T u)_{x in R} : ||u||_2 <= a}` with `||x - c|| <= b` for every table row `x` and
/// `x - c` in a space of dimension `dim`, `ln N_inf(eps) <= dim ln(1 + 2 a b / eps)`; no
/// dependence on the number of rows.
///
/// Source: `docs/derivations.md#128-a-fixed-embedding-and-the-cls-query`.
pub fn volumetric_query(a: f64, b: f64, eps: f64, dim: usize) -> Result<f64> {
    check::positive("a", a)?;
    check::positive("b", b)?;
    check::positive("eps", eps)?;
    check::at_least("dim", dim, 1)?;
    Ok(volume_ratio(a.ln() + b.ln() - eps.ln(), dim as f64))
}

/// Saturating sum of stage log covering numbers (I12).
pub(crate) fn sum_stages(terms: impl IntoIterator<Item = f64>) -> f64 {
    terms.into_iter().fold(0.0, add_sat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::fixtures::assert_outward;

    #[test]
    fn zhang_l2_hand_values() {
        // Arguments chosen away from integers, so float rounding cannot move a ceiling.
        // a = b = 1, eps = 0.7, n = 10: r = 1/0.7 = 1.4286; ceil(36 r^2) = ceil(73.47) = 74;
        // ceil(4r + 2) = ceil(7.714) = 8; ln(2*8*10 + 1) = ln 161.
        let v = zhang_l2(1.0, 1.0, 0.7, 10).unwrap();
        assert_outward(v, 74.0 * 161f64.ln());
        // a = 2, b = 0.5, eps = 0.31: r = 3.2258; ceil(36 r^2) = ceil(374.6) = 375;
        // ceil(4r + 2) = ceil(14.9) = 15; ln(2*15*7 + 1) = ln 211.
        let v = zhang_l2(2.0, 0.5, 0.31, 7).unwrap();
        assert_outward(v, 375.0 * 211f64.ln());
        assert!(zhang_l2(0.0, 1.0, 1.0, 1).is_err());
        assert!(zhang_l2(1.0, 1.0, 1.0, 0).is_err());
    }

    #[test]
    fn zhang_l1_maurey_bft_hand_values() {
        // c_z = 288, a = b = 1, eps = 0.9, dim = 1 (ln 1 = 0): r = 1.111;
        // ceil(288 * 2 * 1.2346) = ceil(711.1) = 712; ceil(4.444 + 2) = 7; ln(2*7*1 + 1) = ln 15.
        let v = zhang_l1_shape(1.0, 1.0, 0.9, 1, 1, 288.0).unwrap();
        assert_outward(v, 712.0 * 15f64.ln());
        // Maurey: r b / eps = 2.6 -> ceil(6.76) = 7 vertices; ln(2*4 + 1) = ln 9.
        let v = maurey(5.2, 0.5, 1.0, 4).unwrap();
        assert_outward(v, 7.0 * 9f64.ln());
        // BFT: a = 1, ||X||_F = 3, eps = 2.1: ceil(9/4.41) = ceil(2.04) = 3; ln(2 * 5^2) = ln 50.
        let v = bft_matrix(1.0, 3.0, 2.1, 5).unwrap();
        assert_outward(v, 3.0 * 50f64.ln());
    }

    #[test]
    fn fast_and_log_paths_agree() {
        // Just below and above the fast-path threshold ln r = 15 the two code paths must agree
        // to float rounding (reference: the log-space path, forced via ln_n >= 600).
        for ln_r in [-30.0, -1.0, 0.3, 7.7, 14.9] {
            let fast = zhang_ratio(36f64.ln(), ln_r, 5.0);
            let ln_k = ln_ceil(36f64.ln() + 2.0 * ln_r);
            let slow = (ln_k
                + ln_zhang_log_factor(2.0 * std::f64::consts::LN_2 + ln_r, 2.0, 5.0).ln())
            .exp();
            assert!(
                (fast - slow).abs() <= 1e-8 * slow,
                "ln r = {ln_r}: {fast} vs {slow}"
            );
        }
    }

    #[test]
    fn extreme_inputs_stay_finite() {
        let v = zhang_l2(1e12, 1e12, 1e-12, usize::MAX).unwrap();
        assert!(v.is_finite() && v > 0.0);
        let v = zhang_l2(1e-12, 1e-12, 1e12, 1).unwrap();
        // ceil of a tiny positive number is 1: ln N <= ln(2 * 3 * 1 + 1) = ln 7 (outward: + 1e-9).
        assert!(v >= 7f64.ln() && (v - 7f64.ln()).abs() < 1e-8, "{v}");
    }
}
