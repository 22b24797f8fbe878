//! Intervals across trials: Student t for the mean, and a bootstrap percentile interval.
//!
//! Rule (stated once, used everywhere): both are computed and printed; figures draw the t
//! interval; the summary table marks a cell `skewed` when the sample skewness satisfies
//! |g1| > 1 with at least 5 trials, and for such cells the bootstrap interval is the one to
//! read (the t interval assumes a roughly symmetric sampling distribution of the mean).

use crate::error::Result;
use crate::stats::{mean_interval, student_t};

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
    let t = student_t(xs, alpha)?;
    let (n, mean) = (t.n, t.mean);
    let nf = n as f64;
    let (m2, m3) = xs.iter().fold((0.0, 0.0), |(a, b), &x| {
        let d = x - mean;
        (a + d * d, b + d * d * d)
    });
    let skewness = if m2 > 0.0 {
        (m3 / nf) / (m2 / nf).powf(1.5)
    } else {
        0.0
    };
    let (boot_lower, boot_upper) = mean_interval(xs, BOOTSTRAP_RESAMPLES, alpha, BOOTSTRAP_SEED)?;
    Ok(Summary {
        n,
        mean,
        sd: t.sd,
        t_lower: t.lower,
        t_upper: t.upper,
        boot_lower,
        boot_upper,
        skewness,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_interval_by_hand() {
        // xs = 1..=5: mean 3, sd sqrt(2.5); t.ppf(0.975, 4) = 2.7764451051977934 (SciPy 1.17.1).
        let s = summarize(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.05).unwrap();
        let half = 2.7764451051977934 * 2.5f64.sqrt() / 5f64.sqrt();
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
