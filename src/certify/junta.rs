//! Extraction of the candidate junta g from the model alone
//! (docs/certificates.md#1-what-is-certified).
//!
//! Positions: in every head, the \[CLS\] query gives position t the weights c_t(b) =
//! e^(u_t(b)) and values v_t(b). At the "typical" input (each position at the mean of its two
//! weights), flipping b_t moves the head's mixed value by about
//! `|| c_t(1) (v_t(1) - vbar) - c_t(0) (v_t(0) - vbar) || / Z` (vbar the typical mixed value, Z
//! the typical normaliser); it is large when t has attention mass and a score gap or a value
//! gap. I is the s positions with the largest sum of this over heads (ties: smaller index).
//! Table: for each of the 2^s settings of x_I, the majority sign of the model's own output
//! over [`FILLS`] inputs whose other bits are drawn from the input distribution (seeded).
//! This is a heuristic: nothing sound depends on it, the verification or the sampled route
//! decides how well g describes the model. g is a function of the model and the seed only
//! (never of S), so the Occam prior is fixed before the data.

use super::verify::ClsView;
use super::{ClsModel, Junta};
use crate::error::{Result, check};
use crate::model::TokenBatch;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Inputs per setting of x_I whose majority sign is the table entry (odd: no ties).
pub const FILLS: usize = 33;

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
    let score = influence(view);
    let mut order: Vec<usize> = (0..t_len).collect();
    // Descending influence, NaN-free by construction (finite weights); ties by index.
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    let mut positions = order[..sparsity].to_vec();
    positions.sort_unstable();
    let table = majority_table(model, &positions, bit_prob, seed)?;
    Ok(Junta { positions, table })
}

/// Per position, the summed first-order effect of its bit on every head's mixed value.
fn influence(view: &ClsView) -> Vec<f64> {
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
