//! The level crossing of a success-rate curve: a binomial logistic fit in one covariate and a
//! profile-likelihood interval for the covariate at which the success probability equals a level
//! (docs/experiments.md §3).
//!
//! Model: `k_i ~ Binomial(n_i, p(x_i))` with `p(x) = sigma(logit(level) + b (x - theta))`,
//! `b >= 0` (the rate is assumed non-decreasing in x), so `theta` is the x at which p = level.
//! The critical-sample-size experiment uses x = ln m and level = 1/2.
//!
//! - **Estimate.** When the outcomes overlap (some failure above some success), the maximum
//!   likelihood estimate exists: Newton's method on the two parameters (a, b) of
//!   `logit p = a + b x` (concave log-likelihood, step halving), then `theta = (logit(level) - a) / b`.
//!   When they do not overlap (complete separation: every trial at x below a gap fails and
//!   every trial above succeeds; quasi-complete: the two sides meet at one x with mixed outcomes)
//!   the likelihood increases without bound as b grows and no estimate exists: the status says
//!   [`CrossingStatus::Separated`], and the reported point is the middle of the gap.
//! - **Interval.** The profile likelihood `l_p(theta) = max_{0 <= b <= B_MAX} l(theta, b)`
//!   (concave in b for fixed theta, maximised by bisection on its derivative) gives
//!   `{theta : 2 (l_max - l_p(theta)) <= chi2_1(conf)}`; each end is found by stepping out from the
//!   estimate and bisecting. An end that is not reached within [`REACH`] of the probed range is
//!   open (infinite): the data do not bound the crossing on that side. Under separation l_max
//!   is the supremum (approached as b grows, taken at `b = B_MAX`) and the profile interval
//!   shrinks to the open gap between the largest failing and the smallest succeeding x; the
//!   closed gap is reported (the crossing is resolved only to the probe spacing).
//!   Source: Venzon & Moolgavkar (1988), Applied Statistics 37(1), for profile-likelihood
//!   intervals; Albert & Anderson (1984), Biometrika 71(1), for (quasi-)separation.
//!
//! Never returns NaN: every case without a crossing has its own status. Pure computation.

use crate::error::{Error, Result, check};
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Outcomes at one value of the covariate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinomialPoint {
    pub x: f64,
    pub successes: u64,
    pub trials: u64,
}

/// Which case the data are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossingStatus {
    /// The maximum likelihood estimate exists and has b > 0.
    Fitted,
    /// No overlap between failures and successes: no estimate; the point is the gap's middle.
    Separated,
    /// No success at any x: the crossing lies above the probed range (censored).
    NoSuccess,
    /// Every trial succeeded: the crossing lies at or below the smallest x.
    AllSuccess,
    /// The fitted slope is <= 0: the rate does not increase with x, there is no crossing.
    NotIncreasing,
    /// Separated, but the observed rate is below the level at every x: the crossing lies
    /// above the probed range (censored).
    BelowLevel,
    /// Separated, but the observed rate is at least the level at every x: the crossing lies at
    /// or below the smallest x.
    AboveLevel,
}

impl CrossingStatus {
    pub fn label(self) -> &'static str {
        match self {
            CrossingStatus::Fitted => "fitted",
            CrossingStatus::Separated => "separated",
            CrossingStatus::NoSuccess => "no success (censored)",
            CrossingStatus::AllSuccess => "all success (at or below the smallest probe)",
            CrossingStatus::NotIncreasing => "rate not increasing",
            CrossingStatus::BelowLevel => "rate below the level at every probe (censored)",
            CrossingStatus::AboveLevel => "rate at or above the level at every probe",
        }
    }

    /// The crossing lies above the probed range.
    pub fn is_censored(self) -> bool {
        matches!(self, CrossingStatus::NoSuccess | CrossingStatus::BelowLevel)
    }
}

/// The fitted crossing and its interval, in the covariate's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crossing {
    pub status: CrossingStatus,
    /// The x at which p = level: the MLE (`Fitted`) or the gap's middle (`Separated`).
    pub estimate: Option<f64>,
    /// Slope b of the MLE (`Fitted` only).
    pub slope: Option<f64>,
    /// Profile-likelihood interval; an end may be infinite (open). For `NoSuccess` it is
    /// (largest x, +inf), for `AllSuccess` (-inf, smallest x), for `NotIncreasing` (-inf, +inf).
    pub interval: (f64, f64),
}

/// Upper end of the slope in the profile (per unit of x). With x = ln m and probes at least
/// 1% apart, b = 1e4 makes p within e^-100 of 0 or 1 at every probe: a step.
pub const B_MAX: f64 = 1e4;
/// How far beyond the probed x range an interval end is searched before it is declared open.
pub const REACH: f64 = 3.0;

fn log_sigmoid(z: f64) -> f64 {
    // ln sigma(z) = -ln(1 + e^{-z}), stable for both signs.
    if z >= 0.0 {
        -(-z).exp().ln_1p()
    } else {
        z - z.exp().ln_1p()
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn loglik(points: &[BinomialPoint], eta: impl Fn(f64) -> f64) -> f64 {
    points
        .iter()
        .map(|p| {
            let z = eta(p.x);
            let (k, n) = (p.successes as f64, p.trials as f64);
            k * log_sigmoid(z) + (n - k) * log_sigmoid(-z)
        })
        .sum()
}

/// max over b in [0, B_MAX] of the log-likelihood at crossing `theta` (concave in b).
fn profile(points: &[BinomialPoint], c: f64, theta: f64) -> f64 {
    let grad = |b: f64| -> f64 {
        points
            .iter()
            .map(|p| {
                let z = c + b * (p.x - theta);
                (p.successes as f64 - p.trials as f64 * sigmoid(z)) * (p.x - theta)
            })
            .sum()
    };
    let b = if grad(0.0) <= 0.0 {
        0.0
    } else if grad(B_MAX) >= 0.0 {
        B_MAX
    } else {
        let (mut lo, mut hi) = (0.0, B_MAX);
        // 200 halvings of [0, 1e4] reach f64 resolution; stop earlier once they meet.
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if grad(mid) > 0.0 { lo = mid } else { hi = mid }
        }
        0.5 * (lo + hi)
    };
    loglik(points, |x| c + b * (x - theta))
}

/// Newton's method on (a, b) of logit p = a + b (x - x_mean); needs overlapping outcomes
/// (then the MLE exists and is unique). Returns (a, b) in the uncentred parametrisation.
fn newton(points: &[BinomialPoint]) -> Result<(f64, f64)> {
    let n_tot: f64 = points.iter().map(|p| p.trials as f64).sum();
    let xm = points.iter().map(|p| p.trials as f64 * p.x).sum::<f64>() / n_tot;
    let ll = |a: f64, b: f64| loglik(points, |x| a + b * (x - xm));
    let (mut a, mut b) = (0.0, 0.0);
    let mut cur = ll(a, b);
    for _ in 0..200 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for p in points {
            let u = p.x - xm;
            let q = sigmoid(a + b * u);
            let n = p.trials as f64;
            let r = p.successes as f64 - n * q;
            let w = n * q * (1.0 - q);
            ga += r;
            gb += r * u;
            haa += w;
            hab += w * u;
            hbb += w * u * u;
        }
        let det = haa * hbb - hab * hab;
        if det.is_nan() || det <= 0.0 || !det.is_finite() {
            break;
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        let mut t = 1.0;
        let mut moved = false;
        for _ in 0..60 {
            let (na, nb) = (a + t * da, b + t * db);
            let next = ll(na, nb);
            if next >= cur {
                moved = (na - a).abs() + (nb - b).abs() > 1e-14 * (1.0 + a.abs() + b.abs());
                (a, b, cur) = (na, nb, next);
                break;
            }
            t *= 0.5;
        }
        if !moved {
            break;
        }
    }
    if !(a.is_finite() && b.is_finite()) {
        return Err(Error::invalid(
            "logistic fit",
            "non-finite Newton iterate",
            "overlapping outcomes (checked before fitting)",
        ));
    }
    Ok((a - b * xm, b))
}

/// The x at which the fitted success probability equals `level`, with a `conf` profile
/// interval (see the module doc). Needs at least one point, `successes <= trials`, `trials >= 1`,
/// finite x, `level` and `conf` in (0, 1).
pub fn level_crossing(points: &[BinomialPoint], level: f64, conf: f64) -> Result<Crossing> {
    check::at_least("number of points", points.len(), 1)?;
    check::open_unit("level", level)?;
    check::open_unit("conf", conf)?;
    for p in points {
        check::finite("x", p.x)?;
        check::at_least("trials", p.trials as usize, 1)?;
        if p.successes > p.trials {
            return Err(Error::invalid(
                "successes",
                p.successes,
                format!("at most trials = {}", p.trials),
            ));
        }
    }
    let x_min = points.iter().map(|p| p.x).fold(f64::INFINITY, f64::min);
    let x_max = points.iter().map(|p| p.x).fold(f64::NEG_INFINITY, f64::max);
    let k_tot: u64 = points.iter().map(|p| p.successes).sum();
    let n_tot: u64 = points.iter().map(|p| p.trials).sum();
    let none = |status, interval| Crossing {
        status,
        estimate: None,
        slope: None,
        interval,
    };
    if k_tot == 0 {
        return Ok(none(CrossingStatus::NoSuccess, (x_max, f64::INFINITY)));
    }
    if k_tot == n_tot {
        return Ok(none(CrossingStatus::AllSuccess, (f64::NEG_INFINITY, x_min)));
    }
    // Largest x with a failure, smallest x with a success.
    let top_fail = points
        .iter()
        .filter(|p| p.successes < p.trials)
        .map(|p| p.x)
        .fold(f64::NEG_INFINITY, f64::max);
    let low_success = points
        .iter()
        .filter(|p| p.successes > 0)
        .map(|p| p.x)
        .fold(f64::INFINITY, f64::min);
    let c = (level / (1.0 - level)).ln();
    let (status, theta, slope) = if top_fail <= low_success {
        (
            CrossingStatus::Separated,
            0.5 * (top_fail + low_success),
            None,
        )
    } else {
        let (a, b) = newton(points)?;
        if b <= 0.0 {
            return Ok(none(
                CrossingStatus::NotIncreasing,
                (f64::NEG_INFINITY, f64::INFINITY),
            ));
        }
        (CrossingStatus::Fitted, (c - a) / b, Some(b))
    };
    let q = ChiSquared::new(1.0)
        .map_err(|e| Error::invalid("chi-square degrees of freedom", 1, e.to_string()))?
        .inverse_cdf(conf);
    let l_max = profile(points, c, theta);
    let inside = |t: f64| 2.0 * (l_max - profile(points, c, t)) <= q;
    let end = |dir: f64| -> f64 {
        let limit = if dir > 0.0 {
            x_max + REACH
        } else {
            x_min - REACH
        };
        let step = 0.01 * (1.0 + (x_max - x_min));
        let (mut ok, mut t) = (theta, theta);
        while (limit - t) * dir > 0.0 {
            t = if ((limit - (t + dir * step)) * dir) < 0.0 {
                limit
            } else {
                t + dir * step
            };
            if !inside(t) {
                let (mut a, mut b) = (ok, t);
                for _ in 0..60 {
                    let mid = 0.5 * (a + b);
                    if inside(mid) { a = mid } else { b = mid }
                }
                return a;
            }
            ok = t;
        }
        dir * f64::INFINITY
    };
    let (mut lo, mut hi) = (end(-1.0), end(1.0));
    // Under separation the supremum sits at the meeting point even when no probe's rate is on
    // the other side of the level (e.g. 1/10 at the largest x and none above): not a crossing.
    let rate = |p: &BinomialPoint| p.successes as f64 / p.trials as f64;
    if status == CrossingStatus::Separated && points.iter().all(|p| rate(p) < level) {
        return Ok(none(
            CrossingStatus::BelowLevel,
            (lo.min(x_max), f64::INFINITY),
        ));
    }
    if status == CrossingStatus::Separated && points.iter().all(|p| rate(p) >= level) {
        return Ok(none(
            CrossingStatus::AboveLevel,
            (f64::NEG_INFINITY, hi.max(x_min)),
        ));
    }
    if status == CrossingStatus::Separated {
        // With b unbounded the profile interval is the open gap itself (B_MAX puts its ends
        // just inside): the crossing is resolved only to the probe spacing, so the closed gap
        // is reported.
        (lo, hi) = (lo.min(top_fail), hi.max(low_success));
    }
    Ok(Crossing {
        status,
        estimate: Some(theta),
        slope,
        interval: (lo, hi),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(rows: &[(f64, u64, u64)]) -> Vec<BinomialPoint> {
        rows.iter()
            .map(|&(x, successes, trials)| BinomialPoint {
                x,
                successes,
                trials,
            })
            .collect()
    }

    #[test]
    fn mle_solves_the_score_equations() {
        // Reference: the definition of the MLE (both score equations vanish,
        // sum (k_i - n p_i) = 0 and sum x_i (k_i - n p_i) = 0), and a brute-force grid search of
        // the log-likelihood that no grid point beats the Newton solution.
        let p = pts(&[
            (0.0, 1, 10),
            (1.0, 3, 10),
            (2.0, 5, 10),
            (3.0, 8, 10),
            (4.0, 9, 10),
        ]);
        let (a, b) = newton(&p).unwrap();
        let s0: f64 = p
            .iter()
            .map(|q| q.successes as f64 - 10.0 * sigmoid(a + b * q.x))
            .sum();
        let s1: f64 = p
            .iter()
            .map(|q| q.x * (q.successes as f64 - 10.0 * sigmoid(a + b * q.x)))
            .sum();
        assert!(s0.abs() < 1e-9 && s1.abs() < 1e-9, "{s0} {s1}");
        let best = loglik(&p, |x| a + b * x);
        for i in 0..=200 {
            for j in 0..=200 {
                let (ga, gb) = (-4.0 + 0.02 * i as f64, 0.02 * j as f64);
                assert!(loglik(&p, |x| ga + gb * x) <= best + 1e-12);
            }
        }
        let c = level_crossing(&p, 0.5, 0.95).unwrap();
        assert_eq!(c.status, CrossingStatus::Fitted);
        let theta = c.estimate.unwrap();
        assert!((theta + a / b).abs() < 1e-12);
        // Symmetric-ish data around x = 2: the crossing is near 2 and inside its interval.
        assert!((theta - 2.0).abs() < 0.3, "{theta}");
        assert!(c.interval.0 < theta && theta < c.interval.1, "{c:?}");
    }

    #[test]
    fn profile_interval_ends_are_at_the_chi2_level() {
        // By definition each finite end has 2 (l_max - l_p) = chi2_1(0.95) = 3.841458820694124
        // (the 0.95 quantile of chi-square with 1 degree of freedom, e.g. scipy.stats.chi2.ppf).
        let p = pts(&[
            (0.0, 0, 8),
            (0.5, 2, 8),
            (1.0, 4, 8),
            (1.5, 5, 8),
            (2.0, 8, 8),
        ]);
        let c = level_crossing(&p, 0.5, 0.95).unwrap();
        let theta = c.estimate.unwrap();
        let l_max = profile(&p, 0.0, theta);
        for e in [c.interval.0, c.interval.1] {
            assert!(e.is_finite());
            let d = 2.0 * (l_max - profile(&p, 0.0, e));
            assert!((d - 3.841458820694124).abs() < 1e-6, "{d}");
        }
        // More trials at the same rates: a narrower interval (sqrt(n) scaling, roughly).
        let p4: Vec<BinomialPoint> = p
            .iter()
            .map(|q| BinomialPoint {
                x: q.x,
                successes: 4 * q.successes,
                trials: 4 * q.trials,
            })
            .collect();
        let c4 = level_crossing(&p4, 0.5, 0.95).unwrap();
        let w = c.interval.1 - c.interval.0;
        let w4 = c4.interval.1 - c4.interval.0;
        assert!(w4 < 0.7 * w, "{w} {w4}");
    }

    #[test]
    fn separation_has_its_status_and_a_finite_bracketing_interval() {
        // All fail at x <= 1, all succeed at x >= 2: complete separation, no MLE.
        let p = pts(&[(0.0, 0, 10), (1.0, 0, 10), (2.0, 10, 10), (3.0, 10, 10)]);
        let c = level_crossing(&p, 0.5, 0.95).unwrap();
        assert_eq!(c.status, CrossingStatus::Separated);
        assert_eq!(c.estimate, Some(1.5));
        assert!(c.slope.is_none());
        // The profile interval is the open gap (any theta outside it costs at least
        // 10 ln 2 > chi2_1(0.95) / 2 at the nearer probe); the closed gap [1, 2] is reported.
        assert_eq!(c.interval, (1.0, 2.0), "{c:?}");
        // Quasi-complete: mixed outcomes only at the meeting point x = 1.
        let q = pts(&[(0.0, 0, 4), (1.0, 2, 4), (2.0, 4, 4)]);
        let c = level_crossing(&q, 0.5, 0.95).unwrap();
        assert_eq!(
            (c.status, c.estimate),
            (CrossingStatus::Separated, Some(1.0))
        );
        // Quasi-complete at the largest x with rate 1/10 < 1/2: no probe reaches the level, so
        // the crossing is above the range (censored), not at the meeting point.
        let top = pts(&[(0.0, 0, 10), (1.0, 0, 10), (2.0, 1, 10)]);
        let c = level_crossing(&top, 0.5, 0.95).unwrap();
        assert_eq!(c.status, CrossingStatus::BelowLevel);
        assert!(c.status.is_censored() && c.estimate.is_none());
        assert!(
            c.interval.0 <= 2.0 && c.interval.1 == f64::INFINITY,
            "{c:?}"
        );
    }

    #[test]
    fn degenerate_cases_have_statuses_never_nan() {
        let none = level_crossing(&pts(&[(1.0, 0, 5), (2.0, 0, 5)]), 0.5, 0.95).unwrap();
        assert_eq!(none.status, CrossingStatus::NoSuccess);
        assert_eq!(none.interval, (2.0, f64::INFINITY));
        let all = level_crossing(&pts(&[(1.0, 5, 5), (2.0, 5, 5)]), 0.5, 0.95).unwrap();
        assert_eq!(all.status, CrossingStatus::AllSuccess);
        let dec =
            level_crossing(&pts(&[(0.0, 8, 10), (1.0, 5, 10), (2.0, 2, 10)]), 0.5, 0.95).unwrap();
        assert_eq!(dec.status, CrossingStatus::NotIncreasing);
        assert!(dec.estimate.is_none());
        // Weak data (2 trials per point, overlapping): an end may be open, never NaN.
        let weak =
            level_crossing(&pts(&[(0.0, 1, 2), (1.0, 0, 2), (2.0, 1, 2)]), 0.5, 0.95).unwrap();
        assert!(!weak.interval.0.is_nan() && !weak.interval.1.is_nan());
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        assert!(level_crossing(&[], 0.5, 0.95).is_err());
        assert!(level_crossing(&pts(&[(0.0, 3, 2)]), 0.5, 0.95).is_err());
        assert!(level_crossing(&pts(&[(0.0, 0, 0)]), 0.5, 0.95).is_err());
        assert!(level_crossing(&pts(&[(f64::NAN, 0, 1)]), 0.5, 0.95).is_err());
        assert!(level_crossing(&pts(&[(0.0, 0, 1)]), 1.0, 0.95).is_err());
        assert!(level_crossing(&pts(&[(0.0, 0, 1)]), 0.5, 0.0).is_err());
    }
}
