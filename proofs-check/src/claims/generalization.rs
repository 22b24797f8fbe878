//! Claims about the generalization machinery: the numeric Dudley integral against its closed
//! form (I20, I21), the post-hoc radius grid (I23) and the VC lower bound (I25).

use super::{claim, unit};
use crate::Claim;
use attnbounds::bounds::{self, HeadRadii};

/// Dudley instances: `b in [10^-decades, 10^decades]`, `C / b^2` likewise, `m in [1, 1e6]`
/// (derivations section 10 states which domain each Dudley claim is checked on).
fn dudley_instance(p: &[f64], decades: f64) -> (f64, f64, usize) {
    let b = 10f64.powf(decades * p[1].tanh());
    let c = b * b * 10f64.powf(decades * p[0].tanh());
    let m = (10f64.powf(6.0 * unit(p[2]))).round().max(1.0) as usize;
    (c, b, m)
}

/// (I20/I21): the closed form is the exact infimum for `ln N = C/eps^2`, so it never exceeds the
/// numeric upper-sum bound (`bounds::dudley_closed_form` vs `bounds::dudley_numeric`).
pub fn dudley_lower() -> Claim {
    dudley_lower_on(DUDLEY_WIDE)
}

/// Decades of `b` and `C / b^2` on which the rigorous direction (I21 <= I20) is checked.
pub const DUDLEY_WIDE: f64 = 12.0;
/// Decades on which the accuracy tolerance (I20) is checked: the same box. With `m <= 1e6` the
/// optimal `alpha* = 3 sqrt(C/m) >= 3e-9 b` stays far above the grid floor `1e-12 b`; smaller
/// `C / (b^2 m)` (below ~1e-18) is outside the checked domain (derivations section 10).
pub const DUDLEY_ACCURATE: f64 = 12.0;

/// [`dudley_lower`] on `10^±decades`.
pub fn dudley_lower_on(decades: f64) -> Claim {
    let mut c = claim(
        "I21",
        "6-dudleys-entropy-integral",
        "closed form (I21) <= numeric Dudley upper sum (I20), ln N = C/eps^2",
        3,
        move |p| {
            let (c, b, m) = dudley_instance(p, decades);
            let num = bounds::dudley_numeric(|e| c / (e * e), b, m).ok()?;
            Some((bounds::dudley_closed_form(c, b, m).ok()?, num.value))
        },
    );
    c.cost = 4;
    c
}

/// (I20) accuracy: the numeric bound is within `2 DUDLEY_TOL` of the exact infimum. A tolerance
/// of the implementation, not a theorem.
pub fn dudley_accuracy() -> Claim {
    dudley_accuracy_on(DUDLEY_ACCURATE)
}

/// [`dudley_accuracy`] on `10^±decades`.
pub fn dudley_accuracy_on(decades: f64) -> Claim {
    let mut c = claim(
        "I20",
        "6-dudleys-entropy-integral",
        "numeric Dudley <= (1 + 2 DUDLEY_TOL) closed form (accuracy, ln N = C/eps^2)",
        3,
        move |p| {
            let (c, b, m) = dudley_instance(p, decades);
            let num = bounds::dudley_numeric(|e| c / (e * e), b, m).ok()?;
            let closed = bounds::dudley_closed_form(c, b, m).ok()?;
            Some((num.value, (1.0 + 2.0 * bounds::DUDLEY_TOL) * closed))
        },
    );
    c.cost = 4;
    c
}

/// (I23): the grid radius chosen by `bounds::post_hoc_grid` is at least the trained norm, and
/// less than twice it (or `r_min`).
pub fn post_hoc_radius() -> Vec<Claim> {
    let sec = "8-post-hoc-bound-for-trained-weights";
    let grid = |p: &[f64]| {
        let nu: [f64; 5] = std::array::from_fn(|i| (5.0 * p[i]).exp());
        let ph = bounds::post_hoc_grid(&HeadRadii::from_array(nu), 1e-3, 0.05).ok()?;
        Some((nu, ph.radii.to_array()))
    };
    vec![
        claim(
            "I23a",
            sec,
            "trained norm nu_i <= grid radius r_{j_i}",
            5,
            move |p| {
                let (nu, r) = grid(p)?;
                (0..5)
                    .map(|i| (nu[i], r[i]))
                    .max_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)))
            },
        ),
        claim(
            "I23b",
            sec,
            "grid radius r_{j_i} <= 2 max(nu_i, r_min)",
            5,
            move |p| {
                let (nu, r) = grid(p)?;
                (0..5)
                    .map(|i| (r[i], 2.0 * nu[i].max(1e-3)))
                    .max_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)))
            },
        ),
        claim(
            "I23c",
            sec,
            "sum over the grid box j_i <= 3 of delta_J (from post_hoc_grid) <= delta",
            0,
            |_| {
                let (r_min, delta) = (1e-3, 0.05);
                let mut sum = 0.0;
                for code in 0..4usize.pow(5) {
                    // nu_i = r_min 2^{j_i} exactly, so the grid index is j_i.
                    let nu: [f64; 5] =
                        std::array::from_fn(|i| r_min * ((code / 4usize.pow(i as u32)) % 4) as f64)
                            .map(|j| r_min * (j / r_min).exp2());
                    let ph =
                        bounds::post_hoc_grid(&HeadRadii::from_array(nu), r_min, delta).ok()?;
                    sum += 2.0 * (-ph.ln_two_over_delta).exp();
                }
                Some((sum, delta))
            },
        ),
    ]
}

/// (I25): `bounds::vc_lower_sparse_and(T, s)` is at most the size of a set that brute force
/// verifies is shattered by conjunctions of exactly `s` of the `T` bits (block construction of
/// the derivation), over `T <= 12`, `s <= 3`.
pub fn vc_lower() -> Claim {
    claim(
        "I25",
        "9-baselines",
        "vc_lower_sparse_and(T, s) <= size of a brute-force-verified shattered set",
        0,
        |_| {
            let mut worst = (0.0, 1.0);
            for t in 2..=12usize {
                for s in 1..=3usize.min(t) {
                    let claimed = bounds::vc_lower_sparse_and(t, s);
                    let verified = shattered_size(t, s) as f64;
                    if claimed / verified.max(f64::MIN_POSITIVE) > worst.0 / worst.1 {
                        worst = (claimed, verified);
                    }
                }
            }
            Some(worst)
        },
    )
}

/// Builds the block set for `(T, s)` and returns its size if every labelling is realised by some
/// conjunction of `s` distinct bits (brute force over all of them), else 0.
pub fn shattered_size(t: usize, s: usize) -> usize {
    let block = t / s;
    let q = (usize::BITS - 1 - block.leading_zeros()) as usize;
    let mut points: Vec<Vec<bool>> = Vec::new();
    for b in 0..s {
        for i in 0..q {
            let x = (0..t)
                .map(|pos| {
                    if pos / block != b || pos >= s * block {
                        true
                    } else {
                        let j = pos % block;
                        j < (1 << q) && (j >> i) & 1 == 1
                    }
                })
                .collect();
            points.push(x);
        }
    }
    let mut seen = vec![false; 1 << points.len()];
    let mut subset: Vec<usize> = (0..s).collect();
    loop {
        let label = points.iter().enumerate().fold(0usize, |acc, (i, x)| {
            acc | (usize::from(subset.iter().all(|&v| x[v])) << i)
        });
        seen[label] = true;
        // Next s-subset of 0..t in lexicographic order.
        let Some(pos) = (0..s).rev().find(|&i| subset[i] < t - s + i) else {
            break;
        };
        subset[pos] += 1;
        for i in pos + 1..s {
            subset[i] = subset[i - 1] + 1;
        }
    }
    if seen.iter().all(|&x| x) {
        points.len()
    } else {
        0
    }
}
