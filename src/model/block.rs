//! One residual block on one sequence, all n = T+1 query rows: forward with a reusable cache
//! and hand-written backward. Used by the full path at any depth. Owns the block's weight types
//! (`HeadParams`, `Mlp`, `Block`); `transformer` stacks blocks and depends on this file, never
//! the other way round.
//!
//! Per head, with Y (n x d): Q = Y W_Q, K = Y W_K, V = Y W_V, A = row-softmax(Q K^T),
//! M = A V, H = sigma(M); P1 = Y + sum_h H W_C; Y1 = Pi(P1). With an MLP: Z = Y1 W1,
//! G = sigma(Z), P2 = Y1 + G W2, Y2 = Pi(P2). Buffers are reused across sequences so the n x n
//! attention matrices are allocated once per call, not once per sample.

use crate::model::activation::Activation;
use crate::model::softmax::{softmax_backward_in_place, softmax_in_place};
use crate::tensor::{Mat, Real, dot, gemm};

/// One head's weights: w_q, w_k (d x r), w_v (d x k), w_c (k x d).
#[derive(Clone, Debug, PartialEq)]
pub struct HeadParams<S> {
    pub w_q: Mat<S>,
    pub w_k: Mat<S>,
    pub w_v: Mat<S>,
    pub w_c: Mat<S>,
}

/// MLP block weights: w1 (d x p), w2 (p x d).
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp<S> {
    pub w1: Mat<S>,
    pub w2: Mat<S>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block<S> {
    pub heads: Vec<HeadParams<S>>,
    pub mlp: Option<Mlp<S>>,
}

impl<S: Real> Block<S> {
    /// The same block with `f` applied to every weight matrix (heads, then MLP).
    pub fn map_weights<T: Real>(&self, f: impl Fn(&Mat<S>) -> Mat<T>) -> Block<T> {
        Block {
            heads: (self.heads.iter())
                .map(|h| HeadParams {
                    w_q: f(&h.w_q),
                    w_k: f(&h.w_k),
                    w_v: f(&h.w_v),
                    w_c: f(&h.w_c),
                })
                .collect(),
            mlp: self.mlp.as_ref().map(|m| Mlp {
                w1: f(&m.w1),
                w2: f(&m.w2),
            }),
        }
    }
}

/// Resize without clearing: every caller overwrites (gemm with beta = 0) or clears explicitly.
fn shape<S: Real>(m: &mut Mat<S>, rows: usize, cols: usize) {
    m.rows = rows;
    m.cols = cols;
    m.data.resize(rows * cols, S::zero());
}

#[derive(Clone, Debug, Default)]
pub(crate) struct HeadCache<S> {
    q: Mat<S>,
    k: Mat<S>,
    v: Mat<S>,
    a: Mat<S>,
    m: Mat<S>,
    h: Mat<S>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct BlockCache<S> {
    heads: Vec<HeadCache<S>>,
    p1: Mat<S>,
    y1: Mat<S>,
    z: Mat<S>,
    g: Mat<S>,
    p2: Mat<S>,
    /// The block's output rows.
    pub y_out: Mat<S>,
    // Backward scratch.
    dh: Mat<S>,
    dq: Mat<S>,
    dk: Mat<S>,
    dv: Mat<S>,
    da: Mat<S>,
}

/// Pi: y = p / max(1, ||p||), row by row.
pub fn project_rows<S: Real>(p: &Mat<S>, y: &mut Mat<S>) {
    shape(y, p.rows, p.cols);
    for i in 0..p.rows {
        let (pr, yr) = (p.row(i), &mut y.data[i * p.cols..(i + 1) * p.cols]);
        let scale = S::one() / dot(pr, pr).sqrt().max(S::one());
        for (o, &x) in yr.iter_mut().zip(pr) {
            *o = x * scale;
        }
    }
}

/// Backward of Pi in place: dy <- dp. Inside the ball Pi is the identity; outside,
/// dPi = (I - y y^T) / ||p||, y = p / ||p|| (symmetric, so the VJP has the same form).
pub fn project_rows_backward<S: Real>(p: &Mat<S>, y: &Mat<S>, dy: &mut Mat<S>) {
    for i in 0..p.rows {
        let norm = dot(p.row(i), p.row(i)).sqrt();
        if norm > S::one() {
            let yr = y.row(i);
            let g = dy.row_mut(i);
            let c = dot(yr, g);
            for (gi, &yi) in g.iter_mut().zip(yr) {
                *gi = (*gi - c * yi) / norm;
            }
        }
    }
}

pub(crate) fn forward<S: Real>(
    block: &Block<S>,
    attn: Activation,
    mlp_act: Activation,
    y: &Mat<S>,
    c: &mut BlockCache<S>,
) {
    let (n, d) = (y.rows, y.cols);
    let (one, zero) = (S::one(), S::zero());
    c.heads.resize_with(block.heads.len(), HeadCache::default);
    shape(&mut c.p1, n, d);
    c.p1.data.copy_from_slice(&y.data);
    for (hp, hc) in block.heads.iter().zip(&mut c.heads) {
        let (r, k) = (hp.w_q.cols, hp.w_v.cols);
        shape(&mut hc.q, n, r);
        shape(&mut hc.k, n, r);
        shape(&mut hc.v, n, k);
        shape(&mut hc.a, n, n);
        shape(&mut hc.m, n, k);
        shape(&mut hc.h, n, k);
        gemm(one, y.view(), hp.w_q.view(), zero, &mut hc.q.data);
        gemm(one, y.view(), hp.w_k.view(), zero, &mut hc.k.data);
        gemm(one, y.view(), hp.w_v.view(), zero, &mut hc.v.data);
        gemm(one, hc.q.view(), hc.k.t(), zero, &mut hc.a.data);
        for row in hc.a.data.chunks_exact_mut(n) {
            softmax_in_place(row);
        }
        gemm(one, hc.a.view(), hc.v.view(), zero, &mut hc.m.data);
        hc.h.data.copy_from_slice(&hc.m.data);
        attn.apply_slice(&mut hc.h.data);
        gemm(one, hc.h.view(), hp.w_c.view(), one, &mut c.p1.data);
    }
    match &block.mlp {
        None => project_rows(&c.p1, &mut c.y_out),
        Some(mlp) => {
            project_rows(&c.p1, &mut c.y1);
            let p = mlp.w1.cols;
            shape(&mut c.z, n, p);
            shape(&mut c.g, n, p);
            shape(&mut c.p2, n, d);
            gemm(one, c.y1.view(), mlp.w1.view(), zero, &mut c.z.data);
            c.g.data.copy_from_slice(&c.z.data);
            mlp_act.apply_slice(&mut c.g.data);
            c.p2.data.copy_from_slice(&c.y1.data);
            gemm(one, c.g.view(), mlp.w2.view(), one, &mut c.p2.data);
            project_rows(&c.p2, &mut c.y_out);
        }
    }
}

/// Given dL/d(y_out), adds parameter gradients into `grad` and returns dL/d(y_in).
pub(crate) fn backward<S: Real>(
    block: &Block<S>,
    attn: Activation,
    mlp_act: Activation,
    y: &Mat<S>,
    c: &mut BlockCache<S>,
    dy_out: &Mat<S>,
    grad: &mut Block<S>,
) -> Mat<S> {
    let (n, d) = (y.rows, y.cols);
    let (one, zero) = (S::one(), S::zero());
    let mut dp1 = dy_out.clone();
    if let (Some(mlp), Some(gm)) = (&block.mlp, &mut grad.mlp) {
        let mut dp2 = dp1;
        project_rows_backward(&c.p2, &c.y_out, &mut dp2);
        let p = mlp.w1.cols;
        gemm(one, c.g.t(), dp2.view(), one, &mut gm.w2.data);
        // dZ = sigma'(Z) * (dP2 W2^T), reusing g's buffer after its last use.
        shape(&mut c.dh, n, p);
        gemm(one, dp2.view(), mlp.w2.t(), zero, &mut c.dh.data);
        for (g, &z) in c.dh.data.iter_mut().zip(&c.z.data) {
            *g *= mlp_act.derivative(z);
        }
        gemm(one, c.y1.t(), c.dh.view(), one, &mut gm.w1.data);
        dp1 = dp2;
        gemm(one, c.dh.view(), mlp.w1.t(), one, &mut dp1.data);
        project_rows_backward(&c.p1, &c.y1, &mut dp1);
    } else {
        project_rows_backward(&c.p1, &c.y_out, &mut dp1);
    }
    let mut dy_in = dp1.clone();
    for ((hp, hc), hg) in block.heads.iter().zip(&c.heads).zip(&mut grad.heads) {
        let (r, k) = (hp.w_q.cols, hp.w_v.cols);
        gemm(one, hc.h.t(), dp1.view(), one, &mut hg.w_c.data);
        shape(&mut c.dh, n, k);
        gemm(one, dp1.view(), hp.w_c.t(), zero, &mut c.dh.data);
        if attn != Activation::Identity {
            for (g, &m) in c.dh.data.iter_mut().zip(&hc.m.data) {
                *g *= attn.derivative(m);
            }
        }
        // c.dh is now dM.
        shape(&mut c.da, n, n);
        shape(&mut c.dv, n, k);
        shape(&mut c.dq, n, r);
        shape(&mut c.dk, n, r);
        gemm(one, c.dh.view(), hc.v.t(), zero, &mut c.da.data);
        gemm(one, hc.a.t(), c.dh.view(), zero, &mut c.dv.data);
        for (a_row, g_row) in hc.a.data.chunks_exact(n).zip(c.da.data.chunks_exact_mut(n)) {
            softmax_backward_in_place(a_row, g_row);
        }
        gemm(one, c.da.view(), hc.k.view(), zero, &mut c.dq.data);
        gemm(one, c.da.t(), hc.q.view(), zero, &mut c.dk.data);
        gemm(one, y.t(), c.dq.view(), one, &mut hg.w_q.data);
        gemm(one, y.t(), c.dk.view(), one, &mut hg.w_k.data);
        gemm(one, y.t(), c.dv.view(), one, &mut hg.w_v.data);
        gemm(one, c.dq.view(), hp.w_q.t(), one, &mut dy_in.data);
        gemm(one, c.dk.view(), hp.w_k.t(), one, &mut dy_in.data);
        gemm(one, c.dv.view(), hp.w_v.t(), one, &mut dy_in.data);
    }
    debug_assert_eq!(dy_in.cols, d);
    dy_in
}
