//! The smallest sample size at which a gap bound reaches a target: one search rule for every
//! caller (the construction's predicted sample size, the figures of every bound vs T).

use super::inputs::{BoundParams, Setting};
use super::registry::BoundId;
use super::table::{Radii, bound_row};
use crate::error::{Error, Result, check};
use serde::Serialize;

/// Outcome of [`sample_size`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum SampleSize {
    /// The gap bound is `<= target` at this `m` and at no smaller one (given monotonicity).
    Reached(usize),
    /// The gap bound is still above the target at `m = cap`.
    NotReachedBelowCap { cap: usize },
}

impl SampleSize {
    /// `Some(m)` when reached, as `f64` (exact: `m` is an integer below `2^64`).
    pub fn reached(self) -> Option<f64> {
        match self {
            SampleSize::Reached(m) => Some(m as f64),
            SampleSize::NotReachedBelowCap { .. } => None,
        }
    }
}

/// Smallest `m` in `1..=cap` with `gap(m) <= target`, assuming `gap` is non-increasing in `m`
/// (true of every gap bound here: its Rademacher bound and confidence term both shrink with
/// `m`; a bound flat in `m`, like a saturated one, is still monotone).
///
/// Rule: `gap(cap) > target` is [`SampleSize::NotReachedBelowCap`] and `gap(1) <= target` is
/// `Reached(1)`. Otherwise an integer bracket `lo < hi` with `gap(lo) > target >= gap(hi)` is
/// narrowed, while `hi > 2 lo`, at the geometric midpoint `floor(sqrt(lo hi))` (clamped into
/// `lo+1..=hi-1`; this halves `ln(hi/lo)`), then by integer bisection, until `hi = lo + 1`. The result `hi` is then exactly the
/// smallest passing `m` (at most about `2 log2(ln cap) + log2(cap)` evaluations, about 70 at
/// `cap = 1e19`). Every evaluation is at an integer in `1..=cap`; an error of `gap` is
/// returned as is.
pub fn sample_size(
    target: f64,
    cap: usize,
    mut gap: impl FnMut(usize) -> Result<f64>,
) -> Result<SampleSize> {
    check::positive("target", target)?;
    check::at_least("cap", cap, 1)?;
    let mut passes = |m: usize| -> Result<bool> {
        let g = gap(m)?;
        if g.is_nan() {
            return Err(Error::invalid("gap bound", g, "a number (not NaN)"));
        }
        Ok(g <= target)
    };
    if !passes(cap)? {
        return Ok(SampleSize::NotReachedBelowCap { cap });
    }
    if passes(1)? {
        return Ok(SampleSize::Reached(1));
    }
    let (mut lo, mut hi) = (1usize, cap);
    while hi - lo > 1 {
        let mid = if hi / 2 > lo {
            // Spans more than a factor 2: halve ln(hi/lo) (f64 is exact enough here).
            (((lo as f64) * (hi as f64)).sqrt().floor() as usize).clamp(lo + 1, hi - 1)
        } else {
            lo + (hi - lo) / 2
        };
        if passes(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(SampleSize::Reached(hi))
}

/// [`sample_size`] of the gap of row `id` of [`all_bounds`](super::all_bounds) at `setting` with `num_samples`
/// varied. An error if the row does not apply or has no gap.
pub fn sample_size_of(
    id: BoundId,
    setting: &Setting,
    radii: &Radii,
    params: &BoundParams,
    target: f64,
    cap: usize,
) -> Result<SampleSize> {
    sample_size(target, cap, |m| {
        let s = Setting {
            num_samples: m,
            ..*setting
        };
        bound_row(id, &s, radii, params)?
            .and_then(|r| r.gap)
            .ok_or_else(|| {
                Error::invalid(
                    "bound",
                    id.name(),
                    "a bound with a gap bound that applies at this setting",
                )
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::fixtures::{unit_head, unit_setting};
    use crate::bounds::{all_bounds, row};

    #[test]
    fn finds_the_threshold_of_a_step_exactly() {
        // gap(m) = 1 below m* and 0 from m* on: the answer is m* itself, at every scale.
        let step = |m_star: usize| {
            let mut calls = 0;
            let r = sample_size(0.5, 1 << 62, |m| {
                calls += 1;
                Ok(if m >= m_star { 0.0 } else { 1.0 })
            })
            .unwrap();
            (r, calls)
        };
        for m_star in [
            2usize,
            3,
            10,
            12_345,
            1 << 30,
            987_654_321_012_345,
            (1 << 62) - 1,
        ] {
            let (r, calls) = step(m_star);
            assert_eq!(r, SampleSize::Reached(m_star), "m* = {m_star}");
            // 2 end checks + about log2(ln-range halvings) + log2(final width): far below 200.
            assert!(calls < 200, "{calls} evaluations for m* = {m_star}");
        }
    }

    #[test]
    fn ends_and_errors_are_typed() {
        assert_eq!(
            sample_size(0.1, 1000, |_| Ok(0.5)).unwrap(),
            SampleSize::NotReachedBelowCap { cap: 1000 }
        );
        assert_eq!(
            sample_size(0.1, 1000, |_| Ok(0.0)).unwrap(),
            SampleSize::Reached(1)
        );
        assert!(sample_size(0.1, 1000, |_| Ok(f64::NAN)).is_err());
        assert!(sample_size(0.0, 1000, |_| Ok(0.0)).is_err());
        assert!(sample_size(0.1, 0, |_| Ok(0.0)).is_err());
    }

    #[test]
    fn the_explicit_row_meets_the_target_there_and_not_one_sample_earlier() {
        let s = Setting {
            context_len: 100,
            ..unit_setting()
        };
        let radii = Radii::single_head(unit_head());
        let p = BoundParams::default();
        let m = sample_size_of(BoundId::Explicit, &s, &radii, &p, 0.1, 1 << 60)
            .unwrap()
            .reached()
            .unwrap();
        let gap = |m: f64| {
            let s = Setting {
                num_samples: m as usize,
                ..s
            };
            row(&all_bounds(&s, &radii, &p).unwrap(), BoundId::Explicit)
                .unwrap()
                .gap
                .unwrap()
        };
        // Exactly the smallest passing m.
        assert!(gap(m) <= 0.1);
        assert!(gap(m - 1.0) > 0.1);
        // The lower bound row has no gap: a typed error, not a silent cap.
        assert!(sample_size_of(BoundId::SparseAndLowerBound, &s, &radii, &p, 0.1, 100).is_err());
    }
}
