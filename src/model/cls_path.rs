//! The fast path for a one-block Transformer read at \[CLS\]: only the \[CLS\] query row.
//!
//! With one block and the read-out w^T y_cls, the output depends on the other rows only
//! through the \[CLS\] query's attention (the MLP and Pi act row by row). So each head is a
//! \[CLS\]-query head on the token table (`table`), and the residual, Pi, MLP and read-out run
//! on one row per sample, batched into (m x d) gemms. Tested equal to the full computation.
//!
//! The heads' softmax-mix runs through one of two kernels ([`MixKernel`], `mixing.rs`): for bit
//! inputs (vocab 2) the bit-matrix kernel of `bitmix.rs` (all heads in one gemm each way,
//! docs/kernels.md §1), otherwise, or when that kernel declines a batch (score gap above
//! `bitmix::MAX_SCORE_GAP`), the per-sample gather of `table.rs`, which is the reference.

use crate::error::{Error, Result};
use crate::model::block::{project_rows, project_rows_backward};
use crate::model::embedding::TokenBatch;
use crate::model::mixing::{MixKernel, Mixing, default_kernel};
use crate::model::table::{self, HeadTable, Qkv, QkvGrad};
use crate::model::transformer::Transformer;
use crate::optim::Parameters;
use crate::tensor::{Mat, Real, View, check_finite, gemm};

/// Everything [`Transformer::backward_cls`] needs from [`Transformer::forward_cls`].
#[derive(Clone, Debug)]
pub struct ClsCache<S> {
    x_tab: Mat<S>,
    tables: Vec<HeadTable<S>>,
    mixing: Mixing<S>,
    /// Per head, the mixed values before sigma (m x k).
    pre: Vec<Mat<S>>,
    h: Vec<Mat<S>>,
    pub(crate) p1: Mat<S>,
    y1: Mat<S>,
    z: Mat<S>,
    g: Mat<S>,
    pub(crate) p2: Mat<S>,
    y_out: Mat<S>,
    /// f_i, one per sample.
    pub predictions: Vec<S>,
}

impl<S: Real> ClsCache<S> {
    /// Head `h`'s \[CLS\] attention over positions 0..T and itself (last), sample i. On the
    /// bit-matrix kernel the first call builds every head's attention matrix.
    pub fn attention(&self, head: usize, i: usize) -> &[S] {
        self.mixing.attention(head, i)
    }

    /// The kernel that actually ran ([`MixKernel::Bits`] falls back to
    /// [`MixKernel::Gather`] on batches it declines).
    pub fn kernel(&self) -> MixKernel {
        self.mixing.kernel()
    }
}

impl<S: Real> Transformer<S> {
    fn check_cls_path(&self, batch: &TokenBatch) -> Result<()> {
        if self.blocks.len() != 1 {
            return Err(Error::invalid(
                "layers",
                self.blocks.len(),
                "1 for the [CLS]-only path (use forward_full)",
            ));
        }
        self.embedding.check_batch(batch)
    }

    /// Predictions through the \[CLS\]-only token-table path (one block).
    pub fn forward_cls(&self, batch: &TokenBatch) -> Result<ClsCache<S>> {
        self.forward_cls_with(batch, default_kernel())
    }

    /// [`Transformer::forward_cls`] on a chosen mixing kernel.
    pub fn forward_cls_with(&self, batch: &TokenBatch, kernel: MixKernel) -> Result<ClsCache<S>> {
        self.check_cls_path(batch)?;
        let (m, d) = (batch.num_samples(), self.width());
        let (one, zero) = (S::one(), S::zero());
        let block = &self.blocks[0];
        let x_tab = table::table_with_cls(&self.embedding);
        let mut p1 = Mat::zeros(m, d);
        for i in 0..m {
            p1.row_mut(i).copy_from_slice(&self.embedding.cls);
        }
        let tables: Vec<HeadTable<S>> = (block.heads.iter())
            .map(|hp| {
                table::build(
                    &x_tab,
                    Qkv {
                        w_q: &hp.w_q,
                        w_k: &hp.w_k,
                        w_v: &hp.w_v,
                    },
                )
            })
            .collect();
        let vocab = self.embedding.vocab();
        let (mixing, pre) = Mixing::run(kernel, &tables, vocab, batch);
        let mut hs = Vec::with_capacity(pre.len());
        for (hp, mx) in block.heads.iter().zip(&pre) {
            let mut h = mx.clone();
            self.attn_activation.apply_slice(&mut h.data);
            gemm(one, h.view(), hp.w_c.view(), one, &mut p1.data);
            hs.push(h);
        }
        let (mut y1, mut z, mut g, mut p2, mut y_out) = (
            Mat::default(),
            Mat::default(),
            Mat::default(),
            Mat::default(),
            Mat::default(),
        );
        match &block.mlp {
            None => project_rows(&p1, &mut y_out),
            Some(mlp) => {
                project_rows(&p1, &mut y1);
                z = Mat::zeros(m, mlp.w1.cols);
                gemm(one, y1.view(), mlp.w1.view(), zero, &mut z.data);
                g = z.clone();
                self.mlp_activation.apply_slice(&mut g.data);
                p2 = y1.clone();
                gemm(one, g.view(), mlp.w2.view(), one, &mut p2.data);
                project_rows(&p2, &mut y_out);
            }
        }
        let mut predictions = vec![zero; m];
        gemm(
            one,
            y_out.view(),
            View::col(&self.w),
            zero,
            &mut predictions,
        );
        Ok(ClsCache {
            x_tab,
            tables,
            mixing,
            pre,
            h: hs,
            p1,
            y1,
            z,
            g,
            p2,
            y_out,
            predictions,
        })
    }

    /// Gradient of sum_i L_i(f_i) for every parameter (embeddings included), given
    /// `dl_df[i] = dL_i/df_i`, through the \[CLS\]-only path.
    pub fn backward_cls(
        &self,
        batch: &TokenBatch,
        cache: &ClsCache<S>,
        dl_df: &[S],
    ) -> Result<Self> {
        self.check_cls_path(batch)?;
        let m = batch.num_samples();
        if dl_df.len() != m {
            return Err(Error::shape("dl_df", m, dl_df.len()));
        }
        check_finite("dl_df", dl_df)?;
        let (one, zero) = (S::one(), S::zero());
        let block = &self.blocks[0];
        let mut grad = self.zeros_like();
        // f = Y w: dw = Y^T g, dY = g w^T.
        gemm(one, cache.y_out.t(), View::col(dl_df), zero, &mut grad.w);
        let mut dp = Mat::zeros(m, self.width());
        gemm(
            one,
            View::col(dl_df),
            View::row(&self.w),
            zero,
            &mut dp.data,
        );
        match (&block.mlp, &mut grad.blocks[0].mlp) {
            (Some(mlp), Some(gm)) => {
                project_rows_backward(&cache.p2, &cache.y_out, &mut dp);
                gemm(one, cache.g.t(), dp.view(), one, &mut gm.w2.data);
                let mut dz = Mat::zeros(m, mlp.w1.cols);
                gemm(one, dp.view(), mlp.w2.t(), zero, &mut dz.data);
                for (gz, &zv) in dz.data.iter_mut().zip(&cache.z.data) {
                    *gz *= self.mlp_activation.derivative(zv);
                }
                gemm(one, cache.y1.t(), dz.view(), one, &mut gm.w1.data);
                gemm(one, dz.view(), mlp.w1.t(), one, &mut dp.data);
                project_rows_backward(&cache.p1, &cache.y1, &mut dp);
            }
            _ => project_rows_backward(&cache.p1, &cache.y_out, &mut dp),
        }
        // dp is now dL/dP1 (m x d). Residual: P1 = x_cls + ..., so d x_cls += sum_i dp_i.
        let mut d_x_tab = Mat::zeros(cache.x_tab.rows, cache.x_tab.cols);
        let cls_row = cache.x_tab.rows - 1;
        for i in 0..m {
            crate::tensor::axpy(one, dp.row(i), d_x_tab.row_mut(cls_row));
        }
        let gb = &mut grad.blocks[0];
        let mut d_mixed = Vec::with_capacity(block.heads.len());
        for (j, hp) in block.heads.iter().enumerate() {
            gemm(
                one,
                cache.h[j].t(),
                dp.view(),
                one,
                &mut gb.heads[j].w_c.data,
            );
            let mut dm = Mat::zeros(m, hp.w_v.cols);
            gemm(one, dp.view(), hp.w_c.t(), zero, &mut dm.data);
            for (g, &x) in dm.data.iter_mut().zip(&cache.pre[j].data) {
                *g *= self.attn_activation.derivative(x);
            }
            d_mixed.push(dm);
        }
        let table_grads =
            (cache.mixing).backward(&cache.tables, self.embedding.vocab(), batch, &d_mixed);
        for (j, hp) in block.heads.iter().enumerate() {
            let hg = &mut gb.heads[j];
            let w = Qkv {
                w_q: &hp.w_q,
                w_k: &hp.w_k,
                w_v: &hp.w_v,
            };
            let gq = QkvGrad {
                w_q: &mut hg.w_q,
                w_k: &mut hg.w_k,
                w_v: &mut hg.w_v,
            };
            table::build_backward(
                &cache.x_tab,
                w,
                &cache.tables[j],
                &table_grads[j],
                gq,
                Some(&mut d_x_tab),
            );
        }
        grad.embedding.cls.copy_from_slice(d_x_tab.row(cls_row));
        d_x_tab.rows -= 1;
        d_x_tab.data.truncate(d_x_tab.rows * d_x_tab.cols);
        self.embedding.table_backward(&d_x_tab, &mut grad.embedding);
        Ok(grad)
    }

    /// [`Transformer::forward_cls`] then [`Transformer::backward_cls`] with dL_i/df_i from
    /// `dloss(i, f_i)`.
    pub fn value_and_grad_cls(
        &self,
        batch: &TokenBatch,
        dloss: impl FnMut(usize, S) -> S,
    ) -> Result<(Vec<S>, Self)> {
        self.value_and_grad_cls_with(batch, default_kernel(), dloss)
    }

    /// [`Transformer::value_and_grad_cls`] on a chosen mixing kernel.
    pub fn value_and_grad_cls_with(
        &self,
        batch: &TokenBatch,
        kernel: MixKernel,
        mut dloss: impl FnMut(usize, S) -> S,
    ) -> Result<(Vec<S>, Self)> {
        let cache = self.forward_cls_with(batch, kernel)?;
        let g: Vec<S> = cache
            .predictions
            .iter()
            .enumerate()
            .map(|(i, &f)| dloss(i, f))
            .collect();
        let grad = self.backward_cls(batch, &cache, &g)?;
        Ok((cache.predictions, grad))
    }
}
