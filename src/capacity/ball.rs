//! The norm ball of the \[CLS\] head class, and the projection onto it.
//!
//! The class is `{ClsHead : ||Theta||_F <= b_qk, ||W_V||_F <= b_v_fro, ||w||_2 <= b_w}` with
//! `Theta = W_K W_Q^T`. `||W_V||_F <= b_v_fro` implies `||W_V||_2 <= b_v_fro` and
//! `||W_V||_{2,1} <= sqrt(k) b_v_fro`, so the ball sits inside the class the bounds are stated for
//! at the radii of [`HeadBall::radii`]: an estimate for this ball is a lower estimate for
//! the bounds' class too. This is the one place the projection is defined; training code that
//! wants bounded-norm steps can reuse [`HeadBall::project`] as an `optim::Projection`.

use crate::bounds::HeadRadii;
use crate::error::{Error, Result, check};
use crate::model::{Activation, ClsHead};
use crate::norms::model::l2;
use crate::tensor::Mat;
use rand::{Rng, RngExt};

/// Radii of the head class. `b_qk = 0` is allowed (attention is then uniform), the others must
/// be positive.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HeadBall {
    /// Bound on `||Theta||_F = ||W_K W_Q^T||_F`.
    pub b_qk: f64,
    /// Bound on the Frobenius norm `||W_V||_F` (hence on the spectral norm `||W_V||_2`, which is
    /// what `bounds::HeadRadii::b_v` bounds). Serialized as `b_v` so stored cell hashes stay.
    #[serde(rename = "b_v")]
    pub b_v_fro: f64,
    /// Bound on `||w||_2`.
    pub b_w: f64,
}

/// Frobenius norm of `Theta = W_K W_Q^T` via `norms` (the d x d product is small here).
pub fn theta_frobenius(head: &ClsHead<f64>) -> Result<f64> {
    let t = crate::norms::theta(&head.w_q.to_dmatrix(), &head.w_k.to_dmatrix())?;
    crate::norms::frobenius(&t)
}

fn scale_into(xs: &mut [f64], norm: f64, radius: f64) {
    if norm > radius {
        let c = if norm > 0.0 { radius / norm } else { 0.0 };
        xs.iter_mut().for_each(|x| *x *= c);
    }
}

impl HeadBall {
    pub fn new(b_qk: f64, b_v_fro: f64, b_w: f64) -> Result<Self> {
        check::non_negative("b_qk", b_qk)?;
        check::positive("b_v_fro", b_v_fro)?;
        check::positive("b_w", b_w)?;
        Ok(HeadBall { b_qk, b_v_fro, b_w })
    }

    /// Maps a head into the ball. `W_V` and `w` are scaled onto their Frobenius / l2 balls (the
    /// Euclidean projection). `Theta` is bilinear in `(W_Q, W_K)`, so both factors are scaled by
    /// `sqrt(b_qk / ||Theta||_F)` when `||Theta||_F > b_qk`: a retraction onto the (non-convex)
    /// factor set that keeps the direction of `Theta`, not a Euclidean projection.
    pub fn project(&self, head: &mut ClsHead<f64>) -> Result<()> {
        if self.b_qk == 0.0 {
            head.w_q.data.iter_mut().for_each(|x| *x = 0.0);
            head.w_k.data.iter_mut().for_each(|x| *x = 0.0);
        } else {
            let t = theta_frobenius(head)?;
            if t > self.b_qk {
                let c = (self.b_qk / t).sqrt();
                head.w_q.data.iter_mut().for_each(|x| *x *= c);
                head.w_k.data.iter_mut().for_each(|x| *x *= c);
            }
        }
        let nv = crate::norms::frobenius(&head.w_v.to_dmatrix())?;
        scale_into(&mut head.w_v.data, nv, self.b_v_fro);
        let nw = l2(&head.w);
        scale_into(&mut head.w, nw, self.b_w);
        Ok(())
    }

    /// True when every norm is within its radius up to a relative `1e-9`.
    pub fn contains(&self, head: &ClsHead<f64>) -> Result<bool> {
        let tol = 1.0 + 1e-9;
        Ok(theta_frobenius(head)? <= self.b_qk * tol + 1e-300
            && crate::norms::frobenius(&head.w_v.to_dmatrix())? <= self.b_v_fro * tol
            && l2(&head.w) <= self.b_w * tol)
    }

    /// Radii for `bounds` of a class that contains this ball, for inputs with max row norm
    /// `b_x` and `value_dim` k: `b_v = b_v_fro` (spectral <= Frobenius), `b_v21 = sqrt(k) b_v_fro`
    /// (`||A||_{2,1} <= sqrt(k) ||A||_F`, Cauchy-Schwarz over the k columns).
    pub fn radii(&self, b_x: f64, value_dim: usize) -> Result<HeadRadii> {
        let r = HeadRadii {
            b_x,
            b_qk: self.b_qk,
            b_v: self.b_v_fro,
            b_v21: (value_dim as f64).sqrt() * self.b_v_fro,
            b_w: self.b_w,
        };
        r.validate().map_err(|e| match e {
            Error::InvalidValue { .. } if self.b_qk == 0.0 => Error::invalid(
                "b_qk",
                0.0,
                "a positive radius to compare with the bounds (they need b_qk > 0)",
            ),
            e => e,
        })?;
        Ok(r)
    }

    /// A random member: Gaussian directions for every factor, each group then scaled to
    /// `radius * u^(1/4)`, `u` uniform (mostly near the boundary, where members are spread out).
    pub fn sample<R: Rng + ?Sized>(
        &self,
        width: usize,
        rank: usize,
        value_dim: usize,
        activation: Activation,
        rng: &mut R,
    ) -> Result<ClsHead<f64>> {
        let mut gauss = |n: usize| -> Vec<f64> {
            (0..n)
                .map(|_| {
                    // Box-Muller; 1 - u in (0, 1] keeps the log finite.
                    let (u, v): (f64, f64) = (rng.random(), rng.random());
                    (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
                })
                .collect()
        };
        let w_q = Mat::new("w_q", width, rank, gauss(width * rank))?;
        let w_k = Mat::new("w_k", width, rank, gauss(width * rank))?;
        let w_v = Mat::new("w_v", width, value_dim, gauss(width * value_dim))?;
        let w = gauss(value_dim);
        let mut head = ClsHead::new(w_q, w_k, w_v, w, activation)?;
        let mut frac = || rng.random::<f64>().powf(0.25);
        let shrunk = HeadBall {
            b_qk: self.b_qk * frac(),
            b_v_fro: self.b_v_fro * frac(),
            b_w: self.b_w * frac(),
        };
        // Scale up to the shrunk radii first (project only shrinks), then project.
        let blow = |xs: &mut [f64]| xs.iter_mut().for_each(|x| *x *= 1e3);
        blow(&mut head.w_q.data);
        blow(&mut head.w_k.data);
        blow(&mut head.w_v.data);
        blow(&mut head.w);
        shrunk.project(&mut head)?;
        Ok(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn projection_lands_on_the_boundary_and_keeps_inside_points() {
        let ball = HeadBall::new(0.5, 2.0, 3.0).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut h = ClsHead::<f64>::random(5, 2, 3, Activation::Relu, 50.0, &mut rng).unwrap();
        assert!(!ball.contains(&h).unwrap());
        ball.project(&mut h).unwrap();
        // Every norm was above its radius, so after scaling each equals its radius.
        assert!((theta_frobenius(&h).unwrap() - 0.5).abs() < 1e-12);
        assert!((crate::norms::frobenius(&h.w_v.to_dmatrix()).unwrap() - 2.0).abs() < 1e-12);
        assert!((l2(&h.w) - 3.0).abs() < 1e-12);
        let before = h.clone();
        ball.project(&mut h).unwrap();
        assert_eq!(before, h, "a point of the ball is a fixed point");
        let s = ball.sample(5, 2, 3, Activation::Relu, &mut rng).unwrap();
        assert!(ball.contains(&s).unwrap());
    }

    #[test]
    fn bad_radii_are_named() {
        assert!(HeadBall::new(-1.0, 1.0, 1.0).is_err());
        assert!(HeadBall::new(1.0, 0.0, 1.0).is_err());
        assert!(HeadBall::new(0.0, 1.0, 1.0).unwrap().radii(1.0, 2).is_err());
    }
}
