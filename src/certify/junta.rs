//! Extraction of the candidate junta g from the model alone
//! (docs/certificates.md#1-what-is-certified).
//!
//! Positions: the **output flip influence**. On [`INFLUENCE_INPUTS`] unlabeled base inputs drawn
//! from the input distribution (seeded, never S), every position's bit is flipped in turn and
//! the model's output recomputed; position t scores the number of base inputs on which the
//! flip changes sign(f), ties broken by the mean |change of f|, then by the smaller index. I is
//! the s best. The \[CLS\] query is input-independent, so a flip changes one (weight, value)
//! pair per head: each head's mixed value is updated in O(dim) from the base input's sums, and
//! only what follows the heads (sigma, W_C, residual, Pi, MLP, read-out) is re-evaluated, in
//! f64 at the midpoints of the view. Before session 24 the positions came from a first-order
//! change of the heads' mixed values at a "typical" input; that score also counts changes the
//! read-out ignores (a value gap on a coordinate that sigma or w kills), and at T = 1000 it
//! ranked such a position above a relevant one (docs/certificates.md §1).
//! Table: for each of the 2^s settings of x_I, the majority sign of the model's own output
//! over [`FILLS`] inputs whose other bits are drawn from the input distribution (seeded).
//! This is a heuristic: nothing sound depends on it, the verification or the sampled route
//! decides how well g describes the model. g is a function of the model and the seed only
//! (never of S or of any labelled data), so the Occam prior, fixed by T and s alone, is fixed
//! before the data.

use super::verify::{ClsView, HeadView, Post};
use super::{ClsModel, Junta};
use crate::error::{Result, check};
use crate::model::TokenBatch;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Inputs per setting of x_I whose majority sign is the table entry (odd: no ties).
pub const FILLS: usize = 33;

/// Unlabeled base inputs of the output flip influence.
pub const INFLUENCE_INPUTS: usize = 64;

/// Rows handed to the model's forward pass at a time.
const CHUNK_ROWS: usize = 4096;

/// The junta g of `model` with `sparsity` positions (see the module doc). Errors: s = 0,
/// s > T, bit_prob outside (0, 1).
pub fn extract(model: &ClsModel, sparsity: usize, bit_prob: f64, seed: u64) -> Result<Junta> {
    let view = model.view()?;
    extract_from(model, &view, sparsity, bit_prob, seed)
}

pub(crate) fn extract_from(
    model: &ClsModel,
    view: &ClsView,
    sparsity: usize,
    bit_prob: f64,
    seed: u64,
) -> Result<Junta> {
    let t_len = view.context_len;
    check::at_least("sparsity", sparsity, 1)?;
    if sparsity > t_len.min(super::MAX_JUNTA_SPARSITY) {
        return Err(crate::error::Error::invalid(
            "sparsity",
            sparsity,
            format!(
                "1 <= sparsity <= min(context_len = {t_len}, {})",
                super::MAX_JUNTA_SPARSITY
            ),
        ));
    }
    check::open_unit("bit_prob", bit_prob)?;
    let score = flip_influence(view, bit_prob, seed);
    let mut order: Vec<usize> = (0..t_len).collect();
    // Descending sign changes, then mean |change|; ties by index.
    order.sort_by(|&a, &b| {
        (score[b].0.cmp(&score[a].0))
            .then(score[b].1.total_cmp(&score[a].1))
            .then(a.cmp(&b))
    });
    let mut positions = order[..sparsity].to_vec();
    positions.sort_unstable();
    let table = majority_table(model, &positions, bit_prob, seed)?;
    Ok(Junta { positions, table })
}

/// The first-order score of the extraction before session 24 (module doc), kept for the
/// regression test that shows where it fails: per position, the summed change of every head's
/// mixed value at the typical input.
#[cfg(test)]
pub(crate) fn mixed_value_influence(view: &ClsView) -> Vec<f64> {
    let t_len = view.context_len;
    let mut score = vec![0.0; t_len];
    for head in &view.heads {
        let s: Vec<f64> = head.scores.iter().map(|x| x.mid()).collect();
        let shift = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let c: Vec<f64> = s.iter().map(|x| (x - shift).exp()).collect();
        let dim = head.dim();
        let v = |r: usize, j: usize| head.values.mid.get(r, j);
        let cls = 2 * t_len;
        let typical = |t: usize| 0.5 * (c[2 * t] + c[2 * t + 1]);
        let z: f64 = (0..t_len).map(typical).sum::<f64>() + c[cls];
        let vbar: Vec<f64> = (0..dim)
            .map(|j| {
                let n: f64 = (0..t_len)
                    .map(|t| 0.5 * (c[2 * t] * v(2 * t, j) + c[2 * t + 1] * v(2 * t + 1, j)))
                    .sum();
                (n + c[cls] * v(cls, j)) / z
            })
            .collect();
        for (t, sc) in score.iter_mut().enumerate() {
            let sq: f64 = (0..dim)
                .map(|j| {
                    let d = c[2 * t + 1] * (v(2 * t + 1, j) - vbar[j])
                        - c[2 * t] * (v(2 * t, j) - vbar[j]);
                    d * d
                })
                .sum();
            let add = sq.sqrt() / z;
            if add.is_finite() {
                *sc += add;
            }
        }
    }
    score
}

/// Per position t: (number of base inputs on which flipping b_t changes sign(f), sum over base
/// inputs of |f(flipped) - f|) (module doc). Non-finite changes are skipped.
pub(crate) fn flip_influence(view: &ClsView, bit_prob: f64, seed: u64) -> Vec<(u32, f64)> {
    let t_len = view.context_len;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(3);
    let heads: Vec<PointHead> = view.heads.iter().map(PointHead::new).collect();
    let mut score = vec![(0u32, 0.0f64); t_len];
    let mut bits = vec![0u8; t_len];
    let mut mixed: Vec<Vec<f64>> = heads.iter().map(|h| vec![0.0; h.dim]).collect();
    for _ in 0..INFLUENCE_INPUTS {
        bits.iter_mut()
            .for_each(|b| *b = u8::from(rng.random::<f64>() < bit_prob));
        let sums: Vec<(Vec<f64>, f64)> = heads.iter().map(|h| h.sums(&bits)).collect();
        for ((n, z), m) in sums.iter().zip(mixed.iter_mut()) {
            m.iter_mut().zip(n).for_each(|(m, n)| *m = n / z);
        }
        let f0 = point_post(&view.post, &mixed);
        if !f0.is_finite() {
            continue;
        }
        for (t, sc) in score.iter_mut().enumerate() {
            let (a, b) = (
                2 * t + usize::from(bits[t]),
                2 * t + 1 - usize::from(bits[t]),
            );
            for ((h, (n, z)), m) in heads.iter().zip(&sums).zip(mixed.iter_mut()) {
                let z1 = z - h.c[a] + h.c[b];
                for (j, mj) in m.iter_mut().enumerate() {
                    *mj = (n[j] - h.c[a] * h.v(a, j) + h.c[b] * h.v(b, j)) / z1;
                }
            }
            let f1 = point_post(&view.post, &mixed);
            if f1.is_finite() {
                sc.0 += u32::from((f1 > 0.0) != (f0 > 0.0));
                sc.1 += (f1 - f0).abs();
            }
        }
    }
    score
}

/// A head at the view's midpoints: weights c = e^(score - max score) and values.
struct PointHead<'a> {
    c: Vec<f64>,
    view: &'a HeadView,
    dim: usize,
}

impl<'a> PointHead<'a> {
    fn new(view: &'a HeadView) -> Self {
        let s: Vec<f64> = view.scores.iter().map(|x| x.mid()).collect();
        let shift = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        PointHead {
            c: s.iter().map(|x| (x - shift).exp()).collect(),
            dim: view.dim(),
            view,
        }
    }

    fn v(&self, r: usize, j: usize) -> f64 {
        self.view.values.mid.get(r, j)
    }

    /// (sum_r c_r v_r, sum_r c_r) over \[CLS\] and the rows chosen by `bits`.
    fn sums(&self, bits: &[u8]) -> (Vec<f64>, f64) {
        let cls = 2 * bits.len();
        let mut n: Vec<f64> = (0..self.dim)
            .map(|j| self.c[cls] * self.v(cls, j))
            .collect();
        let mut z = self.c[cls];
        for (t, &b) in bits.iter().enumerate() {
            let r = 2 * t + usize::from(b);
            z += self.c[r];
            let row = self.view.values.mid.row(r);
            n.iter_mut().zip(row).for_each(|(n, v)| *n += self.c[r] * v);
        }
        (n, z)
    }
}

/// f from the heads' mixed values, at a point: what [`Post`] encloses, in plain f64.
fn point_post(post: &Post, mixed: &[Vec<f64>]) -> f64 {
    let dot = |x: &[f64], w: &[f64]| x.iter().zip(w).map(|(a, b)| a * b).sum::<f64>();
    let times = |x: &[f64], w: &crate::tensor::Mat<f64>| -> Vec<f64> {
        (0..w.cols)
            .map(|c| (0..w.rows).map(|r| x[r] * w.get(r, c)).sum())
            .collect()
    };
    let project = |p: &mut Vec<f64>| {
        let n = p.iter().map(|x| x * x).sum::<f64>().sqrt().max(1.0);
        p.iter_mut().for_each(|x| *x /= n);
    };
    match post {
        Post::Scalar => mixed[0][0],
        Post::HeadSigma { activation, w } => {
            let h: Vec<f64> = mixed[0].iter().map(|&x| activation.apply(x)).collect();
            dot(&h, w)
        }
        Post::Block {
            attn_activation,
            w_c,
            x_cls,
            mlp,
            mlp_activation,
            w,
        } => {
            let mut p = x_cls.clone();
            for (m, wc) in mixed.iter().zip(w_c) {
                let out = match wc {
                    None => m.clone(),
                    Some(wc) => {
                        let h: Vec<f64> = m.iter().map(|&x| attn_activation.apply(x)).collect();
                        times(&h, wc)
                    }
                };
                p.iter_mut().zip(out).for_each(|(p, o)| *p += o);
            }
            project(&mut p);
            if let Some(mlp) = mlp {
                let g: Vec<f64> = (times(&p, &mlp.w1).into_iter())
                    .map(|x| mlp_activation.apply(x))
                    .collect();
                let add = times(&g, &mlp.w2);
                p.iter_mut().zip(add).for_each(|(p, a)| *p += a);
                project(&mut p);
            }
            dot(&p, w)
        }
    }
}

/// Entry p: majority sign of f over FILLS inputs with x_I = p, other bits ~ Bernoulli(bit_prob).
fn majority_table(
    model: &ClsModel,
    positions: &[usize],
    bit_prob: f64,
    seed: u64,
) -> Result<Vec<i8>> {
    let t_len = model.context_len();
    let settings = 1usize << positions.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(1);
    let mut votes = vec![0i64; settings];
    let per_chunk = (CHUNK_ROWS / FILLS).max(1);
    let mut p0 = 0;
    while p0 < settings {
        let p1 = (p0 + per_chunk).min(settings);
        let mut tokens = Vec::with_capacity((p1 - p0) * FILLS * t_len);
        for p in p0..p1 {
            for _ in 0..FILLS {
                let start = tokens.len();
                tokens.extend((0..t_len).map(|_| u8::from(rng.random::<f64>() < bit_prob)));
                for (j, &t) in positions.iter().enumerate() {
                    tokens[start + t] = ((p >> j) & 1) as u8;
                }
            }
        }
        let f = model.predict(&TokenBatch::new(t_len, tokens)?)?;
        for (i, fi) in f.iter().enumerate() {
            crate::error::check::finite("model output", *fi)?;
            votes[p0 + i / FILLS] += if *fi > 0.0 { 1 } else { -1 };
        }
        p0 = p1;
    }
    Ok(votes.iter().map(|&v| if v > 0 { 1 } else { -1 }).collect())
}
