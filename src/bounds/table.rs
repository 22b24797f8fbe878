//! One row per applicable bound for a parameter set: [`all_bounds`].

use super::baselines::{
    maurey_style_fn, rademacher_from_vc, spectral_flat_ln_c, vc_lower_sparse_and,
    vc_parameter_counting,
};
use super::compose::closed_form_at;
use super::deep::{deep_fn, validate_deep};
use super::dudley::{dudley_closed_form, dudley_numeric};
use super::generalization::{gap_ln, post_hoc_grid, round_up_to_grid};
use super::inputs::{BoundParams, HeadRadii, LayerRadii, Setting, check_sparsity};
use super::single_head::{explicit_closed_form, explicit_fn, head_range, paper_ln_c};
use crate::error::{Result, check};
use serde::{Deserialize, Serialize};

/// How far a row can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Status {
    /// Proved in `docs/derivations.md` from cited statements, constants explicit.
    Rigorous,
    /// A closed form of a rigorous bound used for plots (drops ceilings, freezes a log).
    ClosedForm,
    /// The paper's formula with the unconfirmed constant `c0` (SPEC 3.1).
    PaperShape { c0: f64 },
    /// A comparison bound assembled in the style of another paper.
    Baseline,
    /// A lower bound on what any learner needs.
    LowerBound,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Rigorous => write!(f, "rigorous"),
            Status::ClosedForm => write!(f, "closed form"),
            Status::PaperShape { c0 } => write!(f, "paper shape, c0 = {c0}"),
            Status::Baseline => write!(f, "baseline"),
            Status::LowerBound => write!(f, "lower bound"),
        }
    }
}

/// One bound evaluated at one parameter set. Absent numbers do not apply to that bound.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundRow {
    pub name: &'static str,
    /// Bound on `ln N(F, eps, S)` at `params.eps`.
    pub log_covering: Option<f64>,
    /// Bound on the empirical Rademacher complexity `Rad_S(F)`.
    pub rademacher: Option<f64>,
    /// Bound on the generalization gap of the `gamma`-ramp loss, w.p. `>= 1 - delta`.
    pub gap: Option<f64>,
    /// A VC dimension (parameter counting, or the lower bound).
    pub vc_dimension: Option<f64>,
    pub status: Status,
    /// Where the formula is derived or stated.
    pub source: &'static str,
    /// `log_covering` hit `f64::MAX` (the true bound is larger; Rademacher and gap stay valid).
    pub saturated: bool,
}

/// Radii for [`all_bounds`]: the head's, plus `W_C` radii for the deep model (the deep row is
/// produced only when both are given; they apply uniformly to every layer and head).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Radii {
    pub head: HeadRadii,
    /// Bound on `||W_C||_2`.
    pub b_c: Option<f64>,
    /// Bound on `||W_C||_{2,1}`.
    pub b_c21: Option<f64>,
}

const SRC_EXPLICIT: &str = "docs/derivations.md#3-explicit-single-head-bound";
const SRC_PAPER: &str =
    "Edelman et al. 2022 (SPEC 3.1); docs/derivations.md#4-the-papers-single-head-bound--shape";
const SRC_DEEP: &str = "docs/derivations.md#5-multi-head-multi-layer";
const SRC_POST_HOC: &str = "docs/derivations.md#8-post-hoc-bound-for-trained-weights";
const SRC_BASELINES: &str = "docs/derivations.md#9-baselines";

fn row(name: &'static str, status: Status, source: &'static str) -> BoundRow {
    BoundRow {
        name,
        log_covering: None,
        rademacher: None,
        gap: None,
        vc_dimension: None,
        status,
        source,
        saturated: false,
    }
}

/// Fill a row from `ln N(eps)` and a Rademacher bound.
fn fill(
    mut r: BoundRow,
    ln_n: f64,
    rad: f64,
    p: &BoundParams,
    m: usize,
    ln_two_over_delta: f64,
) -> BoundRow {
    r.log_covering = Some(ln_n);
    r.saturated = ln_n >= f64::MAX;
    r.rademacher = Some(rad);
    r.gap = Some(gap_ln(rad, p.gamma, m, ln_two_over_delta));
    r
}

/// Rademacher bound of our explicit single-head bound via numeric Dudley (I19), **rigorous**.
/// Source: `docs/derivations.md#6-dudleys-entropy-integral`.
pub fn explicit_rademacher(
    setting: &Setting,
    radii: &HeadRadii,
    params: &BoundParams,
) -> Result<f64> {
    setting.validate()?;
    radii.validate()?;
    params.validate()?;
    let f = explicit_fn(setting, radii, params);
    Ok(dudley_numeric(f, head_range(radii, params), setting.num_samples)?.value)
}

/// Gap bound (I22) of our explicit single-head bound, **rigorous** for fixed radii.
/// Source: `docs/derivations.md#7-generalization-gap`.
pub fn explicit_gap(setting: &Setting, radii: &HeadRadii, params: &BoundParams) -> Result<f64> {
    let rad = explicit_rademacher(setting, radii, params)?;
    Ok(gap_ln(
        rad,
        params.gamma,
        setting.num_samples,
        (2.0 / params.delta).ln(),
    ))
}

/// Every applicable bound for one parameter set, in a fixed order. Single-head rows (ours, its
/// closed form, post-hoc, the paper's shape, the Maurey-style baseline) need `heads = layers = 1`;
/// the deep row needs `radii.b_c` and `radii.b_c21` (and is required when `heads` or `layers`
/// exceed 1). The post-hoc row treats `radii.head` as the trained norms.
pub fn all_bounds(setting: &Setting, radii: &Radii, params: &BoundParams) -> Result<Vec<BoundRow>> {
    setting.validate()?;
    radii.head.validate()?;
    params.validate()?;
    check_sparsity(setting, params)?;
    let (m, eps, head) = (setting.num_samples, params.eps, &radii.head);
    let ln_conf = (2.0 / params.delta).ln();
    let mut rows = Vec::with_capacity(9);

    if setting.is_single_head() {
        let range = head_range(head, params);
        let f = explicit_fn(setting, head, params);
        let ln_n = f(eps);
        let rad = dudley_numeric(&f, range, m)?.value;
        rows.push(fill(
            row(
                "explicit single-head (ours)",
                Status::Rigorous,
                SRC_EXPLICIT,
            ),
            ln_n,
            rad,
            params,
            m,
            ln_conf,
        ));

        let c = explicit_closed_form(setting, head, params, eps)?;
        let rad = dudley_closed_form(c, range, m)?;
        let cf = closed_form_at(c.ln(), eps);
        rows.push(fill(
            row(
                "explicit single-head, closed form C/eps^2",
                Status::ClosedForm,
                SRC_EXPLICIT,
            ),
            cf,
            rad,
            params,
            m,
            ln_conf,
        ));

        let ph = post_hoc_grid(head, params.r_min, params.delta)?;
        let f = explicit_fn(setting, &ph.radii, params);
        let ln_n = f(eps);
        let rad = dudley_numeric(&f, head_range(&ph.radii, params), m)?.value;
        rows.push(fill(
            row(
                "explicit single-head, post-hoc (radii grid)",
                Status::Rigorous,
                SRC_POST_HOC,
            ),
            ln_n,
            rad,
            params,
            m,
            ph.ln_two_over_delta,
        ));

        let status = Status::PaperShape { c0: params.c0 };
        let (cf, rad) = match paper_ln_c(setting, head, params) {
            Some(ln_c) => (
                closed_form_at(ln_c, eps),
                dudley_closed_form(closed_form_at(ln_c, 1.0), range, m)?,
            ),
            None => (0.0, 0.0),
        };
        rows.push(fill(
            row("paper single-head (Edelman et al. 2022)", status, SRC_PAPER),
            cf,
            rad,
            params,
            m,
            ln_conf,
        ));
    }

    match (radii.b_c, radii.b_c21) {
        (Some(b_c), Some(b_c21)) => {
            let layer = LayerRadii {
                b_qk: head.b_qk,
                b_v: head.b_v,
                b_v21: head.b_v21,
                b_c,
                b_c21,
            };
            let layers = vec![layer; setting.layers];
            validate_deep(setting, &layers, head.b_w, params)?;
            let f = deep_fn(setting, &layers, head.b_w, params);
            let ln_n = f(eps);
            let rad = dudley_numeric(&f, head.b_w, m)?.value;
            rows.push(fill(
                row("multi-head multi-layer (ours)", Status::Rigorous, SRC_DEEP),
                ln_n,
                rad,
                params,
                m,
                ln_conf,
            ));

            // Post hoc (I23 with K = 6; B_X does not enter the deep bound): every radius
            // rounded up to its grid, delta split over the grid tuples.
            let trained = [head.b_qk, head.b_v, head.b_v21, head.b_w, b_c, b_c21];
            let (g, _, ln_conf_ph) = round_up_to_grid(&trained, params.r_min, params.delta)?;
            let ph_layer = LayerRadii {
                b_qk: g[0],
                b_v: g[1],
                b_v21: g[2],
                b_c: g[4],
                b_c21: g[5],
            };
            let ph_layers = vec![ph_layer; setting.layers];
            validate_deep(setting, &ph_layers, g[3], params)?;
            let f = deep_fn(setting, &ph_layers, g[3], params);
            let ln_n = f(eps);
            let rad = dudley_numeric(&f, g[3], m)?.value;
            rows.push(fill(
                row(
                    "multi-head multi-layer (ours), post-hoc (radii grid)",
                    Status::Rigorous,
                    SRC_POST_HOC,
                ),
                ln_n,
                rad,
                params,
                m,
                ln_conf_ph,
            ));
        }
        (None, None) if setting.is_single_head() => {}
        (b_c, _) => {
            // The deep model is the only bound for H > 1 or L > 1, and it needs both radii.
            let field = if b_c.is_none() { "b_c" } else { "b_c21" };
            check::positive(field, f64::NAN)?;
        }
    }

    let range = head_range(head, params);
    let c_flat = closed_form_at(spectral_flat_ln_c(setting, head, params), 1.0);
    let rad = dudley_closed_form(c_flat, range, m)?;
    rows.push(fill(
        row(
            "spectral, flattened input (BFT 2017 style)",
            Status::Baseline,
            SRC_BASELINES,
        ),
        closed_form_at(c_flat.ln(), eps),
        rad,
        params,
        m,
        ln_conf,
    ));

    if setting.is_single_head() {
        let f = maurey_style_fn(setting, head, params);
        let ln_n = f(eps);
        let rad = dudley_numeric(&f, range, m)?.value;
        rows.push(fill(
            row(
                "sequence-length-free, Maurey (Trauger-Tewari style)",
                Status::Baseline,
                SRC_BASELINES,
            ),
            ln_n,
            rad,
            params,
            m,
            ln_conf,
        ));
    }

    let vc = vc_parameter_counting(setting, params);
    let rad = rademacher_from_vc(vc, m);
    let mut r = row(
        "parameter counting, VC ~ L P ln(T P)",
        Status::Baseline,
        SRC_BASELINES,
    );
    r.vc_dimension = Some(vc);
    r.rademacher = Some(rad);
    r.gap = Some((2.0 * rad + 3.0 * (ln_conf / (2.0 * m as f64)).sqrt()).min(1.0));
    rows.push(r);

    let mut r = row(
        "lower bound, s-sparse AND: VC >= s floor(log2(T/s))",
        Status::LowerBound,
        SRC_BASELINES,
    );
    r.vc_dimension = Some(vc_lower_sparse_and(setting.context_len, params.sparsity));
    rows.push(r);
    Ok(rows)
}
