//! The standard one-hot heads of the figures and their fixed conventions, shared by every
//! experiment that draws a construction (the construction figures, the gap experiment's trained
//! norms figure). Derivation: `docs/constructions.md`.

use super::{Code, Construction, ConstructionNorms, Spec, Target, build};
use crate::bounds::BoundParams;
use crate::error::Result;

/// Margin of the constructed heads: their outputs are exactly +-1 (`Construction::certify`).
pub const GAMMA: f64 = 1.0;
/// Target generalization gap of the sample-size figures.
pub const TARGET_GAP: f64 = 0.1;
/// `delta` of every bound at a construction's norms.
pub const DELTA: f64 = 0.05;
/// Attention mass outside the hidden set for the symmetric targets (needs about < 1/(s+1)).
pub const ETA0_SYMMETRIC: f64 = 0.05;
/// Largest sample size tried: `Setting::num_samples` is a `usize` (< 1.8e19), so a bound still
/// above the target at this m is `NotReachedBelowCap` (and absent from the figures).
pub const CAP: usize = 10_000_000_000_000_000_000;

/// Attention leakage used for a target of sparsity `s`: [`ETA0_SYMMETRIC`] for symmetric
/// targets, `0.25 * 2^-s` for truth tables (whose levels are `2^-s` apart).
pub fn eta0_for(target: &Target, s: usize) -> f64 {
    match target {
        Target::TruthTable(_) => 0.25 / (1u64 << s) as f64,
        _ => ETA0_SYMMETRIC,
    }
}

/// The one-hot head for `target` at sparsity `s` and context length `t`.
pub fn construction(target: Target, s: usize, t: usize) -> Result<Construction> {
    let eta0 = eta0_for(&target, s);
    build(&Spec {
        target,
        sparsity: s,
        context_len: t,
        eta0,
        code: Code::OneHot,
        support: None,
    })
}

/// Norms of the s-sparse AND head at context length `t` (one-hot codes, eta0 = 0.05).
pub fn and_norms(s: usize, t: usize) -> Result<ConstructionNorms> {
    construction(Target::And, s, t)?.norms()
}

/// Bound parameters at a construction's norms: margin [`GAMMA`], [`DELTA`], sparsity `s`.
pub fn bound_params(s: usize) -> BoundParams {
    BoundParams {
        gamma: GAMMA,
        delta: DELTA,
        sparsity: s,
        ..BoundParams::default()
    }
}
