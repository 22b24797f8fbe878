//! Composition of stage covers (`docs/derivations.md#3-explicit-single-head-bound`, (I12)-(I15)).
//!
//! A stage `j` moves the output by `alpha_j e_j` and has radius product `c_j = a_j b_j`, so only
//! `A_j = alpha_j c_j` matters once the output budget `eps_j = alpha_j e_j` is chosen. The split
//! is the closed-form optimum of the leading term (I14); any split is valid, so the result stays
//! rigorous. Everything is in log space.

use super::covering::{bft_ratio, maurey_ratio, sum_stages, volume_ratio, zhang_ratio};
use super::numerics::{exp_sat, log_sum_exp, up};

/// Which counting lemma a stage uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Lemma {
    /// Zhang Thm 4 (I1) on `n` points; `ln_n = ln n`.
    Zhang { ln_n: f64 },
    /// Maurey (I3) with `dim` parameters (no dependence on the number of points).
    Maurey { dim: f64 },
    /// Bartlett-Foster-Telgarsky Lemma 3.2 normalised to `L2(S)` (I26): `ceil(r^2) ln(2 W^2)`;
    /// `ln_log = ln ln(2 W^2)`.
    Bft { ln_log: f64 },
    /// The score stage of the tightened bound: the smaller of Zhang (I1) on `n` points and the
    /// volumetric cover (I27) `dim2 ln(1 + 2 r)` of a Frobenius ball in `R^dim2`.
    ZhangOrVolume { ln_n: f64, dim2: f64 },
}

impl Lemma {
    /// `ln N` of one copy of the stage at `ln r = ln(A / eps_j)`.
    fn count(self, ln_r: f64) -> f64 {
        match self {
            Lemma::Zhang { ln_n } => zhang_ratio(36f64.ln(), ln_r, ln_n),
            Lemma::Maurey { dim } => maurey_ratio(ln_r, dim),
            Lemma::Bft { ln_log } => bft_ratio(ln_r, ln_log),
            Lemma::ZhangOrVolume { ln_n, dim2 } => {
                zhang_ratio(36f64.ln(), ln_r, ln_n).min(volume_ratio(ln_r, dim2))
            }
        }
    }

    /// `ln K`, the weight of the stage's leading term `K A^2 / eps_j^2` in a log-weighted split
    /// (I28), with `ln_lambda` the ladder value standing in for Zhang's eps- and `n`-dependent log.
    fn ln_weight(self, ln_lambda: f64) -> f64 {
        match self {
            Lemma::Zhang { .. } | Lemma::ZhangOrVolume { .. } => 36f64.ln() + ln_lambda,
            Lemma::Maurey { dim } => (2.0 * dim + 1.0).ln().ln(),
            Lemma::Bft { ln_log } => ln_log,
        }
    }
}

/// How the budget `eps` is split across stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Split {
    /// (I14): `eps_j` proportional to `A_j^{2/3}` (every stage weighted alike).
    Unweighted,
    /// (I28): the smallest count over the splits `eps_j ~ (K_j A_j^2)^{1/3}`, `K_j` the stage's
    /// log weight, Zhang stages' log standing in as `lambda = 2^i`, `i = 0..=7`, plus the
    /// unweighted split; a finite family fixed in advance, so each member and the minimum are
    /// non-decreasing in every radius and in `T`.
    LogWeighted,
}

/// The ladder of Zhang-stage log weights of [`Split::LogWeighted`] (`ln lambda`).
const LADDER: [f64; 8] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];

/// One stage of a composed cover: `ln A_j`, how many identical copies, and its lemma.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stage {
    pub ln_a: f64,
    pub copies: f64,
    pub lemma: Lemma,
}

/// Per-stage offsets `ln(A_j/eps_j) + ln eps` of every split of the family `split`.
pub(crate) fn split_family(stages: &[Stage], split: Split) -> Vec<Vec<f64>> {
    let mut out = vec![split_offsets(stages)];
    if split == Split::LogWeighted {
        for ln2i in LADDER {
            let ln_k: Vec<f64> = stages
                .iter()
                .map(|s| s.lemma.ln_weight(ln2i * std::f64::consts::LN_2))
                .collect();
            out.push(weighted_offsets(stages, &ln_k));
        }
    }
    out
}

/// (I28) offsets for weights `K_j`: `eps_j = eps (K_j A_j^2)^{1/3} / S_K`,
/// `S_K = sum_j copies_j (K_j A_j^2)^{1/3}`, so `ln(A_j/eps_j) = (ln A_j - ln K_j)/3 + ln S_K - ln eps`.
fn weighted_offsets(stages: &[Stage], ln_k: &[f64]) -> Vec<f64> {
    let xs: Vec<f64> = stages
        .iter()
        .zip(ln_k)
        .map(|(s, k)| s.copies.ln() + (k + 2.0 * s.ln_a) / 3.0)
        .collect();
    let ls = log_sum_exp(&xs);
    stages
        .iter()
        .zip(ln_k)
        .map(|(s, k)| (s.ln_a - k) / 3.0 + ls)
        .collect()
}

/// `ln S`, `S = sum_j copies_j A_j^{2/3}`.
fn ln_s(stages: &[Stage]) -> f64 {
    let xs: Vec<f64> = stages
        .iter()
        .map(|s| s.copies.ln() + 2.0 / 3.0 * s.ln_a)
        .collect();
    log_sum_exp(&xs)
}

/// Per stage `ln(A_j / eps_j)` at the split (I14) minus `ln(1/eps)`:
/// `ln(A_j/eps_j) = rho_j - ln eps` with `rho_j = ln A_j / 3 + ln S`.
pub(crate) fn split_offsets(stages: &[Stage]) -> Vec<f64> {
    let ls = ln_s(stages);
    stages.iter().map(|s| s.ln_a / 3.0 + ls).collect()
}

/// (I13) at the split (I14): `sum_j copies_j ceil(c A_j^2/eps_j^2) * log factor`.
pub(crate) fn log_covering_at(stages: &[Stage], offsets: &[f64], eps: f64) -> f64 {
    let ln_eps = eps.ln();
    up(sum_stages(stages.iter().zip(offsets).map(|(s, rho)| {
        (s.lemma.count(rho - ln_eps) * s.copies).min(f64::MAX)
    })))
}

/// `eps -> ln N` of a composed cover: (I13) at the split (I14) below `range`, `0` at and above
/// it (one function covers the whole class there).
pub(crate) fn covering_fn(stages: Vec<Stage>, range: f64) -> impl Fn(f64) -> f64 + use<> {
    covering_fn_split(stages, range, Split::Unweighted)
}

/// [`covering_fn`] with the split family `split`: the smallest count over its members (each a
/// valid split, so the minimum is a valid bound), `0` at and above `range`.
pub(crate) fn covering_fn_split(
    stages: Vec<Stage>,
    range: f64,
    split: Split,
) -> impl Fn(f64) -> f64 + use<> {
    let family = split_family(&stages, split);
    move |eps: f64| {
        if eps >= range {
            0.0
        } else {
            family
                .iter()
                .map(|offsets| log_covering_at(&stages, offsets, eps))
                .fold(f64::MAX, f64::min)
        }
    }
}

/// `ln C` of the closed form (I15): `C = 36 S^3 L_max(eps_ref)` (Zhang stages only), so that
/// `ln N ~ C / eps^2`. Labelled "closed form": it drops the ceilings' `+3 L_max`.
pub(crate) fn closed_form_ln_c(stages: &[Stage], eps_ref: f64) -> f64 {
    let offsets = split_offsets(stages);
    let l_max = stages
        .iter()
        .zip(&offsets)
        .map(|(s, rho)| match s.lemma {
            Lemma::Zhang { ln_n } => zhang_log(rho - eps_ref.ln(), ln_n),
            Lemma::Maurey { dim } => (2.0 * dim + 1.0).ln(),
            Lemma::Bft { ln_log } => ln_log.exp(),
            Lemma::ZhangOrVolume { ln_n, .. } => zhang_log(rho - eps_ref.ln(), ln_n),
        })
        .fold(0.0, f64::max);
    36f64.ln() + 3.0 * ln_s(stages) + l_max.ln()
}

/// `ln(2 (4 r + 3) n + 1)` from `ln r`, `ln n`: Zhang's log factor with `ceil(x) <= x + 1`.
fn zhang_log(ln_r: f64, ln_n: f64) -> f64 {
    let ln_inner = log_sum_exp(&[4f64.ln() + ln_r, 3f64.ln()]);
    let x = std::f64::consts::LN_2 + ln_inner + ln_n;
    x + (-x).exp().ln_1p()
}

/// `ln C` of the tightened bound's closed form (I29): `C = (sum_j copies_j (K_j A_j^2)^{1/3})^3`
/// with `K_j = 36 L_j(eps_ref)` for a Zhang stage (its log factor at `eps_ref`, the volumetric
/// alternative ignored) and `K_j = ln(2 W^2)` for a BFT stage, so `ln N ~ C / eps^2`. A shape for
/// plots (ceilings dropped, log frozen), never a reported bound.
pub(crate) fn closed_form_weighted_ln_c(stages: &[Stage], eps_ref: f64) -> f64 {
    let offsets = split_offsets(stages);
    let ln_k: Vec<f64> = stages
        .iter()
        .zip(&offsets)
        .map(|(s, rho)| match s.lemma {
            Lemma::Zhang { ln_n } | Lemma::ZhangOrVolume { ln_n, .. } => {
                36f64.ln() + zhang_log(rho - eps_ref.ln(), ln_n).ln()
            }
            other => other.ln_weight(0.0),
        })
        .collect();
    let xs: Vec<f64> = stages
        .iter()
        .zip(&ln_k)
        .map(|(s, k)| s.copies.ln() + (k + 2.0 * s.ln_a) / 3.0)
        .collect();
    3.0 * log_sum_exp(&xs)
}

/// `C / eps^2` from `ln C`, saturated.
pub(crate) fn closed_form_at(ln_c: f64, eps: f64) -> f64 {
    exp_sat(ln_c - 2.0 * eps.ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_optimal_for_leading_term() {
        // (I14) with A = (1, 8, 27): S = 1 + 4 + 9 = 14, so sum A_j^2/eps_j^2 = 14^3 / eps^2.
        let stages: Vec<Stage> = [1.0f64, 8.0, 27.0]
            .iter()
            .map(|a| Stage {
                ln_a: a.ln(),
                copies: 1.0,
                lemma: Lemma::Maurey { dim: 1.0 },
            })
            .collect();
        let off = split_offsets(&stages);
        let eps = 0.5f64;
        let lead: f64 = off.iter().map(|rho| (2.0 * (rho - eps.ln())).exp()).sum();
        assert!((lead - 14f64.powi(3) / eps.powi(2)).abs() < 1e-6 * lead);
        // Any other split is worse: move budget from stage 3 to stage 1 (hand perturbation).
        let eps_j: Vec<f64> = [1.0f64, 4.0, 9.0].iter().map(|w| eps * w / 14.0).collect();
        let other = 1.0 / (eps_j[0] * 1.1).powi(2)
            + 64.0 / eps_j[1].powi(2)
            + 729.0 / (eps_j[2] - 0.1 * eps_j[0]).powi(2);
        assert!(other > lead);
    }
}
