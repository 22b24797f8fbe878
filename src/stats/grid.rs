//! Geometric (log-spaced) grids.
//!
//! End rule, the same for both grids: the first point is `lo` and the last is `hi`, both exactly
//! (before rounding), and the points in between are evenly spaced in log10. The integer grid
//! rounds every point to the nearest integer and then drops repeats, so it may have fewer points
//! than asked for at the low end (e.g. `1, 2, 2, 3` becomes `1, 2, 3`).

use crate::error::{Error, Result, check};

/// About `per_decade` points per decade from `lo` to `hi` (both included), rounded to distinct
/// integers: `steps = ceil(log10(hi / lo) * per_decade)` (at least 1) equal steps in log10,
/// `10^(log10 lo + (log10 hi - log10 lo) i / steps)` rounded, for `i = 0..=steps`, repeats dropped.
/// `lo = 0` is read as 1 and `hi < lo` as `hi = lo` (one point).
pub fn log_grid(lo: usize, hi: usize, per_decade: usize) -> Vec<usize> {
    let (a, b) = ((lo.max(1) as f64).log10(), (hi.max(lo) as f64).log10());
    let steps = (((b - a) * per_decade as f64).ceil() as usize).max(1);
    let mut v: Vec<usize> = (0..=steps)
        .map(|i| 10f64.powf(a + (b - a) * i as f64 / steps as f64).round() as usize)
        .collect();
    v.dedup();
    v
}

/// `steps + 1` reals from `lo` to `hi`, geometrically spaced: `lo (hi / lo)^(i / steps)` for
/// `i = 0..=steps`. Needs `0 < lo <= hi` finite and `steps >= 1`.
pub fn log_grid_f64(lo: f64, hi: f64, steps: usize) -> Result<Vec<f64>> {
    check::positive("lo", lo)?;
    check::positive("hi", hi)?;
    check::finite("hi", hi)?;
    if hi < lo {
        return Err(Error::invalid("hi", hi, format!(">= lo = {lo}")));
    }
    check::at_least("steps", steps, 1)?;
    Ok((0..=steps)
        .map(|i| lo * (hi / lo).powf(i as f64 / steps as f64))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_grid_covers_the_ends_and_is_increasing() {
        let g = log_grid(10, 100_000, 2);
        assert_eq!((g[0], *g.last().unwrap()), (10, 100_000));
        assert!(g.windows(2).all(|w| w[0] < w[1]));
        // 4 decades at 2 per decade: 8 steps of 10^0.5, rounded (10^1.5 = 31.62..., 10^2.5 =
        // 316.2...).
        assert_eq!(g, [10, 32, 100, 316, 1000, 3162, 10000, 31623, 100_000]);
    }

    #[test]
    fn integer_grid_end_rule_off_decade_and_dedup() {
        // log10(1000 / 8) = 2.097, one per decade: ceil = 3 steps of 125^(1/3) = 5 exactly-ish:
        // 8, 40, 200, 1000 (the hi end is exact, not the next decade).
        assert_eq!(log_grid(8, 1000, 1), [8, 40, 200, 1000]);
        // 1 to 3 at 10 per decade: ceil(4.77) = 5 steps of 3^(1/5) = 1.2457: 1, 1.25, 1.55, 1.93,
        // 2.41, 3 round to 1, 1, 2, 2, 2, 3, deduplicated.
        assert_eq!(log_grid(1, 3, 10), [1, 2, 3]);
        assert_eq!(log_grid(5, 5, 3), [5]);
        assert_eq!(log_grid(0, 1, 3), [1]);
    }

    #[test]
    fn real_grid_is_geometric_with_exact_ends() {
        let g = log_grid_f64(2.0, 2000.0, 3).unwrap();
        assert_eq!(g.len(), 4);
        assert_eq!(g[0], 2.0);
        // Ratio 1000^(1/3) = 10 per step (up to rounding of powf).
        for (x, want) in g.iter().zip([2.0, 20.0, 200.0, 2000.0]) {
            assert!((x - want).abs() <= 1e-12 * want, "{g:?}");
        }
        assert!(log_grid_f64(0.0, 1.0, 3).is_err());
        assert!(log_grid_f64(2.0, 1.0, 3).is_err());
        assert!(log_grid_f64(1.0, 2.0, 0).is_err());
        assert!(log_grid_f64(1.0, f64::INFINITY, 2).is_err());
    }
}
