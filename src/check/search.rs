//! The claim search: a numeric hunt for a counterexample to an inequality `lhs <= rhs`.
//!
//! A [`Claim`] maps a flat parameter vector in `R^dim` (unconstrained: the claim maps it onto a
//! valid instance) to `(lhs, rhs)`. [`search`] hunts for the worst ratio `lhs / rhs`: random
//! search, then (1+1)-evolution-strategy ascent on `ln(lhs / rhs)` with restarts, the first ones
//! from the claim's seeds (the proof's extremal configurations). A ratio above `1 + RATIO_TOL`
//! is a violation. A claim may carry a *mutant* (the same instance map with a deliberately wrong
//! constant); [`run_claim`] runs both with the same budget and seed and reports whether the
//! mutant was caught, which is the evidence that the search can see the claim's edge at all.
//!
//! `proofs-check` runs every inequality of `docs/derivations.md` through this search.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Relative slack for floating-point rounding: `lhs <= rhs (1 + RATIO_TOL)` passes.
pub const RATIO_TOL: f64 = 1e-9;

/// A claim's instance map: parameters to `(lhs, rhs)`, `None` for a degenerate instance.
pub type Eval = Box<dyn Fn(&[f64]) -> Option<(f64, f64)> + Send + Sync>;

/// One inequality `lhs <= rhs`, as a function of a flat parameter vector.
pub struct Claim {
    /// Short name, e.g. `"I5"` (proofs-check uses the inequality number).
    pub id: String,
    /// Where it is stated (a section of a document, a paper and lemma).
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
    /// [`run_claim`] runs it with the same budget: "caught" means the search detects it.
    pub mutant: Option<Box<Claim>>,
    /// What the check can and cannot detect, in words.
    pub note: String,
}

impl Claim {
    /// A claim with no seeds, no mutant, no note and cost 1.
    pub fn new(
        id: &str,
        statement: &str,
        dim: usize,
        eval: impl Fn(&[f64]) -> Option<(f64, f64)> + Send + Sync + 'static,
    ) -> Claim {
        Claim {
            id: id.into(),
            section: String::new(),
            statement: statement.into(),
            dim,
            cost: 1,
            eval: Box::new(eval),
            seeds: Vec::new(),
            mutant: None,
            note: String::new(),
        }
    }
    /// Attaches the deliberately wrong variant run next to this claim.
    pub fn with_mutant(mut self, mutant: Claim) -> Claim {
        self.mutant = Some(Box::new(mutant));
        self
    }
    /// Attaches the proof's extremal configurations as ascent seeds.
    pub fn with_seeds(mut self, seeds: Vec<Vec<f64>>) -> Claim {
        self.seeds = seeds;
        self
    }
    /// Attaches the sensitivity note.
    pub fn with_note(mut self, note: &str) -> Claim {
        self.note = note.into();
        self
    }
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
    /// The budget a claim gets: one evaluation for a parameter-free claim, else `self` divided
    /// by the claim's cost.
    pub fn for_claim(self, claim: &Claim) -> Budget {
        if claim.dim == 0 {
            Budget {
                random: 1,
                restarts: 0,
                steps: 0,
            }
        } else {
            self.scaled(claim.cost)
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

/// A claim and its mutant run by [`run_claim`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClaimOutcome {
    pub budget: Budget,
    pub seed: u64,
    pub outcome: Outcome,
    /// The mutant's statement and outcome, if the claim has one.
    pub mutant: Option<(String, Outcome)>,
}

impl ClaimOutcome {
    /// `Some(true)` when the mutant was found violated, `None` without a mutant.
    pub fn mutant_caught(&self) -> Option<bool> {
        self.mutant.as_ref().map(|(_, o)| o.violated())
    }
}

/// [`search`] on `claim` and on its mutant, both with `budget.for_claim(claim)` and `seed`.
pub fn run_claim(claim: &Claim, budget: Budget, seed: u64) -> ClaimOutcome {
    let budget = budget.for_claim(claim);
    ClaimOutcome {
        budget,
        seed,
        outcome: search(claim, budget, seed),
        mutant: claim
            .mutant
            .as_ref()
            .map(|m| (m.statement.clone(), search(m, budget, seed))),
    }
}

pub(crate) fn ratio(lhs: f64, rhs: f64) -> Option<f64> {
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
