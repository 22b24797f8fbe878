//! The theory's class: one attention head with the \[CLS\] token as query and a linear read-out.
//!
//! f(X~) = w^T sigma(W_V^T X~^T softmax(X~ Theta z)), Theta = W_K W_Q^T, X~ = [X; x_cls]
//! (T+1 rows, \[CLS\] last), z = x_cls (docs/derivations.md §1). The bounds see W_Q, W_K only through
//! Theta; [`ClsHead::theta`] exposes it.
//!
//! The token-table path ([`ClsHead::forward_tokens`]) multiplies the table rows (x_t for every
//! (position, bit), x_cls last) by W_Q, W_K, W_V. For the fixed one-hot embedding (d = T + 3)
//! these rows have two non-zeros each, so [`TableRows::Sparse`] gathers rows of the weights and
//! scatter-adds their gradients (cost ~ T r per product) instead of the dense gemms of
//! [`TableRows::Dense`] (cost ~ T d r = T^2 r), which stay as the reference. Both give the same
//! forward pass exactly (each sparse row sums its non-zeros; the dense gemm adds exact zeros
//! between them); the gradients agree to rounding (a bit's column sums T rows in another order).

use crate::error::{Error, Result};
use crate::model::activation::Activation;
use crate::model::embedding::{Embedding, SparseRows, TokenBatch};
use crate::model::mixing::{MixKernel, Mixing, default_kernel};
use crate::model::softmax::softmax_in_place;
use crate::model::table::{self, HeadTable, Qkv, QkvGrad};
use crate::tensor::{Mat, Real, View, check_finite, dot, gemm};
use rand::{Rng, RngExt};
use std::sync::Arc;

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

/// The input rows of the token table: [`Embedding::table`] with x_cls appended last.
#[derive(Clone, Debug, PartialEq)]
pub enum TableRows<S> {
    /// All (T vocab + 1) x d entries; products are gemms.
    Dense(Mat<S>),
    /// By non-zeros ([`Embedding::sparse_table_with_cls`]); products are gathers.
    Sparse(SparseRows<S>),
}

impl<S: Real> TableRows<S> {
    /// Sparse when the embedding's rows are sparse (the fixed one-hot embedding), else dense.
    pub fn of(emb: &Embedding<S>) -> Self {
        match emb.sparse_table_with_cls() {
            Some(sp) => TableRows::Sparse(sp),
            None => TableRows::dense(emb),
        }
    }
    /// Always dense: the reference path.
    pub fn dense(emb: &Embedding<S>) -> Self {
        TableRows::Dense(table::table_with_cls(emb))
    }
    /// T vocab + 1.
    pub fn rows(&self) -> usize {
        match self {
            TableRows::Dense(m) => m.rows,
            TableRows::Sparse(s) => s.rows(),
        }
    }
    /// d.
    pub fn cols(&self) -> usize {
        match self {
            TableRows::Dense(m) => m.cols,
            TableRows::Sparse(s) => s.cols(),
        }
    }
}

/// Everything [`ClsHead::backward_tokens`] needs from [`ClsHead::forward_tokens`].
#[derive(Clone, Debug)]
pub struct ClsHeadCache<S> {
    rows: Arc<TableRows<S>>,
    table: HeadTable<S>,
    mixing: Mixing<S>,
    /// Mixed values W_V^T X~^T a_i before sigma (m x k).
    mixed: Mat<S>,
    /// f_i, one per sample.
    pub predictions: Vec<S>,
}

impl<S: Real> ClsHeadCache<S> {
    /// \[CLS\] attention over positions 0..T and itself (last) for sample i. On the bit-matrix
    /// kernel the first call builds the m x (T+1) attention matrix.
    pub fn attention(&self, i: usize) -> &[S] {
        self.mixing.attention(0, i)
    }

    /// The mixing kernel that actually ran ([`MixKernel::Bits`] falls back to
    /// [`MixKernel::Gather`] on batches it declines).
    pub fn kernel(&self) -> MixKernel {
        self.mixing.kernel()
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

    /// Token-table path: predictions f_i for every sequence of the batch, with the table rows
    /// of [`TableRows::of`] (sparse for the one-hot embedding). Builds the rows on every call
    /// (~ T d); a trainer that calls it every step keeps them and uses
    /// [`ClsHead::forward_rows`].
    pub fn forward_tokens(
        &self,
        emb: &Embedding<S>,
        batch: &TokenBatch,
    ) -> Result<ClsHeadCache<S>> {
        self.forward_rows(emb, &Arc::new(TableRows::of(emb)), batch)
    }

    /// [`ClsHead::forward_tokens`] with the table rows given: `rows` must be
    /// [`TableRows::of`] or [`TableRows::dense`] of `emb` (checked by shape only). The
    /// softmax-mix runs on the bit-matrix kernel for bit inputs ([`MixKernel::Bits`],
    /// docs/kernels.md §1), as in the Transformer's \[CLS\] path.
    pub fn forward_rows(
        &self,
        emb: &Embedding<S>,
        rows: &Arc<TableRows<S>>,
        batch: &TokenBatch,
    ) -> Result<ClsHeadCache<S>> {
        self.forward_rows_with(emb, rows, batch, default_kernel())
    }

    /// [`ClsHead::forward_rows`] on a chosen mixing kernel ([`MixKernel::Gather`] is the
    /// reference).
    pub fn forward_rows_with(
        &self,
        emb: &Embedding<S>,
        rows: &Arc<TableRows<S>>,
        batch: &TokenBatch,
        kernel: MixKernel,
    ) -> Result<ClsHeadCache<S>> {
        emb.check_batch(batch)?;
        if emb.width() != self.width() {
            return Err(Error::shape("embedding width", self.width(), emb.width()));
        }
        let n = emb.context_len() * emb.vocab() + 1;
        if rows.rows() != n || rows.cols() != self.width() {
            return Err(Error::shape(
                "table rows",
                format!("{n} x {}", self.width()),
                format!("{} x {}", rows.rows(), rows.cols()),
            ));
        }
        let tab = match &**rows {
            TableRows::Dense(x_tab) => table::build(x_tab, self.qkv()),
            TableRows::Sparse(sp) => self.build_sparse(sp),
        };
        let (mixing, pre) = Mixing::run(kernel, std::slice::from_ref(&tab), emb.vocab(), batch);
        let Some(mixed) = pre.into_iter().next() else {
            return Err(Error::shape("mixed heads", 1, 0));
        };
        let k = self.value_dim();
        let predictions = (0..batch.num_samples())
            .map(|i| {
                let m = mixed.row(i);
                (0..k).fold(S::zero(), |acc, j| {
                    acc + self.w[j] * self.activation.apply(m[j])
                })
            })
            .collect();
        Ok(ClsHeadCache {
            rows: Arc::clone(rows),
            table: tab,
            mixing,
            mixed,
            predictions,
        })
    }

    /// `table::build` on sparse rows: the same quantities, gathered.
    fn build_sparse(&self, sp: &SparseRows<S>) -> HeadTable<S> {
        let (cls_idx, cls_val) = sp.row(sp.rows() - 1);
        let mut q = vec![S::zero(); self.rank()];
        for (&j, &x) in cls_idx.iter().zip(cls_val) {
            crate::tensor::axpy(x, self.w_q.row(j), &mut q);
        }
        let mut theta_z = vec![S::zero(); self.width()];
        gemm(
            S::one(),
            self.w_k.view(),
            View::col(&q),
            S::zero(),
            &mut theta_z,
        );
        let scores = sp.mul_vec(&theta_z);
        let values = sp.mul(&self.w_v);
        HeadTable::from_parts(q, theta_z, scores, values)
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
            let m = cache.mixed.row(i);
            let dm = d_mixed.row_mut(i);
            for j in 0..k {
                grad.w[j] += g * self.activation.apply(m[j]);
                dm[j] = g * self.w[j] * self.activation.derivative(m[j]);
            }
        }
        let tables = std::slice::from_ref(&cache.table);
        let grads = (cache.mixing).backward(tables, emb.vocab(), batch, &[d_mixed]);
        let Some(tg) = grads.into_iter().next() else {
            return Err(Error::shape("table gradients", 1, 0));
        };
        match &*cache.rows {
            TableRows::Dense(x_tab) => {
                let g = QkvGrad {
                    w_q: &mut grad.w_q,
                    w_k: &mut grad.w_k,
                    w_v: &mut grad.w_v,
                };
                table::build_backward(x_tab, self.qkv(), &cache.table, &tg, g, None);
            }
            TableRows::Sparse(sp) => {
                self.build_sparse_backward(sp, &cache.table, &tg.d_scores, &tg.d_values, &mut grad);
            }
        }
        Ok(grad)
    }

    /// Backward of [`ClsHead::build_sparse`], the same steps as `table::build_backward`: dW_V += X^T dV, d(Theta z) = X^T d_scores, dW_K += d(Theta z) q^T,
    /// dq = W_K^T d(Theta z), dW_Q += x_cls dq^T.
    fn build_sparse_backward(
        &self,
        sp: &SparseRows<S>,
        tab: &HeadTable<S>,
        d_scores: &[S],
        d_values: &Mat<S>,
        grad: &mut ClsHead<S>,
    ) {
        sp.t_mul_add(d_values, &mut grad.w_v);
        let d_theta_z = sp.t_mul_vec(d_scores);
        gemm(
            S::one(),
            View::col(&d_theta_z),
            View::row(tab.q()),
            S::one(),
            &mut grad.w_k.data,
        );
        let mut dq = vec![S::zero(); self.rank()];
        gemm(
            S::one(),
            self.w_k.t(),
            View::col(&d_theta_z),
            S::zero(),
            &mut dq,
        );
        let (cls_idx, cls_val) = sp.row(sp.rows() - 1);
        for (&j, &x) in cls_idx.iter().zip(cls_val) {
            crate::tensor::axpy(x, &dq, grad.w_q.row_mut(j));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Positional;
    use crate::optim::Parameters;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn setup<S: Real>(t: usize, m: usize, seed: u64) -> (Embedding<S>, ClsHead<S>, TokenBatch) {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        let emb = Embedding::<S>::fixed_bits(t, Positional::OneHot).unwrap();
        let head = ClsHead::random(emb.width(), 3, 4, Activation::Tanh, 4.0, &mut r).unwrap();
        let tokens = (0..t * m).map(|_| r.random_range(0..2u8)).collect();
        (emb, head, TokenBatch::new(t, tokens).unwrap())
    }

    /// dL/df_i of the smooth loss L = sum_i (c_i f_i + f_i^2 / 2), c_i = 0.7 - 0.3 i.
    fn dl_df<S: Real>(preds: &[S]) -> Vec<S> {
        (preds.iter().enumerate())
            .map(|(i, &f)| S::from_f64(0.7 - 0.3 * i as f64) + f)
            .collect()
    }

    fn grads<S: Real>(
        head: &ClsHead<S>,
        emb: &Embedding<S>,
        rows: TableRows<S>,
        batch: &TokenBatch,
        kernel: MixKernel,
    ) -> (ClsHeadCache<S>, ClsHead<S>) {
        let cache = (head.forward_rows_with(emb, &Arc::new(rows), batch, kernel)).unwrap();
        assert_eq!(cache.kernel(), kernel, "the bit kernel declined the batch");
        let g = dl_df(&cache.predictions);
        let grad = head.backward_tokens(emb, batch, &cache, &g).unwrap();
        (cache, grad)
    }

    /// Largest |a - b| over a tensor, relative to the reference's largest entry (> 1e-3, so
    /// the comparison is not vacuous).
    fn rel_diff<S: Real>(name: &str, a: &[S], b: &[S]) -> f64 {
        let scale = b.iter().map(|x| x.as_f64().abs()).fold(0.0, f64::max);
        assert!(scale > 1e-3, "{name}: too small to compare");
        let d = (a.iter().zip(b)).fold(0.0, |d, (x, y)| {
            f64::max(d, (x.as_f64() - y.as_f64()).abs())
        });
        d / scale
    }

    #[test]
    fn sparse_rows_give_the_dense_forward_exactly_and_its_gradients_to_rounding() {
        // Reference: the dense gemm path (TableRows::dense), on each mixing kernel. The forward
        // pass is bit-identical in f64 and f32: each sparse product sums the same two non-zero
        // terms the gemm sums between exact zeros, and both rows feed the same mix. Gradients:
        // a bit's column of X^T D sums T rows in another order, so they agree to rounding:
        // |diff| <= T eps * sum |terms| is below 1e-13 relative in f64 at T = 37 and below
        // 1e-5 in f32.
        fn case<S: Real>(tol: f64, kernel: MixKernel) {
            let (emb, head, batch) = setup::<S>(37, 11, 5);
            assert!(matches!(TableRows::of(&emb), TableRows::Sparse(_)));
            let (cs, gs) = grads(&head, &emb, TableRows::of(&emb), &batch, kernel);
            let (cd, gd) = grads(&head, &emb, TableRows::dense(&emb), &batch, kernel);
            assert_eq!(cs.predictions, cd.predictions);
            for i in 0..batch.num_samples() {
                assert_eq!(cs.attention(i), cd.attention(i));
            }
            for ((name, a), b) in head.names().iter().zip(gs.tensors()).zip(gd.tensors()) {
                assert!(rel_diff(name, a, b) <= tol, "{name} ({kernel:?})");
            }
        }
        for kernel in [MixKernel::Gather, MixKernel::Bits] {
            case::<f64>(1e-13, kernel);
            case::<f32>(1e-5, kernel);
        }
    }

    #[test]
    fn bit_kernel_matches_the_gather_reference_in_f32_and_f64() {
        // Reference: the per-sample gather (MixKernel::Gather) in f64. The bit kernel computes
        // the same sums in another order (docs/kernels.md §1.4): in f64 both agree to 1e-12
        // relative; in f32 the bit kernel's predictions are within 1e-5 of the f64 reference
        // (T = 300 terms of rounding unit 6e-8, ~2e-5 worst case) and its gradients no
        // further from it than 4x the f32 gather's own error plus 1e-5.
        let (t, m) = (300, 40);
        let (emb, head, batch) = setup::<f64>(t, m, 9);
        let (emb32, head32, _) = setup::<f32>(t, m, 9);
        let (c_ref, g_ref) = grads(&head, &emb, TableRows::of(&emb), &batch, MixKernel::Gather);
        let (c_bits, g_bits) = grads(&head, &emb, TableRows::of(&emb), &batch, MixKernel::Bits);
        assert!(rel_diff("f", &c_bits.predictions, &c_ref.predictions) < 1e-12);
        for ((name, a), b) in head
            .names()
            .iter()
            .zip(g_bits.tensors())
            .zip(g_ref.tensors())
        {
            assert!(rel_diff(name, a, b) < 1e-12, "{name} (f64)");
        }
        let (c32g, g32g) = grads(
            &head32,
            &emb32,
            TableRows::of(&emb32),
            &batch,
            MixKernel::Gather,
        );
        let (c32b, g32b) = grads(
            &head32,
            &emb32,
            TableRows::of(&emb32),
            &batch,
            MixKernel::Bits,
        );
        let as64 = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        let pred_err = rel_diff("f", &as64(&c32b.predictions), &c_ref.predictions);
        assert!(pred_err < 1e-5, "f32 predictions off by {pred_err:e}");
        assert!(rel_diff("f", &as64(&c32g.predictions), &c_ref.predictions) < 1e-5);
        let tensors = g_ref.tensors();
        for (j, name) in head.names().iter().enumerate() {
            let bits = rel_diff(name, &as64(g32b.tensors()[j]), tensors[j]);
            let gather = rel_diff(name, &as64(g32g.tensors()[j]), tensors[j]);
            assert!(
                bits <= 4.0 * gather + 1e-5,
                "{name}: bits {bits:e}, gather {gather:e}"
            );
        }
    }

    #[test]
    fn both_rows_and_both_kernels_match_finite_differences() {
        // Central differences, h = 1e-5, relative l2 error per tensor < 1e-6 (the rule of
        // model/tests.rs), for the dense reference and the sparse rows, each on the gather and
        // on the bit kernel (the kernel that ran is checked in `grads`). T = 14 is sparse under
        // SPARSE_MAX_FILL (fill 2/17), checked below, so both row paths really run.
        let (emb, head, batch) = setup::<f64>(14, 5, 2);
        for kernel in [MixKernel::Gather, MixKernel::Bits] {
            for rows in [TableRows::dense(&emb), TableRows::of(&emb)] {
                let sparse = matches!(rows, TableRows::Sparse(_));
                let rows = Arc::new(rows);
                let value = |h: &ClsHead<f64>| -> f64 {
                    let p = (h.forward_rows_with(&emb, &rows, &batch, kernel))
                        .unwrap()
                        .predictions;
                    (p.iter().enumerate())
                        .map(|(i, f)| (0.7 - 0.3 * i as f64) * f + 0.5 * f * f)
                        .sum()
                };
                let (_, grad) = grads(&head, &emb, (*rows).clone(), &batch, kernel);
                for (j, name) in head.names().iter().enumerate() {
                    let (mut diff2, mut norm2) = (0.0, 0.0);
                    for (e, &a) in grad.tensors()[j].iter().enumerate() {
                        let mut p = head.clone();
                        p.tensors_mut()[j][e] += 1e-5;
                        let up = value(&p);
                        p.tensors_mut()[j][e] -= 2e-5;
                        let fd = (up - value(&p)) / 2e-5;
                        diff2 += (fd - a).powi(2);
                        norm2 += fd * fd;
                    }
                    assert!(norm2.sqrt() > 1e-4, "{name}: gradient too small to test");
                    assert!(
                        diff2.sqrt() < 1e-6 * norm2.sqrt(),
                        "{name} (sparse: {sparse}, {kernel:?})"
                    );
                }
            }
        }
        assert!(matches!(TableRows::of(&emb), TableRows::Sparse(_)));
    }

    #[test]
    fn rows_of_another_embedding_are_refused() {
        let (emb, head, batch) = setup::<f64>(6, 2, 3);
        let other = Embedding::<f64>::fixed_bits(5, Positional::OneHot).unwrap();
        let e = head
            .forward_rows(&emb, &Arc::new(TableRows::of(&other)), &batch)
            .unwrap_err();
        assert!(e.to_string().contains("table rows"), "{e}");
    }
}
