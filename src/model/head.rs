//! The theory's class: one attention head with the \[CLS\] token as query and a linear read-out.
//!
//! f(X~) = w^T sigma(W_V^T X~^T softmax(X~ Theta z)), Theta = W_K W_Q^T, X~ = [X; x_cls]
//! (T+1 rows, \[CLS\] last), z = x_cls (docs/derivations.md §1). The bounds see W_Q, W_K only through
//! Theta; [`ClsHead::theta`] exposes it.

use crate::error::{Error, Result};
use crate::model::activation::Activation;
use crate::model::embedding::{Embedding, TokenBatch};
use crate::model::softmax::softmax_in_place;
use crate::model::table::{self, HeadTable, Mixed, Qkv, QkvGrad};
use crate::tensor::{Mat, Real, View, check_finite, dot, gemm};
use rand::{Rng, RngExt};

/// w_q (d x r), w_k (d x r), w_v (d x k), w (k), sigma.
#[derive(Clone, Debug, PartialEq)]
pub struct ClsHead<S> {
    pub w_q: Mat<S>,
    pub w_k: Mat<S>,
    pub w_v: Mat<S>,
    pub w: Vec<S>,
    pub activation: Activation,
}

/// Output of [`ClsHead::forward`] on one raw X~.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadOutput<S> {
    /// f(X~).
    pub value: S,
    /// softmax(X~ Theta z), T+1 weights, \[CLS\] last.
    pub attention: Vec<S>,
}

/// Everything [`ClsHead::backward_tokens`] needs from [`ClsHead::forward_tokens`].
#[derive(Clone, Debug)]
pub struct ClsHeadCache<S> {
    x_tab: Mat<S>,
    table: HeadTable<S>,
    mixed: Mixed<S>,
    /// f_i, one per sample.
    pub predictions: Vec<S>,
}

impl<S: Real> ClsHeadCache<S> {
    /// \[CLS\] attention over positions 0..T and itself (last) for sample i.
    pub fn attention(&self, i: usize) -> &[S] {
        self.mixed.attention.row(i)
    }
}

impl<S: Real> ClsHead<S> {
    /// Checks d agrees across w_q, w_k, w_v, r across w_q, w_k, k across w_v, w; all finite.
    pub fn new(
        w_q: Mat<S>,
        w_k: Mat<S>,
        w_v: Mat<S>,
        w: Vec<S>,
        activation: Activation,
    ) -> Result<Self> {
        crate::error::check::at_least("width", w_q.rows, 1)?;
        if w_k.rows != w_q.rows {
            return Err(Error::shape("w_k.rows (width d)", w_q.rows, w_k.rows));
        }
        if w_v.rows != w_q.rows {
            return Err(Error::shape("w_v.rows (width d)", w_q.rows, w_v.rows));
        }
        if w_k.cols != w_q.cols {
            return Err(Error::shape("w_k.cols (rank r)", w_q.cols, w_k.cols));
        }
        if w.len() != w_v.cols {
            return Err(Error::shape("w (value_dim k)", w_v.cols, w.len()));
        }
        check_finite("w_q", &w_q.data)?;
        check_finite("w_k", &w_k.data)?;
        check_finite("w_v", &w_v.data)?;
        check_finite("w", &w)?;
        Ok(ClsHead {
            w_q,
            w_k,
            w_v,
            w,
            activation,
        })
    }

    /// Entries uniform in [-scale, scale] / sqrt(fan_in).
    pub fn random<R: Rng + ?Sized>(
        width: usize,
        rank: usize,
        value_dim: usize,
        activation: Activation,
        scale: f64,
        rng: &mut R,
    ) -> Result<Self> {
        crate::error::check::positive("scale", scale)?;
        let mut u = |rows: usize, cols: usize| -> Mat<S> {
            let s = scale / (rows as f64).sqrt();
            Mat {
                rows,
                cols,
                data: (0..rows * cols)
                    .map(|_| S::from_f64(s * (2.0 * rng.random::<f64>() - 1.0)))
                    .collect(),
            }
        };
        let (w_q, w_k, w_v, w) = (
            u(width, rank),
            u(width, rank),
            u(width, value_dim),
            u(value_dim, 1),
        );
        Self::new(w_q, w_k, w_v, w.data, activation)
    }

    /// d.
    pub fn width(&self) -> usize {
        self.w_q.rows
    }
    /// r, the rank of Theta's factors.
    pub fn rank(&self) -> usize {
        self.w_q.cols
    }
    /// k.
    pub fn value_dim(&self) -> usize {
        self.w_v.cols
    }
    /// Theta = W_K W_Q^T (d x d).
    pub fn theta(&self) -> Mat<S> {
        let mut out = Mat::zeros(self.width(), self.width());
        gemm(
            S::one(),
            self.w_k.view(),
            self.w_q.t(),
            S::zero(),
            &mut out.data,
        );
        out
    }

    /// Generic path on a raw X~ ((T+1) x d, \[CLS\] last): f and the attention weights.
    pub fn forward(&self, x_tilde: &Mat<S>) -> Result<HeadOutput<S>> {
        if x_tilde.cols != self.width() || x_tilde.rows < 1 {
            return Err(Error::shape(
                "x_tilde",
                format!("(T+1) x {}", self.width()),
                format!("{} x {}", x_tilde.rows, x_tilde.cols),
            ));
        }
        check_finite("x_tilde", &x_tilde.data)?;
        let theta_z = {
            let z = x_tilde.row(x_tilde.rows - 1);
            let mut out = vec![S::zero(); self.width()];
            gemm(
                S::one(),
                self.theta().view(),
                View::col(z),
                S::zero(),
                &mut out,
            );
            out
        };
        let mut attention = vec![S::zero(); x_tilde.rows];
        gemm(
            S::one(),
            x_tilde.view(),
            View::col(&theta_z),
            S::zero(),
            &mut attention,
        );
        softmax_in_place(&mut attention);
        let mut mixed_x = vec![S::zero(); self.width()];
        gemm(
            S::one(),
            x_tilde.t(),
            View::col(&attention),
            S::zero(),
            &mut mixed_x,
        );
        let mut h = vec![S::zero(); self.value_dim()];
        gemm(
            S::one(),
            self.w_v.t(),
            View::col(&mixed_x),
            S::zero(),
            &mut h,
        );
        self.activation.apply_slice(&mut h);
        Ok(HeadOutput {
            value: dot(&self.w, &h),
            attention,
        })
    }

    fn qkv(&self) -> Qkv<'_, S> {
        Qkv {
            w_q: &self.w_q,
            w_k: &self.w_k,
            w_v: &self.w_v,
        }
    }

    /// Token-table path: predictions f_i for every sequence of the batch (fixed embedding).
    pub fn forward_tokens(
        &self,
        emb: &Embedding<S>,
        batch: &TokenBatch,
    ) -> Result<ClsHeadCache<S>> {
        emb.check_batch(batch)?;
        if emb.width() != self.width() {
            return Err(Error::shape("embedding width", self.width(), emb.width()));
        }
        let x_tab = table::table_with_cls(emb);
        let tab = table::build(&x_tab, self.qkv());
        let mixed = table::mix(&tab, emb.vocab(), batch);
        let k = self.value_dim();
        let predictions = (0..batch.num_samples())
            .map(|i| {
                let m = mixed.mixed.row(i);
                (0..k).fold(S::zero(), |acc, j| {
                    acc + self.w[j] * self.activation.apply(m[j])
                })
            })
            .collect();
        Ok(ClsHeadCache {
            x_tab,
            table: tab,
            mixed,
            predictions,
        })
    }

    /// Gradient of sum_i L_i(f_i) w.r.t. w_q, w_k, w_v, w, given `dl_df[i] = dL_i/df_i`.
    /// Returned as a `ClsHead` of gradients (the `activation` field is copied, meaningless).
    pub fn backward_tokens(
        &self,
        emb: &Embedding<S>,
        batch: &TokenBatch,
        cache: &ClsHeadCache<S>,
        dl_df: &[S],
    ) -> Result<ClsHead<S>> {
        if dl_df.len() != batch.num_samples() {
            return Err(Error::shape("dl_df", batch.num_samples(), dl_df.len()));
        }
        check_finite("dl_df", dl_df)?;
        let k = self.value_dim();
        let mut grad = self.zeros_like();
        let mut d_mixed = Mat::zeros(batch.num_samples(), k);
        for (i, &g) in dl_df.iter().enumerate() {
            let m = cache.mixed.mixed.row(i);
            let dm = d_mixed.row_mut(i);
            for j in 0..k {
                grad.w[j] += g * self.activation.apply(m[j]);
                dm[j] = g * self.w[j] * self.activation.derivative(m[j]);
            }
        }
        let g = QkvGrad {
            w_q: &mut grad.w_q,
            w_k: &mut grad.w_k,
            w_v: &mut grad.w_v,
        };
        table::backward(
            &cache.x_tab,
            self.qkv(),
            &cache.table,
            emb.vocab(),
            batch,
            &cache.mixed,
            &d_mixed,
            g,
            None,
        );
        Ok(grad)
    }

    /// Same shapes, all zeros.
    pub fn zeros_like(&self) -> Self {
        let z = |m: &Mat<S>| Mat::zeros(m.rows, m.cols);
        ClsHead {
            w_q: z(&self.w_q),
            w_k: z(&self.w_k),
            w_v: z(&self.w_v),
            w: vec![S::zero(); self.w.len()],
            activation: self.activation,
        }
    }
}

impl<S: Real> crate::optim::Parameters<S> for ClsHead<S> {
    fn names(&self) -> Vec<String> {
        ["w_q", "w_k", "w_v", "w"].map(String::from).into()
    }
    fn tensors(&self) -> Vec<&[S]> {
        vec![&self.w_q.data, &self.w_k.data, &self.w_v.data, &self.w]
    }
    fn tensors_mut(&mut self) -> Vec<&mut [S]> {
        vec![
            &mut self.w_q.data,
            &mut self.w_k.data,
            &mut self.w_v.data,
            &mut self.w,
        ]
    }
    fn zeros_like(&self) -> Self {
        ClsHead::zeros_like(self)
    }
}
