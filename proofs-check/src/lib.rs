//! Numerical verification of the inequalities in `docs/derivations.md`.
//!
//! Every numbered inequality that can be evaluated on a concrete instance is a [`Claim`]: a map
//! from a flat parameter vector in `R^dim` (unconstrained; the claim maps it onto a valid
//! instance) to `(lhs, rhs)` of the inequality `lhs <= rhs`. One optimiser, [`search`], shared by
//! every claim, hunts for the worst ratio `lhs / rhs`: random search, then (1+1)-evolution-strategy
//! ascent on `ln(lhs / rhs)` with restarts, the first ones from the claim's seeds. A ratio above `1 + RATIO_TOL` is a violation.
//!
//! The claims call the project's own code (`attnbounds::model`, `norms`, `bounds`), so they test
//! the implementation, not a copy of it. This crate never edits a claim to make it pass: a
//! violation fails the run and is printed loudly.
//!
//! Each claim also carries a *mutant* (a deliberately wrong constant that the same search must
//! flag) and a sensitivity note; the report prints both. Statements without a numeric instance
//! (the counting step (I12), the cited theorems behind (I19) and (I22), the unconfirmed constant
//! of (I16)) are listed with their reason in [`claims::UNCHECKED`].

pub mod claims;
mod report;

pub use report::{CheckReport, MutantRow, Row, figures, run_all, run_claims, write_outputs};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Relative slack for floating-point rounding: `lhs <= rhs (1 + RATIO_TOL)` passes.
pub const RATIO_TOL: f64 = 1e-9;

/// Seed of the reported runs.
pub const DEFAULT_SEED: u64 = 2022;

/// A claim's instance map: parameters to `(lhs, rhs)`, `None` for a degenerate instance.
pub type Eval = Box<dyn Fn(&[f64]) -> Option<(f64, f64)> + Send + Sync>;

/// One inequality `lhs <= rhs` of the derivation document, as a function of a flat parameter
/// vector.
pub struct Claim {
    /// Inequality number, e.g. `"I5"` (with a suffix when one number has several parts).
    pub id: String,
    /// Section of `docs/derivations.md` where it is stated.
    pub section: String,
    /// The inequality in words.
    pub statement: String,
    /// Length of the parameter vector.
    pub dim: usize,
    /// Relative cost of one evaluation: the budget is divided by it.
    pub cost: usize,
    /// Evaluates `(lhs, rhs)`; `None` when the instance is degenerate (skipped, not counted).
    pub eval: Eval,
    /// Known extremal (or near-extremal) parameter vectors from the proof: the ascent restarts
    /// from each of them before its random restarts, so a wrong constant in a term that is only
    /// large in a thin region of parameter space is still reached.
    pub seeds: Vec<Vec<f64>>,
    /// The same instance map with a deliberately wrong constant (its `statement` says which).
    /// The report runs it with the same budget: "caught" means the search detects it.
    pub mutant: Option<Box<Claim>>,
    /// What the check can and cannot detect, in words (printed under the table).
    pub note: String,
}

/// How much effort one claim gets.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Budget {
    /// Random instances drawn before the ascent.
    pub random: usize,
    /// Ascent restarts (the first starts from the best random instance, the rest from fresh ones).
    pub restarts: usize,
    /// Ascent steps per restart.
    pub steps: usize,
}

impl Budget {
    /// The `cargo test` budget.
    pub const QUICK: Budget = Budget {
        random: 2000,
        restarts: 4,
        steps: 1500,
    };
    /// The full run (`cargo run -p proofs-check --release`).
    pub const FULL: Budget = Budget {
        random: 20000,
        restarts: 20,
        steps: 5000,
    };
    /// Scaled down for expensive claims (covering numbers): at least 1 of each.
    pub fn scaled(self, divisor: usize) -> Budget {
        Budget {
            random: (self.random / divisor).max(1),
            restarts: (self.restarts / divisor.min(4)).max(1),
            steps: (self.steps / divisor).max(1),
        }
    }
}

/// Result of [`search`] on one claim.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    /// Largest `lhs / rhs` found (`+inf` if `rhs = 0 < lhs`).
    pub worst_ratio: f64,
    /// `(lhs, rhs)` at the worst instance.
    pub worst_lhs: f64,
    pub worst_rhs: f64,
    /// Parameters of the worst instance.
    pub worst_params: Vec<f64>,
    /// Instances evaluated (non-degenerate).
    pub trials: usize,
}

impl Outcome {
    pub fn violated(&self) -> bool {
        // NaN counts as a violation.
        self.worst_ratio.is_nan() || self.worst_ratio > 1.0 + RATIO_TOL
    }
}

fn ratio(lhs: f64, rhs: f64) -> Option<f64> {
    if lhs.is_nan() || rhs.is_nan() {
        // A NaN is never silently dropped: it counts as a violation.
        return Some(f64::INFINITY);
    }
    if rhs > 0.0 {
        Some(lhs / rhs)
    } else if lhs > 0.0 {
        Some(f64::INFINITY)
    } else {
        None
    }
}

fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller; 1 - u keeps the log finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn fresh(rng: &mut ChaCha8Rng, dim: usize) -> Vec<f64> {
    // Scale drawn per instance so both tiny and large instances are explored.
    let scale = (3.0 * (2.0 * rng.random::<f64>() - 1.0)).exp();
    (0..dim).map(|_| scale * gaussian(rng)).collect()
}

/// Random search plus (1+1)-ES ascent on `ln(lhs/rhs)` with restarts, seeded.
pub fn search(claim: &Claim, budget: Budget, seed: u64) -> Outcome {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut best = Outcome {
        worst_ratio: f64::NEG_INFINITY,
        worst_lhs: f64::NAN,
        worst_rhs: f64::NAN,
        worst_params: vec![0.0; claim.dim],
        trials: 0,
    };
    let eval = |p: &[f64], best: &mut Outcome| -> Option<f64> {
        let (l, r) = (claim.eval)(p)?;
        let q = ratio(l, r)?;
        best.trials += 1;
        if q > best.worst_ratio {
            best.worst_ratio = q;
            best.worst_lhs = l;
            best.worst_rhs = r;
            best.worst_params = p.to_vec();
        }
        Some(q)
    };
    for _ in 0..budget.random {
        let p = fresh(&mut rng, claim.dim);
        eval(&p, &mut best);
    }
    // Seeded restarts first (the proof's extremal configurations), then the budgeted ones.
    let seeded = if budget.restarts > 0 {
        claim.seeds.len()
    } else {
        0
    };
    for restart in 0..seeded + budget.restarts {
        let mut x = if restart < seeded {
            claim.seeds[restart].clone()
        } else if restart == seeded && best.worst_ratio.is_finite() {
            best.worst_params.clone()
        } else {
            fresh(&mut rng, claim.dim)
        };
        let Some(mut fx) = eval(&x, &mut best) else {
            continue;
        };
        let mut sigma = 0.3
            * (x.iter().map(|v| v * v).sum::<f64>() / claim.dim as f64)
                .sqrt()
                .max(1e-3);
        for _ in 0..budget.steps {
            if !fx.is_finite() {
                break;
            }
            let y: Vec<f64> = x.iter().map(|v| v + sigma * gaussian(&mut rng)).collect();
            match eval(&y, &mut best) {
                Some(fy) if fy >= fx => {
                    x = y;
                    fx = fy;
                    sigma *= 1.5;
                }
                _ => sigma *= 0.9,
            }
            sigma = sigma.clamp(1e-9, 1e3);
        }
    }
    best
}

#[cfg(test)]
mod tests;
