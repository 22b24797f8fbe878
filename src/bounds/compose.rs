//! Composition of stage covers (`docs/derivations.md#3-explicit-single-head-bound`, (I12)-(I15)).
//!
//! A stage `j` moves the output by `alpha_j e_j` and has radius product `c_j = a_j b_j`, so only
//! `A_j = alpha_j c_j` matters once the output budget `eps_j = alpha_j e_j` is chosen. The split
//! is the closed-form optimum of the leading term (I14); any split is valid, so the result stays
//! rigorous. Everything is in log space.

use super::covering::{maurey_ratio, sum_stages, zhang_ratio};
use super::numerics::{exp_sat, log_sum_exp};

/// Which counting lemma a stage uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Lemma {
    /// Zhang Thm 4 (I1) on `n` points; `ln_n = ln n`.
    Zhang { ln_n: f64 },
    /// Maurey (I3) with `dim` parameters (no dependence on the number of points).
    Maurey { dim: f64 },
}

/// One stage of a composed cover: `ln A_j`, how many identical copies, and its lemma.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stage {
    pub ln_a: f64,
    pub copies: f64,
    pub lemma: Lemma,
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
    sum_stages(stages.iter().zip(offsets).map(|(s, rho)| {
        let ln_r = rho - ln_eps;
        let one = match s.lemma {
            Lemma::Zhang { ln_n } => zhang_ratio(36f64.ln(), ln_r, ln_n),
            Lemma::Maurey { dim } => maurey_ratio(ln_r, dim),
        };
        (one * s.copies).min(f64::MAX)
    }))
}

/// `eps -> ln N` of a composed cover: (I13) at the split (I14) below `range`, `0` at and above
/// it (one function covers the whole class there).
pub(crate) fn covering_fn(stages: Vec<Stage>, range: f64) -> impl Fn(f64) -> f64 + use<> {
    let offsets = split_offsets(&stages);
    move |eps: f64| {
        if eps >= range {
            0.0
        } else {
            log_covering_at(&stages, &offsets, eps)
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
            Lemma::Zhang { ln_n } => {
                let ln_r = rho - eps_ref.ln();
                // ln(2 (4 r + 3) n + 1), computed in log space.
                let ln_inner = log_sum_exp(&[4f64.ln() + ln_r, 3f64.ln()]);
                let x = std::f64::consts::LN_2 + ln_inner + ln_n;
                x + (-x).exp().ln_1p()
            }
            Lemma::Maurey { dim } => (2.0 * dim + 1.0).ln(),
        })
        .fold(0.0, f64::max);
    36f64.ln() + 3.0 * ln_s(stages) + l_max.ln()
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
