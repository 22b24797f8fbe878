//! Empirical Rademacher complexity `Rad_S(F) = E_sigma sup_{f in F} (1/m) sum_i sigma_i f(X_i)`.
//!
//! For the head class the supremum is not computable: [`head_sup`] maximises by projected
//! ascent (the shared `optim::minimize` with Adam and [`HeadBall::project`]) from several
//! restarts and keeps the best value seen at a feasible point. Every such value is attained by a
//! member of the class, so the result is a **lower estimate** of the supremum, and the average
//! over sign draws a lower estimate of `Rad_S(F)` (up to the sampling error of the draws, shown
//! as a t interval). For the flattened linear class the supremum has a closed form and
//! [`linear_flat_sup`] is **exact**.

use super::ball::HeadBall;
use super::sample::BitSample;
use crate::error::{Error, Result, check};
use crate::model::{Activation, ClsHead};
use crate::optim::{Adam, Objective, Sgd, minimize};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

/// How hard to search for the supremum, and which head architecture spans the class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AscentOptions {
    /// Sign draws sigma averaged over.
    pub draws: usize,
    /// Random starts per draw; the best is kept.
    pub restarts: usize,
    /// Steps per start: half Adam, then projected gradient steps (see [`head_sup`]).
    pub steps: usize,
    /// Adam step size of the first phase.
    pub lr: f64,
    /// r, the rank of `W_Q`, `W_K`.
    pub rank: usize,
    /// k.
    pub value_dim: usize,
    pub activation: Activation,
}

impl AscentOptions {
    pub fn validate(&self) -> Result<()> {
        check::at_least("draws", self.draws, 2)?;
        check::at_least("restarts", self.restarts, 1)?;
        check::at_least("steps", self.steps, 1)?;
        check::positive("lr", self.lr)?;
        check::at_least("rank", self.rank, 1)?;
        check::at_least("value_dim", self.value_dim, 1)?;
        Ok(())
    }

    /// A random start in `ball` with this architecture (rank, value_dim, activation) for the
    /// width of `sample`, drawn by [`HeadBall::sample`].
    pub fn random_head<R: Rng + ?Sized>(
        &self,
        ball: &HeadBall,
        sample: &BitSample,
        rng: &mut R,
    ) -> Result<ClsHead<f64>> {
        ball.sample(
            sample.width(),
            self.rank,
            self.value_dim,
            self.activation,
            rng,
        )
    }
}

/// Mean over sign draws with a two-sided 95% Student t interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RademacherEstimate {
    pub mean: f64,
    pub lower: f64,
    pub upper: f64,
    pub draws: usize,
    /// 0 for an exact supremum (no search).
    pub restarts: usize,
    /// The supremum (estimate) for each draw.
    pub per_draw: Vec<f64>,
}

/// Mean over the draws with its 95% Student t interval (`stats::student_t`; n >= 2 draws).
fn estimate(per_draw: Vec<f64>, restarts: usize) -> Result<RademacherEstimate> {
    check::at_least("draws", per_draw.len(), 2)?;
    let t = crate::stats::student_t(&per_draw, 0.05)?;
    Ok(RademacherEstimate {
        mean: t.mean,
        lower: t.lower,
        upper: t.upper,
        draws: per_draw.len(),
        restarts,
        per_draw,
    })
}

/// Uniform +-1 signs.
pub fn draw_signs<R: Rng + ?Sized>(m: usize, rng: &mut R) -> Vec<f64> {
    (0..m)
        .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
        .collect()
}

/// `-(1/m) sum_i sigma_i f(X_i)` (minimised), through the head's token-table path.
struct Correlation<'a> {
    sample: &'a BitSample,
    signs: &'a [f64],
}

impl Objective<f64, ClsHead<f64>> for Correlation<'_> {
    fn value_and_grad(&mut self, head: &ClsHead<f64>, grad: &mut ClsHead<f64>) -> Result<f64> {
        let cache = head.forward_tokens(&self.sample.emb, &self.sample.batch)?;
        let m = self.signs.len() as f64;
        let dl_df: Vec<f64> = self.signs.iter().map(|s| -s / m).collect();
        *grad = head.backward_tokens(&self.sample.emb, &self.sample.batch, &cache, &dl_df)?;
        Ok(cache
            .predictions
            .iter()
            .zip(&dl_df)
            .map(|(f, g)| f * g)
            .sum())
    }
}

/// `(1/m) sum_i sigma_i f(X_i)` at one head.
pub fn correlation(head: &ClsHead<f64>, sample: &BitSample, signs: &[f64]) -> Result<f64> {
    let f = head.forward_tokens(&sample.emb, &sample.batch)?.predictions;
    Ok(f.iter().zip(signs).map(|(f, s)| f * s).sum::<f64>() / signs.len() as f64)
}

/// Lower estimate of `sup_{f in ball} (1/m) sum_i sigma_i f(X_i)` and the best head found.
pub fn head_sup<R: Rng + ?Sized>(
    sample: &BitSample,
    ball: &HeadBall,
    signs: &[f64],
    opts: &AscentOptions,
    rng: &mut R,
) -> Result<(f64, ClsHead<f64>)> {
    opts.validate()?;
    if signs.len() != sample.num_samples() {
        return Err(Error::shape("signs", sample.num_samples(), signs.len()));
    }
    let mut best: Option<(f64, ClsHead<f64>)> = None;
    let project = |h: &mut ClsHead<f64>| ball.project(h);
    for _ in 0..opts.restarts {
        let mut head = opts.random_head(ball, sample, rng)?;
        let mut obj = Correlation { sample, signs };
        // Phase 1: Adam explores. Adam's per-coordinate scaling moves the fixed points of a
        // projected iteration off the Euclidean optimum (they satisfy a preconditioned KKT
        // condition), so phases 2 and 3 are plain projected gradient steps (Sgd, no momentum)
        // of length 0.5 and then 0.05 times the parameter norm (long steps followed by projection
        // act like alternating power iterations on the bilinear parts).
        let mut path_best = f64::NEG_INFINITY;
        let mut track = |values: Vec<f64>| {
            path_best = values.iter().fold(path_best, |a, v| a.max(-v));
        };
        let phase1 = opts.steps.div_ceil(2);
        track(minimize(
            &mut obj,
            &mut head,
            &mut Adam::new(opts.lr)?,
            &project,
            phase1,
        )?);
        let rest = opts.steps - phase1;
        for (phase, rel) in [(rest.div_ceil(2), 0.5), (rest / 2, 0.05)] {
            if phase == 0 {
                continue;
            }
            let mut grad = head.zeros_like();
            obj.value_and_grad(&head, &mut grad)?;
            let g = crate::optim::Parameters::flatten(&grad)
                .iter()
                .map(|x| x * x)
                .sum::<f64>()
                .sqrt();
            let p = crate::optim::Parameters::flatten(&head)
                .iter()
                .map(|x| x * x)
                .sum::<f64>()
                .sqrt();
            if g == 0.0 || p == 0.0 {
                break;
            }
            let mut sgd = Sgd::new(rel * p / g, 0.0)?;
            track(minimize(&mut obj, &mut head, &mut sgd, &project, phase)?);
        }
        let last = correlation(&head, sample, signs)?;
        let value = path_best.max(last);
        if best.as_ref().is_none_or(|(b, _)| value > *b) {
            best = Some((value, head));
        }
    }
    // restarts >= 1 was validated, so `best` is set.
    best.ok_or_else(|| Error::invalid("restarts", 0, "at least 1"))
}

/// Lower estimate of `Rad_S` of the head ball: [`head_sup`] averaged over `opts.draws` draws.
pub fn head_rademacher<R: Rng + ?Sized>(
    sample: &BitSample,
    ball: &HeadBall,
    opts: &AscentOptions,
    rng: &mut R,
) -> Result<RademacherEstimate> {
    opts.validate()?;
    let per_draw = (0..opts.draws)
        .map(|_| {
            let signs = draw_signs(sample.num_samples(), rng);
            head_sup(sample, ball, &signs, opts, rng).map(|(v, _)| v)
        })
        .collect::<Result<Vec<_>>>()?;
    estimate(per_draw, opts.restarts)
}

/// **Exact** supremum for the flattened linear class `{X~ -> <w, vec(X~)> : ||w||_2 <= b}`:
/// `sup (1/m) sum_i sigma_i <w, vec(X~_i)> = (b/m) ||sum_i sigma_i vec(X~_i)||_2`
/// (Cauchy-Schwarz, attained at `w` parallel to the sum). The \[CLS\] row is common to all
/// samples and enters as `(sum_i sigma_i) x_cls`.
pub fn linear_flat_sup(sample: &BitSample, b: f64, signs: &[f64]) -> Result<f64> {
    check::positive("b", b)?;
    let (m, t, d) = (sample.num_samples(), sample.context_len(), sample.width());
    if signs.len() != m {
        return Err(Error::shape("signs", m, signs.len()));
    }
    let emb = &sample.emb;
    let sum_sigma: f64 = signs.iter().sum();
    let mut sq = emb.cls.iter().map(|c| (sum_sigma * c).powi(2)).sum::<f64>();
    // Row t of the sum: (sum_i sigma_i [b_it = v]) tok[v] summed over v, plus (sum sigma) pos[t].
    let mut row = vec![0.0; d];
    for pos in 0..t {
        let mut per_token = vec![0.0; emb.tok.rows];
        for (i, s) in signs.iter().enumerate() {
            per_token[sample.batch.sample(i)[pos] as usize] += s;
        }
        for (j, r) in row.iter_mut().enumerate() {
            *r = sum_sigma * emb.pos.row(pos)[j]
                + per_token
                    .iter()
                    .enumerate()
                    .map(|(v, c)| c * emb.tok.row(v)[j])
                    .sum::<f64>();
        }
        sq += row.iter().map(|r| r * r).sum::<f64>();
    }
    Ok(b * sq.sqrt() / m as f64)
}

/// `Rad_S` of the flattened linear class, exact per draw, averaged over `draws` draws.
pub fn linear_flat_rademacher<R: Rng + ?Sized>(
    sample: &BitSample,
    b: f64,
    draws: usize,
    rng: &mut R,
) -> Result<RademacherEstimate> {
    let per_draw = (0..draws)
        .map(|_| linear_flat_sup(sample, b, &draw_signs(sample.num_samples(), rng)))
        .collect::<Result<Vec<_>>>()?;
    estimate(per_draw, 0)
}
