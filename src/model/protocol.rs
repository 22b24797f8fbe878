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
//! the 2T + 1 distinct rows (row 2t + b, and 2T for \[CLS\]); each sample gathers its T + 1
//! scores per head, applies softmax and dropout, and mixes the gathered values. The plain
//! per-sample computation [`ProtocolModel::forward_plain`] (no tables) is the reference the
//! tests hold this path to; gradients are tested against finite differences.
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

/// Inverted-dropout factors (0 or 1 / (1 - p)) for every site the \[CLS\] output depends on:
/// attention probabilities (m x H x (T + 1)), the attention branch (m x d), the MLP hidden
/// layer (m x mlp_width) and the MLP branch (m x d).
#[derive(Clone, Debug, PartialEq)]
pub struct DropoutMasks<S> {
    pub attn: Vec<S>,
    pub attn_out: Vec<S>,
    pub hidden: Vec<S>,
    pub mlp_out: Vec<S>,
}

impl<S: Real> DropoutMasks<S> {
    /// Draws the masks for `m` samples, in the field order above, one u32 per entry (two per
    /// `next_u64`): kept iff u < (1 - p) 2^32. `p` must lie in [0, 1).
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
        let threshold = ((1.0 - p) * 4_294_967_296.0) as u64;
        let keep = S::from_f64(1.0 / (1.0 - p));
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
            attn: draw(m * h * (t + 1)),
            attn_out: draw(m * d),
            hidden: draw(m * f),
            mlp_out: draw(m * d),
        })
    }
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
    /// Softmax probabilities before dropout, m x H x (T + 1).
    attn: Vec<S>,
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

fn normal<R: Rng + ?Sized>(rng: &mut R, std: f64) -> f64 {
    // Box-Muller; 1 - u in (0, 1] keeps the log finite.
    let (u, v) = (rng.random::<f64>(), rng.random::<f64>());
    std * (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Column sums of a row-major n x c block, added to `acc`.
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

fn add_col_sums<S: Real>(x: &[S], cols: usize, acc: &mut [S]) {
    for row in x.chunks_exact(cols) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += v;
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

    /// The token-table forward pass; `masks` (from [`DropoutMasks::draw`] for this batch
    /// size) switches on training-mode dropout.
    pub fn forward(
        &self,
        batch: &TokenBatch,
        masks: Option<DropoutMasks<S>>,
    ) -> Result<ProtocolCache<S>> {
        self.check_batch(batch)?;
        let m = batch.num_samples();
        let (t, d, nh, dh, f) = (
            self.context_len(),
            self.width(),
            self.heads,
            self.head_dim(),
            self.mlp_width(),
        );
        if let Some(mk) = &masks {
            let want = [m * nh * (t + 1), m * d, m * f, m * d];
            let got = [
                mk.attn.len(),
                mk.attn_out.len(),
                mk.hidden.len(),
                mk.mlp_out.len(),
            ];
            if want != got {
                return Err(Error::shape(
                    "dropout masks",
                    format!("{want:?}"),
                    format!("{got:?}"),
                ));
            }
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
        // Per sample: gather, softmax, dropout, mix.
        let mut attn = vec![S::zero(); m * nh * (t + 1)];
        let mut o = vec![S::zero(); m * d];
        let mut row_of = vec![0usize; t + 1];
        let mut weights = vec![S::zero(); t + 1];
        for i in 0..m {
            for (pos, (r, &b)) in row_of.iter_mut().zip(batch.sample(i)).enumerate() {
                *r = 2 * pos + usize::from(b);
            }
            row_of[t] = 2 * t;
            for h in 0..nh {
                let base = (i * nh + h) * (t + 1);
                let a = &mut attn[base..base + t + 1];
                for (aj, &r) in a.iter_mut().zip(&row_of) {
                    *aj = scores[r * nh + h];
                }
                softmax_in_place(a);
                weights.copy_from_slice(a);
                if let Some(mk) = &masks {
                    for (wj, &mj) in weights.iter_mut().zip(&mk.attn[base..base + t + 1]) {
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
            attn,
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
        // Per sample: back through the mix, dropout and softmax into the score and V tables.
        let mut dscores = vec![S::zero(); rows * nh];
        let mut dv = vec![S::zero(); rows * d];
        let mut row_of = vec![0usize; t + 1];
        let mut da = vec![S::zero(); t + 1];
        for i in 0..m {
            for (pos, (r, &b)) in row_of.iter_mut().zip(batch.sample(i)).enumerate() {
                *r = 2 * pos + usize::from(b);
            }
            row_of[t] = 2 * t;
            for h in 0..nh {
                let base = (i * nh + h) * (t + 1);
                let a = &cache.attn[base..base + t + 1];
                let doh = &d_o[i * d + h * dh..i * d + (h + 1) * dh];
                let mask = cache.masks.as_ref().map(|mk| &mk.attn[base..base + t + 1]);
                for (j, (&r, daj)) in row_of.iter().zip(da.iter_mut()).enumerate() {
                    let (vr, dvr) = (
                        &cache.v[r * d + h * dh..r * d + (h + 1) * dh],
                        &mut dv[r * d + h * dh..r * d + (h + 1) * dh],
                    );
                    let k = mask.map_or(one, |mk| mk[j]);
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
