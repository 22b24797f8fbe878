//! Explicit single-head constructions for s-sparse Boolean functions (docs/constructions.md).
//!
//! One \[CLS\] head on the fixed embedding (docs/experiments.md §1) x_t = [onehot(b_t); p_t; 0], x_cls = [0; 0; 1].
//! Theta = w_k e_cls^T is rank one, so the scores u_t = <x_t, w_k> do not depend on the bits:
//! the attention vector `a` is the same for every input. The head therefore sees the input only
//! through S(b) = sum_t a_t b_t. Symmetric targets use equal scores on I (S ~ count / s);
//! truth tables use scores R + j ln 2 on the j-th hidden position, so S encodes the s bits in
//! binary. ReLU units then implement a step function of S with ramps placed in the gaps between
//! the attainable intervals of S. Derivation and norms: `docs/constructions.md`.
//! This module is deterministic maths on `model`; it never draws data except the seeded
//! positional codes and the verification inputs of [`Construction::verify_random`].

pub mod standard;
mod verify;

pub use verify::{
    EXHAUSTIVE_FORWARD_INPUTS, EXHAUSTIVE_MAX_CONTEXT_LEN, RANDOM_FORWARD_INPUTS, RANDOM_SEED,
    Verification, predicted_sample_size, radii,
};

use crate::error::{Error, Result, check};
use crate::model::{Activation, ClsHead, Embedding, Positional};
use crate::tensor::Mat;
use nalgebra::{DMatrix, DVector};
use rand::{RngExt, SeedableRng};

/// The Boolean function of the hidden bits b_{i_0}, ..., b_{i_{s-1}} (i_0 < ... < i_{s-1}): the
/// crate's one task enum, [`crate::tasks::TaskKind`] (symmetric targets through
/// `TaskKind::symmetric`, truth tables indexed by sum_j 2^j b_{i_j}).
pub use crate::tasks::TaskKind as Target;

/// Positional codes: one-hot (d = T + 3) or random +-1/sqrt(dim) signs, the codes of
/// `Embedding::fixed_bits(T, Positional::RandomSigns { dim, seed })` (d = dim + 3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Code {
    OneHot,
    /// `dim = None` picks ceil(8 s ln(T + 1)) (see docs/constructions.md#random-codes).
    Random {
        dim: Option<usize>,
        seed: u64,
    },
}

/// What to build.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub target: Target,
    pub sparsity: usize,
    pub context_len: usize,
    /// Target attention mass outside I (tokens outside I plus \[CLS\]), in (0, 1).
    pub eta0: f64,
    pub code: Code,
    /// Hidden set I (sorted, distinct, < T); `None` means {0, ..., s-1}.
    pub support: Option<Vec<usize>>,
}

/// A constructed head with the facts the verification and the bounds need.
#[derive(Clone, Debug)]
pub struct Construction {
    pub spec: Spec,
    pub support: Vec<usize>,
    pub head: ClsHead<f64>,
    /// Positional part of the codes, T x dim (`None` for one-hot: p_t = e_t).
    pub codes: Option<Mat<f64>>,
    /// Score scale R.
    pub score_scale: f64,
    /// softmax over the T tokens and \[CLS\] (last); the same for every input.
    pub attention: Vec<f64>,
    /// Attention mass outside I (achieved, <= eta0).
    pub eta: f64,
}

/// Column-major helper: W_V entries are set through this.
fn set(m: &mut Mat<f64>, r: usize, c: usize, v: f64) {
    let cols = m.cols;
    m.data[r * cols + c] = v;
}

fn softmax(u: &[f64]) -> Vec<f64> {
    let mx = u.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = u.iter().map(|x| (x - mx).exp()).collect();
    let z: f64 = e.iter().sum();
    e.into_iter().map(|x| x / z).collect()
}

impl Spec {
    fn validate(&self) -> Result<Vec<usize>> {
        let s = check::at_least("sparsity", self.sparsity, 1)?;
        let t = check::at_least("context_len", self.context_len, 1)?;
        crate::limits::count("context_len", t, crate::limits::MAX_CONTEXT_LEN)?;
        if s > t {
            return Err(Error::invalid(
                "sparsity",
                s,
                format!("1 <= sparsity <= context_len = {t}"),
            ));
        }
        if s > 20 {
            return Err(Error::invalid("sparsity", s, "at most 20 (2^s levels)"));
        }
        check::open_unit("eta0", self.eta0)?;
        self.check_memory()?;
        if let Target::TruthTable(tab) = &self.target
            && tab.len() != 1 << s
        {
            return Err(Error::shape("truth table", 1usize << s, tab.len()));
        }
        let support = match &self.support {
            None => (0..s).collect(),
            Some(i) => {
                let ok = i.len() == s && i.windows(2).all(|w| w[0] < w[1]) && i[s - 1] < t;
                if !ok {
                    return Err(Error::invalid(
                        "support",
                        format!("{i:?}"),
                        format!("{s} sorted distinct indices < {t}"),
                    ));
                }
                i.clone()
            }
        };
        Ok(support)
    }

    /// The head's memory before it is built (`crate::limits`): random codes are a dense
    /// T x dim table of f64 (plus a copy in the embedding), every other vector has d entries.
    fn check_memory(&self) -> Result<()> {
        let t = self.context_len as f64;
        let (dim, codes) = match self.code_dim() {
            Some(dim) => (dim as f64, 2.0 * 8.0 * t * dim as f64),
            None => (t, 0.0),
        };
        let vectors = 8.0 * (dim + 3.0) * (4.0 * self.sparsity as f64 + 16.0);
        crate::limits::memory(
            "context_len",
            format!("{} (positional codes of dim {dim})", self.context_len),
            codes + vectors,
        )
    }

    /// Dimension of the random codes actually used.
    pub fn code_dim(&self) -> Option<usize> {
        match self.code {
            Code::OneHot => None,
            Code::Random { dim, .. } => Some(dim.unwrap_or_else(|| {
                (8.0 * self.sparsity as f64 * (self.context_len as f64 + 1.0).ln()).ceil() as usize
            })),
        }
    }
}

/// The same codes as `Embedding::fixed_bits` with `RandomSigns { dim, seed }` (same stream).
fn random_codes(t: usize, dim: usize, seed: u64) -> Mat<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let sc = 1.0 / (dim as f64).sqrt();
    let mut m = Mat::zeros(t, dim);
    for v in m.data.iter_mut() {
        *v = if rng.random::<bool>() { sc } else { -sc };
    }
    m
}

/// Build the head (docs/constructions.md). Errors name the field: s = 0, s > T, eta0 outside
/// (0, 1), a truth table of the wrong length, or an eta0 too large for the levels of S to
/// separate (symmetric: roughly eta0 < 1/(s+1); truth table: roughly eta0 < 2^-s).
pub fn build(spec: &Spec) -> Result<Construction> {
    let support = spec.validate()?;
    let (s, t) = (spec.sparsity, spec.context_len);
    let symmetric = !matches!(spec.target, Target::TruthTable(_));
    // Score offsets omega_j on the j-th hidden position.
    let omega: Vec<f64> = (0..s)
        .map(|j| {
            if symmetric {
                0.0
            } else {
                j as f64 * std::f64::consts::LN_2
            }
        })
        .collect();
    let sum_e_omega: f64 = omega.iter().map(|w| w.exp()).sum();
    // Closed form (docs/constructions.md) (exact for one-hot): eta = (T-s+1) / (e^R sum e^omega + T-s+1).
    let r0 = (((t - s + 1) as f64) * (1.0 - spec.eta0) / (spec.eta0 * sum_e_omega)).ln();
    let (dim_pos, codes) = match (spec.code, spec.code_dim()) {
        (Code::Random { seed, .. }, Some(dim)) => {
            if dim < s {
                return Err(Error::invalid(
                    "positional dim",
                    dim,
                    format!(">= sparsity = {s}"),
                ));
            }
            (dim, Some(random_codes(t, dim, seed)))
        }
        _ => (t, None),
    };
    let d = dim_pos + 3;
    // Positional part of w_k = R * q_r + q_omega with <p_{i_j}, q_r> = 1, <p_{i_j}, q_omega> = omega_j.
    let (q_r, q_om, alpha, beta) = match &codes {
        None => {
            let mut q_r = vec![0.0; t];
            let mut q_om = vec![0.0; t];
            for (j, &i) in support.iter().enumerate() {
                q_r[i] = 1.0;
                q_om[i] = omega[j];
            }
            (q_r.clone(), q_om.clone(), q_r, q_om)
        }
        Some(p) => {
            // Dual basis on span{p_i : i in I}: q = P (P^T P)^{-1} target.
            let pm = DMatrix::from_fn(p.cols, s, |r, c| p.data[support[c] * p.cols + r]);
            let gram = pm.transpose() * &pm;
            let inv = gram.try_inverse().ok_or_else(|| {
                Error::invalid(
                    "positional dim",
                    p.cols,
                    "codes of I linearly independent (try another seed)",
                )
            })?;
            let q_r = &pm * (&inv * DVector::from_element(s, 1.0));
            let q_om = &pm * (&inv * DVector::from_vec(omega.clone()));
            let dotp = |q: &DVector<f64>| -> Vec<f64> {
                (0..t)
                    .map(|tt| p.row(tt).iter().zip(q.iter()).map(|(a, b)| a * b).sum())
                    .collect()
            };
            let (al, be) = (dotp(&q_r), dotp(&q_om));
            (q_r.as_slice().to_vec(), q_om.as_slice().to_vec(), al, be)
        }
    };
    let outside: Vec<usize> = (0..t)
        .filter(|x| support.binary_search(x).is_err())
        .collect();
    if let Some(&bad) = outside.iter().find(|&&o| alpha[o] >= 0.999) {
        return Err(Error::invalid(
            "positional dim",
            dim_pos,
            format!(
                "large enough that <p_t, q> < 1 outside I (position {bad} has {:.3})",
                alpha[bad]
            ),
        ));
    }
    let scores = |r: f64| -> Vec<f64> {
        let mut u: Vec<f64> = (0..t).map(|x| r * alpha[x] + beta[x]).collect();
        u.push(0.0); // [CLS]: w_k has no [CLS] coordinate
        u
    };
    let eta_of = |r: f64| -> f64 {
        let a = softmax(&scores(r));
        1.0 - support.iter().map(|&i| a[i]).sum::<f64>()
    };
    // eta(R) decreases in R because every outside alpha_t < 1; bisection for random codes.
    let r = if codes.is_none() {
        r0
    } else {
        let (mut lo, mut hi) = (r0.min(0.0), r0.max(1.0));
        while eta_of(hi) > spec.eta0 {
            hi = 2.0 * hi + 1.0;
            if hi > 1e6 {
                return Err(Error::invalid(
                    "eta0",
                    spec.eta0,
                    "reachable with these codes",
                ));
            }
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if eta_of(mid) > spec.eta0 {
                lo = mid
            } else {
                hi = mid
            }
        }
        hi
    };
    let attention = softmax(&scores(r));
    let eta = 1.0 - support.iter().map(|&i| attention[i]).sum::<f64>();

    // Query/key: w_q = e_cls, w_k = [0; 0; R q_r + q_omega; 0].
    let mut w_q = Mat::zeros(d, 1);
    w_q.data[d - 1] = 1.0;
    let mut w_k = Mat::zeros(d, 1);
    for j in 0..dim_pos {
        w_k.data[2 + j] = r * q_r[j] + q_om[j];
    }

    // Levels of S = sum_t a_t b_t: per group (count or pattern) the interval [lo, hi].
    let leak: f64 = outside.iter().map(|&o| attention[o]).sum();
    let a_in: Vec<f64> = support.iter().map(|&i| attention[i]).collect();
    let mut groups: Vec<(f64, f64, bool)> = if symmetric {
        let mut sorted = a_in.clone();
        sorted.sort_by(f64::total_cmp);
        (0..=s)
            .map(|c| {
                let lo: f64 = sorted[..c].iter().sum();
                let hi: f64 = sorted[s - c..].iter().sum::<f64>() + leak;
                (lo, hi, spec.target.value((1usize << c) - 1, s))
            })
            .collect()
    } else {
        (0..1usize << s)
            .map(|p| {
                let x: f64 = (0..s).filter(|j| p >> j & 1 == 1).map(|j| a_in[j]).sum();
                (x, x + leak, spec.target.value(p, s))
            })
            .collect()
    };
    groups.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Merge consecutive groups with equal labels into runs.
    let mut runs: Vec<(f64, f64, bool)> = Vec::new();
    for g in groups {
        match runs.last_mut() {
            Some(last) if last.2 == g.2 => last.1 = last.1.max(g.1),
            _ => runs.push(g),
        }
    }
    for w in runs.windows(2) {
        if w[0].1 >= w[1].0 {
            return Err(Error::invalid(
                "eta0",
                spec.eta0,
                "small enough that attention leakage keeps the levels of the head apart \
                 (symmetric: about eta0 < 1/(s+1); truth table: about eta0 < 2^-s)",
            ));
        }
    }
    // Units: a constant unit (value 1), then per boundary two ReLUs forming a ramp 0 -> 1 on
    // [hi_r, lo_{r+1}]. Unit pre-activation kappa S + beta via rows bit0 = beta/A,
    // bit1 = kappa + beta/A, since mixed onehot part is [A - S, S] with A = 1 - a_cls.
    let a_tok = 1.0 - attention[t];
    let k = 1 + 2 * (runs.len() - 1);
    let mut w_v = Mat::zeros(d, k);
    let mut w = vec![0.0; k];
    let sign = |b: bool| if b { 1.0 } else { -1.0 };
    set(&mut w_v, 0, 0, 1.0 / a_tok);
    set(&mut w_v, 1, 0, 1.0 / a_tok);
    w[0] = sign(runs[0].2);
    for (b, pair) in runs.windows(2).enumerate() {
        let (hi, lo) = (pair[0].1, pair[1].0);
        let kappa = 1.0 / (lo - hi);
        for (u, start) in [(1 + 2 * b, hi), (2 + 2 * b, lo)] {
            let beta = -kappa * start;
            set(&mut w_v, 0, u, beta / a_tok);
            set(&mut w_v, 1, u, kappa + beta / a_tok);
        }
        let step = sign(pair[1].2) - sign(pair[0].2);
        w[1 + 2 * b] = step;
        w[2 + 2 * b] = -step;
    }
    let head = ClsHead::new(w_q, w_k, w_v, w, Activation::Relu)?;
    Ok(Construction {
        spec: spec.clone(),
        support,
        head,
        codes,
        score_scale: r,
        attention,
        eta,
    })
}

/// Norms the bounds need, computed with `norms` from the constructed weights.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct ConstructionNorms {
    pub b_x: f64,
    pub theta_frobenius: f64,
    pub theta_21: f64,
    pub w_v_spectral: f64,
    pub w_v_21: f64,
    pub w_2: f64,
    pub width: usize,
    pub value_dim: usize,
}

impl Construction {
    /// The model's embedding (allocates T x d: for one-hot codes only for moderate T).
    pub fn embedding(&self) -> Result<Embedding<f64>> {
        let pos = match self.spec.code {
            Code::OneHot => Positional::OneHot,
            Code::Random { seed, .. } => Positional::RandomSigns {
                dim: self.spec.code_dim().unwrap_or(1),
                seed,
            },
        };
        Embedding::fixed_bits(self.spec.context_len, pos)
    }

    /// Norms from the one measurement (`norms::model::head_norms`) on the weights with their
    /// zero rows dropped (no norm changes; it keeps d = T + 3 one-hot heads at T = 10^5 cheap).
    pub fn norms(&self) -> Result<ConstructionNorms> {
        use crate::norms::model::{drop_zero_rows, head_norms, l2};
        let h = &self.head;
        let (wq, wk, wv) = (
            drop_zero_rows(&h.w_q)?,
            drop_zero_rows(&h.w_k)?,
            drop_zero_rows(&h.w_v)?,
        );
        let n = head_norms(&wq, &wk, &wv, None)?;
        let code_sq = match &self.codes {
            None => 1.0,
            Some(p) => (0..p.rows)
                .map(|r| p.row(r).iter().map(|v| v * v).sum::<f64>())
                .fold(0.0, f64::max),
        };
        Ok(ConstructionNorms {
            // ||[onehot(b); p_t; 0]||^2 = 1 + ||p_t||^2; [CLS] has norm 1.
            b_x: (1.0 + code_sq).sqrt().max(1.0),
            theta_frobenius: n.theta_fro,
            theta_21: n.theta_21,
            w_v_spectral: n.w_v_spectral,
            w_v_21: n.w_v_21,
            w_2: l2(&h.w),
            width: self.head.width(),
            value_dim: self.head.value_dim(),
        })
    }

    /// f(b) from S(b) = sum_t a_t b_t with the actual weights: the head's forward with the
    /// input-independent attention substituted (mixed = [A - S, S, sum a_t p_t, a_cls]); W_V is
    /// zero on the positional rows, so that part drops (checked in tests against `forward`).
    pub fn output_from_sum(&self, s_b: f64) -> f64 {
        let t = self.spec.context_len;
        let a_tok = 1.0 - self.attention[t];
        let wv = &self.head.w_v;
        let d = wv.rows;
        (0..wv.cols)
            .map(|j| {
                let pre = wv.data[j] * (a_tok - s_b)
                    + wv.data[wv.cols + j] * s_b
                    + wv.data[(d - 1) * wv.cols + j] * self.attention[t];
                self.head.w[j] * pre.max(0.0)
            })
            .sum()
    }

    /// Label (+-1) of a full input under the target.
    pub fn label(&self, bits: &[u8]) -> f64 {
        let p = self
            .support
            .iter()
            .enumerate()
            .fold(0usize, |acc, (j, &i)| acc | ((bits[i] as usize & 1) << j));
        if self.spec.target.value(p, self.spec.sparsity) {
            1.0
        } else {
            -1.0
        }
    }
}

#[cfg(test)]
mod tests;
