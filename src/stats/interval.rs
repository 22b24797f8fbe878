//! Confidence intervals in closed form: Student t for a mean, Clopper-Pearson for a binomial
//! proportion. Quantiles come from `statrs`.

use crate::error::{Error, Result, check};
use statrs::distribution::{Beta, ContinuousCDF, StudentsT};

/// Mean of a sample with its two-sided Student t interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudentT {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n - 1 denominator); 0 for n = 1.
    pub sd: f64,
    /// `mean - t_{n-1, 1-alpha/2} sd / sqrt(n)`; the mean itself for n = 1.
    pub lower: f64,
    /// `mean + t_{n-1, 1-alpha/2} sd / sqrt(n)`; the mean itself for n = 1.
    pub upper: f64,
}

/// The Student t interval at level `1 - alpha` (alpha in (0, 1)) for the mean of the finite,
/// non-empty sample `xs`: `mean -+ t_{n-1, 1-alpha/2} sd / sqrt(n)` with the quantile of
/// Student's t with n - 1 degrees of freedom. One value gives the degenerate interval at the
/// mean (there is no spread to estimate); callers that need a real interval ask for n >= 2.
pub fn student_t(xs: &[f64], alpha: f64) -> Result<StudentT> {
    check::open_unit("alpha", alpha)?;
    check::all_finite("sample values", xs)?;
    if xs.is_empty() {
        return Err(Error::invalid("sample values", "[]", "at least one value"));
    }
    let n = xs.len();
    let nf = n as f64;
    let mean = xs.iter().sum::<f64>() / nf;
    let m2: f64 = xs.iter().map(|&x| (x - mean) * (x - mean)).sum();
    if n == 1 {
        return Ok(StudentT {
            n,
            mean,
            sd: 0.0,
            lower: mean,
            upper: mean,
        });
    }
    let sd = (m2 / (nf - 1.0)).sqrt();
    let half = t_quantile(nf - 1.0, 1.0 - alpha / 2.0)? * sd / nf.sqrt();
    Ok(StudentT {
        n,
        mean,
        sd,
        lower: mean - half,
        upper: mean + half,
    })
}

/// Quantile at probability `p` of Student's t with `df > 0` degrees of freedom.
pub fn t_quantile(df: f64, p: f64) -> Result<f64> {
    check::open_unit("p", p)?;
    let t = StudentsT::new(0.0, 1.0, df)
        .map_err(|e| Error::invalid("degrees of freedom", df, format!("> 0 ({e})")))?;
    Ok(t.inverse_cdf(p))
}

/// Exact two-sided Clopper-Pearson interval for a binomial proportion with `k` successes in
/// `n` trials, coverage >= 1 - delta:
/// lower = Beta(k, n-k+1) quantile at delta/2 (0 if k = 0),
/// upper = Beta(k+1, n-k) quantile at 1 - delta/2 (1 if k = n).
/// Source: Clopper & Pearson (1934), Biometrika 26(4).
pub fn clopper_pearson(k: u64, n: u64, delta: f64) -> Result<(f64, f64)> {
    check::open_unit("delta", delta)?;
    if n == 0 {
        return Err(Error::invalid("n", n, "an integer >= 1"));
    }
    if k > n {
        return Err(Error::invalid("k", k, format!("an integer in 0..=n = {n}")));
    }
    let (kf, nf) = (k as f64, n as f64);
    let beta = |a: f64, b: f64| {
        Beta::new(a, b)
            .map_err(|e| Error::invalid("beta shape", format!("({a}, {b})"), e.to_string()))
    };
    let lower = if k == 0 {
        0.0
    } else {
        beta(kf, nf - kf + 1.0)?.inverse_cdf(delta / 2.0)
    };
    let upper = if k == n {
        1.0
    } else {
        beta(kf + 1.0, nf - kf)?.inverse_cdf(1.0 - delta / 2.0)
    };
    Ok((lower, upper))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative agreement with a reference value.
    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs().max(1e-300)
    }

    #[test]
    fn t_quantiles_match_scipy() {
        // Reference: SciPy 1.17.1, `scipy.stats.t.ppf(p, df)`.
        for (df, p, want) in [
            (1.0, 0.975, 12.706204736174694),   // t.ppf(0.975, 1)
            (4.0, 0.975, 2.7764451051977934),   // t.ppf(0.975, 4)
            (9.0, 0.975, 2.262157162798205),    // t.ppf(0.975, 9)
            (29.0, 0.995, 2.756385903670605),   // t.ppf(0.995, 29)
            (1000.0, 0.95, 1.6463788172854643), // t.ppf(0.95, 1000)
        ] {
            let got = t_quantile(df, p).unwrap();
            assert!(close(got, want, 1e-9), "df {df} p {p}: {got} vs {want}");
        }
        assert!(t_quantile(0.0, 0.9).is_err());
        assert!(t_quantile(3.0, 1.0).is_err());
    }

    #[test]
    fn t_interval_by_hand_and_edge_cases() {
        // xs = 1..=5: mean 3, sd sqrt(2.5); t.ppf(0.975, 4) = 2.7764451051977934 (SciPy 1.17.1).
        let s = student_t(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.05).unwrap();
        let half = 2.7764451051977934 * 2.5f64.sqrt() / 5f64.sqrt();
        assert_eq!((s.n, s.mean), (5, 3.0));
        assert!((s.sd - 2.5f64.sqrt()).abs() < 1e-15);
        assert!((s.upper - (3.0 + half)).abs() < 1e-9 && (s.lower - (3.0 - half)).abs() < 1e-9);
        let one = student_t(&[0.25], 0.05).unwrap();
        assert_eq!(
            (one.lower, one.mean, one.upper, one.sd),
            (0.25, 0.25, 0.25, 0.0)
        );
        assert!(student_t(&[], 0.05).is_err());
        assert!(student_t(&[1.0, f64::NAN], 0.05).is_err());
        assert!(student_t(&[1.0, 2.0], 0.0).is_err());
    }

    #[test]
    fn clopper_pearson_matches_scipy() {
        // Reference: SciPy 1.17.1, lower = `scipy.stats.beta.ppf(delta/2, k, n-k+1)`,
        // upper = `scipy.stats.beta.ppf(1-delta/2, k+1, n-k)`.
        for (k, n, delta, lo, hi) in [
            // beta.ppf(0.025, 3, 8), beta.ppf(0.975, 4, 7)
            (3, 10, 0.05, 0.06673951117773447, 0.6524528500599973),
            // beta.ppf(0.005, 50, 51), beta.ppf(0.995, 51, 50)
            (50, 100, 0.01, 0.3688614373589241, 0.6311385626410759),
            // beta.ppf(0.05, 1, 1000), beta.ppf(0.95, 2, 999)
            (1, 1000, 0.1, 5.129197890901781e-05, 0.004734993575499777),
        ] {
            let (l, u) = clopper_pearson(k, n, delta).unwrap();
            assert!(close(l, lo, 1e-8), "k {k} n {n}: lower {l} vs {lo}");
            assert!(close(u, hi, 1e-8), "k {k} n {n}: upper {u} vs {hi}");
        }
        // Ends: k = 0 has lower 0 and upper 1 - (delta/2)^(1/n) (Beta(1, n) closed form);
        // beta.ppf(0.975, 1, 20) = 0.1684334709830853 (SciPy 1.17.1).
        let (l, u) = clopper_pearson(0, 20, 0.05).unwrap();
        assert_eq!(l, 0.0);
        assert!(close(u, 0.1684334709830853, 1e-9) && close(u, 1.0 - 0.025f64.powf(0.05), 1e-9));
        assert_eq!(clopper_pearson(20, 20, 0.05).unwrap().1, 1.0);
        assert!(clopper_pearson(3, 2, 0.05).is_err());
        assert!(clopper_pearson(0, 0, 0.05).is_err());
        assert!(clopper_pearson(1, 2, 1.0).is_err());
    }

    #[test]
    fn clopper_pearson_matches_closed_forms_and_r() {
        // k = 0: upper = 1 - (delta/2)^(1/n); k = n: lower = (delta/2)^(1/n) (closed forms).
        let (lo, hi) = clopper_pearson(0, 10, 0.05).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - (1.0 - 0.025f64.powf(0.1))).abs() < 1e-10, "{hi}");
        let (lo, hi) = clopper_pearson(10, 10, 0.05).unwrap();
        assert!((lo - 0.025f64.powf(0.1)).abs() < 1e-10 && hi == 1.0);
        // R: binom.test(5, 10)$conf.int = 0.1870860 0.8129140;
        //    binom.test(1, 10)$conf.int = 0.002528579 0.445016117.
        let (lo, hi) = clopper_pearson(5, 10, 0.05).unwrap();
        assert!(
            (lo - 0.1870860).abs() < 1e-6 && (hi - 0.8129140).abs() < 1e-6,
            "{lo} {hi}"
        );
        let (lo, hi) = clopper_pearson(1, 10, 0.05).unwrap();
        assert!(
            (lo - 0.002528579).abs() < 1e-8 && (hi - 0.445016117).abs() < 1e-6,
            "{lo} {hi}"
        );
        assert!(clopper_pearson(11, 10, 0.05).is_err());
        assert!(clopper_pearson(0, 0, 0.05).is_err());
        assert!(clopper_pearson(1, 10, 1.0).is_err());
    }
}
