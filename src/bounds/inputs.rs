//! Validated inputs of every bound: the setting (counts), the norm radii, the parameters.
//!
//! Plain `f64`/`usize` structs so that `bounds` depends on nothing but `error`: the model and
//! norms modules (or a user's TOML file) fill them in. Validation names the field, value and
//! domain (see `crate::error::check`).

use crate::error::{Error, Result, check};
use serde::{Deserialize, Serialize};

/// Counts of the learning problem. Symbols of `docs/derivations.md#1-conventions` in brackets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    /// Sample size `m`.
    pub num_samples: usize,
    /// Context length `T` (tokens, not counting \[CLS\]).
    pub context_len: usize,
    /// Width `d` of the token representations.
    pub width: usize,
    /// Value dimension `k` (columns of `W_V`).
    pub value_dim: usize,
    /// Heads per layer `H`.
    pub heads: usize,
    /// Layers `L`.
    pub layers: usize,
}

impl Setting {
    /// Every count must be at least 1.
    pub fn validate(&self) -> Result<()> {
        check::at_least("num_samples", self.num_samples, 1)?;
        check::at_least("context_len", self.context_len, 1)?;
        check::at_least("width", self.width, 1)?;
        check::at_least("value_dim", self.value_dim, 1)?;
        check::at_least("heads", self.heads, 1)?;
        check::at_least("layers", self.layers, 1)?;
        // The deep bounds hold one entry per layer and head: bounded so no count reaches an
        // allocation unchecked (`crate::limits`).
        crate::limits::count("layers", self.layers, crate::limits::MAX_LAYERS)?;
        crate::limits::count("heads", self.heads, crate::limits::MAX_HEADS)?;
        Ok(())
    }

    /// `m` as f64.
    pub fn m(&self) -> f64 {
        self.num_samples as f64
    }

    /// `T` as f64.
    pub fn t(&self) -> f64 {
        self.context_len as f64
    }

    /// True for the one-head, one-layer \[CLS\] model of docs/derivations.md §3-4.
    pub fn is_single_head(&self) -> bool {
        self.heads == 1 && self.layers == 1
    }
}

/// Norm radii of a \[CLS\] head (`docs/derivations.md#1-conventions`). Every radius is an upper
/// bound on the named norm; all must be finite and `> 0`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HeadRadii {
    /// `B_X`: max l2 norm of any row of `X~` (tokens and \[CLS\]), over the sample.
    pub b_x: f64,
    /// `B_QK`: bound on `||Theta||_F`, `Theta = W_K W_Q^T` (a bound on `||Theta||_{2,1}` is one too).
    pub b_qk: f64,
    /// `B_V`: bound on the spectral norm `||W_V||_2`.
    pub b_v: f64,
    /// `B_V^{2,1}`: bound on `||W_V||_{2,1}` (sum of column l2 norms, `W_V in R^{d x k}`).
    pub b_v21: f64,
    /// `B_w`: bound on `||w||_2` of the read-out.
    pub b_w: f64,
}

impl HeadRadii {
    /// All radii finite and positive.
    pub fn validate(&self) -> Result<()> {
        check::positive("b_x", self.b_x)?;
        check::positive("b_qk", self.b_qk)?;
        check::positive("b_v", self.b_v)?;
        check::positive("b_v21", self.b_v21)?;
        check::positive("b_w", self.b_w)?;
        Ok(())
    }

    /// The radii as an array in the fixed order `b_x, b_qk, b_v, b_v21, b_w` (post-hoc grid).
    pub fn to_array(&self) -> [f64; 5] {
        [self.b_x, self.b_qk, self.b_v, self.b_v21, self.b_w]
    }

    /// Inverse of [`HeadRadii::to_array`].
    pub fn from_array(a: [f64; 5]) -> Self {
        HeadRadii {
            b_x: a[0],
            b_qk: a[1],
            b_v: a[2],
            b_v21: a[3],
            b_w: a[4],
        }
    }

    /// `B_VF = min(b_v21, sqrt(min(d, k)) b_v)`, a valid bound on `||W_V||_F` by (I10).
    pub fn b_vf(&self, setting: &Setting) -> f64 {
        let rank = setting.width.min(setting.value_dim) as f64;
        self.b_v21.min(rank.sqrt() * self.b_v)
    }

    /// `min(b_v21, sqrt(k min(d, k)) b_v)`, a valid bound on `||W_V||_{2,1}`: `||A||_{2,1} <=
    /// sqrt(k) ||A||_F <= sqrt(k rank) ||A||_2` for the `k` columns (Cauchy-Schwarz, (I10)).
    pub fn b_v21_eff(&self, setting: &Setting) -> f64 {
        let k = setting.value_dim as f64;
        let rank = setting.width.min(setting.value_dim) as f64;
        self.b_v21.min((k * rank).sqrt() * self.b_v)
    }
}

/// Radii of one layer of the deep model (`docs/derivations.md#5-multi-head-multi-layer`),
/// shared by all its heads.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LayerRadii {
    /// Bound on `||Theta||_F` of every head.
    pub b_qk: f64,
    /// Bound on `||W_V||_2`.
    pub b_v: f64,
    /// Bound on `||W_V||_{2,1}` (used as a Frobenius bound, with `sqrt(rank) b_v`).
    pub b_v21: f64,
    /// Bound on `||W_C||_2`, `W_C in R^{k x d}`.
    pub b_c: f64,
    /// Bound on `||W_C||_{2,1}` (used as a Frobenius bound, with `sqrt(rank) b_c`).
    pub b_c21: f64,
}

impl LayerRadii {
    /// All radii finite and positive; `layer` is used in the field name of an error.
    pub fn validate(&self, layer: usize) -> Result<()> {
        check::positive(&format!("layers[{layer}].b_qk"), self.b_qk)?;
        check::positive(&format!("layers[{layer}].b_v"), self.b_v)?;
        check::positive(&format!("layers[{layer}].b_v21"), self.b_v21)?;
        check::positive(&format!("layers[{layer}].b_c"), self.b_c)?;
        check::positive(&format!("layers[{layer}].b_c21"), self.b_c21)?;
        Ok(())
    }
}

/// Scalars shared by the bounds. Defaults are [`BoundParams::default`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoundParams {
    /// Failure probability `delta` in (0, 1).
    pub delta: f64,
    /// Margin `gamma > 0` of the ramp loss.
    pub gamma: f64,
    /// Scale `eps > 0` at which log covering numbers are reported.
    pub eps: f64,
    /// Lipschitz constant `L_sigma > 0` of the activation (1 for ReLU, tanh, identity).
    pub l_sigma: f64,
    /// Softmax constant `kappa` of our bounds (1 is valid and tight, (I5)).
    pub kappa: f64,
    /// Softmax constant of the paper's shape (the paper uses 2).
    pub kappa_paper: f64,
    /// Unconfirmed absolute constant `c0` of the paper's shape (I16).
    pub c0: f64,
    /// Sparsity `s` of the target for the lower bound (I25).
    pub sparsity: usize,
    /// Smallest radius `r_min` of the post-hoc grid (section 8), fixed before seeing data.
    pub r_min: f64,
    /// Constant of Zhang's Theorem 3 as remembered (288), a parameter because unconfirmed (I2).
    pub zhang3_const: f64,
    /// Constant of the parameter-counting VC shape.
    pub c_vc: f64,
    /// `b_x` bounds every possible input row (e.g. a fixed embedding), fixed before the data:
    /// the explicit bound then uses the one-sided confidence term and puts no grid on `B_X`
    /// (`docs/derivations.md#12-tightened-explicit-bounds`, (I32)). Default false: `b_x` is
    /// read off the sample.
    #[serde(default)]
    pub b_x_fixed: bool,
    /// Geometry of a fixed embedding read by a \[CLS\] query (fixed before the data), for the
    /// score stage of the single-head bound (`docs/derivations.md#128-a-fixed-embedding-and-the-cls-query`,
    /// (I34), (I35)). Default `None`: the score stage uses `B_X` only.
    #[serde(default)]
    pub embedding: Option<FixedEmbedding>,
}

/// Geometry of a fixed embedding: every row `X~` can contain (each token at each position, and
/// \[CLS\]) is one of a finite table of rows, fixed before the data
/// (`docs/derivations.md#128-a-fixed-embedding-and-the-cls-query`). Each field is an upper bound
/// on the named quantity; [`FixedEmbedding::from_rows`] computes them (rounded outward).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FixedEmbedding {
    /// `B_cls >= ||x_cls||_2`: the norm of the one query of the head.
    pub cls_norm: f64,
    /// `h >= max_{x, x'} ||x - x'||_2 / 2` over the table rows (half the diameter), (I35).
    pub half_diameter: f64,
    /// `R_c >= max_x ||x - c||_2` over the table rows for a centre `c` in their span, (I34).
    pub key_radius: f64,
    /// Number of table rows (`vocab * T + 1` for a token-plus-position table).
    pub rows: usize,
    /// `D >=` dimension of the span of the table rows (at most the width).
    pub span_dim: usize,
}

impl FixedEmbedding {
    /// Fields finite and positive, counts at least 1.
    pub fn validate(&self) -> Result<()> {
        check::positive("embedding.cls_norm", self.cls_norm)?;
        check::positive("embedding.half_diameter", self.half_diameter)?;
        check::positive("embedding.key_radius", self.key_radius)?;
        check::at_least("embedding.rows", self.rows, 1)?;
        check::at_least("embedding.span_dim", self.span_dim, 1)?;
        Ok(())
    }

    /// The geometry of the table `rows` (every possible row of `X~`, \[CLS\] included) with the
    /// query `cls`: `cls_norm = ||cls||`, the exact half diameter, `key_radius` the smaller of
    /// `max ||x||` (centre 0) and `max ||x - mean||` (centre the mean of the rows), `span_dim =
    /// min(width, rows)`; norms rounded outward by `numerics::up`. Costs `O(rows^2 width)`.
    pub fn from_rows(cls: &[f64], rows: &[Vec<f64>]) -> Result<FixedEmbedding> {
        for (i, r) in rows.iter().enumerate() {
            if r.len() != cls.len() {
                return Err(Error::shape(
                    format!("embedding row {i}"),
                    cls.len(),
                    r.len(),
                ));
            }
        }
        Self::from_row_fn(cls, rows.len(), |i, out| out.copy_from_slice(&rows[i]))
    }

    /// [`FixedEmbedding::from_rows`] with row `i` (of `n`, each of `cls.len()` entries) written
    /// by `row(i, out)`, so a large table is never held in memory: O(n d) work and O(d)
    /// memory, plus the exact pairwise diameter while `n^2 d <= EXACT_DIAMETER_MAX_WORK`
    /// (1e9); above that `h` is bounded by the centred radius `max_x ||x - c||` (triangle
    /// inequality: `||x - x'|| <= ||x - c|| + ||c - x'||`), valid and at most `R_c`.
    pub fn from_row_fn(
        cls: &[f64],
        n: usize,
        row: impl Fn(usize, &mut [f64]),
    ) -> Result<FixedEmbedding> {
        check::at_least("embedding rows", n, 1)?;
        let d = cls.len();
        check::at_least("embedding width", d, 1)?;
        for &v in cls {
            check::finite("embedding cls", v)?;
        }
        let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
        let (mut a, mut b) = (vec![0.0; d], vec![0.0; d]);
        let mut mean = vec![0.0; d];
        let mut max_norm = 0.0f64;
        for i in 0..n {
            row(i, &mut a);
            for &v in &a {
                check::finite(&format!("embedding row {i}"), v)?;
            }
            max_norm = max_norm.max(norm(&mut a.iter().copied()));
            mean.iter_mut().zip(&a).for_each(|(m, x)| *m += x);
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut max_centred = 0.0f64;
        for i in 0..n {
            row(i, &mut a);
            max_centred = max_centred.max(norm(&mut a.iter().zip(&mean).map(|(x, c)| x - c)));
        }
        let half_diameter = if (n as f64).powi(2) * d as f64 <= EXACT_DIAMETER_MAX_WORK {
            let mut diam = 0.0f64;
            for i in 0..n {
                row(i, &mut a);
                for j in i + 1..n {
                    row(j, &mut b);
                    diam = diam.max(norm(&mut a.iter().zip(&b).map(|(x, y)| x - y)));
                }
            }
            diam / 2.0
        } else {
            max_centred
        };
        // Tiny floors keep a degenerate table (one row, or all rows equal) valid: any positive
        // number bounds a zero diameter.
        let floor = f64::MIN_POSITIVE;
        Ok(FixedEmbedding {
            cls_norm: super::numerics::up(norm(&mut cls.iter().copied())).max(floor),
            half_diameter: super::numerics::up(half_diameter).max(floor),
            key_radius: super::numerics::up(max_norm.min(max_centred)).max(floor),
            rows: n,
            span_dim: d.min(n),
        })
    }
}

/// Work (n^2 d) up to which [`FixedEmbedding::from_row_fn`] computes the exact diameter.
const EXACT_DIAMETER_MAX_WORK: f64 = 1e9;

impl Default for BoundParams {
    fn default() -> Self {
        BoundParams {
            delta: 0.05,
            gamma: 1.0,
            eps: 0.1,
            l_sigma: 1.0,
            kappa: 1.0,
            kappa_paper: 2.0,
            c0: 1.0,
            sparsity: 3,
            r_min: (-20f64).exp2(),
            zhang3_const: 288.0,
            c_vc: 1.0,
            b_x_fixed: false,
            embedding: None,
        }
    }
}

impl BoundParams {
    /// Domain of every field, named in the error.
    pub fn validate(&self) -> Result<()> {
        check::open_unit("delta", self.delta)?;
        check::positive("gamma", self.gamma)?;
        check::positive("eps", self.eps)?;
        check::positive("l_sigma", self.l_sigma)?;
        check::positive("kappa", self.kappa)?;
        check::positive("kappa_paper", self.kappa_paper)?;
        check::positive("c0", self.c0)?;
        check::at_least("sparsity", self.sparsity, 1)?;
        check::positive("r_min", self.r_min)?;
        check::positive("zhang3_const", self.zhang3_const)?;
        check::positive("c_vc", self.c_vc)?;
        if let Some(e) = &self.embedding {
            e.validate()?;
        }
        Ok(())
    }
}

/// `sparsity <= context_len` is needed by the lower bound only.
pub(crate) fn check_sparsity(setting: &Setting, params: &BoundParams) -> Result<()> {
    if params.sparsity > setting.context_len {
        return Err(Error::invalid(
            "sparsity",
            params.sparsity,
            format!("an integer in 1..=context_len ({})", setting.context_len),
        ));
    }
    Ok(())
}
