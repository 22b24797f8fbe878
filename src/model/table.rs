//! The token table: a \[CLS\]-query head on token inputs, computed once per step.
//!
//! Before attention mixes positions, everything a head computes about input row t depends only
//! on (position t, token b_t): the row x = tok[b] + pos[t], its value W_V^T x and its score
//! x^T Theta z with z = x_cls. So we compute these for the T * vocab distinct rows once
//! (cost ~ T vocab d (r + k)) and each sample only gathers its T scores, takes a softmax and
//! mixes T value rows (cost ~ T k per sample), instead of m T d (r + k) for the plain
//! computation. The score uses Theta z = W_K (W_Q^T z), a d-vector, so it is one mat-vec.

use crate::model::embedding::{Embedding, TokenBatch};
use crate::model::softmax::{softmax_backward_in_place, softmax_in_place};
use crate::tensor::{Mat, Real, View, axpy, dot, gemm};
use std::sync::Arc;

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

/// Per-sample outputs of mixing: mixed values W_V^T X~^T a (m x k), before sigma, and what
/// the backward pass needs of the attention weights a (m x (T+1), \[CLS\] last).
#[derive(Clone, Debug)]
pub(crate) struct Mixed<S> {
    pub mixed: Mat<S>,
    weights: Weights<S>,
}

/// The attention weights, stored densely (gather path) or as shifted exponentials of the table
/// rows with per-sample normalisers (one-hot gemm path): a_{i,t} = e[t*vocab + b_t] / z_i.
#[derive(Clone, Debug)]
enum Weights<S> {
    Dense(Mat<S>),
    Exp {
        e: Vec<S>,
        z: Vec<S>,
        one_hot: Arc<Mat<S>>,
    },
}

impl<S: Real> Mixed<S> {
    /// Sample i's attention over positions 0..T and \[CLS\] (last).
    pub fn attention(&self, i: usize, batch: &TokenBatch) -> Vec<S> {
        match &self.weights {
            Weights::Dense(a) => a.row(i).to_vec(),
            Weights::Exp { e, z, .. } => {
                // e holds T * vocab table rows, then [CLS].
                let vocab = (e.len() - 1) / batch.context_len;
                let inv = S::one() / z[i];
                let mut a: Vec<S> = batch
                    .sample(i)
                    .iter()
                    .enumerate()
                    .map(|(t, &b)| e[t * vocab + b as usize] * inv)
                    .collect();
                a.push(e[e.len() - 1] * inv);
                a
            }
        }
    }
}

/// Largest spread (max - min) of a head's table scores for which [`mix_shared`] takes the
/// one-hot gemm path: every shifted exponential is then at least e^-60 (normal in f32, whose
/// smallest normal is ~1e-38), so no weight underflows. Wider spreads take the gather path.
const MAX_EXP_SPREAD: f64 = 60.0;

/// The m x (T*vocab) indicator O of the batch: O[i, t*vocab + b] = 1 iff sample i has token b
/// at position t. Shared by all heads of a step ([`mix_shared`]).
pub(crate) fn one_hot<S: Real>(batch: &TokenBatch, vocab: usize) -> Arc<Mat<S>> {
    let (m, t_len) = (batch.num_samples(), batch.context_len);
    let n = t_len * vocab;
    let mut o = Mat::zeros(m, n);
    for i in 0..m {
        let row = o.row_mut(i);
        for (t, &b) in batch.sample(i).iter().enumerate() {
            row[t * vocab + b as usize] = S::one();
        }
    }
    Arc::new(o)
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

/// Softmax and mix for every sample, building its own one-hot matrix ([`mix_shared`]).
pub(crate) fn mix<S: Real>(table: &HeadTable<S>, vocab: usize, batch: &TokenBatch) -> Mixed<S> {
    mix_shared(table, vocab, batch, &one_hot(batch, vocab))
}

/// Softmax and mix for every sample. Sample i's score at position t is one of `vocab` table
/// entries, so with e_r = exp(s_r - max_r s_r) on the table rows r (\[CLS\] last, row n),
/// z_i = sum_t e[t, b_t] + e_cls and mixed_i = (sum_t e[t, b_t] V[t, b_t] + e_cls v_cls) / z_i:
/// one product O P of the one-hot matrix (m x n) with P = [e_r V_r | e_r] (n x (k+1)), a gemm
/// instead of m T exponentials and gathers. Every term of z_i is positive, so z_i has no
/// cancellation. When the score spread exceeds [`MAX_EXP_SPREAD`] (or a score is not finite)
/// it falls back to the per-sample gather, softmax (max-shifted per sample) and mix.
pub(crate) fn mix_shared<S: Real>(
    table: &HeadTable<S>,
    vocab: usize,
    batch: &TokenBatch,
    one_hot: &Arc<Mat<S>>,
) -> Mixed<S> {
    let (lo, hi) = table
        .scores
        .iter()
        .fold((S::infinity(), S::neg_infinity()), |(lo, hi), &s| {
            (lo.min(s), hi.max(s))
        });
    let spread = (hi - lo).to_f64().unwrap_or(f64::INFINITY);
    if !(spread.is_finite() && spread <= MAX_EXP_SPREAD) {
        return mix_gather(table, vocab, batch);
    }
    let (m, k) = (batch.num_samples(), table.values.cols);
    let n = table.values.rows - 1;
    let e: Vec<S> = table.scores.iter().map(|&s| (s - hi).exp()).collect();
    let mut p = Mat::zeros(n, k + 1);
    for (r, &er) in e[..n].iter().enumerate() {
        let row = p.row_mut(r);
        for (x, &v) in row[..k].iter_mut().zip(table.values.row(r)) {
            *x = er * v;
        }
        row[k] = er;
    }
    let mut q = Mat::zeros(m, k + 1);
    gemm(S::one(), one_hot.view(), p.view(), S::zero(), &mut q.data);
    let (e_cls, v_cls) = (e[n], table.values.row(n));
    let mut mixed = Mat::zeros(m, k);
    let mut z = vec![S::zero(); m];
    for (i, zi) in z.iter_mut().enumerate() {
        let qi = q.row(i);
        *zi = qi[k] + e_cls;
        let inv = S::one() / *zi;
        for ((x, &a), &v) in mixed.row_mut(i).iter_mut().zip(&qi[..k]).zip(v_cls) {
            *x = (a + e_cls * v) * inv;
        }
    }
    Mixed {
        mixed,
        weights: Weights::Exp {
            e,
            z,
            one_hot: Arc::clone(one_hot),
        },
    }
}

/// Gather, softmax and mix, sample by sample. `vocab` maps (t, b) to table row t*vocab + b.
fn mix_gather<S: Real>(table: &HeadTable<S>, vocab: usize, batch: &TokenBatch) -> Mixed<S> {
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
    Mixed {
        mixed,
        weights: Weights::Dense(attention),
    }
}

/// dL/d(scores) and dL/d(values) of the table rows (\[CLS\] last) from dL/d(mixed), by the
/// representation the forward pass chose. One-hot path: with G_i = dm_i / z_i and
/// u_i = (dm_i . mixed_i) / z_i, R = O^T [G | u] (n x (k+1)) gives
/// dV_r = e_r R[r, :k] and ds_r = e_r (V_r . R[r, :k] - R[r, k]) (softmax backward summed over
/// the samples that use row r); the \[CLS\] row sums G and u over all samples.
fn table_grads<S: Real>(
    table: &HeadTable<S>,
    vocab: usize,
    batch: &TokenBatch,
    fwd: &Mixed<S>,
    d_mixed: &Mat<S>,
) -> (Vec<S>, Mat<S>) {
    let (m, t_len, k) = (batch.num_samples(), batch.context_len, table.values.cols);
    let n = table.values.rows;
    let cls_row = n - 1;
    let mut d_scores = vec![S::zero(); n];
    let mut d_values = Mat::zeros(n, k);
    match &fwd.weights {
        Weights::Exp { e, z, one_hot } => {
            let mut gu = Mat::zeros(m, k + 1);
            let (mut g_sum, mut u_sum) = (vec![S::zero(); k], S::zero());
            for (i, &zi) in z.iter().enumerate() {
                let (dm, mx) = (d_mixed.row(i), fwd.mixed.row(i));
                let inv = S::one() / zi;
                let row = gu.row_mut(i);
                for (x, &g) in row[..k].iter_mut().zip(dm) {
                    *x = g * inv;
                }
                row[k] = dot(dm, mx) * inv;
                axpy(S::one(), &row[..k], &mut g_sum);
                u_sum += row[k];
            }
            let mut r = Mat::zeros(cls_row, k + 1);
            gemm(S::one(), one_hot.t(), gu.view(), S::zero(), &mut r.data);
            for row in 0..cls_row {
                let rr = r.row(row);
                let vr = table.values.row(row);
                d_scores[row] = e[row] * (dot(vr, &rr[..k]) - rr[k]);
                for (x, &g) in d_values.row_mut(row).iter_mut().zip(&rr[..k]) {
                    *x = e[row] * g;
                }
            }
            let e_cls = e[cls_row];
            d_scores[cls_row] = e_cls * (dot(table.values.row(cls_row), &g_sum) - u_sum);
            for (x, &g) in d_values.row_mut(cls_row).iter_mut().zip(&g_sum) {
                *x = e_cls * g;
            }
        }
        Weights::Dense(attention) => {
            let mut da = vec![S::zero(); t_len + 1];
            for i in 0..m {
                let toks = batch.sample(i);
                let a = attention.row(i);
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
        }
    }
    (d_scores, d_values)
}

/// Backward of [`build`] + [`mix`] given dL/d(mixed) (m x k). Adds into `grad` and, if given,
/// into `d_x_tab` (gradient on the table rows, \[CLS\] last).
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<S: Real>(
    x_tab: &Mat<S>,
    w: Qkv<'_, S>,
    table: &HeadTable<S>,
    vocab: usize,
    batch: &TokenBatch,
    fwd: &Mixed<S>,
    d_mixed: &Mat<S>,
    grad: QkvGrad<'_, S>,
    d_x_tab: Option<&mut Mat<S>>,
) {
    let n = x_tab.rows;
    let cls_row = n - 1;
    let (d_scores, d_values) = table_grads(table, vocab, batch, fwd, d_mixed);
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
        View::col(&d_scores),
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
            View::col(&d_scores),
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

#[cfg(test)]
mod tests {
    //! The one-hot gemm path against the per-sample gather path (the plain softmax and mix, itself
    //! tested against the raw forward in `model::tests`), in value and in the table gradients.
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_mat(r: &mut ChaCha8Rng, rows: usize, cols: usize, scale: f64) -> Mat<f64> {
        Mat {
            rows,
            cols,
            data: (0..rows * cols)
                .map(|_| scale * (r.random::<f64>() - 0.5))
                .collect(),
        }
    }

    /// Both paths on one random head; `scale` sets the weights' size and so the score spread.
    fn both_paths(seed: u64, vocab: u8, scale: f64) -> (bool, f64) {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        let (t_len, m, d, rk, k) = (9, 7, 5, 3, 4);
        let x_tab = random_mat(&mut r, t_len * vocab as usize + 1, d, 2.0);
        let (w_q, w_k, w_v) = (
            random_mat(&mut r, d, rk, scale),
            random_mat(&mut r, d, rk, scale),
            random_mat(&mut r, d, k, 1.0),
        );
        let tab = build(
            &x_tab,
            Qkv {
                w_q: &w_q,
                w_k: &w_k,
                w_v: &w_v,
            },
        );
        let tokens = (0..t_len * m).map(|_| r.random_range(0..vocab)).collect();
        let batch = TokenBatch::new(t_len, tokens).unwrap();
        let v = vocab as usize;
        let fast = mix_shared(&tab, v, &batch, &one_hot(&batch, v));
        let slow = mix_gather(&tab, v, &batch);
        let took_exp = matches!(fast.weights, Weights::Exp { .. });
        let mut worst = 0.0f64;
        let mut cmp = |a: &[f64], b: &[f64]| {
            for (x, y) in a.iter().zip(b) {
                worst = worst.max((x - y).abs() / (1.0 + y.abs()));
            }
        };
        cmp(&fast.mixed.data, &slow.mixed.data);
        for i in 0..m {
            cmp(&fast.attention(i, &batch), &slow.attention(i, &batch));
        }
        let d_mixed = random_mat(&mut r, m, k, 1.0);
        let (ds_f, dv_f) = table_grads(&tab, v, &batch, &fast, &d_mixed);
        let (ds_s, dv_s) = table_grads(&tab, v, &batch, &slow, &d_mixed);
        cmp(&ds_f, &ds_s);
        cmp(&dv_f.data, &dv_s.data);
        (took_exp, worst)
    }

    #[test]
    fn one_hot_path_equals_gather_path_in_value_and_gradient() {
        for (seed, vocab) in [(1, 2), (2, 2), (3, 3), (4, 5)] {
            let (took_exp, worst) = both_paths(seed, vocab, 1.0);
            assert!(took_exp, "moderate scores must take the gemm path");
            assert!(worst < 1e-12, "seed {seed}: relative difference {worst}");
        }
    }

    #[test]
    fn wide_score_spread_falls_back_to_the_gather_path() {
        // Weights of size ~40 give scores spread far beyond MAX_EXP_SPREAD.
        let (took_exp, worst) = both_paths(5, 2, 40.0);
        assert!(!took_exp, "a spread beyond the limit must fall back");
        assert_eq!(worst, 0.0);
    }
}
