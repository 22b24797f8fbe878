//! The percentile bootstrap, seeded: the same data and seed give the same interval.
//!
//! One implementation for every statistic: [`percentile_interval`] draws `reps` replicates of a
//! statistic, each computed by the caller from a resample drawn with the shared `ChaCha8Rng`
//! (so the caller decides what is resampled: the trials of a mean, or the trials of each probe
//! of a search), sorts them and reads the empirical quantiles. [`mean_interval`] is the common
//! case, the mean of one sample resampled with replacement.

use crate::error::{Result, check};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Quantile rule: the replicate at sorted index `floor(q reps)`, capped at `reps - 1` (the
/// inverse of the empirical distribution function, no interpolation).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((q * sorted.len() as f64).floor() as usize).min(sorted.len() - 1)]
}

/// Percentile bootstrap interval `(q_{alpha/2}, q_{1-alpha/2})` of `reps >= 1` replicates of
/// `statistic`, which draws its resample from the generator it is handed (seeded once from
/// `seed`, replicates drawn in order). Replicates may be infinite (e.g. "never reached"); they
/// sort last. Source: Efron & Tibshirani, *An Introduction to the Bootstrap* (1993), ch. 13.
pub fn percentile_interval(
    reps: usize,
    alpha: f64,
    seed: u64,
    mut statistic: impl FnMut(&mut ChaCha8Rng) -> f64,
) -> Result<(f64, f64)> {
    check::open_unit("alpha", alpha)?;
    check::at_least("reps", reps, 1)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut replicates: Vec<f64> = (0..reps).map(|_| statistic(&mut rng)).collect();
    replicates.sort_by(f64::total_cmp);
    Ok((
        quantile(&replicates, alpha / 2.0),
        quantile(&replicates, 1.0 - alpha / 2.0),
    ))
}

/// Percentile bootstrap interval of the mean of `xs` (non-empty): each replicate is the mean of
/// `n` draws with replacement, indices drawn uniformly in order.
pub fn mean_interval(xs: &[f64], reps: usize, alpha: f64, seed: u64) -> Result<(f64, f64)> {
    check::at_least("sample values", xs.len(), 1)?;
    let n = xs.len();
    let nf = n as f64;
    percentile_interval(reps, alpha, seed, |rng| {
        (0..n).map(|_| xs[rng.random_range(0..n)]).sum::<f64>() / nf
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_rule_by_hand() {
        // Replicates 0, 1, ..., 9 (a counter, no randomness): alpha = 0.2 reads sorted indices
        // floor(0.1 * 10) = 1 and floor(0.9 * 10) = 9.
        let mut i = 10.0;
        let (lo, hi) = percentile_interval(10, 0.2, 0, |_| {
            i -= 1.0;
            i
        })
        .unwrap();
        assert_eq!((lo, hi), (1.0, 9.0));
        // One replicate: both ends are it; infinite replicates sort last.
        assert_eq!(
            percentile_interval(1, 0.05, 0, |_| 4.0).unwrap(),
            (4.0, 4.0)
        );
        let mut k = 0;
        let (lo, hi) = percentile_interval(4, 0.5, 0, |_| {
            k += 1;
            if k == 2 { f64::INFINITY } else { k as f64 }
        })
        .unwrap();
        // Sorted 1, 3, 4, inf: indices floor(0.25 * 4) = 1 and floor(0.75 * 4) = 3.
        assert_eq!((lo, hi), (3.0, f64::INFINITY));
        assert!(percentile_interval(0, 0.05, 0, |_| 0.0).is_err());
        assert!(percentile_interval(5, 1.5, 0, |_| 0.0).is_err());
    }

    #[test]
    fn mean_interval_exact_small_case() {
        // A constant sample: every resample mean is the constant, so is the interval.
        assert_eq!(mean_interval(&[2.5; 7], 100, 0.05, 3).unwrap(), (2.5, 2.5));
        // Two values {0, 1}, n = 2: a resample mean is 0, 1/2 or 1 and nothing else.
        let (lo, hi) = mean_interval(&[0.0, 1.0], 400, 0.05, 9).unwrap();
        assert!([0.0, 0.5, 1.0].contains(&lo) && [0.0, 0.5, 1.0].contains(&hi));
        assert!(lo <= 0.5 && hi >= 0.5);
        assert!(mean_interval(&[], 10, 0.05, 0).is_err());
    }

    #[test]
    fn mean_interval_properties() {
        let sym: Vec<f64> = (-20..=20).map(f64::from).collect(); // symmetric, mean 0
        let a = mean_interval(&sym, 2000, 0.05, 7).unwrap();
        assert_eq!(
            a,
            mean_interval(&sym, 2000, 0.05, 7).unwrap(),
            "same seed, same interval"
        );
        assert_ne!(
            a,
            mean_interval(&sym, 2000, 0.05, 8).unwrap(),
            "the seed is used"
        );
        assert!(
            a.0 < 0.0 && a.1 > 0.0 && a.0 >= -20.0 && a.1 <= 20.0,
            "{a:?}"
        );
        // Four copies of the sample: the standard error halves, so does the width (up to
        // Monte Carlo noise; 2000 replicates keep it within 20%).
        let big: Vec<f64> = sym.iter().cycle().take(4 * sym.len()).copied().collect();
        let b = mean_interval(&big, 2000, 0.05, 7).unwrap();
        let ratio = (b.1 - b.0) / (a.1 - a.0);
        assert!((0.4..0.6).contains(&ratio), "width ratio {ratio}");
    }
}
