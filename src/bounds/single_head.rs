//! Single \[CLS\] head: our explicit bound (docs/derivations.md §3) and the paper's shape (docs/derivations.md §4).

use super::compose::{
    Lemma, Stage, closed_form_at, closed_form_ln_c, closed_form_weighted_ln_c, covering_fn,
};
use super::dudley::{dudley_closed_form, dudley_closed_form_half};
use super::inputs::{BoundParams, HeadRadii, Setting};
use super::numerics::exp_up;
use super::table::{RowInputs, RowValues};
use super::tightening::{Tightening, head_bound, head_covering_fn, head_post_hoc, tight_stages};
use crate::error::{Result, check};

/// `b_range = B_w L_sigma B_V B_X`, a bound on `|f|` over the head class (I24), computed as
/// `exp(sum of logs)` and rounded outward (`docs/derivations.md#10-numerics`).
pub fn head_range(radii: &HeadRadii, params: &BoundParams) -> f64 {
    exp_up(radii.b_w.ln() + params.l_sigma.ln() + radii.b_v.ln() + radii.b_x.ln())
}

/// The three stages of `docs/derivations.md#3-explicit-single-head-bound` (table there).
pub(crate) fn explicit_stages(setting: &Setting, r: &HeadRadii, p: &BoundParams) -> [Stage; 3] {
    let (lw, ls, lv, lx) = (r.b_w.ln(), p.l_sigma.ln(), r.b_v.ln(), r.b_x.ln());
    let k = setting.value_dim as f64;
    let ln_m = setting.m().ln();
    [
        // scores: alpha = B_w L kappa B_V B_X, c = B_QK B_X^2, n = m (T + 1)
        Stage {
            ln_a: lw + ls + p.kappa.ln() + lv + lx + r.b_qk.ln() + 2.0 * lx,
            copies: 1.0,
            lemma: Lemma::Zhang {
                ln_n: ln_m + (setting.t() + 1.0).ln(),
            },
        },
        // values: alpha = B_w L sqrt(k), c = B_VF B_X, n = m k
        Stage {
            ln_a: lw + ls + 0.5 * k.ln() + r.b_vf(setting).ln() + lx,
            copies: 1.0,
            lemma: Lemma::Zhang {
                ln_n: ln_m + k.ln(),
            },
        },
        // read-out: alpha = 1, c = B_w L B_V B_X, n = m
        Stage {
            ln_a: lw + ls + lv + lx,
            copies: 1.0,
            lemma: Lemma::Zhang { ln_n: ln_m },
        },
    ]
}

/// Validate the inputs and the scale at which a bound is evaluated (named `scale`).
fn validate(
    setting: &Setting,
    radii: &HeadRadii,
    params: &BoundParams,
    (scale, eps): (&str, f64),
) -> Result<()> {
    setting.validate()?;
    radii.validate()?;
    params.validate()?;
    check::positive(scale, eps).map(|_| ())
}

/// `eps -> ln N` of our explicit single-head bound, for Dudley's integral.
pub(crate) fn explicit_fn(
    setting: &Setting,
    radii: &HeadRadii,
    params: &BoundParams,
) -> impl Fn(f64) -> f64 + use<> {
    covering_fn(
        explicit_stages(setting, radii, params).to_vec(),
        head_range(radii, params),
    )
}

/// Our explicit single-head bound, **rigorous**, (I13) at the split (I14):
///
/// `ln N_inf(F_head, eps, S) <= sum_{j=1}^3 ceil(36 A_j^2/eps_j^2) ln(2 ceil(4 A_j/eps_j + 2) n_j + 1)`,
/// `A = (B_w L_sigma kappa B_V B_X^3 B_QK, B_w L_sigma sqrt(k) B_VF B_X, B_w L_sigma B_V B_X)`,
/// `n = (m (T+1), m k, m)`, `eps_j = eps A_j^{2/3} / sum_i A_i^{2/3}`; `0` for `eps >= b_range`.
/// The class includes the read-out `w`.
///
/// Source: `docs/derivations.md#3-explicit-single-head-bound`.
pub fn explicit_log_covering(
    setting: &Setting,
    radii: &HeadRadii,
    params: &BoundParams,
    eps: f64,
) -> Result<f64> {
    validate(setting, radii, params, ("eps", eps))?;
    Ok(explicit_fn(setting, radii, params)(eps))
}

/// Closed form of the round-1 explicit bound, for plots: returns `C` with `ln N ~ C / eps^2`,
/// `C = 36 (sum_j A_j^{2/3})^3 L_max(eps_ref)` (I15). **Closed form, not a bound**: the exact
/// round-1 bound exceeds it by at most `3 L_max` plus the change of the log factor.
///
/// Source: `docs/derivations.md#3-explicit-single-head-bound` (closed form).
pub fn explicit_closed_form_round1(
    setting: &Setting,
    radii: &HeadRadii,
    params: &BoundParams,
    eps_ref: f64,
) -> Result<f64> {
    validate(setting, radii, params, ("eps_ref", eps_ref))?;
    let stages = explicit_stages(setting, radii, params);
    Ok(closed_form_at(closed_form_ln_c(&stages, eps_ref), 1.0))
}

/// Closed form of the tightened explicit bound (I29), for plots: `C` with `ln N_2 ~ C / eps^2`,
/// `C = (sum_j (K_j A_j^2)^{1/3})^3`, `K = (36 L_1(eps_ref), ln(2 max(d,k)^2), ln(2 k^2))`,
/// stages of [`explicit_l2_log_covering`] (the volumetric alternative ignored). **Closed form,
/// not a bound**: it drops the ceilings and freezes the score stage's log at `eps_ref`.
///
/// Source: `docs/derivations.md#12-tightened-explicit-bounds`.
pub fn explicit_closed_form(
    setting: &Setting,
    radii: &HeadRadii,
    params: &BoundParams,
    eps_ref: f64,
) -> Result<f64> {
    validate(setting, radii, params, ("eps_ref", eps_ref))?;
    // The closed form ignores the volumetric alternative (I29); the fixed-query score stage (I34)
    // is used when `params.embedding` is given.
    let t = Tightening {
        volumetric: false,
        ..Tightening::ALL
    };
    let stages = tight_stages(setting, radii, params, t);
    Ok(closed_form_at(
        closed_form_weighted_ln_c(&stages, eps_ref),
        1.0,
    ))
}

/// The tightened explicit single-head bound's `L2(S)` covering number, **rigorous**, (I26)-(I29):
///
/// `ln N_2(F_head, eps, L2(S)) <= min over the split family (I28) of
///   min(Zhang_1, d^2 ln(1 + 2 A_1/eps_1)) + ceil(A_2^2/eps_2^2) ln(2 max(d,k)^2) + ceil(A_3^2/eps_3^2) ln(2 k^2)`,
/// `A = (B_w L kappa B_V B_X^3 B_QK, B_w L B_V21 B_X, B_w L B_V B_X)`,
/// `Zhang_1 = ceil(36 A_1^2/eps_1^2) ln(2 ceil(4 A_1/eps_1 + 2) m (T+1) + 1)`; `0` for
/// `eps >= b_range`. An `L2(S)` (not `l_inf`) covering number: what Dudley's integral reads.
///
/// Source: `docs/derivations.md#12-tightened-explicit-bounds`.
pub fn explicit_l2_log_covering(
    setting: &Setting,
    radii: &HeadRadii,
    params: &BoundParams,
    eps: f64,
) -> Result<f64> {
    validate(setting, radii, params, ("eps", eps))?;
    Ok(head_covering_fn(setting, radii, params, Tightening::ALL)(
        eps,
    ))
}

/// `ln C` of the paper's shape (I16), `ln N = C / eps^2`; `None` when `ln(m T) = 0`.
pub(crate) fn paper_ln_c(setting: &Setting, r: &HeadRadii, p: &BoundParams) -> Option<f64> {
    let ln_mt = setting.m().ln() + setting.t().ln();
    if ln_mt <= 0.0 {
        return None;
    }
    let lx = r.b_x.ln();
    let first = 2.0 / 3.0 * r.b_v21.ln();
    let second = 2.0 / 3.0 * (p.kappa_paper.ln() + r.b_qk.ln() + r.b_v.ln() + 2.0 * lx);
    let ln_bracket = super::numerics::log_sum_exp(&[first, second]);
    Some(p.c0.ln() + 2.0 * (p.l_sigma.ln() + r.b_w.ln() + lx) + 3.0 * ln_bracket + ln_mt.ln())
}

/// The paper's single-head bound, **paper shape** with free constant `c0` (I16):
///
/// `ln N_inf <= c0 (L_sigma B_w B_X)^2 [ (B_V^{2,1})^{2/3} + (kappa B_QK B_V B_X^2)^{2/3} ]^3 ln(m T) / eps^2`,
/// `kappa = params.kappa_paper` (2 in the paper), `B_V^{2,1} = radii.b_v21`, `B_QK = radii.b_qk`.
///
/// Source: Edelman, Goel, Kakade, Zhang (2022), single-head capacity bound (docs/derivations.md §4);
/// `docs/derivations.md#4-the-papers-single-head-bound--shape`.
pub fn paper_log_covering(
    setting: &Setting,
    radii: &HeadRadii,
    params: &BoundParams,
    eps: f64,
) -> Result<f64> {
    validate(setting, radii, params, ("eps", eps))?;
    Ok(paper_ln_c(setting, radii, params).map_or(0.0, |ln_c| closed_form_at(ln_c, eps)))
}

/// Row [`BoundId::Explicit`](super::BoundId::Explicit): the tightened bound (section 12): its
/// `ln N_2(eps)`, numeric Dudley to `b/2` (I30), the gap with the ramp range (I31) and, when
/// `b_x_fixed`, the one-sided confidence (I32).
pub(crate) fn explicit_row(x: &RowInputs) -> Result<Option<RowValues>> {
    single_head(x, |head| tightened(x, head, Tightening::ALL, x.ln_conf))
}

/// Row `ExplicitRound1`: the explicit bound of section 3 (`l_inf` covers, Dudley to `b`, range
/// `b_range`, two-sided confidence), kept for comparison.
pub(crate) fn explicit_round1_row(x: &RowInputs) -> Result<Option<RowValues>> {
    single_head(x, |head| tightened(x, head, Tightening::ROUND_1, x.ln_conf))
}

/// Row `ExplicitClosedForm`: the tightened bound's closed form `C/eps^2` (I29) with Dudley's
/// closed form to `b/2`; **not a bound** (a shape for plots).
pub(crate) fn explicit_closed_form_row(x: &RowInputs) -> Result<Option<RowValues>> {
    single_head(x, |head| {
        let c = explicit_closed_form(x.setting, head, x.params, x.params.eps)?;
        let rad = dudley_closed_form_half(c, head_range(head, x.params), x.setting.num_samples)?;
        let cf = closed_form_at(c.ln(), x.params.eps);
        Ok(RowValues::covering(cf, rad, x, x.ln_conf))
    })
}

/// Row `ExplicitPostHoc`: the tightened bound at the post-hoc grid radii (I23); with
/// `b_x_fixed`, `B_X` is not on the grid (I32).
pub(crate) fn explicit_post_hoc_row(x: &RowInputs) -> Result<Option<RowValues>> {
    single_head(x, |head| {
        let (radii, ln_conf) = head_post_hoc(head, x.params, Tightening::ALL)?;
        tightened(x, &radii, Tightening::ALL, ln_conf)
    })
}

/// [`head_bound`] as a row.
fn tightened(x: &RowInputs, radii: &HeadRadii, t: Tightening, ln_conf: f64) -> Result<RowValues> {
    let b = head_bound(x.setting, radii, x.params, t, ln_conf)?;
    Ok(RowValues {
        log_covering: Some(b.log_covering),
        rademacher: Some(b.rademacher),
        gap: Some(b.gap),
        vc_dimension: None,
        saturated: b.log_covering >= f64::MAX,
    })
}

/// Row `PaperShape`: [`paper_log_covering`] at `eps`, Dudley in closed form (I21).
pub(crate) fn paper_row(x: &RowInputs) -> Result<Option<RowValues>> {
    single_head(x, |head| {
        let (m, eps) = (x.setting.num_samples, x.params.eps);
        let (cf, rad) = match paper_ln_c(x.setting, head, x.params) {
            Some(ln_c) => (
                closed_form_at(ln_c, eps),
                dudley_closed_form(closed_form_at(ln_c, 1.0), head_range(head, x.params), m)?,
            ),
            None => (0.0, 0.0),
        };
        Ok(RowValues::covering(cf, rad, x, x.ln_conf))
    })
}

/// `f(radii.head)` for a one-head, one-layer setting; `None` otherwise.
pub(crate) fn single_head(
    x: &RowInputs,
    f: impl FnOnce(&HeadRadii) -> Result<RowValues>,
) -> Result<Option<RowValues>> {
    if x.setting.is_single_head() {
        f(&x.radii.head).map(Some)
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::fixtures::{unit_head, unit_setting};

    fn unit() -> (Setting, HeadRadii, BoundParams) {
        let s = unit_setting();
        let r = unit_head();
        (s, r, BoundParams::default())
    }

    #[test]
    fn explicit_by_hand_all_unit() {
        // All radii, m, T, d, k, L_sigma, kappa = 1: A_j = 1 for every stage, S = 3,
        // eps_j = eps/3. At eps = 0.85 (< b_range = 1): A/eps_j = 3/0.85 = 3.5294 for each stage:
        // ceil(36 * 12.457) = ceil(448.4) = 449, ceil(4 * 3.5294 + 2) = ceil(16.12) = 17;
        // n = (m(T+1), mk, m) = (2, 1, 1): ln N = 449 (ln(2*17*2 + 1) + 2 ln(2*17 + 1)).
        let (s, r, p) = unit();
        let v = explicit_log_covering(&s, &r, &p, 0.85).unwrap();
        let expect = 449.0 * (69f64.ln() + 2.0 * 35f64.ln());
        crate::bounds::fixtures::assert_outward(v, expect);
        // Trivial scale: eps >= b_range -> ln N = 0; b_range = 1 is rounded outward to
        // 1 + 1e-9, so eps = 1 itself is (conservatively) not yet trivial.
        assert_eq!(explicit_log_covering(&s, &r, &p, 1.0 + 1e-8).unwrap(), 0.0);
        assert!(explicit_log_covering(&s, &r, &p, 1.0).unwrap() > 0.0);
    }

    #[test]
    fn tightened_stages_by_hand() {
        // Same unit setting, only the L2(S) covers on (unweighted split, no volumetric):
        // A/eps_j = 3/0.85 = 3.5294 for each stage. Scores, Zhang as above: 449 ln 69.
        // Values and read-out, BFT (I26) with W = max(d, k) = 1 and k = 1:
        // ceil(3.5294^2) = ceil(12.457) = 13, times ln(2 * 1^2) = ln 2, each.
        let (s, r, p) = unit();
        let t = Tightening {
            l2_covers: true,
            ..Tightening::ROUND_1
        };
        let v = head_covering_fn(&s, &r, &p, t)(0.85);
        crate::bounds::fixtures::assert_outward(v, 449.0 * 69f64.ln() + 26.0 * 2f64.ln());
        // Volumetric on too (I27), d = 1: min(449 ln 69, 1 * ln(1 + 2 * 3.5294)) = ln 8.0588.
        let t = Tightening {
            volumetric: true,
            ..t
        };
        let v = head_covering_fn(&s, &r, &p, t)(0.85);
        let expect = (1.0 + 2.0 * 3.0 / 0.85f64).ln() + 26.0 * 2f64.ln();
        crate::bounds::fixtures::assert_outward(v, expect);
        // The full bound (log-weighted family, I28) is at most the unweighted member.
        let all = explicit_l2_log_covering(&s, &r, &p, 0.85).unwrap();
        assert!(all <= v, "{all} > {v}");
    }

    #[test]
    fn paper_shape_by_hand() {
        // m = 10, T = 100, everything else 1, kappa_paper = 2, c0 = 1, eps = 0.5:
        // (1 + 2^{2/3})^3 ln(1000) / 0.25.
        let (mut s, r, p) = unit();
        s.num_samples = 10;
        s.context_len = 100;
        let v = paper_log_covering(&s, &r, &p, 0.5).unwrap();
        let expect = (1.0 + 2f64.powf(2.0 / 3.0)).powi(3) * 1000f64.ln() / 0.25;
        assert!((v - expect).abs() < 1e-9 * expect, "{v} vs {expect}");
    }

    #[test]
    fn closed_form_is_within_its_stated_slack() {
        // (I15): exact <= (36 S^3/eps^2 + 3) L_max(eps) and C/eps^2 = 36 S^3 L_max / eps^2.
        let (mut s, r, p) = unit();
        s.num_samples = 1000;
        s.context_len = 500;
        let eps = 0.01;
        let exact = explicit_log_covering(&s, &r, &p, eps).unwrap();
        let c = explicit_closed_form_round1(&s, &r, &p, eps).unwrap();
        let closed = c / (eps * eps);
        // L_max at eps is C / (36 S^3), S = 3 here (all A_j = 1).
        let l_max = c / (36.0 * 27.0);
        assert!(
            exact <= closed + 3.0 * l_max + 1e-9,
            "{exact} > {closed} + 3 {l_max}"
        );
        // and not far below it (ceilings only add): exact >= closed * (smallest log / largest log).
        assert!(exact >= 0.5 * closed, "{exact} vs {closed}");
    }
}
