//! The tightened explicit bounds (round 2, `docs/derivations.md#12-tightened-explicit-bounds`)
//! and the slack ledger that measures what each tightening buys.
//!
//! A [`Tightening`] switches each step of section 12 on or off; [`Tightening::ROUND_1`] is the
//! bound of sections 3, 6 and 7 (every step off) and [`Tightening::ALL`] the reported bound. Every
//! combination is a rigorous bound: each step replaces one valid inequality by another.

use super::compose::{Lemma, Split, Stage, covering_fn_split};
use super::covering::bft_ln_log;
use super::dudley::{dudley_numeric, dudley_numeric_half};
use super::generalization::round_up_to_grid;
use super::inputs::{BoundParams, HeadRadii, Setting};
use super::numerics::up;
use super::sample_size::{SampleSize, sample_size};
use super::single_head::{explicit_stages, head_range};
use crate::error::{Result, check};
use serde::Serialize;

/// Which steps of `docs/derivations.md#12-tightened-explicit-bounds` are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tightening {
    /// (I26) `L2(S)` covers after the softmax: values and read-out by the normalised BFT lemma.
    pub l2_covers: bool,
    /// (I28) the eps split weighted by the stages' log factors.
    pub log_split: bool,
    /// (I30) Dudley's integral ends at `b/2`.
    pub dudley_half: bool,
    /// (I31) the ramp loss sees `clip(f, -gamma, gamma)`: range `min(b_range, gamma)`.
    pub ramp_range: bool,
    /// (I27) the volumetric, `T`-free score cover, min'd with Zhang's.
    pub volumetric: bool,
    /// (I32) one-sided confidence term and no `B_X` grid when `params.b_x_fixed` (B_X bounds every
    /// possible input, fixed before the data). Has no effect when `b_x_fixed` is false.
    pub fixed_b_x: bool,
    /// (I34), (I35) a fixed embedding read by the one \[CLS\] query: the score stage covers the
    /// centred scores of the table's rows (Zhang on `min(rows, m (T+1))` points, volumetric in
    /// the span dimension) and the mixing pays the half diameter. No effect when
    /// `params.embedding` is `None`.
    pub fixed_query: bool,
}

impl Tightening {
    /// The explicit bound of sections 3, 6, 7 (round 1).
    pub const ROUND_1: Tightening = Tightening {
        l2_covers: false,
        log_split: false,
        dudley_half: false,
        ramp_range: false,
        volumetric: false,
        fixed_b_x: false,
        fixed_query: false,
    };
    /// Every step: the reported explicit bound.
    pub const ALL: Tightening = Tightening {
        l2_covers: true,
        log_split: true,
        dudley_half: true,
        ramp_range: true,
        volumetric: true,
        fixed_b_x: true,
        fixed_query: true,
    };

    /// The ledger's steps, in the order they are applied cumulatively: name, inequality, and
    /// the tightening with this and every earlier step on.
    pub fn steps() -> [(&'static str, &'static str, Tightening); 7] {
        let mut t = Tightening::ROUND_1;
        let mut step = |name, eq, f: fn(&mut Tightening)| {
            f(&mut t);
            (name, eq, t)
        };
        [
            step(
                "L2(S) covers after the softmax (values, read-out)",
                "I26",
                |t| t.l2_covers = true,
            ),
            step(
                "eps split weighted by the stages' log factors",
                "I28",
                |t| t.log_split = true,
            ),
            step("Dudley's integral ends at b/2", "I30", |t| {
                t.dudley_half = true
            }),
            step("ramp-loss range min(b_range, gamma)", "I31", |t| {
                t.ramp_range = true
            }),
            step(
                "volumetric T-free score cover (min with Zhang)",
                "I27",
                |t| t.volumetric = true,
            ),
            step(
                "B_X fixed by the embedding: one-sided confidence",
                "I32",
                |t| t.fixed_b_x = true,
            ),
            step(
                "fixed embedding, one [CLS] query: centred table scores",
                "I34",
                |t| t.fixed_query = true,
            ),
        ]
    }
}

/// The score stage (stage 1) of the single-head cover under `t`: `A_1 = B_w L kappa B_V B_X *
/// B_QK B_X^2` on `m (T + 1)` points (sections 3, 12.1), or with `t.fixed_query` and a fixed
/// embedding (I34, I35) `A_1 = B_w L kappa B_V min(B_X, h) * B_QK min(B_X, B_cls) min(B_X, R_c)`
/// on `min(rows, m (T + 1))` points, the volumetric alternative (with `t.volumetric`) in
/// dimension `min(d, D)` instead of `d^2`.
pub(crate) fn score_stage(
    setting: &Setting,
    r: &HeadRadii,
    p: &BoundParams,
    t: Tightening,
) -> Stage {
    let (lw, ls, lv, lx) = (r.b_w.ln(), p.l_sigma.ln(), r.b_v.ln(), r.b_x.ln());
    let d = setting.width as f64;
    let points = setting.m() * (setting.t() + 1.0);
    let (ln_mix, ln_ab, ln_n, dim2) = match (t.fixed_query, p.embedding) {
        (true, Some(e)) => (
            e.half_diameter.min(r.b_x).ln(),
            r.b_qk.ln() + e.cls_norm.min(r.b_x).ln() + e.key_radius.min(r.b_x).ln(),
            points.min(e.rows as f64).ln(),
            d.min(e.span_dim as f64),
        ),
        _ => (lx, r.b_qk.ln() + 2.0 * lx, points.ln(), d * d),
    };
    Stage {
        ln_a: lw + ls + p.kappa.ln() + lv + ln_mix + ln_ab,
        copies: 1.0,
        lemma: if t.volumetric {
            Lemma::ZhangOrVolume { ln_n, dim2 }
        } else {
            Lemma::Zhang { ln_n }
        },
    }
}

/// Stages of the tightened single-head cover (table of section 12.4): scores by Zhang (I1) on
/// `m (T + 1)` points (or the smaller volumetric count (I27)), values and read-out by the
/// normalised BFT lemma (I26) in `L2(S)`. `A = (B_w L kappa B_V B_X^3 B_QK, B_w L B_V21 B_X,
/// B_w L B_V B_X)` with `B_V21 = min(b_v21, sqrt(k min(d, k)) b_v)`.
pub(crate) fn tight_stages(
    setting: &Setting,
    r: &HeadRadii,
    p: &BoundParams,
    t: Tightening,
) -> [Stage; 3] {
    let (lw, ls, lv, lx) = (r.b_w.ln(), p.l_sigma.ln(), r.b_v.ln(), r.b_x.ln());
    let (d, k) = (setting.width as f64, setting.value_dim as f64);
    [
        score_stage(setting, r, p, t),
        Stage {
            ln_a: lw + ls + r.b_v21_eff(setting).ln() + lx,
            copies: 1.0,
            lemma: Lemma::Bft {
                ln_log: bft_ln_log(d.max(k)),
            },
        },
        Stage {
            ln_a: lw + ls + lv + lx,
            copies: 1.0,
            lemma: Lemma::Bft {
                ln_log: bft_ln_log(k),
            },
        },
    ]
}

/// `eps -> ln N` of the single-head class under `t`: `ln N_inf` (round 1) or `ln N_2(L2(S))`.
pub(crate) fn head_covering_fn(
    setting: &Setting,
    radii: &HeadRadii,
    params: &BoundParams,
    t: Tightening,
) -> impl Fn(f64) -> f64 + use<> {
    let stages = if t.l2_covers {
        tight_stages(setting, radii, params, t)
    } else {
        let mut s = explicit_stages(setting, radii, params);
        s[0] = score_stage(setting, radii, params, t);
        s
    };
    let split = if t.log_split {
        Split::LogWeighted
    } else {
        Split::Unweighted
    };
    covering_fn_split(stages.to_vec(), head_range(radii, params), split)
}

/// Rademacher bounds of one class: of `F` itself, and of `clip_gamma o F` (what the gap uses).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rads {
    pub of_f: f64,
    pub for_gap: f64,
}

/// Dudley (I19, or I30 with `dudley_half`) on `ln_n` with range `b`; for the gap also on the
/// clipped class of range `min(b, gamma)` (I31) when `ramp_range`.
pub(crate) fn rademachers(
    ln_n: &dyn Fn(f64) -> f64,
    b: f64,
    m: usize,
    gamma: f64,
    t: Tightening,
) -> Result<Rads> {
    let dudley = |b: f64| -> Result<f64> {
        let clipped = |eps: f64| if eps >= b { 0.0 } else { ln_n(eps) };
        Ok(if t.dudley_half {
            dudley_numeric_half(clipped, b, m)?.value
        } else {
            dudley_numeric(clipped, b, m)?.value
        })
    };
    let of_f = dudley(b)?;
    let for_gap = if t.ramp_range && gamma < b {
        dudley(gamma)?.min(of_f)
    } else {
        of_f
    };
    Ok(Rads { of_f, for_gap })
}

/// The gap (I22) from the Rademacher bound `rad` of the (clipped) class, with the two-sided
/// confidence `3 sqrt(ln(2/delta)/(2m))`, or with `one_sided` the term `sqrt(ln(1/delta)/(2m))`
/// (I32); `ln_conf = ln(2/delta)` (post-hoc: `ln(2/delta_J)`). Rounded outward, capped at 1.
pub(crate) fn gap_of(rad: f64, gamma: f64, m: usize, ln_conf: f64, one_sided: bool) -> f64 {
    let m = m as f64;
    let conf = if one_sided {
        ((ln_conf - std::f64::consts::LN_2).max(0.0) / (2.0 * m)).sqrt()
    } else {
        3.0 * (ln_conf / (2.0 * m)).sqrt()
    };
    up(2.0 / gamma * rad + conf).min(1.0)
}

/// Everything one explicit single-head row reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct HeadBound {
    pub log_covering: f64,
    pub rademacher: f64,
    pub gap: f64,
}

/// The explicit single-head bound under `t` at fixed radii, `ln_conf = ln(2/delta)` (or a
/// post-hoc `ln(2/delta_J)`). Inputs must be validated.
pub(crate) fn head_bound(
    setting: &Setting,
    radii: &HeadRadii,
    params: &BoundParams,
    t: Tightening,
    ln_conf: f64,
) -> Result<HeadBound> {
    let f = head_covering_fn(setting, radii, params, t);
    let b = head_range(radii, params);
    let rads = rademachers(&f, b, setting.num_samples, params.gamma, t)?;
    let one_sided = t.fixed_b_x && params.b_x_fixed;
    Ok(HeadBound {
        log_covering: f(params.eps),
        rademacher: rads.of_f,
        gap: gap_of(
            rads.for_gap,
            params.gamma,
            setting.num_samples,
            ln_conf,
            one_sided,
        ),
    })
}

/// The post-hoc radii and `ln(2/delta_J)` (I23) for trained norms; with `t.fixed_b_x` and
/// `params.b_x_fixed`, `B_X` is not on the grid (it is fixed before the data, (I32)).
pub(crate) fn head_post_hoc(
    trained: &HeadRadii,
    params: &BoundParams,
    t: Tightening,
) -> Result<(HeadRadii, f64)> {
    trained.validate()?;
    let a = trained.to_array();
    if t.fixed_b_x && params.b_x_fixed {
        let (g, _, ln_conf) = round_up_to_grid(&a[1..], params.r_min, params.delta)?;
        Ok((
            HeadRadii::from_array([a[0], g[0], g[1], g[2], g[3]]),
            ln_conf,
        ))
    } else {
        let (g, _, ln_conf) = round_up_to_grid(&a, params.r_min, params.delta)?;
        Ok((
            HeadRadii::from_array([g[0], g[1], g[2], g[3], g[4]]),
            ln_conf,
        ))
    }
}

/// One line of the slack ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerStep {
    /// What this step changes (`"explicit, round 1"` for the starting point).
    pub step: &'static str,
    /// Its inequality in `docs/derivations.md` (empty for the start).
    pub inequality: &'static str,
    /// Smallest `m` with gap `<= target` with this and every earlier step applied.
    pub sample_size: SampleSize,
    /// `m` of the previous line divided by this line's (how many times fewer samples).
    pub factor: Option<f64>,
}

/// The slack ledger at one setting (`docs/derivations.md#125-the-slack-ledger`): the smallest
/// `m` (by [`sample_size`], capped at `cap`) with explicit single-head gap `<= target`, for
/// round 1 and then after each step of [`Tightening::steps`] in turn, and the factor each step
/// contributes. Also the *remainder*: `m` if the score stage cost nothing (not a bound: what
/// Zhang's constant 36 and its `ln(m T)` still cost, the part the tightenings leave).
/// `setting.num_samples` is ignored (it is the searched quantity).
pub fn slack_ledger(
    setting: &Setting,
    radii: &HeadRadii,
    params: &BoundParams,
    target: f64,
    cap: usize,
) -> Result<(Vec<LedgerStep>, SampleSize)> {
    setting.validate()?;
    radii.validate()?;
    params.validate()?;
    check::positive("target", target)?;
    let ln_conf = (2.0 / params.delta).ln();
    let search = |t: Tightening| {
        sample_size(target, cap, |m| {
            let s = Setting {
                num_samples: m,
                ..*setting
            };
            Ok(head_bound(&s, radii, params, t, ln_conf)?.gap)
        })
    };
    let mut out = vec![LedgerStep {
        step: "explicit, round 1",
        inequality: "",
        sample_size: search(Tightening::ROUND_1)?,
        factor: None,
    }];
    for (name, eq, t) in Tightening::steps() {
        let ss = search(t)?;
        let factor = match (
            out.last().and_then(|p| p.sample_size.reached()),
            ss.reached(),
        ) {
            (Some(a), Some(b)) => Some(a / b),
            _ => None,
        };
        out.push(LedgerStep {
            step: name,
            inequality: eq,
            sample_size: ss,
            factor,
        });
    }
    // Remainder: the score stage removed (B_QK -> tiny), every step on.
    let free = HeadRadii {
        b_qk: radii.b_qk * 1e-30,
        ..*radii
    };
    let remainder = sample_size(target, cap, |m| {
        let s = Setting {
            num_samples: m,
            ..*setting
        };
        Ok(head_bound(&s, &free, params, Tightening::ALL, ln_conf)?.gap)
    })?;
    Ok((out, remainder))
}

/// The explicit single-head bound at trained norms (post hoc, section 8) under `t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExplicitPostHoc {
    /// The grid radii (with `t.fixed_b_x` and `b_x_fixed`, `b_x` is the trained one).
    pub radii: HeadRadii,
    /// `ln(2/delta_J)` of the grid point (I23).
    pub ln_two_over_delta: f64,
    /// Bound on `Rad_S(F)` at the grid radii.
    pub rademacher: f64,
    /// The confidence term of the gap (two-sided, or one-sided by (I32)).
    pub confidence: f64,
    /// `(2/gamma) Rad(clip o F) + confidence`, not capped at 1 (figures show it raw).
    pub gap_uncapped: f64,
    /// `C` of the closed form (`ln N ~ C/eps^2` at `eps`: (I15) for round 1, (I29) otherwise),
    /// for the uncapped shape `12 sqrt(C/m)`; a shape, not a bound.
    pub closed_form_c: f64,
}

/// [`ExplicitPostHoc`] for trained norms `trained`, **rigorous** (the gap; the closed form is a
/// shape). Source: `docs/derivations.md#8-post-hoc-bound-for-trained-weights`, section 12.
pub fn explicit_post_hoc(
    setting: &Setting,
    trained: &HeadRadii,
    params: &BoundParams,
    t: Tightening,
) -> Result<ExplicitPostHoc> {
    setting.validate()?;
    params.validate()?;
    let (radii, ln_conf) = head_post_hoc(trained, params, t)?;
    let f = head_covering_fn(setting, &radii, params, t);
    let m = setting.num_samples;
    let rads = rademachers(&f, head_range(&radii, params), m, params.gamma, t)?;
    let one_sided = t.fixed_b_x && params.b_x_fixed;
    let confidence = gap_of(0.0, params.gamma, m, ln_conf, one_sided);
    let closed_form_c = if t.l2_covers {
        super::single_head::explicit_closed_form(setting, &radii, params, params.eps)?
    } else {
        super::single_head::explicit_closed_form_round1(setting, &radii, params, params.eps)?
    };
    Ok(ExplicitPostHoc {
        radii,
        ln_two_over_delta: ln_conf,
        rademacher: rads.of_f,
        confidence,
        gap_uncapped: up(2.0 / params.gamma * rads.for_gap + confidence),
        closed_form_c,
    })
}
