//! The bit-matrix mix: every \[CLS\]-query head of a batch of bit sequences in two gemms.
//!
//! With vocab 2, a head's scores and values depend on the input only through (position t,
//! bit b): s_t^b and v_t^b are the token table's rows (`table.rs`). With one shift M for the
//! whole batch and w_t^b = exp(s_t^b - M), sample i's softmax numerator and denominator are
//! N_i = sum_t w_t^{b_it} v_t^{b_it} + w_cls v_cls and Z_i = sum_t w_t^{b_it} + w_cls, so
//! for every head at once [N | Z] = base + B R: B is the m x T 0/1 matrix of the batch and R
//! the per-position tables of all heads side by side (one gemm). The backward pass is the
//! transposed product B^T [g / Z | -g.mixed / Z] (one gemm). Derivation, choice of the
//! indicator per head (B or its complement, so that no sum cancels), the underflow fallback and
//! the error analysis: docs/kernels.md §1.
//!
//! The kernel returns `None` (the caller then runs the per-sample gather of `table.rs`, which
//! is also the reference) when one shift for the batch could underflow a sample's weights:
//! every sample's largest score is >= M - Delta with Delta = max_t |s_t^1 - s_t^0|, so with
//! Delta <= [`MAX_SCORE_GAP`] no weight that matters is lost (docs/kernels.md §1.3).
//!
//! API for other models (e.g. a pre-LN block): build a [`BitMatrix`] once per batch, pass one
//! [`BitTable`] per head (scores and values on rows `2 t + b`, \[CLS\] last) to [`forward`],
//! and the per-head dL/d(mixed) to [`backward`], which returns dL/d(scores) and dL/d(values)
//! on the same rows. Nothing here assumes the table comes from `tok[b] + pos[t]`.

use crate::model::embedding::TokenBatch;
use crate::tensor::{Mat, Real, View, dot, gemm};
use std::sync::OnceLock;

/// Largest score gap Delta = max_t |s_t^1 - s_t^0| the kernel accepts (docs/kernels.md §1.3).
/// A sample's weights are then all scaled by at least e^-60 relative to its own softmax
/// shift, so only weights below e^-(87-60) ~ 2e-12 of the sample's largest (f32 flushes
/// exp(x) to 0 below x = -87) can be lost: far below f32's rounding unit 6e-8.
pub(crate) const MAX_SCORE_GAP: f64 = 60.0;

/// A head uses an indicator matrix's columns only if the sums it feeds cancel by at most this
/// fraction of the base weight (docs/kernels.md §1.2).
const CANCEL_FRACTION: f64 = 1.0 / 16.0;

/// The batch as 0/1 matrices: its tokens (m x T bytes, 0 or 1) and, built on first use by the
/// gemm products, B (entry 1 where b_it = 1) and its complement 1 - B in the model's scalar
/// type (m x T, row-major).
#[derive(Clone, Debug)]
pub(crate) struct BitMatrix<S> {
    samples: usize,
    context_len: usize,
    tokens: Vec<u8>,
    /// The tokens position by position (T x m), built on first use.
    tokens_t: OnceLock<Vec<u8>>,
    ones: OnceLock<Vec<S>>,
    zeros: OnceLock<Vec<S>>,
    /// Per position, how many samples have bit 1 there.
    ones_count: Vec<usize>,
}

impl<S: Real> BitMatrix<S> {
    /// `None` unless every token is 0 or 1.
    pub(crate) fn new(batch: &TokenBatch) -> Option<Self> {
        if batch.tokens.iter().copied().max().unwrap_or(0) > 1 {
            return None;
        }
        let mut ones_count = vec![0usize; batch.context_len];
        for row in batch.tokens.chunks_exact(batch.context_len.max(1)) {
            for (c, &b) in ones_count.iter_mut().zip(row) {
                *c += usize::from(b);
            }
        }
        Some(BitMatrix {
            ones_count,
            samples: batch.num_samples(),
            context_len: batch.context_len,
            tokens: batch.tokens.clone(),
            tokens_t: OnceLock::new(),
            ones: OnceLock::new(),
            zeros: OnceLock::new(),
        })
    }

    pub(crate) fn samples(&self) -> usize {
        self.samples
    }

    pub(crate) fn context_len(&self) -> usize {
        self.context_len
    }

    /// Bit of sample i at position t.
    fn bit(&self, i: usize, t: usize) -> usize {
        usize::from(self.tokens[i * self.context_len + t])
    }

    /// The m x T indicator of `bit` (B for 1, 1 - B for 0), for gemm.
    fn indicator(&self, bit: usize) -> View<'_, S> {
        let cell = if bit == 1 { &self.ones } else { &self.zeros };
        let data = cell.get_or_init(|| {
            let (zero, one) = (S::zero(), S::one());
            (self.tokens.iter())
                .map(|&b| if usize::from(b) == bit { one } else { zero })
                .collect()
        });
        View::new(data, self.samples, self.context_len)
    }

    /// The tokens transposed (T x m), built on first use by [`BitMatrix::thin_mul`].
    fn tokens_by_position(&self) -> &[u8] {
        self.tokens_t.get_or_init(|| {
            let (m, t_len) = (self.samples, self.context_len);
            let mut out = vec![0u8; m * t_len];
            for (i, row) in self.tokens.chunks_exact(t_len).enumerate() {
                for (t, &b) in row.iter().enumerate() {
                    out[t * m + i] = b;
                }
            }
            out
        })
    }

    /// C = I_bit R (m x w, row-major) for R (T x w, row-major): the forward product of a thin
    /// table ([`THIN_WIDTH_MAX`]). With so few columns the product is bound by reading the
    /// m x T operand, which gemm would first copy (pack) in the scalar type on every call; here
    /// it is read as bytes, position by position (the transposed tokens), each position adding
    /// its table row to the w accumulator rows of all samples (a vectorised axpy over samples).
    fn thin_mul(&self, bit: usize, r: &[S], w: usize) -> Vec<S> {
        let m = self.samples;
        let zero = S::zero();
        let by_pos = self.tokens_by_position();
        let mut c_t = vec![zero; w * m];
        let mut ind = vec![zero; m];
        for (col, r_t) in by_pos.chunks_exact(m).zip(r.chunks_exact(w)) {
            indicator_of(col, bit, &mut ind);
            for (acc, &rj) in c_t.chunks_exact_mut(m).zip(r_t) {
                for (x, &b) in acc.iter_mut().zip(&ind) {
                    *x += rj * b;
                }
            }
        }
        let mut c = vec![zero; m * w];
        for (j, acc) in c_t.chunks_exact(m).enumerate() {
            for (i, &x) in acc.iter().enumerate() {
                c[i * w + j] = x;
            }
        }
        c
    }

    /// P = Y^T I_bit (w x T, row-major) for Y (m x w, row-major): the backward product of a
    /// thin table, in blocks of positions so that the w accumulator rows stay in L1.
    fn thin_t_mul(&self, bit: usize, y: &[S], w: usize) -> Vec<S> {
        const BLOCK: usize = 512;
        let (m, t_len) = (self.samples, self.context_len);
        let zero = S::zero();
        let mut p = vec![zero; w * t_len];
        let mut acc = vec![zero; w * BLOCK];
        let mut ind = [zero; BLOCK];
        for start in (0..t_len).step_by(BLOCK) {
            let len = BLOCK.min(t_len - start);
            acc[..w * len].iter_mut().for_each(|a| *a = zero);
            for i in 0..m {
                indicator_of(
                    &self.tokens[i * t_len + start..][..len],
                    bit,
                    &mut ind[..len],
                );
                for (a, &yij) in acc[..w * len].chunks_exact_mut(len).zip(&y[i * w..][..w]) {
                    for (x, &b) in a.iter_mut().zip(&ind[..len]) {
                        *x += yij * b;
                    }
                }
            }
            for (j, a) in acc[..w * len].chunks_exact(len).enumerate() {
                p[j * t_len + start..][..len].copy_from_slice(a);
            }
        }
        p
    }
}

/// out_t = 1 where bits_t == bit, else 0.
fn indicator_of<S: Real>(bits: &[u8], bit: usize, out: &mut [S]) {
    let (zero, one) = (S::zero(), S::one());
    let bit = bit as u8;
    for (o, &b) in out.iter_mut().zip(bits) {
        *o = if b == bit { one } else { zero };
    }
}

/// Indicator products of at most this many columns (all heads' blocks for one bit) run on the
/// byte tokens ([`BitMatrix::thin_mul`], [`BitMatrix::thin_t_mul`]) instead of gemm: the
/// theory's single head (k + 1 = 5 columns) is bound by packing the m x T operand in gemm.
/// The Transformer's heads side by side (4 x (8 + 1)) stay on gemm.
const THIN_WIDTH_MAX: usize = 8;

/// One head's table: scores (2T+1) and values ((2T+1) x k) on rows `2 t + b`, \[CLS\] last.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BitTable<'a, S> {
    pub scores: &'a [S],
    pub values: &'a Mat<S>,
}

/// Which indicator matrices carry a head's columns (docs/kernels.md §1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Base on bit 0, the differences bit 1 - bit 0 through B (w^1 >= w^0 up to a little).
    Ones,
    /// Base on bit 1, the differences bit 0 - bit 1 through 1 - B (w^0 >= w^1 up to a little).
    Zeros,
    /// Bit 1's entries through B and bit 0's through 1 - B (no base): no sign assumption.
    Both,
}

impl Mode {
    fn uses(self, bit: usize) -> bool {
        match self {
            Mode::Ones => bit == 1,
            Mode::Zeros => bit == 0,
            Mode::Both => true,
        }
    }
}

#[derive(Clone, Debug)]
struct HeadMix<S> {
    mode: Mode,
    /// w_r = exp(s_r - M) on the table rows, \[CLS\] last.
    w: Vec<S>,
    /// First column of this head's block in the gemm of indicator 0 / 1 (if used).
    col: [usize; 2],
    /// Z_i per sample.
    z: Vec<S>,
}

/// What [`backward`] needs from [`forward`], and the mixed values.
#[derive(Clone, Debug)]
pub(crate) struct BitMix<S> {
    heads: Vec<HeadMix<S>>,
    /// Columns of the gemm of indicator 0 / 1.
    width: [usize; 2],
    /// Per head, mixed_i = N_i / Z_i (m x k), before the head's sigma.
    pub mixed: Vec<Mat<S>>,
}

impl<S: Real> BitMix<S> {
    /// Per head, which indicator matrices it used: 1 (B), 0 (1 - B) or 2 (both).
    #[cfg(test)]
    pub(crate) fn modes(&self) -> Vec<u8> {
        (self.heads.iter())
            .map(|h| match h.mode {
                Mode::Ones => 1,
                Mode::Zeros => 0,
                Mode::Both => 2,
            })
            .collect()
    }

    /// Head `head`'s attention of sample i over positions 0..T and \[CLS\] (last), written
    /// into `out` (length T + 1): a_it = w_t^{b_it} / Z_i.
    pub(crate) fn attention_row(&self, bits: &BitMatrix<S>, head: usize, i: usize, out: &mut [S]) {
        let h = &self.heads[head];
        let t_len = bits.context_len;
        let zi = h.z[i];
        for (t, o) in out[..t_len].iter_mut().enumerate() {
            *o = h.w[2 * t + bits.bit(i, t)] / zi;
        }
        out[t_len] = h.w[2 * t_len] / zi;
    }
}

/// Softmax-mix of every head for every sample, or `None` if the batch needs the per-sample
/// path (score gap above [`MAX_SCORE_GAP`], a non-finite score, or a denominator that is not
/// positive). Tables must have 2T+1 rows (checked by the caller: an internal invariant).
pub(crate) fn forward<S: Real>(
    bits: &BitMatrix<S>,
    heads: &[BitTable<'_, S>],
) -> Option<BitMix<S>> {
    let (m, t_len) = (bits.samples, bits.context_len);
    let (zero, one) = (S::zero(), S::one());
    let max_gap = S::from_f64(MAX_SCORE_GAP);
    let cancel = S::from_f64(CANCEL_FRACTION);
    let mut mixes = Vec::with_capacity(heads.len());
    let mut width = [0usize; 2];
    for h in heads {
        debug_assert_eq!(h.scores.len(), 2 * t_len + 1);
        debug_assert_eq!(h.values.rows, 2 * t_len + 1);
        let k = h.values.cols;
        let shift = h.scores.iter().fold(S::neg_infinity(), |a, &s| a.max(s));
        let mut gap = zero;
        for p in h.scores[..2 * t_len].chunks_exact(2) {
            gap = gap.max((p[1] - p[0]).abs());
        }
        // (`max` skips NaN, hence the explicit finiteness check.)
        if gap > max_gap || h.scores.iter().any(|s| !s.is_finite()) {
            return None;
        }
        let mut w = h.scores.to_vec();
        S::exp_shifted_sum(&mut w, shift);
        let (mut sum, mut neg, mut pos) = ([zero; 2], zero, zero);
        for p in w[..2 * t_len].chunks_exact(2) {
            sum[0] += p[0];
            sum[1] += p[1];
            let d = p[1] - p[0];
            if d < zero {
                neg -= d;
            } else {
                pos += d;
            }
        }
        let mode = if neg <= cancel * sum[0] {
            Mode::Ones
        } else if pos <= cancel * sum[1] {
            Mode::Zeros
        } else {
            Mode::Both
        };
        let mut col = [0usize; 2];
        for bit in 0..2 {
            if mode.uses(bit) {
                col[bit] = width[bit];
                width[bit] += k + 1;
            }
        }
        mixes.push(HeadMix {
            mode,
            w,
            col,
            z: Vec::new(),
        });
    }
    // R_bit (T x width[bit]): each head's block [values part (k) | weight part (1)].
    let mut r = [vec![zero; t_len * width[0]], vec![zero; t_len * width[1]]];
    let mut bases = Vec::with_capacity(heads.len());
    for (h, hm) in heads.iter().zip(&mixes) {
        let k = h.values.cols;
        let w = &hm.w;
        let mut base = vec![zero; k + 1];
        let cls = 2 * t_len;
        for (b, &v) in base.iter_mut().zip(h.values.row(cls)) {
            *b = w[cls] * v;
        }
        base[k] = w[cls];
        for t in 0..t_len {
            let (w0, w1) = (w[2 * t], w[2 * t + 1]);
            let (v0, v1) = (h.values.row(2 * t), h.values.row(2 * t + 1));
            // (bit whose indicator carries the entry, its weight and value, the base's).
            let (into, (wa, va), base_entry) = match hm.mode {
                Mode::Ones => (1, (w1, v1), Some((w0, v0))),
                Mode::Zeros => (0, (w0, v0), Some((w1, v1))),
                Mode::Both => (1, (w1, v1), None),
            };
            let row = &mut r[into][t * width[into] + hm.col[into]..][..k + 1];
            match base_entry {
                Some((wo, vo)) => {
                    for j in 0..k {
                        row[j] = wa * va[j] - wo * vo[j];
                        base[j] += wo * vo[j];
                    }
                    row[k] = wa - wo;
                    base[k] += wo;
                }
                None => {
                    for j in 0..k {
                        row[j] = wa * va[j];
                    }
                    row[k] = wa;
                    let row0 = &mut r[0][t * width[0] + hm.col[0]..][..k + 1];
                    for j in 0..k {
                        row0[j] = w0 * v0[j];
                    }
                    row0[k] = w0;
                }
            }
        }
        bases.push(base);
    }
    let mut c = [vec![zero; m * width[0]], vec![zero; m * width[1]]];
    for bit in 0..2 {
        let w = width[bit];
        if w == 0 {
            continue;
        }
        let r_bit = View::new(&r[bit], t_len, w);
        if w <= THIN_WIDTH_MAX {
            c[bit] = bits.thin_mul(bit, &r[bit], w);
        } else {
            gemm(one, bits.indicator(bit), r_bit, zero, &mut c[bit]);
        }
    }
    let mut mixed = Vec::with_capacity(heads.len());
    for ((h, hm), base) in heads.iter().zip(&mut mixes).zip(&bases) {
        let k = h.values.cols;
        let mut mx = Mat::zeros(m, k);
        let mut z = vec![zero; m];
        let mut acc = vec![zero; k + 1];
        for i in 0..m {
            acc.copy_from_slice(base);
            for bit in 0..2 {
                if hm.mode.uses(bit) {
                    let block = &c[bit][i * width[bit] + hm.col[bit]..][..k + 1];
                    for (a, &x) in acc.iter_mut().zip(block) {
                        *a += x;
                    }
                }
            }
            let zi = acc[k];
            if zi.is_nan() || zi <= zero || !zi.is_finite() {
                return None;
            }
            z[i] = zi;
            for (o, &a) in mx.row_mut(i).iter_mut().zip(&acc[..k]) {
                *o = a / zi;
            }
        }
        hm.z = z;
        mixed.push(mx);
    }
    Some(BitMix {
        heads: mixes,
        width,
        mixed,
    })
}

/// dL/d(scores) (2T+1) and dL/d(values) ((2T+1) x k) of one head, on the table's rows.
#[derive(Clone, Debug)]
pub(crate) struct TableGrad<S> {
    pub d_scores: Vec<S>,
    pub d_values: Mat<S>,
}

/// Backward of [`forward`] given dL/d(mixed) per head (m x k each).
pub(crate) fn backward<S: Real>(
    bits: &BitMatrix<S>,
    heads: &[BitTable<'_, S>],
    fwd: &BitMix<S>,
    d_mixed: &[Mat<S>],
) -> Vec<TableGrad<S>> {
    let (m, t_len) = (bits.samples, bits.context_len);
    let (zero, one) = (S::zero(), S::one());
    let width = fwd.width;
    // Y_bit (m x width[bit]): each head's block is dL/d[N_i | Z_i] = [g_i / Z_i | -g_i.mixed_i / Z_i].
    let mut y = [vec![zero; m * width[0]], vec![zero; m * width[1]]];
    let mut totals = Vec::with_capacity(heads.len());
    for (j, (h, hm)) in heads.iter().zip(&fwd.heads).enumerate() {
        let k = h.values.cols;
        let mut total = vec![zero; k + 1];
        let mut block = vec![zero; k + 1];
        for i in 0..m {
            let g = d_mixed[j].row(i);
            let zi = hm.z[i];
            for (b, &gi) in block.iter_mut().zip(g) {
                *b = gi / zi;
            }
            block[k] = -dot(g, fwd.mixed[j].row(i)) / zi;
            for (tt, &b) in total.iter_mut().zip(&block) {
                *tt += b;
            }
            for bit in 0..2 {
                if hm.mode.uses(bit) {
                    y[bit][i * width[bit] + hm.col[bit]..][..k + 1].copy_from_slice(&block);
                }
            }
        }
        totals.push(total);
    }
    // P_bit^T = Y_bit^T indicator (width[bit] x T): sums over the samples with that bit at
    // each position. In this orientation the large m x T indicator is gemm's right operand,
    // read along its rows when packed (as B^T on the left it was packed down its columns).
    let mut p = [vec![zero; t_len * width[0]], vec![zero; t_len * width[1]]];
    for bit in 0..2 {
        let w = width[bit];
        if w == 0 {
            continue;
        }
        if w <= THIN_WIDTH_MAX {
            p[bit] = bits.thin_t_mul(bit, &y[bit], w);
        } else {
            gemm(
                one,
                View::new(&y[bit], m, w).t(),
                bits.indicator(bit),
                zero,
                &mut p[bit],
            );
        }
    }
    let mut out = Vec::with_capacity(heads.len());
    for ((h, hm), total) in heads.iter().zip(&fwd.heads).zip(&totals) {
        let k = h.values.cols;
        let rows = 2 * t_len + 1;
        let mut d_scores = vec![zero; rows];
        let mut d_values = Mat::zeros(rows, k);
        let mut side = [vec![zero; k + 1], vec![zero; k + 1]];
        for t in 0..t_len {
            // side[b] = sum over the samples with bit b at t of Y_i.
            for bit in 0..2 {
                if hm.mode.uses(bit) {
                    for (j, x) in side[bit].iter_mut().enumerate() {
                        *x = p[bit][(hm.col[bit] + j) * t_len + t];
                    }
                }
            }
            for bit in 0..2 {
                if !hm.mode.uses(bit) {
                    let (s, o) = if bit == 0 {
                        let (a, b) = side.split_at_mut(1);
                        (&mut a[0], &b[0])
                    } else {
                        let (a, b) = side.split_at_mut(1);
                        (&mut b[0], &a[0])
                    };
                    for ((x, &tt), &y) in s.iter_mut().zip(total).zip(o) {
                        *x = tt - y;
                    }
                }
            }
            for (bit, s) in side.iter().enumerate() {
                let row = 2 * t + bit;
                table_row_grad(
                    hm.w[row],
                    h.values.row(row),
                    s,
                    &mut d_scores[row],
                    d_values.row_mut(row),
                );
            }
        }
        let cls = 2 * t_len;
        table_row_grad(
            hm.w[cls],
            h.values.row(cls),
            total,
            &mut d_scores[cls],
            d_values.row_mut(cls),
        );
        project_shift(bits, &hm.w, &mut d_scores);
        out.push(TableGrad { d_scores, d_values });
    }
    out
}

/// One table row r with weight w_r = exp(s_r - M), value v_r and the sum `s` of dL/d[N | Z]
/// over the samples that use it: dL/dv_r = w_r s[..k], dL/ds_r = w_r (v_r . s[..k] + s[k]).
fn table_row_grad<S: Real>(w: S, v: &[S], s: &[S], d_score: &mut S, d_value: &mut [S]) {
    let k = v.len();
    for (d, &x) in d_value.iter_mut().zip(&s[..k]) {
        *d = w * x;
    }
    *d_score = w * (dot(v, &s[..k]) + s[k]);
}

/// Removes the rounding residual R = sum_r dL/ds_r, which is exactly 0 (every sample's softmax
/// is shift-invariant), along the batch's mean attention pi_r ~ w_r n_r (n_r = samples using
/// row r): ds_r -= R pi_r. Without it the residual, larger here than in the per-sample path
/// (its sums run over samples before the cancellation), is multiplied by the table rows' common
/// component in the W_Q, W_K gradients (docs/kernels.md §1.4).
fn project_shift<S: Real>(bits: &BitMatrix<S>, w: &[S], d_scores: &mut [S]) {
    let t_len = bits.context_len;
    let m = bits.samples;
    let count = |r: usize| -> S {
        let n = if r == 2 * t_len {
            m
        } else if r % 2 == 1 {
            bits.ones_count[r / 2]
        } else {
            m - bits.ones_count[r / 2]
        };
        S::from_f64(n as f64)
    };
    let residual: S = d_scores.iter().copied().sum();
    let mass: S = (0..w.len()).map(|r| w[r] * count(r)).sum();
    if mass.is_nan() || mass <= S::zero() {
        return;
    }
    let scale = residual / mass;
    for (r, d) in d_scores.iter_mut().enumerate() {
        *d -= scale * w[r] * count(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn thin_products_equal_the_gemm_products() {
        // Reference: gemm on the scalar indicator matrices. In f64 both sum the same products
        // of 0/1 and table entries in another order: equal to 1e-12 relative to the largest
        // entry. T = 1030 spans three position blocks of `thin_t_mul`.
        let (m, t_len, w) = (13, 1030, 5);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let tokens = (0..m * t_len).map(|_| rng.random_range(0..2u8)).collect();
        let bits = BitMatrix::<f64>::new(&TokenBatch::new(t_len, tokens).unwrap()).unwrap();
        let r: Vec<f64> = (0..t_len * w).map(|_| rng.random::<f64>() - 0.5).collect();
        let y: Vec<f64> = (0..m * w).map(|_| rng.random::<f64>() - 0.5).collect();
        let close = |a: &[f64], b: &[f64]| {
            let scale = b.iter().fold(0.0f64, |s, x| s.max(x.abs()));
            assert!(scale > 1.0, "nothing to compare");
            let d = a
                .iter()
                .zip(b)
                .fold(0.0f64, |d, (x, y)| d.max((x - y).abs()));
            assert!(d <= 1e-12 * scale, "{d:e} vs scale {scale}");
        };
        for bit in 0..2 {
            let mut c = vec![0.0; m * w];
            gemm(
                1.0,
                bits.indicator(bit),
                View::new(&r, t_len, w),
                0.0,
                &mut c,
            );
            close(&bits.thin_mul(bit, &r, w), &c);
            let mut p = vec![0.0; w * t_len];
            gemm(
                1.0,
                View::new(&y, m, w).t(),
                bits.indicator(bit),
                0.0,
                &mut p,
            );
            close(&bits.thin_t_mul(bit, &y, w), &p);
        }
    }
}
