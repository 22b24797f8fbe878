//! The token table: a \[CLS\]-query head on token inputs, computed once per step.
//!
//! Before attention mixes positions, everything a head computes about input row t depends only
//! on (position t, token b_t): the row x = tok[b] + pos[t], its value W_V^T x and its score
//! x^T Theta z with z = x_cls. So we compute these for the T * vocab distinct rows once
//! (cost ~ T vocab d (r + k)) and each sample only gathers its T scores, takes a softmax and
//! mixes T value rows (cost ~ T k per sample), instead of m T d (r + k) for the plain
//! computation. The score uses Theta z = W_K (W_Q^T z), a d-vector, so it is one mat-vec.

use crate::model::bitmix::{BitTable, TableGrad};
use crate::model::embedding::{Embedding, TokenBatch};
use crate::model::softmax::{softmax_backward_in_place, softmax_in_place};
use crate::tensor::{Mat, Real, View, axpy, dot, gemm};

/// The three per-head weights the table needs (no output projection).
#[derive(Clone, Copy)]
pub(crate) struct Qkv<'a, S> {
    pub w_q: &'a Mat<S>,
    pub w_k: &'a Mat<S>,
    pub w_v: &'a Mat<S>,
}

/// Gradient buffers matching [`Qkv`].
pub(crate) struct QkvGrad<'a, S> {
    pub w_q: &'a mut Mat<S>,
    pub w_k: &'a mut Mat<S>,
    pub w_v: &'a mut Mat<S>,
}

/// Per-step, per-head precomputation on the token table.
#[derive(Clone, Debug)]
pub(crate) struct HeadTable<S> {
    /// q = W_Q^T x_cls (r).
    q: Vec<S>,
    /// Theta z = W_K q (d).
    theta_z: Vec<S>,
    /// Scores of the T * vocab table rows, then the \[CLS\] row's score last.
    scores: Vec<S>,
    /// Values W_V^T x of the table rows ((T*vocab) x k), then v_cls last (one more row).
    values: Mat<S>,
}

/// Per-sample outputs of mixing: attention weights (m x (T+1), \[CLS\] last) and mixed values
/// W_V^T X~^T a (m x k), before sigma.
#[derive(Clone, Debug)]
pub(crate) struct Mixed<S> {
    pub attention: Mat<S>,
    pub mixed: Mat<S>,
}

/// `x_tab` is [`Embedding::table`] with x_cls appended as the last row.
pub(crate) fn table_with_cls<S: Real>(emb: &Embedding<S>) -> Mat<S> {
    let mut t = emb.table();
    t.data.extend_from_slice(&emb.cls);
    t.rows += 1;
    t
}

pub(crate) fn build<S: Real>(x_tab: &Mat<S>, w: Qkv<'_, S>) -> HeadTable<S> {
    let n = x_tab.rows;
    let x_cls = x_tab.row(n - 1);
    let mut q = vec![S::zero(); w.w_q.cols];
    gemm(S::one(), View::row(x_cls), w.w_q.view(), S::zero(), &mut q);
    let mut theta_z = vec![S::zero(); w.w_k.rows];
    gemm(
        S::one(),
        w.w_k.view(),
        View::col(&q),
        S::zero(),
        &mut theta_z,
    );
    let mut scores = vec![S::zero(); n];
    gemm(
        S::one(),
        x_tab.view(),
        View::col(&theta_z),
        S::zero(),
        &mut scores,
    );
    let mut values = Mat::zeros(n, w.w_v.cols);
    gemm(
        S::one(),
        x_tab.view(),
        w.w_v.view(),
        S::zero(),
        &mut values.data,
    );
    HeadTable {
        q,
        theta_z,
        scores,
        values,
    }
}

/// Gather, softmax and mix for every sample. `vocab` maps (t, b) to table row t*vocab + b.
pub(crate) fn mix<S: Real>(table: &HeadTable<S>, vocab: usize, batch: &TokenBatch) -> Mixed<S> {
    let (m, t_len, k) = (batch.num_samples(), batch.context_len, table.values.cols);
    let cls_row = table.values.rows - 1;
    let mut attention = Mat::zeros(m, t_len + 1);
    let mut mixed = Mat::zeros(m, k);
    for i in 0..m {
        let toks = batch.sample(i);
        let a = attention.row_mut(i);
        for (t, &b) in toks.iter().enumerate() {
            a[t] = table.scores[t * vocab + b as usize];
        }
        a[t_len] = table.scores[cls_row];
        softmax_in_place(a);
        let out = &mut mixed.data[i * k..(i + 1) * k];
        for (t, &b) in toks.iter().enumerate() {
            axpy(a[t], table.values.row(t * vocab + b as usize), out);
        }
        axpy(a[t_len], table.values.row(cls_row), out);
    }
    Mixed { attention, mixed }
}

impl<S: Real> HeadTable<S> {
    /// A table whose products were computed by the caller (the sparse one-hot rows of
    /// `ClsHead`): q = W_Q^T x_cls, Theta z = W_K q, the scores and values of every table row
    /// with the \[CLS\] row last, exactly as [`build`] lays them out.
    pub(crate) fn from_parts(q: Vec<S>, theta_z: Vec<S>, scores: Vec<S>, values: Mat<S>) -> Self {
        HeadTable {
            q,
            theta_z,
            scores,
            values,
        }
    }

    /// The scores and values on rows `t * 2 + b` (\[CLS\] last), for the bit-matrix kernel.
    pub(crate) fn bit_table(&self) -> BitTable<'_, S> {
        BitTable {
            scores: &self.scores,
            values: &self.values,
        }
    }

    /// q = W_Q^T x_cls.
    pub(crate) fn q(&self) -> &[S] {
        &self.q
    }
}

/// Per-sample backward of [`mix`] given dL/d(mixed) (m x k): dL/d(scores) and dL/d(values)
/// on the table rows (the reference for `bitmix::backward`).
pub(crate) fn mix_backward<S: Real>(
    table: &HeadTable<S>,
    vocab: usize,
    batch: &TokenBatch,
    fwd: &Mixed<S>,
    d_mixed: &Mat<S>,
) -> TableGrad<S> {
    let (m, t_len, k) = (batch.num_samples(), batch.context_len, table.values.cols);
    let n = table.values.rows;
    let cls_row = n - 1;
    let mut d_scores = vec![S::zero(); n];
    let mut d_values = Mat::zeros(n, k);
    let mut da = vec![S::zero(); t_len + 1];
    for i in 0..m {
        let toks = batch.sample(i);
        let a = fwd.attention.row(i);
        let dm = d_mixed.row(i);
        for (t, &b) in toks.iter().enumerate() {
            let r = t * vocab + b as usize;
            da[t] = dot(dm, table.values.row(r));
            axpy(a[t], dm, d_values.row_mut(r));
        }
        da[t_len] = dot(dm, table.values.row(cls_row));
        axpy(a[t_len], dm, d_values.row_mut(cls_row));
        softmax_backward_in_place(a, &mut da);
        for (t, &b) in toks.iter().enumerate() {
            d_scores[t * vocab + b as usize] += da[t];
        }
        d_scores[cls_row] += da[t_len];
    }
    TableGrad { d_scores, d_values }
}

/// Backward of [`build`] given dL/d(scores) and dL/d(values) on the table rows. Adds into
/// `grad` and, if given, into `d_x_tab` (gradient on the table rows, \[CLS\] last).
pub(crate) fn build_backward<S: Real>(
    x_tab: &Mat<S>,
    w: Qkv<'_, S>,
    table: &HeadTable<S>,
    tg: &TableGrad<S>,
    grad: QkvGrad<'_, S>,
    d_x_tab: Option<&mut Mat<S>>,
) {
    let (d_scores, d_values) = (&tg.d_scores, &tg.d_values);
    let cls_row = x_tab.rows - 1;
    // values = X W_V: dW_V += X^T dV.
    gemm(
        S::one(),
        x_tab.t(),
        d_values.view(),
        S::one(),
        &mut grad.w_v.data,
    );
    // scores = X (W_K q), q = W_Q^T x_cls.
    let mut d_theta_z = vec![S::zero(); x_tab.cols];
    gemm(
        S::one(),
        x_tab.t(),
        View::col(d_scores),
        S::zero(),
        &mut d_theta_z,
    );
    gemm(
        S::one(),
        View::col(&d_theta_z),
        View::row(&table.q),
        S::one(),
        &mut grad.w_k.data,
    );
    let mut dq = vec![S::zero(); table.q.len()];
    gemm(
        S::one(),
        w.w_k.t(),
        View::col(&d_theta_z),
        S::zero(),
        &mut dq,
    );
    let x_cls = x_tab.row(cls_row);
    gemm(
        S::one(),
        View::col(x_cls),
        View::row(&dq),
        S::one(),
        &mut grad.w_q.data,
    );
    if let Some(dx) = d_x_tab {
        gemm(S::one(), d_values.view(), w.w_v.t(), S::one(), &mut dx.data);
        gemm(
            S::one(),
            View::col(d_scores),
            View::row(&table.theta_z),
            S::one(),
            &mut dx.data,
        );
        let mut d_cls = vec![S::zero(); x_tab.cols];
        gemm(
            S::one(),
            w.w_q.view(),
            View::col(&dq),
            S::zero(),
            &mut d_cls,
        );
        axpy(S::one(), &d_cls, dx.row_mut(cls_row));
    }
}
