//! Baselines on the same radii (docs/derivations.md §9), `docs/derivations.md#9-baselines`.
//! Status **baseline**: comparisons assembled in the style of the cited papers.

use super::compose::{Lemma, Stage, closed_form_at, covering_fn};
use super::dudley::{dudley_closed_form, dudley_numeric};
use super::inputs::{BoundParams, HeadRadii, Setting};
use super::numerics::{exp_sat, log_sum_exp};
use super::single_head::{explicit_stages, head_range, single_head};
use super::table::{RowInputs, RowValues};
use crate::error::Result;

/// `ln C` of the spectral bound on the flattened input, `ln N ~ C / eps^2` in `L2(S)`:
/// `C = (T+1) B_X^2 ln(2 W^2) (L_sigma B_V B_w)^2 ((B_V21 / B_V)^{2/3} + 1)^3`,
/// `B_V21 = min(b_v21, sqrt(k min(d, k)) b_v)` (BFT's Theorem 3.3 reads a (2,1) radius),
/// `W = max((T+1) d, k)`. Polynomial in `T`.
///
/// Source: Bartlett, Foster, Telgarsky (2017) Lemma 3.2 and Thm 3.3 applied to the flattened
/// `(T+1) x d` input with frozen attention; `docs/derivations.md#9-baselines`.
pub fn spectral_flat_ln_c(setting: &Setting, r: &HeadRadii, p: &BoundParams) -> f64 {
    let t1 = setting.t() + 1.0;
    let w = (t1 * setting.width as f64).max(setting.value_dim as f64);
    let ratio = 2.0 / 3.0 * (r.b_v21_eff(setting).ln() - r.b_v.ln());
    t1.ln()
        + 2.0 * r.b_x.ln()
        + (std::f64::consts::LN_2 + 2.0 * w.ln()).ln()
        + 2.0 * (p.l_sigma.ln() + r.b_v.ln() + r.b_w.ln())
        + 3.0 * log_sum_exp(&[ratio, 0.0])
}

/// Sequence-length-free bound in the style of Trauger & Tewari (2024): our three stages with
/// Maurey's count (I3), `ln N <= sum_j ceil(A_j^2/eps_j^2) ln(2 D_j + 1)`,
/// `D = (d^2, d k, k)`, radii read as entrywise l1 radii. No `T`.
///
/// Source: `docs/derivations.md#9-baselines`.
pub(crate) fn maurey_style_fn(
    setting: &Setting,
    r: &HeadRadii,
    p: &BoundParams,
) -> impl Fn(f64) -> f64 + use<> {
    let (d, k) = (setting.width as f64, setting.value_dim as f64);
    let dims = [d * d, d * k, k];
    let stages: Vec<Stage> = explicit_stages(setting, r, p)
        .iter()
        .zip(dims)
        .map(|(s, dim)| Stage {
            lemma: Lemma::Maurey { dim },
            ..*s
        })
        .collect();
    covering_fn(stages, head_range(r, p))
}

/// Parameter count `P`: `d^2 + d k + k` for one head, `H L (d^2 + 2 d k) + d` for the deep model.
pub fn parameter_count(setting: &Setting) -> f64 {
    let (d, k) = (setting.width as f64, setting.value_dim as f64);
    if setting.is_single_head() {
        d * d + d * k + k
    } else {
        (setting.heads * setting.layers) as f64 * (d * d + 2.0 * d * k) + d
    }
}

/// VC dimension shape by parameter counting, `c_vc L P ln(T P)` **\[shape\]** (docs/derivations.md §9).
pub fn vc_parameter_counting(setting: &Setting, p: &BoundParams) -> f64 {
    let pc = parameter_count(setting);
    exp_sat(
        p.c_vc.ln()
            + (setting.layers as f64).ln()
            + pc.ln()
            + (setting.t() * pc).ln().max(1.0).ln(),
    )
}

/// Rademacher bound from a VC dimension (Sauer-Shelah + Massart): `sqrt(2 VC ln(e m / VC) / m)`
/// for `m > VC`, else the trivial 1.
pub fn rademacher_from_vc(vc: f64, m: usize) -> f64 {
    let m = m as f64;
    if vc >= m {
        1.0
    } else {
        (2.0 * vc * (1.0 + (m / vc).ln()) / m).sqrt().min(1.0)
    }
}

/// Lower bound (I25): the VC dimension of s-sparse conjunctions over `T` bits is at least
/// `s floor(log2(T / s))`, so `Omega(s log(T/s))` samples are necessary.
///
/// Source: `docs/derivations.md#9-baselines`.
pub fn vc_lower_sparse_and(context_len: usize, sparsity: usize) -> f64 {
    if sparsity == 0 || context_len < sparsity {
        return 0.0;
    }
    // floor(log2(floor(T / s))) equals floor(log2(T / s)); integer arithmetic avoids rounding.
    let q = context_len / sparsity;
    sparsity as f64 * (usize::BITS - 1 - q.leading_zeros()) as f64
}

/// Row `SpectralFlat`: `C / eps^2` of [`spectral_flat_ln_c`], Dudley in closed form (I21).
pub(crate) fn spectral_flat_row(x: &RowInputs) -> Result<Option<RowValues>> {
    let (head, p) = (&x.radii.head, x.params);
    let c_flat = closed_form_at(spectral_flat_ln_c(x.setting, head, p), 1.0);
    let rad = dudley_closed_form(c_flat, head_range(head, p), x.setting.num_samples)?;
    let ln_n = closed_form_at(c_flat.ln(), p.eps);
    Ok(Some(RowValues::covering(ln_n, rad, x, x.ln_conf)))
}

/// Row `MaureyStyle` (single head): the Maurey-style count, numeric Dudley (I19).
pub(crate) fn maurey_style_row(x: &RowInputs) -> Result<Option<RowValues>> {
    single_head(x, |head| {
        let f = maurey_style_fn(x.setting, head, x.params);
        let rad = dudley_numeric(&f, head_range(head, x.params), x.setting.num_samples)?.value;
        Ok(RowValues::covering(f(x.params.eps), rad, x, x.ln_conf))
    })
}

/// Row `ParameterCounting`: the VC shape, its Rademacher bound (Sauer-Shelah + Massart) and
/// the gap `min(1, 2 Rad + 3 sqrt(ln(2/delta) / (2m)))` (0/1 loss, no margin).
pub(crate) fn parameter_counting_row(x: &RowInputs) -> Result<Option<RowValues>> {
    let m = x.setting.num_samples;
    let vc = vc_parameter_counting(x.setting, x.params);
    let rad = rademacher_from_vc(vc, m);
    Ok(Some(RowValues {
        vc_dimension: Some(vc),
        rademacher: Some(rad),
        gap: Some((2.0 * rad + 3.0 * (x.ln_conf / (2.0 * m as f64)).sqrt()).min(1.0)),
        ..RowValues::default()
    }))
}

/// Row `SparseAndLowerBound`: the VC dimension [`vc_lower_sparse_and`] only.
pub(crate) fn lower_bound_row(x: &RowInputs) -> Result<Option<RowValues>> {
    Ok(Some(RowValues {
        vc_dimension: Some(vc_lower_sparse_and(
            x.setting.context_len,
            x.params.sparsity,
        )),
        ..RowValues::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::fixtures::{unit_head, unit_setting};

    #[test]
    fn lower_bound_by_hand() {
        // s = 3, T = 100: floor(log2(33.3)) = 5 -> 15; T = 1000: floor(log2(333.3)) = 8 -> 24.
        assert_eq!(vc_lower_sparse_and(100, 3), 15.0);
        assert_eq!(vc_lower_sparse_and(1000, 3), 24.0);
        assert_eq!(vc_lower_sparse_and(3, 3), 0.0);
    }

    #[test]
    fn spectral_flat_by_hand() {
        // T = 1, d = k = 1, all radii 1, L = 1: C = 2 ln(2 * 4) * (1 + 1)^3 = 16 ln 8.
        let s = unit_setting();
        let r = unit_head();
        let c = spectral_flat_ln_c(&s, &r, &BoundParams::default()).exp();
        assert!((c - 16.0 * 8f64.ln()).abs() < 1e-9, "{c}");
    }

    #[test]
    fn vc_rademacher_by_hand() {
        // VC = 10, m = 1000: sqrt(20 (1 + ln 100) / 1000).
        let v = rademacher_from_vc(10.0, 1000);
        assert!((v - (20.0 * (1.0 + 100f64.ln()) / 1000.0).sqrt()).abs() < 1e-15);
        assert_eq!(rademacher_from_vc(10.0, 5), 1.0);
    }
}
