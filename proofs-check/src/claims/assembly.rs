//! Claims about the assembly of the bounds: the composed count (I13), its closed form (I15), the
//! paper's shape (I16, implementation identity only) and the margin bound's deterministic parts
//! (I22). Each recomputes the derivation's formula here, independently of `attnbounds::bounds`,
//! and compares it with the project's function.

use super::{claim, unit};
use crate::Claim;
use attnbounds::bounds::{self, BoundParams, HeadRadii, Setting};
use attnbounds::train::Loss;

/// A single-head instance: radii in `[e^-3, e^3]`, `m` and `T` in `[1, 1e4]`, `k` in `1..=8`,
/// `d = 4`, and `eps` in `[1e-4, 0.999] b_range` (below the trivial scale of (I24)).
struct Instance {
    setting: Setting,
    radii: HeadRadii,
    eps: f64,
}

const INSTANCE_DIM: usize = 9;

fn instance(p: &[f64]) -> Instance {
    let r = |x: f64| (3.0 * x.tanh()).exp();
    let count = |x: f64| (10f64.powf(4.0 * unit(x))).round().max(1.0) as usize;
    let radii = HeadRadii {
        b_x: r(p[0]),
        b_qk: r(p[1]),
        b_v: r(p[2]),
        b_v21: r(p[3]),
        b_w: r(p[4]),
    };
    let setting = Setting {
        num_samples: count(p[5]),
        context_len: count(p[6]),
        width: 4,
        value_dim: 1 + (8.0 * unit(p[7])).floor().min(7.0) as usize,
        heads: 1,
        layers: 1,
    };
    let range = bounds::head_range(&radii, &BoundParams::default());
    let eps = 0.999 * range * 10f64.powf(-4.0 * unit(p[8]));
    Instance {
        setting,
        radii,
        eps,
    }
}

/// `(A_j, n_j)` of the table in derivations section 3, recomputed from the radii.
fn stages(i: &Instance, kappa: f64) -> [(f64, f64); 3] {
    let (r, s) = (&i.radii, &i.setting);
    let (m, t, k, d) = (
        s.num_samples as f64,
        s.context_len as f64,
        s.value_dim as f64,
        s.width as f64,
    );
    let l = 1.0; // BoundParams::default().l_sigma
    let b_vf = r.b_v21.min(d.min(k).sqrt() * r.b_v);
    [
        (
            r.b_w * l * kappa * r.b_v * r.b_x * r.b_qk * r.b_x * r.b_x,
            m * (t + 1.0),
        ),
        (r.b_w * l * k.sqrt() * b_vf * r.b_x, m * k),
        (r.b_w * l * r.b_v * r.b_x, m),
    ]
}

/// The Lagrange split (I14): `eps_j = eps A_j^{2/3} / S`.
fn split(st: &[(f64, f64); 3], eps: f64) -> ([f64; 3], f64) {
    let s: f64 = st.iter().map(|(a, _)| a.powf(2.0 / 3.0)).sum();
    (
        std::array::from_fn(|j| eps * st[j].0.powf(2.0 / 3.0) / s),
        s,
    )
}

/// `ceil` of an argument computed in floating point, allowed to round down by `1e-12` relative:
/// the code may take a ceiling one larger (conservative, derivations section 10), never smaller.
fn ceil_tol(x: f64) -> f64 {
    (x * (1.0 - 1e-12)).ceil()
}

/// (I13): `bounds::explicit_log_covering` is at least the sum of Zhang counts at the split (I14),
/// recomputed here. `kappa_code` is the softmax constant handed to the code (1 is correct).
pub fn composed_count(kappa_code: f64) -> Claim {
    claim(
        "I13",
        "3-explicit-single-head-bound",
        &format!(
            "sum_j ceil(36 A_j^2/eps_j^2) ln(2 ceil(4 A_j/eps_j+2) n_j+1) <= explicit_log_covering (kappa = {kappa_code} in the code)"
        ),
        INSTANCE_DIM,
        move |p| {
            let i = instance(p);
            let st = stages(&i, 1.0);
            let (eps_j, _) = split(&st, i.eps);
            let lhs: f64 = st
                .iter()
                .zip(eps_j)
                .map(|((a, n), e)| {
                    let r = a / e;
                    ceil_tol(36.0 * r * r) * (2.0 * ceil_tol(4.0 * r + 2.0) * n + 1.0).ln()
                })
                .sum();
            let params = BoundParams {
                kappa: kappa_code,
                ..BoundParams::default()
            };
            let rhs = bounds::explicit_log_covering(&i.setting, &i.radii, &params, i.eps).ok()?;
            Some((lhs, rhs))
        },
    )
}

/// (I15): the exact count (the code's (I13)) is at most `(36 S^3/eps^2 + 3) L_max(eps)`.
/// `use_min` replaces `L_max` by the smallest stage log (the mutant).
pub fn closed_form_bound(use_min: bool) -> Claim {
    let which = if use_min { "L_min" } else { "L_max" };
    claim(
        "I15",
        "3-explicit-single-head-bound",
        &format!("explicit_log_covering <= (36 S^3/eps^2 + 3) {which}(eps)"),
        INSTANCE_DIM,
        move |p| {
            let i = instance(p);
            let st = stages(&i, 1.0);
            let (eps_j, s) = split(&st, i.eps);
            let logs = st
                .iter()
                .zip(eps_j)
                .map(|((a, n), e)| (2.0 * (4.0 * a / e + 3.0) * n + 1.0).ln());
            let l = if use_min {
                logs.fold(f64::INFINITY, f64::min)
            } else {
                logs.fold(0.0, f64::max)
            };
            let lhs =
                bounds::explicit_log_covering(&i.setting, &i.radii, &BoundParams::default(), i.eps)
                    .ok()?;
            Some((lhs, (36.0 * s.powi(3) / (i.eps * i.eps) + 3.0) * l))
        },
    )
}

/// (I16), implementation identity only: `bounds::paper_log_covering` equals the docs/derivations.md §4 formula
/// recomputed here (two-sided: `lhs = max`, `rhs = min` of the two). The inequality itself has an
/// unconfirmed constant `c0` and cannot be checked. `kappa_code` is the code's `kappa_paper`.
pub fn paper_shape(kappa_code: f64) -> Claim {
    claim(
        "I16",
        "4-the-papers-single-head-bound--shape",
        &format!(
            "paper_log_covering == c0 (L B_w B_X)^2 [B_V21^(2/3) + (2 B_QK B_V B_X^2)^(2/3)]^3 ln(mT)/eps^2 (two-sided; kappa_paper = {kappa_code} in the code)"
        ),
        INSTANCE_DIM,
        move |p| {
            let i = instance(p);
            let (r, s) = (&i.radii, &i.setting);
            let ln_mt = ((s.num_samples * s.context_len) as f64).ln();
            if ln_mt <= 0.0 {
                return None;
            }
            let bracket =
                r.b_v21.powf(2.0 / 3.0) + (2.0 * r.b_qk * r.b_v * r.b_x * r.b_x).powf(2.0 / 3.0);
            let formula = (r.b_w * r.b_x).powi(2) * bracket.powi(3) * ln_mt / (i.eps * i.eps);
            let params = BoundParams {
                kappa_paper: kappa_code,
                ..BoundParams::default()
            };
            let code = bounds::paper_log_covering(s, r, &params, i.eps).ok()?;
            Some((formula.max(code), formula.min(code)))
        },
    )
}

/// (I22) deterministic parts, with `train::Loss::Ramp`: (a) `1[y f <= 0] <= l_gamma(f, y)`,
/// (b) `|l_gamma(f, y) - l_gamma(f', y)| <= |f - f'| / gamma`, (c) `bounds::gap` is at least
/// `min(1, (2/gamma) Rad + 3 sqrt(ln(2/delta)/(2m)))`. `wrong` is the mutant's factor on the
/// rhs constant of each part (1 is correct; the margin threshold in (a) becomes `gamma (1 - wrong)`).
pub fn margin_parts(wrong: f64) -> Vec<Claim> {
    let sec = "7-generalization-gap";
    let gamma = |x: f64| (3.0 * x.tanh()).exp();
    let tag = if wrong == 1.0 {
        String::new()
    } else {
        format!(" [mutant factor {wrong}]")
    };
    vec![
        claim(
            "I22a",
            sec,
            &format!("1[y f <= 0] <= ramp_gamma(f, y) (train::Loss::Ramp){tag}"),
            3,
            move |p| {
                let (g, f) = (gamma(p[0]), p[1]);
                let y = if p[2] >= 0.0 { 1.0 } else { -1.0 };
                let threshold = g * (1.0 - wrong);
                let lhs = if y * f <= threshold { 1.0 } else { 0.0 };
                Some((lhs, Loss::Ramp { gamma: g }.value(f, y)))
            },
        ),
        claim(
            "I22b",
            sec,
            &format!("|ramp(f) - ramp(f')| <= |f - f'| / gamma + 4 eps_mach{tag}"),
            4,
            move |p| {
                let (g, f, f2) = (gamma(p[0]), p[1], p[2]);
                let y = if p[3] >= 0.0 { 1.0 } else { -1.0 };
                let loss = Loss::Ramp { gamma: g };
                // Two loss values in [0, 1] each carry a rounding error of ~1 ulp(1): without the
                // absolute 4 eps_mach the search "finds" f - f' = 1e-11 with ratio 1 + 5e-6,
                // which is cancellation in the check, not a property of the ramp.
                Some((
                    (loss.value(f, y) - loss.value(f2, y)).abs(),
                    wrong * (f - f2).abs() / g + 4.0 * f64::EPSILON,
                ))
            },
        ),
        claim(
            "I22c",
            sec,
            &format!("min(1, 2 Rad/gamma + 3 sqrt(ln(2/delta)/(2m))) <= bounds::gap{tag}"),
            4,
            move |p| {
                let rad = (4.0 * p[0].tanh()).exp() * 0.1;
                let g = gamma(p[1]);
                let m = (10f64.powf(6.0 * unit(p[2]))).round().max(1.0) as usize;
                let delta = 0.5 * unit(p[3]) + 1e-6;
                let lhs =
                    (2.0 / g * rad + 3.0 * ((2.0 / delta).ln() / (2.0 * m as f64)).sqrt()).min(1.0);
                Some((lhs, bounds::gap(wrong * rad, g, m, delta).ok()?))
            },
        ),
    ]
}
