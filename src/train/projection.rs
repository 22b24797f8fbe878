//! Bounded-norm training: after every optimiser step, scale the weights back into the ball
//! of [`NormBall`] (docs/experiments.md §2(a)).
//!
//! The map is a radial retraction, not the Euclidean projection: each constrained group keeps
//! its direction and is shrunk by one factor just large enough to satisfy its radii.
//! - `W_V <- c W_V`, `c = min(1, b_v / ||W_V||_2, b_v21 / ||W_V||_{2,1})`.
//! - `W_Q <- sqrt(c) W_Q`, `W_K <- sqrt(c) W_K`, `c = min(1, b_qk / ||Theta||_F)`: Theta =
//!   W_K W_Q^T scales by exactly c, and splitting c evenly keeps the factor balance, the only
//!   freedom the bound does not see (docs/derivations.md §1: (c W_Q, W_K / c) is the same function).
//! - `w <- c w`, `c = min(1, b_w / ||w||_2)`.
//!
//! Weights already inside the ball are untouched, so the retraction is idempotent. Each applied
//! factor is multiplied by `1 - 1e-5` so that the f32 rounding of the scaled entries cannot
//! leave the norm a few ulps above its radius. For the Transformer every head is constrained
//! this way, plus the read-out; `W_C`, the MLP and the learned embeddings are not (their norms
//! are measured and reported instead).

use crate::config::{CellConfig, NormBall, RadiusRule};
use crate::error::Result;
use crate::model::{ClsHead, Transformer};
use crate::tensor::{Mat, Real};

const SAFETY: f64 = 1.0 - 1e-5;

use crate::norms::model::gram;
pub use crate::norms::model::{l2, norm_21, spectral};

/// `||W_K W_Q^T||_F` without forming the d x d matrix:
/// `||W_K W_Q^T||_F^2 = tr(W_Q W_K^T W_K W_Q^T) = <W_K^T W_K, W_Q^T W_Q>_F` (r x r).
pub fn theta_frobenius<S: Real>(w_q: &Mat<S>, w_k: &Mat<S>) -> f64 {
    gram(w_k).dot(&gram(w_q)).max(0.0).sqrt()
}

fn scale<S: Real>(xs: &mut [S], c: f64) {
    let c = S::from_f64(c * SAFETY);
    xs.iter_mut().for_each(|x| *x *= c);
}

/// The shrink factor `min(1, radius / norm)` as "apply or not".
fn factor(pairs: &[(f64, f64)]) -> Option<f64> {
    let c = pairs
        .iter()
        .map(|&(radius, norm)| if norm > radius { radius / norm } else { 1.0 })
        .fold(1.0, f64::min);
    (c < 1.0).then_some(c)
}

fn project_qkv<S: Real>(ball: &NormBall, w_q: &mut Mat<S>, w_k: &mut Mat<S>, w_v: &mut Mat<S>) {
    if let Some(c) = factor(&[(ball.b_qk, theta_frobenius(w_q, w_k))]) {
        scale(&mut w_q.data, c.sqrt());
        scale(&mut w_k.data, c.sqrt());
    }
    if let Some(c) = factor(&[(ball.b_v, spectral(w_v)), (ball.b_v21, norm_21(w_v))]) {
        scale(&mut w_v.data, c);
    }
}

fn project_w<S: Real>(ball: &NormBall, w: &mut [S]) {
    if let Some(c) = factor(&[(ball.b_w, l2(w))]) {
        scale(w, c);
    }
}

/// The ball a trial of `cell` trains in, fixed before training from the cell alone
/// (docs/experiments.md, "Radius rule"): `train.norm_ball` under [`RadiusRule::Fixed`];
/// under `construction:c`, c times each norm of the explicit one-hot head for the cell's task,
/// sparsity and context length (`construct::standard::construction`, its `eta0_for`):
/// `b_qk = c ||Theta*||_F`, `b_v = c ||W_V*||_2`, `b_v21 = c ||W_V*||_{2,1}`, `b_w = c ||w*||_2`.
/// For 3-sparse AND `||Theta*||_F = sqrt(3) R` with `R = ln((T - 2) 0.95 / (3 0.05))`, so the
/// attention radius grows like ln T while the others stay near constant in T.
pub fn resolve_ball(cell: &CellConfig) -> Result<Option<NormBall>> {
    match cell.train.radius_rule {
        RadiusRule::Fixed => Ok(cell.train.norm_ball),
        RadiusRule::Construction { multiple } => {
            let c = crate::construct::standard::construction(
                cell.task_kind()?,
                cell.sparsity,
                cell.context_len,
            )?
            .norms()?;
            let ball = NormBall {
                b_qk: multiple * c.theta_frobenius,
                b_v: multiple * c.w_v_spectral,
                b_v21: multiple * c.w_v_21,
                b_w: multiple * c.w_2,
            };
            ball.validate()?;
            Ok(Some(ball))
        }
    }
}

/// Retraction of a \[CLS\] head onto the ball (module doc).
pub fn project_head<S: Real>(ball: &NormBall, head: &mut ClsHead<S>) -> Result<()> {
    project_qkv(ball, &mut head.w_q, &mut head.w_k, &mut head.w_v);
    project_w(ball, &mut head.w);
    Ok(())
}

/// Retraction of every head of every block and of the read-out (module doc).
pub fn project_transformer<S: Real>(ball: &NormBall, model: &mut Transformer<S>) -> Result<()> {
    for block in &mut model.blocks {
        for h in &mut block.heads {
            project_qkv(ball, &mut h.w_q, &mut h.w_k, &mut h.w_v);
        }
    }
    project_w(ball, &mut model.w);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Activation;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn gram_norms_match_the_norms_module() {
        // Reference implementation: crate::norms on the explicit matrices.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let h = ClsHead::<f64>::random(7, 3, 4, Activation::Relu, 2.0, &mut rng).unwrap();
        let theta = crate::norms::theta(&h.w_q.to_dmatrix(), &h.w_k.to_dmatrix()).unwrap();
        let fro = crate::norms::frobenius(&theta).unwrap();
        assert!((theta_frobenius(&h.w_q, &h.w_k) - fro).abs() < 1e-12 * fro);
        let wv = h.w_v.to_dmatrix();
        let s = crate::norms::spectral_svd(&wv).unwrap();
        assert!((spectral(&h.w_v) - s).abs() < 1e-10 * s);
        let n21 = crate::norms::norm_21(&wv).unwrap();
        assert!((norm_21(&h.w_v) - n21).abs() < 1e-12 * n21);
    }

    #[test]
    fn projection_lands_inside_the_ball_and_is_idempotent_inside() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let ball = NormBall {
            b_qk: 0.3,
            b_v: 0.2,
            b_v21: 0.25,
            b_w: 0.1,
        };
        let mut h = ClsHead::<f32>::random(9, 2, 5, Activation::Relu, 3.0, &mut rng).unwrap();
        // The random init is outside every radius (checked, so the test exercises the shrink).
        assert!(theta_frobenius(&h.w_q, &h.w_k) > 0.3 && spectral(&h.w_v) > 0.2 && l2(&h.w) > 0.1);
        project_head(&ball, &mut h).unwrap();
        assert!(theta_frobenius(&h.w_q, &h.w_k) <= 0.3);
        assert!(spectral(&h.w_v) <= 0.2 && norm_21(&h.w_v) <= 0.25);
        assert!(l2(&h.w) <= 0.1);
        // Binding radius is reached up to the safety factor: the shrink is not overly strong.
        assert!(theta_frobenius(&h.w_q, &h.w_k) > 0.3 * (1.0 - 1e-4));
        let before = h.clone();
        project_head(&ball, &mut h).unwrap();
        assert_eq!(before, h);
    }

    #[test]
    fn radius_rule_is_the_construction_times_the_multiple_and_binds_in_training() {
        use crate::config::{ModelKind, TaskName, TrainConfig};
        // Reference: construct::standard::and_norms, the construction's own measurement.
        let mut cell = CellConfig {
            task: TaskName::And,
            truth_table: None,
            sparsity: 3,
            context_len: 16,
            num_samples: 32,
            model: ModelKind::ClsHead,
            train: TrainConfig {
                steps: 20,
                batch_size: 32,
                init_scale: 50.0,
                radius_rule: RadiusRule::Construction { multiple: 2.0 },
                ..TrainConfig::default()
            },
            seed: 1,
        };
        let c = crate::construct::standard::and_norms(3, 16).unwrap();
        let ball = resolve_ball(&cell).unwrap().unwrap();
        assert_eq!(ball.b_qk, 2.0 * c.theta_frobenius);
        assert_eq!(ball.b_v, 2.0 * c.w_v_spectral);
        assert_eq!(ball.b_v21, 2.0 * c.w_v_21);
        assert_eq!(ball.b_w, 2.0 * c.w_2);
        // ||Theta*||_F = sqrt(s) R, R = ln((T - s + 1)(1 - eta0) / (s eta0)) (docs/constructions.md).
        let r = (14.0 * 0.95 / (3.0 * 0.05f64)).ln();
        assert!((c.theta_frobenius - 3f64.sqrt() * r).abs() < 1e-9);
        // The trial trains inside that ball: init_scale 50 starts far outside it.
        let trained = crate::train::train_cell(&cell, 4).unwrap();
        let h = &trained.report.norms.heads[0];
        assert!(
            h.theta_fro <= ball.b_qk * (1.0 + 1e-6),
            "{} > {}",
            h.theta_fro,
            ball.b_qk
        );
        assert!(h.w_v_spectral <= ball.b_v * (1.0 + 1e-6));
        assert!(trained.report.norms.w_l2 <= ball.b_w * (1.0 + 1e-6));
        cell.train.radius_rule = RadiusRule::Fixed;
        let free = crate::train::train_cell(&cell, 4).unwrap();
        assert!(
            free.report.norms.heads[0].theta_fro > ball.b_qk,
            "the check above could not fail"
        );
        assert_eq!(resolve_ball(&cell).unwrap(), None);
    }
}
