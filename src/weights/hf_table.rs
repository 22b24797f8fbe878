//! The per-layer, per-head norms table of a Hugging Face checkpoint ([`HfTable`], built by
//! [`hf_table`]), the exact bias absorption, LayerNorm statistics, the accounting of every
//! tensor, and the export of the augmented per-head matrices ([`export_augmented`]).
//!
//! Conventions (docs/derivations.md#1-conventions): a weight maps a row `x` to `x W`,
//! `W in R^{d_in x d_out}`; PyTorch `Linear` (out, in) weights are transposed, GPT-2 `Conv1D`
//! weights are already (in, out). Head `h` owns columns `h dh..(h+1) dh` of W_Q, W_K, W_V and
//! rows `h dh..(h+1) dh` of W_O (that block is `W_C^h in R^{dh x d}`). Both families divide
//! scores by `sqrt(dh)`; the factor is folded into W_Q and b_Q. `Theta = W_K W_Q^T` (d x d):
//! the score of key `s` for query `t` is `x_s^T Theta x_t`; `||Theta||_{2,1}` sums column
//! norms (columns = query coordinates).
//!
//! Biases are absorbed exactly (docs/pytorch.md#biases): with `x~ = [x; 1]`,
//! `W_Q_aug = [W_Q; b_Q^T]`, `W_K_aug = [W_K; b_K^T]` ((d+1) x dh),
//! `Theta_aug = W_K_aug W_Q_aug^T`, `W_V_aug = [W_V; b_V^T]`, and `B_X -> sqrt(B_X^2 + 1)`.
//! The output bias b_O is one per layer (not per head) and is reported.

use super::hf::{Arch, HfCheckpoint};
use crate::error::{Error, Result, check};
use nalgebra::{DMatrix, DVector};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// What the table is computed with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HfOptions {
    /// Heads per layer; must equal config.json's value when given (a mismatch is refused).
    pub heads: Option<usize>,
    /// Sequence length T fed to the model (special tokens included); checked against the
    /// positional table.
    pub context_len: Option<usize>,
    /// The B_X a bound is to be evaluated with: a warning is emitted for every layer whose
    /// input rows may be longer.
    pub b_x: Option<f64>,
    /// Lower bound on the per-row variance entering every LayerNorm (user-given; the only
    /// way the LayerNorm Lipschitz constant is finite).
    pub variance_floor: Option<f64>,
    /// Name of a read-out tensor (shape (d) or (1, d)), e.g. a one-logit classifier.
    pub readout: Option<String>,
}

/// One row of the per-head table. Every norm is of the named matrix in our (in, out)
/// orientation with `1/sqrt(dh)` folded into W_Q.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeadRow {
    pub layer: usize,
    pub head: usize,
    /// `||Theta||_F`, `Theta = W_K W_Q^T` (d x d).
    pub theta_fro: f64,
    /// `||Theta||_2`.
    pub theta_spectral: f64,
    /// `||Theta||_{2,1}` (columns = query coordinates).
    pub theta_21: f64,
    /// `||Theta^T||_{2,1}`.
    pub theta_t_21: f64,
    /// `||W_V||_2`, `W_V in R^{d x dh}`.
    pub w_v_spectral: f64,
    pub w_v_fro: f64,
    pub w_v_21: f64,
    /// `||W_C^h||_2`, `W_C^h in R^{dh x d}` (rows of W_O).
    pub w_c_spectral: f64,
    pub w_c_fro: f64,
    pub w_c_21: f64,
    /// `||b_Q||_2` (scaled by `1/sqrt(dh)` like W_Q), `||b_K||_2`, `||b_V||_2`.
    pub b_q_l2: f64,
    pub b_k_l2: f64,
    pub b_v_l2: f64,
    /// `||Theta_aug||_F`, `Theta_aug = W_K_aug W_Q_aug^T` ((d+1) x (d+1)).
    pub theta_aug_fro: f64,
    pub theta_aug_spectral: f64,
    pub theta_aug_21: f64,
    /// `||W_V_aug||_2`, `W_V_aug = [W_V; b_V^T]` ((d+1) x dh).
    pub w_v_aug_spectral: f64,
    pub w_v_aug_fro: f64,
    pub w_v_aug_21: f64,
}

/// One LayerNorm: its parameters' norms and what they bound.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerNormRow {
    /// Tensor name of its weight (gamma), prefix included.
    pub tensor: String,
    /// `embeddings`, `attention output`, `block output`, `pre-attention (ln_1)`,
    /// `pre-MLP (ln_2)`, `final (ln_f)`.
    pub site: String,
    pub layer: Option<usize>,
    pub gamma_inf: f64,
    pub gamma_l2: f64,
    pub beta_l2: f64,
    /// `||LN(x)||_2 <= ||gamma||_inf sqrt(d) + ||beta||_2` for every x (rounded up; rigorous).
    pub output_norm_bound: f64,
    /// `||gamma||_inf / sqrt(floor + eps)`: bound on the Jacobian's spectral norm where the
    /// row variance is `>= floor` (only with a variance floor; else `None`: not bounded).
    pub lipschitz: Option<f64>,
}

/// One layer: the quantities that are not per head.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerRow {
    pub layer: usize,
    /// `rho_l = 1 + sum_h ||W_C^h||_2 ||W_V^h||_2 (1 + 2 ||Theta^h||_2)` (docs/derivations.md,
    /// (I17) with `L_sigma = 1`, `kappa = 1`): Lipschitz constant of the attention sublayer on
    /// rows in the unit ball (the theory's model, Pi instead of LayerNorm).
    pub rho: f64,
    /// The same from the augmented matrices (`W_V_aug`, `Theta_aug`, `W_C^h`).
    pub rho_aug: f64,
    /// Bound on the l2 norm of every row entering this layer's attention, and its source.
    pub b_x_in: f64,
    pub b_x_in_source: String,
    /// `sqrt(b_x_in^2 + 1)`: the row bound of `x~ = [x; 1]` (rounded up).
    pub b_x_in_aug: f64,
    /// `||W_O||_2`, `||W_O||_F` (all heads, (d x d)), `||b_O||_2`.
    pub w_o_spectral: f64,
    pub w_o_fro: f64,
    pub b_o_l2: f64,
    /// MLP `W_1 in R^{d x P}`, `W_2 in R^{P x d}`: spectral and Frobenius norms, bias norms.
    pub mlp_in_spectral: f64,
    pub mlp_in_fro: f64,
    pub mlp_in_bias_l2: f64,
    pub mlp_out_spectral: f64,
    pub mlp_out_fro: f64,
    pub mlp_out_bias_l2: f64,
}

/// Row bounds of the raw embedding sum (before any LayerNorm).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddingRow {
    /// Max row norm of the token table.
    pub token_max_row: f64,
    /// Max row norm of the positional table over the positions a length-T input uses (all
    /// rows without a context length).
    pub position_max_row: f64,
    pub positions_used: usize,
    pub position_rows: usize,
    /// Max row norm of the token-type table (BERT family), 0 without one.
    pub token_type_max_row: f64,
    /// Their sum: a bound on every raw embedding row (triangle inequality).
    pub sum_bound: f64,
}

/// The read-out, when one is named.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadoutRow {
    pub tensor: String,
    pub w_l2: f64,
}

/// One tensor of the checkpoint and what the tool did with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorRow {
    pub name: String,
    pub file: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    pub used: bool,
    /// Used: the quantities it enters. Not used: the reason.
    pub role: String,
}

/// The whole report of a checkpoint: every row of every table, warnings and statements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HfTable {
    pub dir: String,
    pub model_type: String,
    pub architecture: Option<String>,
    pub family: Arch,
    pub causal: bool,
    pub layers: usize,
    pub heads: usize,
    pub width: usize,
    pub head_dim: usize,
    pub layer_norm_eps: f64,
    pub context_len: Option<usize>,
    pub variance_floor: Option<f64>,
    pub heads_table: Vec<HeadRow>,
    pub layers_table: Vec<LayerRow>,
    pub layer_norms: Vec<LayerNormRow>,
    pub embeddings: Option<EmbeddingRow>,
    pub readout: Option<ReadoutRow>,
    pub tensors: Vec<TensorRow>,
    pub warnings: Vec<String>,
    /// What is and is not claimed (read-out, LayerNorm, MLP, causal mask).
    pub statements: Vec<String>,
}

/// One layer's weights in our convention (`1/sqrt(dh)` folded into W_Q, b_Q).
pub(crate) struct LayerWeights {
    pub w_q: DMatrix<f64>,
    pub w_k: DMatrix<f64>,
    pub w_v: DMatrix<f64>,
    pub b_q: DVector<f64>,
    pub b_k: DVector<f64>,
    pub b_v: DVector<f64>,
    pub w_o: DMatrix<f64>,
    pub b_o: DVector<f64>,
}

/// One head's augmented matrices: `W_Q_aug`, `W_K_aug`, `W_V_aug` ((d+1) x dh), `W_C` (dh x d).
pub struct AugmentedHead {
    pub w_q_aug: DMatrix<f64>,
    pub w_k_aug: DMatrix<f64>,
    pub w_v_aug: DMatrix<f64>,
    pub w_c: DMatrix<f64>,
}

impl AugmentedHead {
    /// `Theta_aug = W_K_aug W_Q_aug^T`.
    pub fn theta_aug(&self) -> DMatrix<f64> {
        &self.w_k_aug * self.w_q_aug.transpose()
    }
}

/// Tensor names (without prefix) of one family, `{l}` the layer.
struct Names {
    q: &'static str,
    k: &'static str,
    v: &'static str,
    qkv: &'static str,
    o: &'static str,
    mlp_in: &'static str,
    mlp_out: &'static str,
    /// (site, weight template) of the per-layer LayerNorms, in forward order.
    ln: [(&'static str, &'static str); 2],
}

const BERT: Names = Names {
    q: "encoder.layer.{l}.attention.self.query",
    k: "encoder.layer.{l}.attention.self.key",
    v: "encoder.layer.{l}.attention.self.value",
    qkv: "",
    o: "encoder.layer.{l}.attention.output.dense",
    mlp_in: "encoder.layer.{l}.intermediate.dense",
    mlp_out: "encoder.layer.{l}.output.dense",
    ln: [
        (
            "attention output",
            "encoder.layer.{l}.attention.output.LayerNorm",
        ),
        ("block output", "encoder.layer.{l}.output.LayerNorm"),
    ],
};

const GPT2: Names = Names {
    q: "",
    k: "",
    v: "",
    qkv: "h.{l}.attn.c_attn",
    o: "h.{l}.attn.c_proj",
    mlp_in: "h.{l}.mlp.c_fc",
    mlp_out: "h.{l}.mlp.c_proj",
    ln: [
        ("pre-attention (ln_1)", "h.{l}.ln_1"),
        ("pre-MLP (ln_2)", "h.{l}.ln_2"),
    ],
};

fn names(arch: Arch) -> &'static Names {
    match arch {
        Arch::Bert => &BERT,
        Arch::Gpt2 => &GPT2,
    }
}

fn at(t: &str, l: usize) -> String {
    t.replace("{l}", &l.to_string())
}

/// Records which tensors were read and for what.
struct Ledger<'a> {
    ck: &'a HfCheckpoint,
    uses: BTreeMap<String, String>,
}

impl Ledger<'_> {
    fn vec(&mut self, name: &str, n: usize, role: &str) -> Result<DVector<f64>> {
        let v = self.ck.get(name, &[n])?;
        self.mark(name, role);
        Ok(DVector::from_vec(v))
    }

    /// A weight as (in x out): `Linear` stores (out, in), `Conv1D` (in, out).
    fn weight(&mut self, name: &str, inp: usize, out: usize, role: &str) -> Result<DMatrix<f64>> {
        let m = match self.ck.config.arch {
            Arch::Bert => {
                let v = self.ck.get(name, &[out, inp])?;
                DMatrix::from_row_slice(out, inp, &v).transpose()
            }
            Arch::Gpt2 => {
                let v = self.ck.get(name, &[inp, out])?;
                DMatrix::from_row_slice(inp, out, &v)
            }
        };
        self.mark(name, role);
        Ok(m)
    }

    fn mark(&mut self, name: &str, role: &str) {
        let e = self.uses.entry(self.ck.full(name)).or_default();
        if !e.is_empty() {
            e.push_str("; ");
        }
        e.push_str(role);
    }
}

/// The number just above `x` (outward rounding of a computed upper bound).
fn up(x: f64) -> f64 {
    if x.is_finite() { x.next_up() } else { x }
}

/// `||A||_2` through a thin QR (the spectral norm of the small triangular factor).
pub(crate) fn spectral(a: &DMatrix<f64>) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    let r = if a.nrows() >= a.ncols() {
        a.clone().qr().r()
    } else {
        a.transpose().qr().r()
    };
    r.singular_values().max()
}

/// `||A||_{2,1}`: sum of column l2 norms.
pub(crate) fn norm_21(a: &DMatrix<f64>) -> f64 {
    a.column_iter().map(|c| c.norm()).sum()
}

/// Max row l2 norm.
fn max_row(a: &DMatrix<f64>) -> f64 {
    a.row_iter().map(|r| r.norm()).fold(0.0, f64::max)
}

fn with_row(m: &DMatrix<f64>, row: &DVector<f64>) -> DMatrix<f64> {
    let mut a = m.clone().insert_row(m.nrows(), 0.0);
    for j in 0..m.ncols() {
        a[(m.nrows(), j)] = row[j];
    }
    a
}

/// Reads layer `l`'s attention weights (recording their use in `ledger`).
fn layer_weights(lg: &mut Ledger<'_>, l: usize, heads: usize) -> Result<LayerWeights> {
    let c = &lg.ck.config;
    let (d, arch) = (c.width, c.arch);
    let nm = names(arch);
    let scale = 1.0 / ((d / heads) as f64).sqrt();
    let role = |what: &str| format!("{what}, layer {l}, every head");
    let (w_q, w_k, w_v, b_q, b_k, b_v) = match arch {
        Arch::Bert => {
            let w = |lg: &mut Ledger<'_>, t: &str, what: &str| {
                lg.weight(&format!("{}.weight", at(t, l)), d, d, &role(what))
            };
            let b = |lg: &mut Ledger<'_>, t: &str, what: &str| {
                lg.vec(&format!("{}.bias", at(t, l)), d, &role(what))
            };
            (
                w(lg, nm.q, "W_Q: Theta = W_K W_Q^T norms, rho_l")?,
                w(lg, nm.k, "W_K: Theta = W_K W_Q^T norms, rho_l")?,
                w(lg, nm.v, "W_V norms, rho_l")?,
                b(lg, nm.q, "b_Q: absorbed into Theta_aug")?,
                b(lg, nm.k, "b_K: absorbed into Theta_aug")?,
                b(lg, nm.v, "b_V: absorbed into W_V_aug")?,
            )
        }
        Arch::Gpt2 => {
            let base = at(nm.qkv, l);
            let w = lg.weight(
                &format!("{base}.weight"),
                d,
                3 * d,
                &role("W_Q | W_K | W_V (fused, Conv1D): Theta, W_V norms, rho_l"),
            )?;
            let b = lg.vec(
                &format!("{base}.bias"),
                3 * d,
                &role("b_Q | b_K | b_V: absorbed into Theta_aug, W_V_aug"),
            )?;
            (
                w.columns(0, d).into_owned(),
                w.columns(d, d).into_owned(),
                w.columns(2 * d, d).into_owned(),
                b.rows(0, d).into_owned(),
                b.rows(d, d).into_owned(),
                b.rows(2 * d, d).into_owned(),
            )
        }
    };
    let o = at(nm.o, l);
    let w_o = lg.weight(
        &format!("{o}.weight"),
        d,
        d,
        &role("W_O: W_C^h norms, rho_l"),
    )?;
    let b_o = lg.vec(
        &format!("{o}.bias"),
        d,
        &role("b_O: norm reported (layer bias)"),
    )?;
    Ok(LayerWeights {
        w_q: w_q * scale,
        w_k,
        w_v,
        b_q: b_q * scale,
        b_k,
        b_v,
        w_o,
        b_o,
    })
}

impl LayerWeights {
    /// Head `h`'s augmented matrices (biases appended as the last row).
    pub(crate) fn head(&self, h: usize, dh: usize) -> AugmentedHead {
        let c0 = h * dh;
        AugmentedHead {
            w_q_aug: with_row(
                &self.w_q.columns(c0, dh).into_owned(),
                &self.b_q.rows(c0, dh).into_owned(),
            ),
            w_k_aug: with_row(
                &self.w_k.columns(c0, dh).into_owned(),
                &self.b_k.rows(c0, dh).into_owned(),
            ),
            w_v_aug: with_row(
                &self.w_v.columns(c0, dh).into_owned(),
                &self.b_v.rows(c0, dh).into_owned(),
            ),
            w_c: self.w_o.rows(c0, dh).into_owned(),
        }
    }
}

/// The row of head `h` from its augmented matrices (the plain ones are their first d rows).
fn head_row(layer: usize, head: usize, a: &AugmentedHead) -> HeadRow {
    let d = a.w_q_aug.nrows() - 1;
    let plain = |m: &DMatrix<f64>| m.rows(0, d).into_owned();
    let (w_q, w_k, w_v) = (plain(&a.w_q_aug), plain(&a.w_k_aug), plain(&a.w_v_aug));
    let theta = &w_k * w_q.transpose();
    let theta_aug = a.theta_aug();
    let last = |m: &DMatrix<f64>| m.row(d).norm();
    HeadRow {
        layer,
        head,
        theta_fro: theta.norm(),
        theta_spectral: spectral(&theta),
        theta_21: norm_21(&theta),
        theta_t_21: norm_21(&theta.transpose()),
        w_v_spectral: spectral(&w_v),
        w_v_fro: w_v.norm(),
        w_v_21: norm_21(&w_v),
        w_c_spectral: spectral(&a.w_c),
        w_c_fro: a.w_c.norm(),
        w_c_21: norm_21(&a.w_c),
        b_q_l2: last(&a.w_q_aug),
        b_k_l2: last(&a.w_k_aug),
        b_v_l2: last(&a.w_v_aug),
        theta_aug_fro: theta_aug.norm(),
        theta_aug_spectral: spectral(&theta_aug),
        theta_aug_21: norm_21(&theta_aug),
        w_v_aug_spectral: spectral(&a.w_v_aug),
        w_v_aug_fro: a.w_v_aug.norm(),
        w_v_aug_21: norm_21(&a.w_v_aug),
    }
}

fn layer_norm(
    lg: &mut Ledger<'_>,
    base: &str,
    site: &str,
    layer: Option<usize>,
    floor: Option<f64>,
) -> Result<LayerNormRow> {
    let c = &lg.ck.config;
    let (d, eps) = (c.width, c.layer_norm_eps);
    // BERT checkpoints converted from TF may name them gamma/beta.
    let (wn, bn) = if lg.ck.has(&format!("{base}.weight")) || !lg.ck.has(&format!("{base}.gamma")) {
        (format!("{base}.weight"), format!("{base}.bias"))
    } else {
        (format!("{base}.gamma"), format!("{base}.beta"))
    };
    let role = "LayerNorm stats: bound on the next rows' norm (B_X)";
    let g = lg.vec(&wn, d, role)?;
    let b = lg.vec(&bn, d, role)?;
    let gamma_inf = g.amax();
    Ok(LayerNormRow {
        tensor: lg.ck.full(&wn),
        site: site.into(),
        layer,
        gamma_inf,
        gamma_l2: g.norm(),
        beta_l2: b.norm(),
        output_norm_bound: up(up(gamma_inf * up((d as f64).sqrt())) + b.norm()),
        lipschitz: floor.map(|f| up(gamma_inf / (f + eps).sqrt())),
    })
}

fn aug_bound(b: f64) -> f64 {
    up((up(b * b) + 1.0).sqrt())
}

/// Builds the full table of `ck` (every tensor read once, its use recorded).
pub fn hf_table(ck: &HfCheckpoint, opts: &HfOptions) -> Result<HfTable> {
    let c = &ck.config;
    let (d, arch) = (c.width, c.arch);
    if let Some(h) = opts.heads
        && h != c.heads
    {
        return Err(Error::invalid(
            "heads",
            h,
            format!(
                "config.json's value {} (num_attention_heads / n_head): a different split of the \
                 width would measure other matrices",
                c.heads
            ),
        ));
    }
    if let Some(b) = opts.b_x {
        check::positive("b_x", b)?;
    }
    if let Some(f) = opts.variance_floor {
        check::positive("variance_floor", f)?;
    }
    let heads = c.heads;
    let dh = d / heads;
    let nm = names(arch);
    let mut lg = Ledger {
        ck,
        uses: BTreeMap::new(),
    };
    let mut warnings = Vec::new();
    let mut statements = Vec::new();

    // Embeddings and the positional table.
    let (tok, pos, typ, emb_ln) = match arch {
        Arch::Bert => (
            "embeddings.word_embeddings.weight",
            "embeddings.position_embeddings.weight",
            Some("embeddings.token_type_embeddings.weight"),
            Some("embeddings.LayerNorm"),
        ),
        Arch::Gpt2 => ("wte.weight", "wpe.weight", None, None),
    };
    let offset = if matches!(c.model_type.as_str(), "roberta" | "xlm-roberta") {
        2
    } else {
        0
    };
    let table = |lg: &mut Ledger<'_>, name: &str, role: &str| -> Result<Option<DMatrix<f64>>> {
        match ck.shape(name).map(<[usize]>::to_vec) {
            None => Ok(None),
            Some(s) if s.len() == 2 && s[1] == d => {
                let v = ck.get(name, &s)?;
                lg.mark(name, role);
                Ok(Some(DMatrix::from_row_slice(s[0], s[1], &v)))
            }
            Some(s) => Err(Error::shape(
                format!("tensor `{}`", ck.full(name)),
                format!("[rows, {d}] (width from config.json)"),
                format!("{s:?}"),
            )),
        }
    };
    let pos_t = table(
        &mut lg,
        pos,
        "positional table: raw-embedding row bound; context_len check",
    )?;
    if let (Some(p), Some(t)) = (&pos_t, opts.context_len) {
        let need = t + offset;
        let cfg_rows = c.max_positions.unwrap_or(p.nrows());
        if need > p.nrows() || need > cfg_rows {
            return Err(Error::invalid(
                "context_len",
                t,
                format!(
                    "at most {} (positional table `{}` has {} rows, config.json says {}{})",
                    p.nrows().min(cfg_rows).saturating_sub(offset),
                    ck.full(pos),
                    p.nrows(),
                    cfg_rows,
                    if offset > 0 {
                        ", RoBERTa positions start at 2"
                    } else {
                        ""
                    }
                ),
            ));
        }
    }
    if let (Some(p), Some(m)) = (&pos_t, c.max_positions)
        && p.nrows() != m
    {
        warnings.push(format!(
            "positional table `{}` has {} rows but config.json says {m} positions",
            ck.full(pos),
            p.nrows()
        ));
    }
    let tok_t = table(&mut lg, tok, "token table: raw-embedding row bound")?;
    let typ_t = match typ {
        Some(n) => table(&mut lg, n, "token-type table: raw-embedding row bound")?,
        None => None,
    };
    let embeddings = match (&tok_t, &pos_t) {
        (Some(tk), Some(p)) => {
            let used = opts
                .context_len
                .map_or(p.nrows(), |t| (t + offset).min(p.nrows()));
            let tm = max_row(tk);
            let pm = max_row(&p.rows(0, used).into_owned());
            let ym = typ_t.as_ref().map_or(0.0, max_row);
            Some(EmbeddingRow {
                token_max_row: tm,
                position_max_row: pm,
                positions_used: used,
                position_rows: p.nrows(),
                token_type_max_row: ym,
                sum_bound: up(up(tm + pm) + ym),
            })
        }
        _ => None,
    };

    let mut layer_norms = Vec::new();
    let mut prev_bound: Option<(f64, String)> = match emb_ln {
        Some(n) => {
            let r = layer_norm(&mut lg, n, "embeddings", None, opts.variance_floor)?;
            let b = (r.output_norm_bound, format!("LayerNorm `{}`", r.tensor));
            layer_norms.push(r);
            Some(b)
        }
        None => embeddings.as_ref().map(|e| {
            (
                e.sum_bound,
                "raw embedding sum (token + position rows)".into(),
            )
        }),
    };

    let mut heads_table = Vec::new();
    let mut layers_table = Vec::new();
    for l in 0..c.layers {
        let lw = layer_weights(&mut lg, l, heads)?;
        let mut rho = 1.0;
        let mut rho_aug = 1.0;
        for h in 0..heads {
            let a = lw.head(h, dh);
            let r = head_row(l, h, &a);
            rho += r.w_c_spectral * r.w_v_spectral * (1.0 + 2.0 * r.theta_spectral);
            rho_aug += r.w_c_spectral * r.w_v_aug_spectral * (1.0 + 2.0 * r.theta_aug_spectral);
            heads_table.push(r);
        }
        let mut lns = Vec::new();
        for (site, t) in nm.ln {
            lns.push(layer_norm(
                &mut lg,
                &at(t, l),
                site,
                Some(l),
                opts.variance_floor,
            )?);
        }
        let (b_x_in, src) = match arch {
            // Pre-LN: attention reads ln_1's output.
            Arch::Gpt2 => (
                lns[0].output_norm_bound,
                format!("LayerNorm `{}`", lns[0].tensor),
            ),
            Arch::Bert => prev_bound
                .clone()
                .unwrap_or((f64::INFINITY, "unbounded".into())),
        };
        prev_bound = Some((
            lns[1].output_norm_bound,
            format!("LayerNorm `{}`", lns[1].tensor),
        ));
        let mi = at(nm.mlp_in, l);
        let mo = at(nm.mlp_out, l);
        let p_dim = match arch {
            Arch::Bert => ck.shape(&format!("{mi}.weight")).map(|s| s[0]),
            Arch::Gpt2 => ck
                .shape(&format!("{mi}.weight"))
                .and_then(|s| s.get(1).copied()),
        }
        .unwrap_or(0);
        let mrole = format!("MLP norms reported, layer {l}");
        let w1 = lg.weight(&format!("{mi}.weight"), d, p_dim, &mrole)?;
        let b1 = lg.vec(&format!("{mi}.bias"), p_dim, &mrole)?;
        let w2 = lg.weight(&format!("{mo}.weight"), p_dim, d, &mrole)?;
        let b2 = lg.vec(&format!("{mo}.bias"), d, &mrole)?;
        if let Some(b) = opts.b_x
            && b_x_in > b
        {
            warnings.push(format!(
                "layer {l}: rows entering attention may have norm up to {b_x_in:.4e} ({src}), \
                 above the B_X = {b:.4e} the bound is evaluated with"
            ));
        }
        layers_table.push(LayerRow {
            layer: l,
            rho: up(rho),
            rho_aug: up(rho_aug),
            b_x_in,
            b_x_in_source: src,
            b_x_in_aug: aug_bound(b_x_in),
            w_o_spectral: spectral(&lw.w_o),
            w_o_fro: lw.w_o.norm(),
            b_o_l2: lw.b_o.norm(),
            mlp_in_spectral: spectral(&w1),
            mlp_in_fro: w1.norm(),
            mlp_in_bias_l2: b1.norm(),
            mlp_out_spectral: spectral(&w2),
            mlp_out_fro: w2.norm(),
            mlp_out_bias_l2: b2.norm(),
        });
        layer_norms.extend(lns);
    }
    if arch == Arch::Gpt2 && ck.has("ln_f.weight") {
        layer_norms.push(layer_norm(
            &mut lg,
            "ln_f",
            "final (ln_f)",
            None,
            opts.variance_floor,
        )?);
    }

    let readout = match &opts.readout {
        None => {
            statements.push(
                "no read-out given: each head is measured as a scalar head with a unit read-out \
                 (||w||_2 = 1); no whole-model bound is claimed"
                    .into(),
            );
            None
        }
        Some(given) => {
            // As given (e.g. `classifier.weight`, outside the prefix), else with the prefix.
            let name = if ck.tensors.contains_key(given) {
                given.clone()
            } else {
                ck.full(given)
            };
            let s = ck
                .tensors
                .get(&name)
                .map(|t| t.shape.clone())
                .ok_or_else(|| {
                    Error::invalid(
                        "readout",
                        given,
                        "the name of a tensor in the checkpoint, shape (d) or (1, d)",
                    )
                })?;
            if !(s == [d] || s == [1, d]) {
                return Err(Error::shape(
                    format!("readout `{name}`"),
                    format!("[{d}] or [1, {d}] (one logit over the width)"),
                    format!("{s:?}"),
                ));
            }
            let v = ck.get_full(&name, &s)?;
            lg.uses
                .entry(name.clone())
                .or_default()
                .push_str("read-out w: ||w||_2");
            statements.push(
                "read-out given: its ||w||_2 is reported; a whole-model bound is still not claimed \
                 for this architecture (LayerNorm and MLP sublayers are outside the bounded class)"
                    .into(),
            );
            Some(ReadoutRow {
                tensor: name,
                w_l2: v.iter().map(|x| x * x).sum::<f64>().sqrt(),
            })
        }
    };
    statements.push(match opts.variance_floor {
        None => "LayerNorm: output norms bounded (||gamma||_inf sqrt(d) + ||beta||_2); its \
                 Lipschitz constant is unbounded without a variance floor, so the multi-layer \
                 bound does not cover this model's LayerNorms"
            .into(),
        Some(f) => format!(
            "LayerNorm: under the user-given variance floor {f} (every row entering a LayerNorm \
             has variance >= {f}), each LayerNorm's Jacobian is at most ||gamma||_inf / \
             sqrt(floor + eps) (column `lipschitz`); the floor is assumed, not checked"
        ),
    });
    statements.push(if arch.causal() {
        "attention is causal (query t attends to keys s <= t); the norms do not depend on the mask"
            .into()
    } else {
        "attention is bidirectional (every query attends to every key)".into()
    });
    statements.push(
        "rho_l is (I17) of docs/derivations.md for rows in the unit ball with Pi (not LayerNorm), \
         L_sigma = 1 (no activation on the value path), kappa = 1"
            .into(),
    );

    let tensors = ck
        .tensors
        .values()
        .map(|t| {
            let (used, role) = match lg.uses.get(&t.name) {
                Some(r) => (true, r.clone()),
                None => (false, unused_reason(ck, &t.name)),
            };
            TensorRow {
                name: t.name.clone(),
                file: t.file.clone(),
                dtype: t.dtype.clone(),
                shape: t.shape.clone(),
                used,
                role,
            }
        })
        .collect();

    Ok(HfTable {
        dir: ck.dir.display().to_string(),
        model_type: c.model_type.clone(),
        architecture: c.architecture.clone(),
        family: arch,
        causal: arch.causal(),
        layers: c.layers,
        heads,
        width: d,
        head_dim: dh,
        layer_norm_eps: c.layer_norm_eps,
        context_len: opts.context_len,
        variance_floor: opts.variance_floor,
        heads_table,
        layers_table,
        layer_norms,
        embeddings,
        readout,
        tensors,
        warnings,
        statements,
    })
}

/// The true reason a tensor was not read.
fn unused_reason(ck: &HfCheckpoint, full: &str) -> String {
    let n = full.strip_prefix(&ck.prefix).unwrap_or(full);
    if n.ends_with("position_ids") {
        "not used: integer buffer of position indices 0..n-1 (not a parameter)".into()
    } else if n.ends_with(".attn.bias") || n.ends_with(".attn.masked_bias") {
        "not used: constant causal-mask buffer (not a parameter); attention is treated as causal"
            .into()
    } else if n.starts_with("pooler.") {
        "not used: the pooler (tanh dense layer on [CLS]) is a head on top of the encoder, \
         outside the attention class; name it with --readout only if it is a one-logit read-out"
            .into()
    } else if n.starts_with("lm_head.") || full.starts_with("lm_head.") {
        "not used: language-model output layer (vocabulary logits), not a scalar read-out".into()
    } else if n.starts_with("cls.") || n.starts_with("classifier") {
        "not used: task head; give --readout NAME to report a one-logit read-out".into()
    } else {
        format!(
            "not used: the name is not part of the {} layout (docs/pytorch.md)",
            ck.config.arch.name()
        )
    }
}

/// The columns of [`HfTable::to_csv`], each naming its matrix and orientation.
pub const CSV_HEADER: &str = "layer,head,\
Theta_F[Theta=W_K W_Q^T dxd],Theta_2,Theta_21[cols=queries],ThetaT_21,\
W_V_2[dxdh],W_V_F,W_V_21,W_C_2[dhxd rows of W_O],W_C_F,W_C_21,\
b_Q_2[scaled 1/sqrt(dh)],b_K_2,b_V_2,\
ThetaAug_F[W_Kaug W_Qaug^T (d+1)x(d+1)],ThetaAug_2,ThetaAug_21,\
W_VAug_2[(W_V;b_V^T) (d+1)xdh],W_VAug_F,W_VAug_21,\
rho_l,rho_l_aug,B_X_in,B_X_in_aug,W_O_2[dxd],W_O_F,b_O_2,\
MLP_in_2[dxP],MLP_in_F,MLP_in_b_2,MLP_out_2[Pxd],MLP_out_F,MLP_out_b_2";

impl HfTable {
    /// One CSV row per (layer, head): the head's norms, then its layer's (repeated).
    pub fn to_csv(&self) -> String {
        let mut s = String::from(CSV_HEADER);
        s.push('\n');
        for h in &self.heads_table {
            let Some(l) = self.layers_table.iter().find(|l| l.layer == h.layer) else {
                continue;
            };
            let v = [
                h.theta_fro,
                h.theta_spectral,
                h.theta_21,
                h.theta_t_21,
                h.w_v_spectral,
                h.w_v_fro,
                h.w_v_21,
                h.w_c_spectral,
                h.w_c_fro,
                h.w_c_21,
                h.b_q_l2,
                h.b_k_l2,
                h.b_v_l2,
                h.theta_aug_fro,
                h.theta_aug_spectral,
                h.theta_aug_21,
                h.w_v_aug_spectral,
                h.w_v_aug_fro,
                h.w_v_aug_21,
                l.rho,
                l.rho_aug,
                l.b_x_in,
                l.b_x_in_aug,
                l.w_o_spectral,
                l.w_o_fro,
                l.b_o_l2,
                l.mlp_in_spectral,
                l.mlp_in_fro,
                l.mlp_in_bias_l2,
                l.mlp_out_spectral,
                l.mlp_out_fro,
                l.mlp_out_bias_l2,
            ];
            s.push_str(&format!("{},{}", h.layer, h.head));
            for x in v {
                s.push_str(&format!(",{x:e}"));
            }
            s.push('\n');
        }
        s
    }

    /// Everything, as pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::parse("json", e))
    }
}

/// The augmented matrices of every head of layer `layer` (what [`export_augmented`] writes).
pub fn augmented_heads(
    ck: &HfCheckpoint,
    layer: usize,
) -> Result<(Vec<AugmentedHead>, DVector<f64>)> {
    let c = &ck.config;
    if layer >= c.layers {
        return Err(Error::invalid(
            "layer",
            layer,
            format!("an index below the {} layers of config.json", c.layers),
        ));
    }
    let mut lg = Ledger {
        ck,
        uses: BTreeMap::new(),
    };
    let lw = layer_weights(&mut lg, layer, c.heads)?;
    let dh = c.width / c.heads;
    Ok(((0..c.heads).map(|h| lw.head(h, dh)).collect(), lw.b_o))
}

/// Writes the augmented per-head matrices of every layer to `dir/layer_{l}.safetensors` (F64,
/// row-major, our (in, out) orientation, `1/sqrt(dh)` folded into W_Q): `heads.{h}.w_q_aug`,
/// `heads.{h}.w_k_aug`, `heads.{h}.w_v_aug` ((d+1) x dh), `heads.{h}.theta_aug`
/// ((d+1) x (d+1)), `heads.{h}.w_c` (dh x d), and the layer's `b_o` (d). With
/// `x~ = [x; 1]`, head h's output at query t is
/// `W_C^T W_V_aug^T sum_s softmax_s(x~_s^T Theta_aug x~_t) x~_s`; summed over heads plus
/// `b_o` it equals the checkpoint's attention output (docs/pytorch.md#biases).
pub fn export_augmented(ck: &HfCheckpoint, dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    use safetensors::tensor::TensorView;
    let c = &ck.config;
    let heads = c.heads;
    let dh = c.width / heads;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
    let mut lg = Ledger {
        ck,
        uses: BTreeMap::new(),
    };
    let mut written = Vec::new();
    for l in 0..c.layers {
        let lw = layer_weights(&mut lg, l, heads)?;
        let mut mats: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        let mut push = |name: String, m: &DMatrix<f64>| {
            let mut b = Vec::with_capacity(m.len() * 8);
            for i in 0..m.nrows() {
                for j in 0..m.ncols() {
                    b.extend_from_slice(&m[(i, j)].to_le_bytes());
                }
            }
            mats.push((name, vec![m.nrows(), m.ncols()], b));
        };
        for h in 0..heads {
            let a = lw.head(h, dh);
            push(format!("heads.{h}.w_q_aug"), &a.w_q_aug);
            push(format!("heads.{h}.w_k_aug"), &a.w_k_aug);
            push(format!("heads.{h}.w_v_aug"), &a.w_v_aug);
            push(format!("heads.{h}.theta_aug"), &a.theta_aug());
            push(format!("heads.{h}.w_c"), &a.w_c);
        }
        let b_o: Vec<u8> = lw.b_o.iter().flat_map(|x| x.to_le_bytes()).collect();
        mats.push(("b_o".into(), vec![lw.b_o.len()], b_o));
        let views = mats
            .iter()
            .map(|(n, s, b)| {
                TensorView::new(safetensors::Dtype::F64, s.clone(), b)
                    .map(|t| (n.clone(), t))
                    .map_err(|e| Error::invalid(format!("tensor `{n}`"), e, "a consistent shape"))
            })
            .collect::<Result<Vec<_>>>()?;
        let bytes = safetensors::serialize(views, None)
            .map_err(|e| Error::invalid("safetensors", e, "serializable tensors"))?;
        let p = dir.join(format!("layer_{l}.safetensors"));
        crate::fsio::write_atomic(&p, &bytes)?;
        written.push(p);
    }
    Ok(written)
}

/// Capacity of one head of a checkpoint taken alone as the theory's scalar head on augmented
/// inputs: width d + 1, value dimension dh, radii from the augmented norms, unit read-out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeadCapacity {
    pub layer: usize,
    pub head: usize,
    pub setting: crate::bounds::Setting,
    pub radii: crate::bounds::HeadRadii,
    /// Every single-head row of `bounds::all_bounds` at these radii.
    pub bounds: Vec<crate::bounds::BoundRow>,
}

/// Per-layer, per-head capacities (no read-out needed): each head as a scalar head with a unit
/// read-out (`B_w = 1`) on `x~ = [x; 1]`, `B_X = B_X_in_aug` of its layer (the LayerNorm bound),
/// `B_QK = ||Theta_aug||_F`, `B_V = ||W_V_aug||_2`, `B_V^{2,1} = ||W_V_aug||_{2,1}`, and
/// `T = context_len` (the sequence length, special tokens included; the bounds grow with T, so
/// counting \[CLS\] as a token is conservative). Each row keeps its registry status; these are
/// per-head statements, not a bound on the whole model (docs/pytorch.md#the-table).
pub fn head_capacities(
    table: &HfTable,
    num_samples: usize,
    context_len: usize,
    params: &crate::bounds::BoundParams,
) -> Result<Vec<HeadCapacity>> {
    use crate::bounds::{HeadRadii, Radii, Setting, all_bounds};
    let mut out = Vec::with_capacity(table.heads_table.len());
    for h in &table.heads_table {
        let layer = table
            .layers_table
            .iter()
            .find(|l| l.layer == h.layer)
            .ok_or_else(|| Error::invalid("layer", h.layer, "a layer of the table"))?;
        let setting = Setting {
            num_samples,
            context_len,
            width: table.width + 1,
            value_dim: table.head_dim,
            heads: 1,
            layers: 1,
        };
        let radii = HeadRadii {
            b_x: layer.b_x_in_aug,
            b_qk: h.theta_aug_fro,
            b_v: h.w_v_aug_spectral,
            b_v21: h.w_v_aug_21,
            b_w: 1.0,
        };
        let bounds = all_bounds(&setting, &Radii::single_head(radii), params).map_err(|e| {
            Error::invalid(
                format!("layer {} head {}", h.layer, h.head),
                e,
                "radii for which the single-head bounds are defined (finite, > 0)",
            )
        })?;
        out.push(HeadCapacity {
            layer: h.layer,
            head: h.head,
            setting,
            radii,
            bounds,
        });
    }
    Ok(out)
}
