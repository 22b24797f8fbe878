//! The paper-protocol model (docs/experiments.md, "paper protocol"): one pre-LN encoder block
//! as PyTorch's `nn.TransformerEncoderLayer(norm_first = True, activation = "gelu")`, read out
//! at \[CLS\] by a linear layer with bias.
//!
//! Rows: `x_t = tok[b_t] + pos[t]` for the T bits, x_cls = cls (learned, last row). Then
//! h = x_cls + drop(MHA(LN1(X~))_cls), out = h + drop(W_2 drop(gelu(LN2(h) W_1 + b_1)) + b_2),
//! f = out . w + c, where MHA has H heads of width d / H, biases on Q, K, V and the output
//! projection, scores scaled by 1 / sqrt(d / H) and dropout on the attention probabilities.
//! GELU is the tanh approximation ([`Activation::Gelu`]); PyTorch's `"gelu"` is the erf form.
//!
//! Only the \[CLS\] row of the block's output is read, and LN1 of a token row depends only on
//! (position, bit), so K, V and the scores q . k / sqrt(d / H) are computed once per step for
//! the 2T + 1 distinct rows (row 2t + b, and 2T for \[CLS\]).
//!
//! **Table mix** (docs/experiments.md, "paper protocol", computation). Per head h, with M_h
//! the largest score over the 2T + 1 rows, w_r = exp(s_r - M_h) and u_r = w_r v_r, sample i's
//! softmax normaliser is Z_i = sum_t w_{r(i,t)} and its undropped numerator P_i = sum_t
//! u_{r(i,t)} (r(i, t) = 2t + b_it, and 2T at \[CLS\]): for all heads at once, the product of
//! the m x 2T one-hot matrix of the batch with the 2T x (d + H) table [u | w], plus the
//! \[CLS\] row. Dropout after the softmax leaves Z unchanged and removes the dropped rows from
//! the numerator: o_i = (P_i - C_i) / ((1 - p) Z_i) with C_i the sum of the dropped u (10% of
//! the entries, applied sparsely). The backward pass is the transposed gemm plus the same
//! sparse correction. No weight is ever lost to a shared shift: Z_i >= e^{-Δ} with
//! Δ = max |s_t^1 - s_t^0|, so when Δ > [`MAX_SCORE_GAP`] the pass falls back to the
//! per-sample gather ([`MixPath::Gather`]: gather the T + 1 scores, softmax, dropout, mix),
//! which is also the reference the tests hold the table mix to. The one-hot product (rather
//! than the bit matrix with w^1 - w^0 differences) sums only the terms each sample holds, so
//! its rounding does not grow with e^Δ. The plain per-sample computation
//! [`ProtocolModel::forward_plain`] (no tables at all) is a second reference; gradients of
//! both mixes are tested against finite differences.
//!
//! Dropout masks are drawn before the forward pass ([`DropoutMasks::draw`]) in a fixed order
//! from the caller's generator, so a training step is a deterministic function of the
//! parameters, the batch and the masks. Backward takes dL_i/df_i from the caller.

use super::layernorm::LayerNorm;
use super::{Activation, Embedding, TokenBatch, softmax_backward_in_place, softmax_in_place};
use crate::error::{Error, Result};
use crate::optim::Parameters;
use crate::tensor::{Mat, Real, View, gemm};
use rand::{Rng, RngExt};

/// The MLP non-linearity of the protocol (tanh-approximation GELU).
pub const PROTOCOL_ACTIVATION: Activation = Activation::Gelu;

/// Shape and initialisation of a [`ProtocolModel`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProtocolConfig {
    pub context_len: usize,
    /// d (PyTorch's `d_model`).
    pub width: usize,
    /// H; d must be a multiple of H (head width d / H).
    pub heads: usize,
    /// PyTorch's `dim_feedforward`.
    pub mlp_width: usize,
    /// Standard deviation of the N(0, std^2) initialisation of every weight and embedding.
    pub init_std: f64,
}

impl ProtocolConfig {
    pub fn validate(&self) -> Result<()> {
        crate::error::check::at_least("context_len", self.context_len, 1)?;
        crate::error::check::at_least("width", self.width, 1)?;
        crate::error::check::at_least("heads", self.heads, 1)?;
        crate::error::check::at_least("mlp_width", self.mlp_width, 1)?;
        crate::error::check::positive("init_std", self.init_std)?;
        if !self.width.is_multiple_of(self.heads) {
            return Err(Error::invalid(
                "width",
                self.width,
                format!("a multiple of heads = {}", self.heads),
            ));
        }
        Ok(())
    }
}

/// Weights of the protocol model. Matrices map rows: `y = x W + b` (W is d_in x d_out).
#[derive(Clone, Debug, PartialEq)]
pub struct ProtocolModel<S> {
    /// tok (2 x d), pos (T x d), cls (d).
    pub embedding: Embedding<S>,
    pub ln1: LayerNorm<S>,
    pub w_q: Mat<S>,
    pub w_k: Mat<S>,
    pub w_v: Mat<S>,
    pub b_q: Vec<S>,
    pub b_k: Vec<S>,
    pub b_v: Vec<S>,
    /// Output projection (d x d) and its bias.
    pub w_o: Mat<S>,
    pub b_o: Vec<S>,
    pub ln2: LayerNorm<S>,
    pub w_1: Mat<S>,
    pub b_1: Vec<S>,
    pub w_2: Mat<S>,
    pub b_2: Vec<S>,
    /// Read-out weight (d) and bias (length 1).
    pub w: Vec<S>,
    pub c: Vec<S>,
    pub heads: usize,
}

/// Inverted-dropout masks for every site the \[CLS\] output depends on. The attention
/// probabilities (m x H x (T + 1), 16 per position and sample at the protocol's shape) are
/// stored sparsely: the kept ones are multiplied by [`keep`](Self::keep) = 1 / (1 - p), and
/// [`attn_dropped`](Self::attn_dropped) lists the flat indices `(i H + h)(T + 1) + t` of the
/// dropped ones (t = T is \[CLS\]) in increasing order. The other sites are dense factors
/// (0 or 1 / (1 - p)): the attention branch (m x d), the MLP hidden layer (m x mlp_width) and
/// the MLP branch (m x d).
#[derive(Clone, Debug, PartialEq)]
pub struct DropoutMasks<S> {
    pub keep: S,
    pub attn_dropped: Vec<u32>,
    pub attn_out: Vec<S>,
    pub hidden: Vec<S>,
    pub mlp_out: Vec<S>,
}

/// Attention entries decided per bulk fill of random bytes in [`DropoutMasks::draw`] (a
/// multiple of 64).
const DRAW_CHUNK: usize = 1024;

/// Up to 64 flags (each 0 or 1) as the bits of a u64, flag k at bit k: per 8 flags read as a
/// little-endian word x, `(x * 0x0102_0408_1020_4080) >> 56` collects flag i (byte i) at bit
/// i (each flag's partial products land on distinct bits, so nothing carries).
fn pack_flags(flags: &[u8]) -> u64 {
    let pack = |x: u64| x.wrapping_mul(0x0102_0408_1020_4080) >> 56;
    let words = flags.chunks_exact(8);
    let tail = words.remainder();
    let full = 8 * words.len();
    let mut bits = 0u64;
    for (w, c) in words.enumerate() {
        // chunks_exact(8): the conversion cannot fail.
        let word: [u8; 8] = c.try_into().unwrap_or_default();
        bits |= pack(u64::from_le_bytes(word)) << (8 * w);
    }
    if !tail.is_empty() {
        let mut word = [0u8; 8];
        word[..tail.len()].copy_from_slice(tail);
        bits |= pack(u64::from_le_bytes(word)) << full;
    }
    bits
}

impl<S: Real> DropoutMasks<S> {
    /// Draws the masks for `m` samples, site by site in the field order above: an entry is
    /// kept iff a uniform u32 u < threshold = floor((1 - p) 2^32) (so p is rounded to a multiple of
    /// 2^-32). At the dense sites u is one half of a `next_u64` (low half first; a site with an
    /// odd count discards the last high half). At the attention probabilities (4.8 million
    /// entries at T = 1000, m = 300) u's top byte comes from a bulk `fill_bytes` of
    /// 1024 bytes, and its low 24 bits from a further `next_u32` (its top 24 bits) only
    /// when the top byte equals the threshold's: the same decision with 8.1 instead of 32
    /// random bits per entry on average. At p = 0 nothing is drawn there. `p` must lie in [0, 1), and
    /// m H (T + 1) must fit in a u32.
    pub fn draw<R: Rng + ?Sized>(
        model: &ProtocolModel<S>,
        m: usize,
        p: f64,
        rng: &mut R,
    ) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::invalid("dropout", p, "a number in [0, 1)"));
        }
        let (t, d, h, f) = (
            model.context_len(),
            model.width(),
            model.heads,
            model.mlp_width(),
        );
        let n_attn = m * h * (t + 1);
        if u32::try_from(n_attn).is_err() {
            return Err(Error::invalid(
                "dropout masks: num_samples x heads x (context_len + 1)",
                n_attn,
                format!("at most {}", u32::MAX),
            ));
        }
        let threshold = ((1.0 - p) * 4_294_967_296.0) as u64;
        let keep = S::from_f64(1.0 / (1.0 - p));
        // Attention probabilities: the decision u < threshold on u = (hi << 24) | lo, drawn
        // in two stages: one byte hi per entry (bulk), and only when hi equals the threshold's
        // top byte (probability 1/256) the low 24 bits from a further u32. Branch-free appends
        // of the dropped indices, one chunk of bytes at a time.
        let mut attn_dropped = Vec::with_capacity(n_attn / 8 + DRAW_CHUNK);
        if threshold < 1 << 32 {
            let (top, low) = ((threshold >> 24) as u8, (threshold & 0xff_ffff) as u32);
            let mut bytes = [0u8; DRAW_CHUNK];
            let (mut above, mut tied) = ([0u8; DRAW_CHUNK], [0u8; DRAW_CHUNK]);
            let mut start = 0usize;
            while start < n_attn {
                let len = DRAW_CHUNK.min(n_attn - start);
                rng.fill_bytes(&mut bytes[..len]);
                for ((a, e), &hi) in above.iter_mut().zip(tied.iter_mut()).zip(&bytes[..len]) {
                    *a = u8::from(hi > top);
                    *e = u8::from(hi == top);
                }
                // Per 64 entries: bit masks of the dropped entries, ties decided in entry
                // order, then the set bits appended in increasing order.
                for (block, (a, e)) in above[..len]
                    .chunks(64)
                    .zip(tied[..len].chunks(64))
                    .enumerate()
                {
                    let (mut dropped, mut ties) = (pack_flags(a), pack_flags(e));
                    while ties != 0 {
                        let k = ties.trailing_zeros();
                        ties &= ties - 1;
                        if (rng.random::<u32>() >> 8) >= low {
                            dropped |= 1 << k;
                        }
                    }
                    let base = start + 64 * block;
                    while dropped != 0 {
                        attn_dropped.push((base + dropped.trailing_zeros() as usize) as u32);
                        dropped &= dropped - 1;
                    }
                }
                start += len;
            }
        }
        let mut draw = |n: usize| -> Vec<S> {
            let mut out = Vec::with_capacity(n);
            while out.len() < n {
                let u = rng.random::<u64>();
                for half in [u & 0xffff_ffff, u >> 32] {
                    if out.len() < n {
                        out.push(if half < threshold { keep } else { S::zero() });
                    }
                }
            }
            out
        };
        Ok(DropoutMasks {
            keep,
            attn_dropped,
            attn_out: draw(m * d),
            hidden: draw(m * f),
            mlp_out: draw(m * d),
        })
    }

    /// The dense attention-probability factors (m x H x (T + 1): 0 or `keep`), for the
    /// per-sample gather path and for tests.
    pub fn attn_dense(&self, m: usize, heads: usize, context_len: usize) -> Vec<S> {
        let mut a = vec![self.keep; m * heads * (context_len + 1)];
        for &j in &self.attn_dropped {
            a[j as usize] = S::zero();
        }
        a
    }
}

/// How the per-sample softmax mix over positions is computed (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixPath {
    /// The one-hot gemm over per-row tables whenever the score gap Δ is at most
    /// [`MAX_SCORE_GAP`], else [`Gather`](Self::Gather).
    Auto,
    /// The per-sample gather, softmax and mix (the reference).
    Gather,
}

/// Largest score gap Δ = max over heads and positions of |s_t^1 - s_t^0| at which the table
/// mix runs: every sample's normaliser (scores shifted by the head's largest score over all
/// 2T + 1 rows) is then at least e^{-Δ} >= e^{-60} ~ 1e-26, far above the smallest normal f32
/// (1.2e-38), and every weight it sums is computed, so nothing underflows to a zero normaliser.
pub const MAX_SCORE_GAP: f64 = 60.0;

/// Samples per one-hot block of the table mix (bounds its m x 2T scratch).
const MIX_BLOCK: usize = 512;

/// What the mix of a forward pass keeps for its backward pass.
#[derive(Clone, Debug)]
enum Mix<S> {
    /// Softmax probabilities before dropout, m x H x (T + 1), and the dense dropout factors.
    Gather { attn: Vec<S>, mask: Option<Vec<S>> },
    /// exp(s - M_h) per distinct row and head (rows x H), the normalisers Z (m x H), and per
    /// dropped attention entry the offsets of its head block in the m x (d + H) mix and in
    /// the head-major H x rows x (d / H) table.
    Tables {
        w: Vec<S>,
        z: Vec<S>,
        drops: Vec<(usize, usize)>,
    },
}

/// Everything the backward pass reads from a forward pass.
#[derive(Clone, Debug)]
pub struct ProtocolCache<S> {
    pub predictions: Vec<S>,
    m: usize,
    /// The 2T + 1 distinct input rows and their LN1 (xhat, rstd, output).
    xhat1: Vec<S>,
    rstd1: Vec<S>,
    z1: Vec<S>,
    k: Vec<S>,
    v: Vec<S>,
    /// \[CLS\] query (d).
    q: Vec<S>,
    mix: Mix<S>,
    /// Mixed values (m x d), attention-branch residual h (m x d), LN2 of h.
    o: Vec<S>,
    xhat2: Vec<S>,
    rstd2: Vec<S>,
    y2: Vec<S>,
    /// MLP pre-activation (m x F) and activation after dropout (m x F).
    g: Vec<S>,
    act: Vec<S>,
    /// Block output at \[CLS\] (m x d).
    out: Vec<S>,
    masks: Option<DropoutMasks<S>>,
}

impl<S> ProtocolCache<S> {
    /// Whether this pass mixed through the tables (false: the per-sample gather).
    pub fn used_tables(&self) -> bool {
        matches!(self.mix, Mix::Tables { .. })
    }
}

fn normal<R: Rng + ?Sized>(rng: &mut R, std: f64) -> f64 {
    // Box-Muller; 1 - u in (0, 1] keeps the log finite.
    let (u, v) = (rng.random::<f64>(), rng.random::<f64>());
    std * (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Backward of the affine map `y = x W + b` on `rows` rows: accumulates `dW += x^T dy` and
/// `db += column sums of dy`, and returns `dx = dy W^T`. Shapes come from `w` (`n_in x n_out`).
fn dense_backward<S: Real>(
    x: &[S],
    dy: &[S],
    w: &Mat<S>,
    grad_w: &mut Mat<S>,
    grad_b: &mut [S],
) -> Vec<S> {
    let (n_in, n_out) = (w.rows, w.cols);
    let rows = dy.len() / n_out;
    add_col_sums(dy, n_out, grad_b);
    gemm(
        S::one(),
        View::new(x, rows, n_in).t(),
        View::new(dy, rows, n_out),
        S::one(),
        &mut grad_w.data,
    );
    let mut dx = vec![S::zero(); rows * n_in];
    gemm(
        S::one(),
        View::new(dy, rows, n_out),
        w.t(),
        S::zero(),
        &mut dx,
    );
    dx
}

/// Column sums of a row-major block with `cols` columns, added to `acc`.
fn add_col_sums<S: Real>(x: &[S], cols: usize, acc: &mut [S]) {
    for row in x.chunks_exact(cols) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    }
}

/// `f[fo..fo + K] -= u[uo..uo + K]` for every (fo, uo) of `drops`. Consecutive entries of
/// one (sample, head) block share fo: they are summed in a register-sized array and
/// subtracted once per block, so no store-to-load chain runs through `f`.
fn subtract_dropped<S: Real, const K: usize>(drops: &[(usize, usize)], u: &[S], f: &mut [S]) {
    let mut acc = [S::zero(); K];
    for (k, &(fo, uo)) in drops.iter().enumerate() {
        for (a, &x) in acc.iter_mut().zip(&u[uo..uo + K]) {
            *a += x;
        }
        if drops.get(k + 1).is_none_or(|&(next, _)| next != fo) {
            for (x, a) in f[fo..fo + K].iter_mut().zip(acc.iter_mut()) {
                *x -= *a;
                *a = S::zero();
            }
        }
    }
}

/// `x W + b` for every row of `x` (n x d_in): a new n x d_out block.
fn affine<S: Real>(x: &[S], n: usize, w: &Mat<S>, b: &[S]) -> Vec<S> {
    let mut y: Vec<S> = (0..n).flat_map(|_| b.iter().copied()).collect();
    gemm(
        S::one(),
        View::new(x, n, w.rows),
        w.view(),
        S::one(),
        &mut y,
    );
    y
}

impl<S: Real> ProtocolModel<S> {
    /// PyTorch-style initialisation of the protocol: every weight matrix and embedding
    /// N(0, init_std^2), biases zero, LayerNorm gains one and biases zero.
    pub fn random<R: Rng + ?Sized>(cfg: &ProtocolConfig, rng: &mut R) -> Result<Self> {
        cfg.validate()?;
        let (t, d, f, std) = (cfg.context_len, cfg.width, cfg.mlp_width, cfg.init_std);
        let mut mat = |rows: usize, cols: usize| -> Mat<S> {
            let data = (0..rows * cols)
                .map(|_| S::from_f64(normal(rng, std)))
                .collect();
            Mat { rows, cols, data }
        };
        let (tok, pos, cls_m) = (mat(2, d), mat(t, d), mat(1, d));
        let (w_q, w_k, w_v, w_o) = (mat(d, d), mat(d, d), mat(d, d), mat(d, d));
        let (w_1, w_2, w_m) = (mat(d, f), mat(f, d), mat(1, d));
        let zeros = |n: usize| vec![S::zero(); n];
        Ok(ProtocolModel {
            embedding: Embedding::new(tok, pos, cls_m.data)?,
            ln1: LayerNorm::identity(d),
            w_q,
            w_k,
            w_v,
            b_q: zeros(d),
            b_k: zeros(d),
            b_v: zeros(d),
            w_o,
            b_o: zeros(d),
            ln2: LayerNorm::identity(d),
            w_1,
            b_1: zeros(f),
            w_2,
            b_2: zeros(d),
            w: w_m.data,
            c: zeros(1),
            heads: cfg.heads,
        })
    }

    pub fn width(&self) -> usize {
        self.embedding.width()
    }
    pub fn context_len(&self) -> usize {
        self.embedding.pos.rows
    }
    pub fn mlp_width(&self) -> usize {
        self.w_1.cols
    }
    /// d / H.
    pub fn head_dim(&self) -> usize {
        self.width() / self.heads
    }

    pub fn cast<T: Real>(&self) -> ProtocolModel<T> {
        let v = |x: &[S]| {
            x.iter()
                .map(|a| T::from_f64(a.as_f64()))
                .collect::<Vec<T>>()
        };
        ProtocolModel {
            embedding: Embedding {
                tok: self.embedding.tok.cast(),
                pos: self.embedding.pos.cast(),
                cls: v(&self.embedding.cls),
            },
            ln1: self.ln1.cast(),
            w_q: self.w_q.cast(),
            w_k: self.w_k.cast(),
            w_v: self.w_v.cast(),
            b_q: v(&self.b_q),
            b_k: v(&self.b_k),
            b_v: v(&self.b_v),
            w_o: self.w_o.cast(),
            b_o: v(&self.b_o),
            ln2: self.ln2.cast(),
            w_1: self.w_1.cast(),
            b_1: v(&self.b_1),
            w_2: self.w_2.cast(),
            b_2: v(&self.b_2),
            w: v(&self.w),
            c: v(&self.c),
            heads: self.heads,
        }
    }

    /// The 2T + 1 distinct input rows: row 2t + b = `tok[b] + pos[t]`, row 2T = cls.
    pub fn distinct_rows(&self) -> Vec<S> {
        let (t, d) = (self.context_len(), self.width());
        let e = &self.embedding;
        let mut x = Vec::with_capacity((2 * t + 1) * d);
        for pos in 0..t {
            for b in 0..2 {
                x.extend(
                    e.tok
                        .row(b)
                        .iter()
                        .zip(e.pos.row(pos))
                        .map(|(a, p)| *a + *p),
                );
            }
        }
        x.extend_from_slice(&e.cls);
        x
    }

    /// LN1 of every distinct row (2T + 1 rows of width d), the rows attention reads.
    pub fn normalized_rows(&self) -> Vec<S> {
        let d = self.width();
        let x = self.distinct_rows();
        let mut z = vec![S::zero(); x.len()];
        let mut xh = vec![S::zero(); d];
        for (xr, zr) in x.chunks_exact(d).zip(z.chunks_exact_mut(d)) {
            self.ln1.forward_row(xr, &mut xh, zr);
        }
        z
    }

    fn check_batch(&self, batch: &TokenBatch) -> Result<()> {
        if batch.context_len != self.context_len() {
            return Err(Error::shape(
                "batch.context_len",
                self.context_len(),
                batch.context_len,
            ));
        }
        if let Some(&bad) = batch.tokens.iter().find(|&&b| b > 1) {
            return Err(Error::invalid("tokens", bad, "bits 0 or 1"));
        }
        Ok(())
    }

    /// Evaluation-mode predictions (no dropout).
    pub fn predict(&self, batch: &TokenBatch) -> Result<Vec<S>> {
        Ok(self.forward(batch, None)?.predictions)
    }

    /// The token-table forward pass ([`MixPath::Auto`]); `masks` (from
    /// [`DropoutMasks::draw`] for this batch size) switches on training-mode dropout.
    pub fn forward(
        &self,
        batch: &TokenBatch,
        masks: Option<DropoutMasks<S>>,
    ) -> Result<ProtocolCache<S>> {
        self.forward_with(batch, masks, MixPath::Auto)
    }

    fn check_masks(&self, m: usize, mk: &DropoutMasks<S>) -> Result<()> {
        let (t, d, nh, f) = (
            self.context_len(),
            self.width(),
            self.heads,
            self.mlp_width(),
        );
        let want = [m * d, m * f, m * d];
        let got = [mk.attn_out.len(), mk.hidden.len(), mk.mlp_out.len()];
        if want != got {
            return Err(Error::shape(
                "dropout masks",
                format!("{want:?}"),
                format!("{got:?}"),
            ));
        }
        let n_attn = m * nh * (t + 1);
        if let Some(&bad) = mk.attn_dropped.iter().find(|&&j| j as usize >= n_attn) {
            return Err(Error::invalid(
                "dropout masks.attn_dropped",
                bad,
                format!("indices below num_samples x heads x (context_len + 1) = {n_attn}"),
            ));
        }
        if !(mk.keep.is_finite() && mk.keep >= S::one()) {
            return Err(Error::invalid(
                "dropout masks.keep",
                mk.keep.as_f64(),
                "1 / (1 - p) for p in [0, 1)",
            ));
        }
        Ok(())
    }

    /// [`forward`](Self::forward) with the mix chosen by `path`.
    pub fn forward_with(
        &self,
        batch: &TokenBatch,
        masks: Option<DropoutMasks<S>>,
        path: MixPath,
    ) -> Result<ProtocolCache<S>> {
        self.check_batch(batch)?;
        let m = batch.num_samples();
        let (t, d, nh, dh) = (
            self.context_len(),
            self.width(),
            self.heads,
            self.head_dim(),
        );
        if let Some(mk) = &masks {
            self.check_masks(m, mk)?;
        }
        let rows = 2 * t + 1;
        let x = self.distinct_rows();
        let mut xhat1 = vec![S::zero(); rows * d];
        let mut z1 = vec![S::zero(); rows * d];
        let mut rstd1 = Vec::with_capacity(rows);
        for ((xr, xh), zr) in x
            .chunks_exact(d)
            .zip(xhat1.chunks_exact_mut(d))
            .zip(z1.chunks_exact_mut(d))
        {
            rstd1.push(self.ln1.forward_row(xr, xh, zr));
        }
        let k = affine(&z1, rows, &self.w_k, &self.b_k);
        let v = affine(&z1, rows, &self.w_v, &self.b_v);
        let q = affine(&z1[2 * t * d..], 1, &self.w_q, &self.b_q);
        let scale = S::from_f64(1.0 / (dh as f64).sqrt());
        let mut scores = vec![S::zero(); rows * nh];
        for (kr, sr) in k.chunks_exact(d).zip(scores.chunks_exact_mut(nh)) {
            for (h, s) in sr.iter_mut().enumerate() {
                let r = h * dh..(h + 1) * dh;
                *s = scale * crate::tensor::dot(&q[r.clone()], &kr[r]);
            }
        }
        let gap = (0..t)
            .flat_map(|pos| {
                let s = &scores;
                (0..nh).map(move |h| (s[(2 * pos + 1) * nh + h] - s[2 * pos * nh + h]).abs())
            })
            .fold(S::zero(), |a, b| if b > a || b.is_nan() { b } else { a });
        let tables = path == MixPath::Auto && gap <= S::from_f64(MAX_SCORE_GAP);
        let (o, mix) = if tables {
            self.mix_tables(batch, &scores, &v, masks.as_ref())
        } else {
            self.mix_gather(batch, &scores, &v, masks.as_ref())
        };
        // Output projection, attention-branch dropout, residual on x_cls.
        let mut hres = affine(&o, m, &self.w_o, &self.b_o);
        if let Some(mk) = &masks {
            hres.iter_mut()
                .zip(&mk.attn_out)
                .for_each(|(u, &k)| *u *= k);
        }
        for hr in hres.chunks_exact_mut(d) {
            for (a, &c) in hr.iter_mut().zip(&self.embedding.cls) {
                *a += c;
            }
        }
        // MLP branch.
        let mut xhat2 = vec![S::zero(); m * d];
        let mut y2 = vec![S::zero(); m * d];
        let mut rstd2 = Vec::with_capacity(m);
        for ((hr, xh), yr) in hres
            .chunks_exact(d)
            .zip(xhat2.chunks_exact_mut(d))
            .zip(y2.chunks_exact_mut(d))
        {
            rstd2.push(self.ln2.forward_row(hr, xh, yr));
        }
        let g = affine(&y2, m, &self.w_1, &self.b_1);
        let mut act: Vec<S> = g.iter().map(|&x| PROTOCOL_ACTIVATION.apply(x)).collect();
        if let Some(mk) = &masks {
            act.iter_mut().zip(&mk.hidden).for_each(|(a, &k)| *a *= k);
        }
        let mut out = affine(&act, m, &self.w_2, &self.b_2);
        if let Some(mk) = &masks {
            out.iter_mut().zip(&mk.mlp_out).for_each(|(u, &k)| *u *= k);
        }
        out.iter_mut().zip(&hres).for_each(|(u, &h)| *u += h);
        let predictions: Vec<S> = out
            .chunks_exact(d)
            .map(|r| crate::tensor::dot(r, &self.w) + self.c[0])
            .collect();
        Ok(ProtocolCache {
            predictions,
            m,
            xhat1,
            rstd1,
            z1,
            k,
            v,
            q,
            mix,
            o,
            xhat2,
            rstd2,
            y2,
            g,
            act,
            out,
            masks,
        })
    }

    /// The one-hot matrix of samples `i0..i0 + n`: row i, column 2t + b_it is 1, the rest 0
    /// (n x 2T), written into `a`.
    fn one_hot(batch: &TokenBatch, i0: usize, n: usize, a: &mut Vec<S>) {
        let t = batch.context_len;
        a.clear();
        a.resize(n * 2 * t, S::zero());
        for (row, i) in a.chunks_exact_mut(2 * t).zip(i0..i0 + n) {
            for (pos, &b) in batch.sample(i).iter().enumerate() {
                row[2 * pos + usize::from(b)] = S::one();
            }
        }
    }

    /// Row of sample `i`'s position `pos` (pos = T: \[CLS\], row 2T).
    fn row_at(batch: &TokenBatch, i: usize, pos: usize) -> usize {
        let t = batch.context_len;
        if pos == t {
            2 * t
        } else {
            2 * pos + usize::from(batch.tokens[i * t + pos])
        }
    }

    /// Per dropped attention entry (flat index (i H + h)(T + 1) + t, increasing), the offset
    /// i (d + H) + h (d / H) of its head block in the mix and (h (2T + 1) + r(i, t)) (d / H)
    /// in the head-major table. The indices are decoded by a running (i, h) cursor.
    fn dropped_offsets(
        batch: &TokenBatch,
        nh: usize,
        dh: usize,
        dropped: &[u32],
    ) -> Vec<(usize, usize)> {
        let t = batch.context_len;
        let (rows, nc) = (2 * t + 1, nh * dh + nh);
        let mut out = Vec::with_capacity(dropped.len());
        let (mut i, mut h, mut base) = (0usize, 0usize, 0usize);
        for &j in dropped {
            let j = j as usize;
            while j > base + t {
                base += t + 1;
                h += 1;
                if h == nh {
                    h = 0;
                    i += 1;
                }
            }
            let r = Self::row_at(batch, i, j - base);
            out.push((i * nc + h * dh, (h * rows + r) * dh));
        }
        out
    }

    /// The table mix. Per head h, with M_h the largest score over the 2T + 1 rows and
    /// w_r = exp(s_r - M_h), u_r = w_r v_r, a sample's normaliser and undropped numerator are
    /// sums of its rows' (w_r, u_r): one gemm of the one-hot matrix (m x 2T) with the table
    /// [u | w] (2T x (d + H)) for all heads, plus the \[CLS\] row. Dropout subtracts the
    /// dropped rows' u (sparse) and scales by 1 / (1 - p): o = keep (P - C) / Z.
    fn mix_tables(
        &self,
        batch: &TokenBatch,
        scores: &[S],
        v: &[S],
        masks: Option<&DropoutMasks<S>>,
    ) -> (Vec<S>, Mix<S>) {
        let m = batch.num_samples();
        let (t, d, nh, dh) = (
            self.context_len(),
            self.width(),
            self.heads,
            self.head_dim(),
        );
        let (rows, nc) = (2 * t + 1, d + nh);
        let mut top = vec![S::neg_infinity(); nh];
        for sr in scores.chunks_exact(nh) {
            top.iter_mut().zip(sr).for_each(|(a, &s)| *a = a.max(s));
        }
        let mut w = vec![S::zero(); rows * nh];
        let mut table = vec![S::zero(); rows * nc];
        for r in 0..rows {
            for h in 0..nh {
                let wr = (scores[r * nh + h] - top[h]).exp();
                w[r * nh + h] = wr;
                table[r * nc + d + h] = wr;
                for j in h * dh..(h + 1) * dh {
                    table[r * nc + j] = wr * v[r * d + j];
                }
            }
        }
        let cls = &table[2 * t * nc..];
        let mut f: Vec<S> = (0..m).flat_map(|_| cls.iter().copied()).collect();
        let mut a = Vec::new();
        for i0 in (0..m).step_by(MIX_BLOCK) {
            let n = MIX_BLOCK.min(m - i0);
            Self::one_hot(batch, i0, n, &mut a);
            gemm(
                S::one(),
                View::new(&a, n, 2 * t),
                View::new(&table, 2 * t, nc),
                S::one(),
                &mut f[i0 * nc..(i0 + n) * nc],
            );
        }
        let mut keep = S::one();
        let mut drops = Vec::new();
        if let Some(mk) = masks {
            keep = mk.keep;
            drops = Self::dropped_offsets(batch, nh, dh, &mk.attn_dropped);
            // Head-major copy of u, so each (sample, head) walks one 2T + 1 x (d / H) block.
            let mut uh = vec![S::zero(); rows * d];
            for (r, tr) in table.chunks_exact(nc).enumerate() {
                for h in 0..nh {
                    uh[(h * rows + r) * dh..(h * rows + r + 1) * dh]
                        .copy_from_slice(&tr[h * dh..(h + 1) * dh]);
                }
            }
            match dh {
                1 => subtract_dropped::<S, 1>(&drops, &uh, &mut f),
                2 => subtract_dropped::<S, 2>(&drops, &uh, &mut f),
                4 => subtract_dropped::<S, 4>(&drops, &uh, &mut f),
                8 => subtract_dropped::<S, 8>(&drops, &uh, &mut f),
                _ => {
                    for &(fo, uo) in &drops {
                        for (x, &u) in f[fo..fo + dh].iter_mut().zip(&uh[uo..uo + dh]) {
                            *x -= u;
                        }
                    }
                }
            }
        }
        let mut o = vec![S::zero(); m * d];
        let mut z = vec![S::zero(); m * nh];
        for ((fr, or), zr) in f
            .chunks_exact(nc)
            .zip(o.chunks_exact_mut(d))
            .zip(z.chunks_exact_mut(nh))
        {
            for h in 0..nh {
                zr[h] = fr[d + h];
                let s = keep / zr[h];
                for c in h * dh..(h + 1) * dh {
                    or[c] = s * fr[c];
                }
            }
        }
        (o, Mix::Tables { w, z, drops })
    }

    /// The reference mix: per sample and head, gather the T + 1 scores, softmax, dropout,
    /// and mix the gathered values.
    fn mix_gather(
        &self,
        batch: &TokenBatch,
        scores: &[S],
        v: &[S],
        masks: Option<&DropoutMasks<S>>,
    ) -> (Vec<S>, Mix<S>) {
        let m = batch.num_samples();
        let (t, d, nh, dh) = (
            self.context_len(),
            self.width(),
            self.heads,
            self.head_dim(),
        );
        let mask = masks.map(|mk| mk.attn_dense(m, nh, t));
        let mut attn = vec![S::zero(); m * nh * (t + 1)];
        let mut o = vec![S::zero(); m * d];
        let mut row_of = vec![0usize; t + 1];
        let mut weights = vec![S::zero(); t + 1];
        for i in 0..m {
            for (pos, r) in row_of.iter_mut().enumerate() {
                *r = Self::row_at(batch, i, pos);
            }
            for h in 0..nh {
                let base = (i * nh + h) * (t + 1);
                let a = &mut attn[base..base + t + 1];
                for (aj, &r) in a.iter_mut().zip(&row_of) {
                    *aj = scores[r * nh + h];
                }
                softmax_in_place(a);
                weights.copy_from_slice(a);
                if let Some(mk) = &mask {
                    for (wj, &mj) in weights.iter_mut().zip(&mk[base..base + t + 1]) {
                        *wj *= mj;
                    }
                }
                let oh = &mut o[i * d + h * dh..i * d + (h + 1) * dh];
                for (&wj, &r) in weights.iter().zip(&row_of) {
                    let vr = &v[r * d + h * dh..r * d + (h + 1) * dh];
                    for (oj, &vj) in oh.iter_mut().zip(vr) {
                        *oj += wj * vj;
                    }
                }
            }
        }
        (o, Mix::Gather { attn, mask })
    }

    /// Gradient of `sum_i L_i(f_i)` given `dl[i] = dL_i/df_i`, from a forward cache of `batch`.
    pub fn backward(
        &self,
        batch: &TokenBatch,
        cache: &ProtocolCache<S>,
        dl: &[S],
    ) -> Result<ProtocolModel<S>> {
        self.check_batch(batch)?;
        let m = cache.m;
        if dl.len() != m || batch.num_samples() != m {
            return Err(Error::shape("dL/df", m, dl.len()));
        }
        let (t, d, nh, dh) = (
            self.context_len(),
            self.width(),
            self.heads,
            self.head_dim(),
        );
        let rows = 2 * t + 1;
        let one = S::one();
        let mut gr = self.zeros_like();
        // Read-out.
        let mut dout = vec![S::zero(); m * d];
        for ((dr, or), &di) in dout
            .chunks_exact_mut(d)
            .zip(cache.out.chunks_exact(d))
            .zip(dl)
        {
            for ((dj, &oj), (&wj, gw)) in dr.iter_mut().zip(or).zip(self.w.iter().zip(&mut gr.w)) {
                *dj = di * wj;
                *gw += di * oj;
            }
            gr.c[0] += di;
        }
        // MLP branch: out = h + mask2 * (act W_2 + b_2).
        let mut du2 = dout.clone();
        if let Some(mk) = &cache.masks {
            du2.iter_mut().zip(&mk.mlp_out).for_each(|(g, &k)| *g *= k);
        }
        let mut dg = dense_backward(&cache.act, &du2, &self.w_2, &mut gr.w_2, &mut gr.b_2);
        if let Some(mk) = &cache.masks {
            dg.iter_mut().zip(&mk.hidden).for_each(|(g, &k)| *g *= k);
        }
        dg.iter_mut()
            .zip(&cache.g)
            .for_each(|(dgj, &gj)| *dgj *= PROTOCOL_ACTIVATION.derivative(gj));
        let dy2 = dense_backward(&cache.y2, &dg, &self.w_1, &mut gr.w_1, &mut gr.b_1);
        let mut d_h = dout;
        for (((xh, &rs), dyr), dhr) in cache
            .xhat2
            .chunks_exact(d)
            .zip(&cache.rstd2)
            .zip(dy2.chunks_exact(d))
            .zip(d_h.chunks_exact_mut(d))
        {
            self.ln2.backward_row(xh, rs, dyr, dhr, &mut gr.ln2);
        }
        // Attention branch: h = x_cls + mask1 * (o W_o + b_o).
        add_col_sums(&d_h, d, &mut gr.embedding.cls);
        let mut du = d_h;
        if let Some(mk) = &cache.masks {
            du.iter_mut().zip(&mk.attn_out).for_each(|(g, &k)| *g *= k);
        }
        let d_o = dense_backward(&cache.o, &du, &self.w_o, &mut gr.w_o, &mut gr.b_o);
        // Back through the mix, dropout and softmax into the score and V tables.
        let (dscores, dv) = match &cache.mix {
            Mix::Tables { w, z, drops } => {
                self.mix_tables_backward(batch, cache, w, z, drops, &d_o)
            }
            Mix::Gather { attn, mask } => {
                self.mix_gather_backward(batch, cache, attn, mask.as_deref(), &d_o)
            }
        };
        // Tables: scores = scale q_h . k_h, K = z1 W_k + b_k, V = z1 W_v + b_v, q = z_cls W_q + b_q.
        let scale = S::from_f64(1.0 / (dh as f64).sqrt());
        let mut dk = vec![S::zero(); rows * d];
        let mut dq = vec![S::zero(); d];
        for ((kr, dkr), sr) in cache
            .k
            .chunks_exact(d)
            .zip(dk.chunks_exact_mut(d))
            .zip(dscores.chunks_exact(nh))
        {
            for (h, &ds) in sr.iter().enumerate() {
                let s = ds * scale;
                for j in h * dh..(h + 1) * dh {
                    dq[j] += s * kr[j];
                    dkr[j] = s * cache.q[j];
                }
            }
        }
        let z1 = View::new(&cache.z1, rows, d);
        add_col_sums(&dk, d, &mut gr.b_k);
        add_col_sums(&dv, d, &mut gr.b_v);
        gemm(one, z1.t(), View::new(&dk, rows, d), one, &mut gr.w_k.data);
        gemm(one, z1.t(), View::new(&dv, rows, d), one, &mut gr.w_v.data);
        let z_cls = &cache.z1[2 * t * d..];
        gemm(
            one,
            View::new(z_cls, 1, d).t(),
            View::new(&dq, 1, d),
            one,
            &mut gr.w_q.data,
        );
        gr.b_q.iter_mut().zip(&dq).for_each(|(a, &b)| *a += b);
        let mut dz = vec![S::zero(); rows * d];
        gemm(
            one,
            View::new(&dk, rows, d),
            self.w_k.t(),
            S::zero(),
            &mut dz,
        );
        gemm(one, View::new(&dv, rows, d), self.w_v.t(), one, &mut dz);
        gemm(
            one,
            View::new(&dq, 1, d),
            self.w_q.t(),
            one,
            &mut dz[2 * t * d..],
        );
        // LN1 of each distinct row, then the embedding tables.
        let mut dx = vec![S::zero(); rows * d];
        for (((xh, &rs), dzr), dxr) in cache
            .xhat1
            .chunks_exact(d)
            .zip(&cache.rstd1)
            .zip(dz.chunks_exact(d))
            .zip(dx.chunks_exact_mut(d))
        {
            self.ln1.backward_row(xh, rs, dzr, dxr, &mut gr.ln1);
        }
        for pos in 0..t {
            for b in 0..2 {
                let r = &dx[(2 * pos + b) * d..(2 * pos + b + 1) * d];
                let tok = &mut gr.embedding.tok.data[b * d..(b + 1) * d];
                tok.iter_mut().zip(r).for_each(|(a, &x)| *a += x);
                let p = &mut gr.embedding.pos.data[pos * d..(pos + 1) * d];
                p.iter_mut().zip(r).for_each(|(a, &x)| *a += x);
            }
        }
        gr.embedding
            .cls
            .iter_mut()
            .zip(&dx[2 * t * d..])
            .for_each(|(a, &b)| *a += b);
        Ok(gr)
    }

    /// Backward of [`mix_tables`](Self::mix_tables). With g = dL/do per sample and head,
    /// G = keep g / Z and c = g . o / Z: dL/du_r and dL/dw_r (through Z) sum [G | -c] over the
    /// samples holding row r (one gemm with the transposed one-hot matrix, the \[CLS\] row a
    /// column sum), the dropped entries take their G back (sparse); then dL/dv_r = w_r dL/du_r,
    /// dL/dw_r += v_r . dL/du_r and dL/ds_r = w_r dL/dw_r (M_h cancels from o).
    fn mix_tables_backward(
        &self,
        batch: &TokenBatch,
        cache: &ProtocolCache<S>,
        w: &[S],
        z: &[S],
        drops: &[(usize, usize)],
        d_o: &[S],
    ) -> (Vec<S>, Vec<S>) {
        let m = cache.m;
        let (t, d, nh, dh) = (
            self.context_len(),
            self.width(),
            self.heads,
            self.head_dim(),
        );
        let (rows, nc) = (2 * t + 1, d + nh);
        let keep = cache.masks.as_ref().map_or(S::one(), |mk| mk.keep);
        let mut rhs = vec![S::zero(); m * nc];
        for (((rr, gr), or), zr) in rhs
            .chunks_exact_mut(nc)
            .zip(d_o.chunks_exact(d))
            .zip(cache.o.chunks_exact(d))
            .zip(z.chunks_exact(nh))
        {
            for h in 0..nh {
                let r = h * dh..(h + 1) * dh;
                let inv = S::one() / zr[h];
                for c in r.clone() {
                    rr[c] = keep * gr[c] * inv;
                }
                rr[d + h] = -crate::tensor::dot(&gr[r.clone()], &or[r]) * inv;
            }
        }
        let mut du = vec![S::zero(); rows * nc];
        let mut a = Vec::new();
        for i0 in (0..m).step_by(MIX_BLOCK) {
            let n = MIX_BLOCK.min(m - i0);
            Self::one_hot(batch, i0, n, &mut a);
            gemm(
                S::one(),
                View::new(&a, n, 2 * t).t(),
                View::new(&rhs[i0 * nc..(i0 + n) * nc], n, nc),
                S::one(),
                &mut du[..2 * t * nc],
            );
        }
        add_col_sums(&rhs, nc, &mut du[2 * t * nc..]);
        // Dropped entries, accumulated head-major (as in the forward pass), then added below.
        let mut duh = vec![S::zero(); if drops.is_empty() { 0 } else { rows * d }];
        for &(fo, uo) in drops {
            for (x, &g) in duh[uo..uo + dh].iter_mut().zip(&rhs[fo..fo + dh]) {
                *x -= g;
            }
        }
        let mut dscores = vec![S::zero(); rows * nh];
        let mut dv = vec![S::zero(); rows * d];
        for r in 0..rows {
            for h in 0..nh {
                if !duh.is_empty() {
                    let block = &duh[(h * rows + r) * dh..(h * rows + r + 1) * dh];
                    for (x, &y) in du[r * nc + h * dh..r * nc + (h + 1) * dh]
                        .iter_mut()
                        .zip(block)
                    {
                        *x += y;
                    }
                }
                let wr = w[r * nh + h];
                let mut dw = du[r * nc + d + h];
                for c in h * dh..(h + 1) * dh {
                    dw += cache.v[r * d + c] * du[r * nc + c];
                    dv[r * d + c] = wr * du[r * nc + c];
                }
                dscores[r * nh + h] = wr * dw;
            }
        }
        (dscores, dv)
    }

    /// Backward of [`mix_gather`](Self::mix_gather), per sample and head.
    fn mix_gather_backward(
        &self,
        batch: &TokenBatch,
        cache: &ProtocolCache<S>,
        attn: &[S],
        mask: Option<&[S]>,
        d_o: &[S],
    ) -> (Vec<S>, Vec<S>) {
        let (t, d, nh, dh) = (
            self.context_len(),
            self.width(),
            self.heads,
            self.head_dim(),
        );
        let rows = 2 * t + 1;
        let mut dscores = vec![S::zero(); rows * nh];
        let mut dv = vec![S::zero(); rows * d];
        let mut row_of = vec![0usize; t + 1];
        let mut da = vec![S::zero(); t + 1];
        for i in 0..cache.m {
            for (pos, r) in row_of.iter_mut().enumerate() {
                *r = Self::row_at(batch, i, pos);
            }
            for h in 0..nh {
                let base = (i * nh + h) * (t + 1);
                let a = &attn[base..base + t + 1];
                let doh = &d_o[i * d + h * dh..i * d + (h + 1) * dh];
                let mk = mask.map(|mk| &mk[base..base + t + 1]);
                for (j, (&r, daj)) in row_of.iter().zip(da.iter_mut()).enumerate() {
                    let (vr, dvr) = (
                        &cache.v[r * d + h * dh..r * d + (h + 1) * dh],
                        &mut dv[r * d + h * dh..r * d + (h + 1) * dh],
                    );
                    let k = mk.map_or(S::one(), |mk| mk[j]);
                    let w = a[j] * k;
                    let mut s = S::zero();
                    for ((&vj, dvj), &g) in vr.iter().zip(dvr.iter_mut()).zip(doh) {
                        s += vj * g;
                        *dvj += w * g;
                    }
                    *daj = s * k;
                }
                softmax_backward_in_place(a, &mut da);
                for (&r, &ds) in row_of.iter().zip(&da) {
                    dscores[r * nh + h] += ds;
                }
            }
        }
        (dscores, dv)
    }

    /// The plain computation, one sample at a time and no tables: X~ = [x_1..x_T; x_cls], LN1
    /// of every row, K, V of every row, the \[CLS\] query, softmax, and the rest as in
    /// [`forward`](Self::forward) in evaluation mode. The reference for the table path.
    pub fn forward_plain(&self, batch: &TokenBatch) -> Result<Vec<S>> {
        self.check_batch(batch)?;
        let (t, d, nh, dh) = (
            self.context_len(),
            self.width(),
            self.heads,
            self.head_dim(),
        );
        let e = &self.embedding;
        let mut preds = Vec::with_capacity(batch.num_samples());
        for i in 0..batch.num_samples() {
            let mut x = Vec::with_capacity((t + 1) * d);
            for (pos, &b) in batch.sample(i).iter().enumerate() {
                let b = usize::from(b);
                x.extend((0..d).map(|j| e.tok.get(b, j) + e.pos.get(pos, j)));
            }
            x.extend_from_slice(&e.cls);
            let mut z = vec![S::zero(); x.len()];
            let mut xh = vec![S::zero(); d];
            for (xr, zr) in x.chunks_exact(d).zip(z.chunks_exact_mut(d)) {
                self.ln1.forward_row(xr, &mut xh, zr);
            }
            let k = affine(&z, t + 1, &self.w_k, &self.b_k);
            let v = affine(&z, t + 1, &self.w_v, &self.b_v);
            let q = affine(&z[t * d..], 1, &self.w_q, &self.b_q);
            let mut o = vec![S::zero(); d];
            for h in 0..nh {
                let r = h * dh..(h + 1) * dh;
                let mut a: Vec<S> = (0..=t)
                    .map(|s| {
                        let kr = &k[s * d..(s + 1) * d];
                        crate::tensor::dot(&q[r.clone()], &kr[r.clone()])
                            / S::from_f64((dh as f64).sqrt())
                    })
                    .collect();
                softmax_in_place(&mut a);
                for (s, &w) in a.iter().enumerate() {
                    for j in r.clone() {
                        o[j] += w * v[s * d + j];
                    }
                }
            }
            let mut hres = affine(&o, 1, &self.w_o, &self.b_o);
            hres.iter_mut().zip(&e.cls).for_each(|(a, &c)| *a += c);
            let mut y = vec![S::zero(); d];
            self.ln2.forward_row(&hres, &mut xh, &mut y);
            let mut g = affine(&y, 1, &self.w_1, &self.b_1);
            PROTOCOL_ACTIVATION.apply_slice(&mut g);
            let mut out = affine(&g, 1, &self.w_2, &self.b_2);
            out.iter_mut().zip(&hres).for_each(|(a, &h)| *a += h);
            preds.push(crate::tensor::dot(&out, &self.w) + self.c[0]);
        }
        Ok(preds)
    }

    /// The head's matrices in the norms' convention: W_Q, W_K, W_V (d x d/H) as column
    /// blocks and W_C = the matching row block of W_O (d/H x d). Biases and LayerNorm are not
    /// part of these matrices (docs/experiments.md, "paper protocol").
    pub fn head_matrices(&self, h: usize) -> [Mat<S>; 4] {
        let (d, dh) = (self.width(), self.head_dim());
        let block = |rows: usize, cols: usize, f: &dyn Fn(usize, usize) -> S| Mat {
            rows,
            cols,
            data: (0..rows * cols).map(|e| f(e / cols, e % cols)).collect(),
        };
        let col_block = |w: &Mat<S>| block(d, dh, &|i, j| w.get(i, h * dh + j));
        [
            col_block(&self.w_q),
            col_block(&self.w_k),
            col_block(&self.w_v),
            block(dh, d, &|i, j| self.w_o.get(h * dh + i, j)),
        ]
    }
}

impl<S: Real> Parameters<S> for ProtocolModel<S> {
    fn names(&self) -> Vec<String> {
        [
            "tok", "pos", "cls", "ln1.gain", "ln1.bias", "w_q", "w_k", "w_v", "b_q", "b_k", "b_v",
            "w_o", "b_o", "ln2.gain", "ln2.bias", "w_1", "b_1", "w_2", "b_2", "w", "c",
        ]
        .map(String::from)
        .to_vec()
    }
    fn tensors(&self) -> Vec<&[S]> {
        vec![
            &self.embedding.tok.data,
            &self.embedding.pos.data,
            &self.embedding.cls,
            &self.ln1.gain,
            &self.ln1.bias,
            &self.w_q.data,
            &self.w_k.data,
            &self.w_v.data,
            &self.b_q,
            &self.b_k,
            &self.b_v,
            &self.w_o.data,
            &self.b_o,
            &self.ln2.gain,
            &self.ln2.bias,
            &self.w_1.data,
            &self.b_1,
            &self.w_2.data,
            &self.b_2,
            &self.w,
            &self.c,
        ]
    }
    fn tensors_mut(&mut self) -> Vec<&mut [S]> {
        vec![
            &mut self.embedding.tok.data,
            &mut self.embedding.pos.data,
            &mut self.embedding.cls,
            &mut self.ln1.gain,
            &mut self.ln1.bias,
            &mut self.w_q.data,
            &mut self.w_k.data,
            &mut self.w_v.data,
            &mut self.b_q,
            &mut self.b_k,
            &mut self.b_v,
            &mut self.w_o.data,
            &mut self.b_o,
            &mut self.ln2.gain,
            &mut self.ln2.bias,
            &mut self.w_1.data,
            &mut self.b_1,
            &mut self.w_2.data,
            &mut self.b_2,
            &mut self.w,
            &mut self.c,
        ]
    }
    fn zeros_like(&self) -> Self {
        let z = |m: &Mat<S>| Mat::zeros(m.rows, m.cols);
        let zv = |v: &[S]| vec![S::zero(); v.len()];
        ProtocolModel {
            embedding: Embedding {
                tok: z(&self.embedding.tok),
                pos: z(&self.embedding.pos),
                cls: zv(&self.embedding.cls),
            },
            ln1: self.ln1.zeros_like(),
            w_q: z(&self.w_q),
            w_k: z(&self.w_k),
            w_v: z(&self.w_v),
            b_q: zv(&self.b_q),
            b_k: zv(&self.b_k),
            b_v: zv(&self.b_v),
            w_o: z(&self.w_o),
            b_o: zv(&self.b_o),
            ln2: self.ln2.zeros_like(),
            w_1: z(&self.w_1),
            b_1: zv(&self.b_1),
            w_2: z(&self.w_2),
            b_2: zv(&self.b_2),
            w: zv(&self.w),
            c: zv(&self.c),
            heads: self.heads,
        }
    }
}

#[cfg(test)]
mod tests;
