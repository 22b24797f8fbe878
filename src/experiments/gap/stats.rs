//! Intervals across trials: Student t for the mean, and a bootstrap percentile interval.
//!
//! Rule (stated once, used everywhere): both are computed and printed; figures draw the t
//! interval; the summary table marks a cell `skewed` when the sample skewness satisfies
//! |g1| > 1 with at least 5 trials, and for such cells the bootstrap interval is the one to
//! read (the t interval assumes a roughly symmetric sampling distribution of the mean).

use crate::error::{Error, Result};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Bootstrap resamples per interval.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;
/// Fixed seed of the bootstrap: the same trials give the same interval.
const BOOTSTRAP_SEED: u64 = 0x6a70_b007;

/// Mean of a metric across trials with two intervals at level `1 - alpha`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n - 1 denominator); 0 for n = 1.
    pub sd: f64,
    /// `mean -+ t_{n-1, 1-alpha/2} sd / sqrt(n)`; collapses to the mean for n = 1.
    pub t_lower: f64,
    pub t_upper: f64,
    /// Percentiles alpha/2 and 1 - alpha/2 of the bootstrap distribution of the mean.
    pub boot_lower: f64,
    pub boot_upper: f64,
    /// Sample skewness g1 (0 when sd = 0).
    pub skewness: f64,
}

impl Summary {
    /// The rule of the module doc.
    pub fn skewed(&self) -> bool {
        self.n >= 5 && self.skewness.abs() > 1.0
    }
}

/// Summary of finite values `xs` (non-empty) at level `1 - alpha`, alpha in (0, 1).
pub fn summarize(xs: &[f64], alpha: f64) -> Result<Summary> {
    crate::error::check::open_unit("alpha", alpha)?;
    crate::error::check::all_finite("trial values", xs)?;
    if xs.is_empty() {
        return Err(Error::invalid("trial values", "[]", "at least one trial"));
    }
    let n = xs.len();
    let nf = n as f64;
    let mean = xs.iter().sum::<f64>() / nf;
    let (m2, m3) = xs.iter().fold((0.0, 0.0), |(a, b), &x| {
        let d = x - mean;
        (a + d * d, b + d * d * d)
    });
    let sd = if n > 1 { (m2 / (nf - 1.0)).sqrt() } else { 0.0 };
    let skewness = if m2 > 0.0 {
        (m3 / nf) / (m2 / nf).powf(1.5)
    } else {
        0.0
    };
    let (t_lower, t_upper) = if n > 1 {
        let t = StudentsT::new(0.0, 1.0, nf - 1.0)
            .map_err(|e| Error::invalid("degrees of freedom", nf - 1.0, e.to_string()))?;
        let half = t.inverse_cdf(1.0 - alpha / 2.0) * sd / nf.sqrt();
        (mean - half, mean + half)
    } else {
        (mean, mean)
    };
    let mut rng = ChaCha8Rng::seed_from_u64(BOOTSTRAP_SEED);
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| (0..n).map(|_| xs[rng.random_range(0..n)]).sum::<f64>() / nf)
        .collect();
    means.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        means[((q * BOOTSTRAP_RESAMPLES as f64).floor() as usize).min(BOOTSTRAP_RESAMPLES - 1)]
    };
    Ok(Summary {
        n,
        mean,
        sd,
        t_lower,
        t_upper,
        boot_lower: pct(alpha / 2.0),
        boot_upper: pct(1.0 - alpha / 2.0),
        skewness,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_interval_by_hand() {
        // xs = 1..=5: mean 3, sd sqrt(2.5); t_{4, 0.975} = 2.7764451051977987 (R: qt(0.975, 4)).
        let s = summarize(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.05).unwrap();
        let half = 2.7764451051977987 * 2.5f64.sqrt() / 5f64.sqrt();
        assert!((s.t_upper - (3.0 + half)).abs() < 1e-9 && (s.t_lower - (3.0 - half)).abs() < 1e-9);
        assert_eq!(s.skewness, 0.0);
        // Bootstrap means lie within [min, max] and straddle the mean for symmetric data.
        assert!(
            s.boot_lower >= 1.0 && s.boot_lower < 3.0 && s.boot_upper > 3.0 && s.boot_upper <= 5.0
        );
        assert!(!s.skewed());
    }

    #[test]
    fn skewness_rule_and_edge_cases() {
        // One outlier among n equal values has g1 = (n - 2) / sqrt(n - 1) (closed form from
        // the deviations -a/n (n-1 times) and a(n-1)/n); n = 6 gives 4/sqrt(5) = 1.789 > 1.
        let s = summarize(&[0.0, 0.0, 0.0, 0.0, 0.0, 10.0], 0.05).unwrap();
        assert!((s.skewness - 4.0 / 5f64.sqrt()).abs() < 1e-12, "{s:?}");
        assert!(s.skewed());
        let one = summarize(&[0.25], 0.05).unwrap();
        assert_eq!(
            (one.t_lower, one.t_upper, one.boot_lower),
            (0.25, 0.25, 0.25)
        );
        assert!(summarize(&[], 0.05).is_err());
        assert!(summarize(&[f64::NAN], 0.05).is_err());
    }
}
