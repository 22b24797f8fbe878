//! From Rademacher complexity to a generalization gap, fixed radii and post hoc
//! (`docs/derivations.md#7-generalization-gap`, `#8-post-hoc-bound-for-trained-weights`).

use super::inputs::HeadRadii;
use crate::error::{Result, check};

/// `3 sqrt(ln(2/delta) / (2m))` given `ln(2/delta)`.
fn confidence(m: usize, ln_two_over_delta: f64) -> f64 {
    3.0 * (ln_two_over_delta / (2.0 * m as f64)).sqrt()
}

/// Generalization gap for the `gamma`-ramp loss (I22), **rigorous** given a rigorous `rademacher`:
///
/// `P(y f(X) <= 0) - emp. ramp loss <= min(1, (2/gamma) Rad_S(F) + 3 sqrt(ln(2/delta)/(2m)))`
/// with probability `>= 1 - delta`. Non-increasing in `delta` and in `m` (for fixed `Rad`).
///
/// Source: `docs/derivations.md#7-generalization-gap`.
pub fn gap(rademacher: f64, gamma: f64, m: usize, delta: f64) -> Result<f64> {
    check::non_negative("rademacher", rademacher)?;
    check::positive("gamma", gamma)?;
    check::at_least("num_samples", m, 1)?;
    check::open_unit("delta", delta)?;
    Ok(gap_ln(rademacher, gamma, m, (2.0 / delta).ln()))
}

/// [`gap`] with `ln(2/delta)` given directly (post-hoc `delta_J` may be tiny).
pub(crate) fn gap_ln(rademacher: f64, gamma: f64, m: usize, ln_two_over_delta: f64) -> f64 {
    // Rounded outward (docs/derivations.md#10-numerics).
    super::numerics::up(2.0 / gamma * rademacher + confidence(m, ln_two_over_delta)).min(1.0)
}

/// The grid point chosen for trained norms, with its confidence cost (section 8).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PostHoc {
    /// Grid radii `r_min 2^{j_i}`, each the smallest grid radius `>=` the trained norm.
    pub radii: HeadRadii,
    /// Grid indices `j_i` in the order `b_x, b_qk, b_v, b_v21, b_w`.
    pub index: [u32; 5],
    /// `ln(2/delta_J) = ln(2/delta) + sum_i ln((j_i + 1)(j_i + 2))` (I23).
    pub ln_two_over_delta: f64,
}

/// Post-hoc grid point for trained norms (I23), **rigorous**: grid `r_j = r_min 2^j` per radius,
/// `delta_J = delta prod_i 1/((j_i+1)(j_i+2))` (summing to `delta` over all tuples), `j_i` the
/// smallest index with `r_{j_i} >= nu_i`. Evaluate any fixed-radius bound at `radii` with
/// `ln_two_over_delta` to get a bound valid for weights chosen after seeing the sample.
///
/// Source: `docs/derivations.md#8-post-hoc-bound-for-trained-weights`.
pub fn post_hoc_grid(trained: &HeadRadii, r_min: f64, delta: f64) -> Result<PostHoc> {
    trained.validate()?;
    let (grid, index, ln_two_over_delta) = round_up_to_grid(&trained.to_array(), r_min, delta)?;
    Ok(PostHoc {
        radii: HeadRadii::from_array([grid[0], grid[1], grid[2], grid[3], grid[4]]),
        index: [index[0], index[1], index[2], index[3], index[4]],
        ln_two_over_delta,
    })
}

/// (I23) for any number `K` of radii: each trained norm `nu_i` rounded up to the grid
/// `r_min 2^j`, the indices `j_i`, and `ln(2/delta_J) = ln(2/delta) + sum_i ln((j_i+1)(j_i+2))`.
/// The union bound over all `K`-tuples is valid for every `K` (the per-radius weights
/// `1/((j+1)(j+2))` sum to 1), so the deep bound's seven radii use it as the head's five do.
///
/// Source: `docs/derivations.md#8-post-hoc-bound-for-trained-weights`.
pub(crate) fn round_up_to_grid(
    trained: &[f64],
    r_min: f64,
    delta: f64,
) -> Result<(Vec<f64>, Vec<u32>, f64)> {
    check::positive("r_min", r_min)?;
    check::open_unit("delta", delta)?;
    let mut index = Vec::with_capacity(trained.len());
    let mut grid = Vec::with_capacity(trained.len());
    let mut ln_cost = 0.0;
    for &nu in trained {
        check::positive("trained norm", nu)?;
        let mut j = (nu / r_min).log2().ceil().max(0.0);
        // Guard against rounding in log2: the grid radius must not be below the trained norm.
        while r_min * j.exp2() < nu {
            j += 1.0;
        }
        index.push(j as u32);
        grid.push(r_min * j.exp2());
        ln_cost += (j + 1.0).ln() + (j + 2.0).ln();
    }
    Ok((grid, index, (2.0 / delta).ln() + ln_cost))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_by_hand() {
        // Rad = 0.01, gamma = 0.5, m = 1000, delta = 0.05:
        // 4 * 0.01 + 3 sqrt(ln 40 / 2000).
        let v = gap(0.01, 0.5, 1000, 0.05).unwrap();
        let expect = 0.04 + 3.0 * (40f64.ln() / 2000.0).sqrt();
        // Rounded outward by the relative margin 1e-9 (docs/derivations.md#10-numerics).
        assert!(v >= expect && v - expect < 2e-9 * expect, "{v} vs {expect}");
        assert_eq!(gap(1.0, 0.1, 1, 0.5).unwrap(), 1.0);
        assert!(gap(0.1, 1.0, 10, 1.0).is_err());
        assert!(gap(0.1, 1.0, 0, 0.5).is_err());
    }

    #[test]
    fn grid_by_hand() {
        // r_min = 1: norm 3 -> j = 2 (radius 4); norm 1 -> j = 0; norm 0.1 -> j = 0 (radius 1);
        // norm 4 -> j = 2; norm 4.0001 -> j = 3 (radius 8).
        let t = HeadRadii {
            b_x: 3.0,
            b_qk: 1.0,
            b_v: 0.1,
            b_v21: 4.0,
            b_w: 4.0001,
        };
        let ph = post_hoc_grid(&t, 1.0, 0.1).unwrap();
        assert_eq!(ph.index, [2, 0, 0, 2, 3]);
        assert_eq!(ph.radii.to_array(), [4.0, 1.0, 1.0, 4.0, 8.0]);
        // cost: ln(3*4) + ln(1*2) + ln(1*2) + ln(3*4) + ln(4*5)
        let cost = 12f64.ln() * 2.0 + 2f64.ln() * 2.0 + 20f64.ln();
        assert!((ph.ln_two_over_delta - (20f64.ln() + cost)).abs() < 1e-12);
    }

    #[test]
    fn grid_weights_sum_to_one() {
        // (I23): sum_{j >= 0} 1/((j+1)(j+2)) = 1 (telescoping); partial sum to J is 1 - 1/(J+2).
        let s: f64 = (0..100_000)
            .map(|j| 1.0 / ((j as f64 + 1.0) * (j as f64 + 2.0)))
            .sum();
        assert!((s - (1.0 - 1.0 / 100_001.0)).abs() < 1e-12);
    }
}
