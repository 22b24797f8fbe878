//! LayerNorm over the features of one row, as PyTorch's `nn.LayerNorm(d)` (eps 1e-5):
//! xhat = (x - mean(x)) / sqrt(var(x) + eps) with the biased variance (divide by d), then
//! y = g * xhat + b with a learned gain g and bias b (docs/experiments.md, "paper protocol").
//!
//! The backward pass is the closed form of the Jacobian: with gy = g * dy,
//! dx = rstd * (gy - mean(gy) - xhat * mean(gy * xhat)), dg = dy * xhat, db = dy.

use crate::error::{Error, Result};
use crate::tensor::Real;

/// PyTorch's default `eps` of `nn.LayerNorm`.
pub const LAYER_NORM_EPS: f64 = 1e-5;

/// Gain and bias of one LayerNorm (both of length d).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNorm<S> {
    pub gain: Vec<S>,
    pub bias: Vec<S>,
}

impl<S: Real> LayerNorm<S> {
    /// PyTorch's initialisation: gain ones, bias zeros.
    pub fn identity(width: usize) -> Self {
        LayerNorm {
            gain: vec![S::one(); width],
            bias: vec![S::zero(); width],
        }
    }

    /// Validates equal, non-zero lengths and finite entries.
    pub fn new(gain: Vec<S>, bias: Vec<S>) -> Result<Self> {
        crate::error::check::at_least("layer_norm.gain length", gain.len(), 1)?;
        if bias.len() != gain.len() {
            return Err(Error::shape("layer_norm.bias", gain.len(), bias.len()));
        }
        crate::tensor::check_finite("layer_norm.gain", &gain)?;
        crate::tensor::check_finite("layer_norm.bias", &bias)?;
        Ok(LayerNorm { gain, bias })
    }

    pub fn width(&self) -> usize {
        self.gain.len()
    }

    pub fn zeros_like(&self) -> Self {
        LayerNorm {
            gain: vec![S::zero(); self.gain.len()],
            bias: vec![S::zero(); self.bias.len()],
        }
    }

    pub fn cast<T: Real>(&self) -> LayerNorm<T> {
        let c = |v: &[S]| v.iter().map(|x| T::from_f64(x.as_f64())).collect();
        LayerNorm {
            gain: c(&self.gain),
            bias: c(&self.bias),
        }
    }

    /// Forward on one row: writes xhat and y, returns rstd = 1 / sqrt(var + eps).
    /// All three slices have length d (callers allocate them from the same width).
    pub fn forward_row(&self, x: &[S], xhat: &mut [S], y: &mut [S]) -> S {
        let rstd = normalize(x, xhat);
        for (((yj, &xh), &g), &b) in y
            .iter_mut()
            .zip(xhat.iter())
            .zip(&self.gain)
            .zip(&self.bias)
        {
            *yj = g * xh + b;
        }
        rstd
    }

    /// Backward on one row: accumulates dg, db into `grad` and *adds* dL/dx to `dx`.
    pub fn backward_row(&self, xhat: &[S], rstd: S, dy: &[S], dx: &mut [S], grad: &mut Self) {
        let n = S::from_f64(xhat.len() as f64);
        let (mut mean_gy, mut mean_gy_xhat) = (S::zero(), S::zero());
        for (((&dyj, &xh), &g), (dg, db)) in dy
            .iter()
            .zip(xhat)
            .zip(&self.gain)
            .zip(grad.gain.iter_mut().zip(grad.bias.iter_mut()))
        {
            let gy = g * dyj;
            mean_gy += gy;
            mean_gy_xhat += gy * xh;
            *dg += dyj * xh;
            *db += dyj;
        }
        mean_gy /= n;
        mean_gy_xhat /= n;
        for (((dxj, &dyj), &xh), &g) in dx.iter_mut().zip(dy).zip(xhat).zip(&self.gain) {
            *dxj += rstd * (g * dyj - mean_gy - xh * mean_gy_xhat);
        }
    }
}

/// xhat = (x - mean) * rstd with the biased variance; returns rstd = 1 / sqrt(var + eps).
/// Mean and variance are accumulated in f64 so f32 rows of large mean lose nothing.
pub fn normalize<S: Real>(x: &[S], xhat: &mut [S]) -> S {
    let n = x.len() as f64;
    let mean = x.iter().map(|v| v.as_f64()).sum::<f64>() / n;
    let var = x.iter().map(|v| (v.as_f64() - mean).powi(2)).sum::<f64>() / n;
    let rstd = 1.0 / (var + LAYER_NORM_EPS).sqrt();
    for (h, &v) in xhat.iter_mut().zip(x) {
        *h = S::from_f64((v.as_f64() - mean) * rstd);
    }
    S::from_f64(rstd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_matches_a_hand_computation() {
        // x = (1, 2, 3, 6): mean 3, deviations (-2, -1, 0, 3), biased var (4+1+0+9)/4 = 3.5,
        // rstd = 1/sqrt(3.5 + 1e-5); with g = (1, 2, 1, 1), b = (0, 0, 1, -1):
        // y = (-2 r, -2 r, 1, 3 r - 1).
        let ln = LayerNorm::new(vec![1.0, 2.0, 1.0, 1.0], vec![0.0, 0.0, 1.0, -1.0]).unwrap();
        let (mut xhat, mut y) = (vec![0.0; 4], vec![0.0; 4]);
        let rstd = ln.forward_row(&[1.0f64, 2.0, 3.0, 6.0], &mut xhat, &mut y);
        let r = 1.0 / (3.5f64 + 1e-5).sqrt();
        assert!((rstd - r).abs() < 1e-15);
        for (a, b) in y.iter().zip([-2.0 * r, -2.0 * r, 1.0, 3.0 * r - 1.0]) {
            assert!((a - b).abs() < 1e-14, "{y:?}");
        }
        // A constant row has var 0: xhat = 0 exactly, rstd = 1/sqrt(eps), y = b (finite).
        let rstd = ln.forward_row(&[5.0f64; 4], &mut xhat, &mut y);
        assert_eq!(xhat, vec![0.0; 4]);
        assert!((rstd - 1e-5f64.powf(-0.5)).abs() < 1e-9);
        assert_eq!(y, vec![0.0, 0.0, 1.0, -1.0]);
    }

    #[test]
    fn backward_matches_central_differences() {
        // L = sum_j c_j y_j + y_j^2 / 2 (curvature so dx is not only through the mean);
        // central differences h = 1e-6, error ~h^2 << 1e-7.
        let ln = LayerNorm::new(
            vec![1.3, -0.4, 0.8, 2.0, 0.5],
            vec![0.1, 0.0, -0.3, 0.2, 1.0],
        )
        .unwrap();
        let x = [0.3f64, -1.2, 2.5, 0.7, -0.1];
        let c = [0.5, -1.0, 0.25, 2.0, -0.7];
        let value = |ln: &LayerNorm<f64>, x: &[f64]| {
            let (mut xh, mut y) = (vec![0.0; 5], vec![0.0; 5]);
            ln.forward_row(x, &mut xh, &mut y);
            y.iter()
                .zip(&c)
                .map(|(y, c)| c * y + 0.5 * y * y)
                .sum::<f64>()
        };
        let (mut xh, mut y) = (vec![0.0; 5], vec![0.0; 5]);
        let rstd = ln.forward_row(&x, &mut xh, &mut y);
        let dy: Vec<f64> = y.iter().zip(&c).map(|(y, c)| c + y).collect();
        let mut dx = vec![0.0; 5];
        let mut grad = ln.zeros_like();
        ln.backward_row(&xh, rstd, &dy, &mut dx, &mut grad);
        let h = 1e-6;
        for j in 0..5 {
            let (mut up, mut down) = (x, x);
            up[j] += h;
            down[j] -= h;
            let fd = (value(&ln, &up) - value(&ln, &down)) / (2.0 * h);
            assert!((fd - dx[j]).abs() < 1e-7, "dx[{j}]: {fd} vs {}", dx[j]);
            for (which, ana) in [(0, grad.gain[j]), (1, grad.bias[j])] {
                let (mut p, mut q) = (ln.clone(), ln.clone());
                let (a, b) = if which == 0 {
                    (&mut p.gain[j], &mut q.gain[j])
                } else {
                    (&mut p.bias[j], &mut q.bias[j])
                };
                *a += h;
                *b -= h;
                let fd = (value(&p, &x) - value(&q, &x)) / (2.0 * h);
                assert!(
                    (fd - ana).abs() < 1e-7,
                    "param {which} [{j}]: {fd} vs {ana}"
                );
            }
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(LayerNorm::<f64>::new(vec![1.0; 3], vec![0.0; 2]).is_err());
        assert!(LayerNorm::<f64>::new(vec![], vec![]).is_err());
        assert!(LayerNorm::<f64>::new(vec![f64::NAN], vec![0.0]).is_err());
    }
}
