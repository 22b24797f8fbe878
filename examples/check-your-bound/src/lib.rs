//! A researcher's own bounds, written against the public API of `attnbounds` only, and checked
//! in `tests/` with `attnbounds::check`.
//!
//! - [`paper_shape`]: the paper's single-head log covering number at a stated `c0`, a bound on
//!   the bounded-norm \[CLS\] head class (a [`Bound`]).
//! - [`two_centres`]: a rigorous lower bound on the same log covering number (the bound must
//!   never be below it).
//! - [`maurey`] and [`maurey_without_log`]: Maurey's lemma as a [`Claim`] (a lemma, checked by
//!   the claim search), and the same lemma with its `ln(2d + 1)` factor deliberately missing.

use attnbounds::bounds::{self, BoundParams};
use attnbounds::check::{Bound, Claim, Point};

/// The constant `c0` at which the paper's shape is checked here.
pub const C0: f64 = 1.0;

/// The paper's single-head bound (a shape with free constant `c0`):
/// `ln N_inf <= c0 (L B_w B_X)^2 [(B_V^{2,1})^{2/3} + (2 B_QK B_V B_X^2)^{2/3}]^3 ln(m T) / eps^2`.
pub fn paper_shape(c0: f64) -> Bound {
    let params = BoundParams {
        c0,
        ..BoundParams::default()
    };
    Bound::log_covering(&format!("paper shape, c0 = {c0}"), move |p: &Point| {
        bounds::paper_log_covering(&p.setting, &p.radii, &params, p.eps)
    })
}

/// Our explicit Rademacher bound (rigorous, through numeric Dudley), as a second bound to
/// hold against the projected-ascent estimates.
pub fn explicit_rademacher() -> Bound {
    let params = BoundParams::default();
    Bound::rademacher("explicit Rademacher", move |p: &Point| {
        bounds::explicit_rademacher(&p.setting, &p.radii, &params)
    })
}

/// A rigorous lower bound on `ln N_inf(F_head, eps, S)` over samples `S` of `m` sequences with
/// rows of norm at most `b_x` (the bound is a supremum over such samples, so `S` may be chosen).
///
/// The class contains `X -> w v^T xbar(X)` (`Theta = 0`, `W_V = v e_1^T`, identity `sigma`),
/// `|w| ||v|| <= R = b_w min(b_v, b_v21) b_x`. On `n <= min(m, d)` samples whose rows all equal
/// `b_x e_i`, their value vectors are the l2 ball of radius `R` in `R^n`, which holds the `2^n`
/// vertices `+-R/sqrt(n)` of a cube, pairwise `2R/sqrt(n)` apart in the max metric. A cover at
/// scale `eps < R/sqrt(n)` needs a centre per vertex, so `ln N >= n ln 2` for the largest
/// `n <= min(m, d)` with `n < (R/eps)^2`.
pub fn two_centres(p: &Point) -> f64 {
    let r = p.radii.b_w * p.radii.b_v.min(p.radii.b_v21) * p.radii.b_x;
    let n_max = p.setting.num_samples.min(p.setting.width) as f64;
    let n = ((r / p.eps).powi(2).ceil() - 1.0).clamp(0.0, n_max);
    n * std::f64::consts::LN_2
}

/// Sylvester's Hadamard matrix of order `2^k`, entry `(i, j)` = `(-1)^{popcount(i & j)}`.
fn hadamard(i: usize, j: usize) -> f64 {
    if (i & j).count_ones() % 2 == 0 {
        1.0
    } else {
        -1.0
    }
}

/// The instance of the Maurey claims from 4 unconstrained parameters: `B = e^{p0}` (the l1
/// radius), `X = e^{p1}` (`||x||_inf`), `eps = B X sigmoid(p2)`, `d = 2^k` with
/// `k = 1 + floor(6 sigmoid(p3))`. The points are the `d` rows of `X H` (`H` Hadamard), the
/// functions `x -> +-B x_j` (vertices of the l1 ball): any two differ by `sqrt(2) B X` or
/// `2 B X` in `L2(S)`. Returns `(B, X, eps, d, ln M(2 eps))`, `M` a greedy packing of them.
fn maurey_instance(p: &[f64]) -> Option<(f64, f64, f64, usize, f64)> {
    let sigmoid = |t: f64| 1.0 / (1.0 + (-t).exp());
    let (b, x) = (p[0].exp(), p[1].exp());
    let eps = b * x * sigmoid(p[2]);
    let k = 1 + (6.0 * sigmoid(p[3])).floor().min(5.0) as u32;
    let d = 2usize.pow(k);
    if !(b.is_finite() && x.is_finite() && eps > 0.0) {
        return None;
    }
    // Value vectors on the d points: +-B X H[., j].
    let members: Vec<Vec<f64>> = (0..d)
        .flat_map(|j| [1.0, -1.0].map(|s| (0..d).map(|i| s * b * x * hadamard(i, j)).collect()))
        .collect();
    let l2s = |f: &[f64], g: &[f64]| {
        (f.iter().zip(g).map(|(a, c)| (a - c).powi(2)).sum::<f64>() / d as f64).sqrt()
    };
    let mut kept: Vec<&Vec<f64>> = Vec::new();
    for f in &members {
        if kept.iter().all(|g| l2s(f, g) > 2.0 * eps) {
            kept.push(f);
        }
    }
    Some((b, x, eps, d, (kept.len() as f64).ln()))
}

/// The extremal configuration: `eps` just below `B X / sqrt(2)`, `d = 64`.
fn maurey_seeds() -> Vec<Vec<f64>> {
    vec![vec![0.0, 0.0, 0.84, 5.0]]
}

/// Maurey's lemma, as `bounds::maurey` states it (rigorous):
/// `ln N(eps, L2(S)) <= ceil(B^2 X^2 / eps^2) ln(2 d + 1)` for the l1 ball of radius `B` in
/// `R^d` on points with `||x||_inf <= X`, held against the packing of [`maurey_instance`].
/// Its mutant is [`maurey_without_log`].
pub fn maurey() -> Claim {
    Claim::new(
        "maurey",
        "ln M(2 eps) <= ceil(B^2 X^2 / eps^2) ln(2d + 1)",
        4,
        |p| {
            let (b, x, eps, d, lhs) = maurey_instance(p)?;
            Some((lhs, bounds::maurey(b, x, eps, d).ok()?))
        },
    )
    .with_seeds(maurey_seeds())
    .with_mutant(maurey_without_log())
}

/// The deliberately wrong variant: Maurey's lemma with its log factor `ln(2d + 1)` missing,
/// `ln N(eps) <= ceil(B^2 X^2 / eps^2)`. False: at `eps` just below `B X / sqrt(2)` the right
/// side is 3 while the `2d` vertices are pairwise more than `2 eps` apart, `ln(2d) > 3` for
/// `d >= 16`.
pub fn maurey_without_log() -> Claim {
    Claim::new(
        "maurey-without-log",
        "ln M(2 eps) <= ceil(B^2 X^2 / eps^2)   (ln(2d + 1) missing)",
        4,
        |p| {
            let (b, x, eps, _, lhs) = maurey_instance(p)?;
            Some((lhs, ((b * x / eps).powi(2)).ceil()))
        },
    )
    .with_seeds(maurey_seeds())
}
