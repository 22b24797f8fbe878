//! Multi-head, multi-layer bound (docs/derivations.md §5), `docs/derivations.md#5-multi-head-multi-layer`.

use super::compose::{Lemma, Split, Stage, covering_fn_split};
use super::covering::bft_ln_log;
use super::generalization::round_up_to_grid;
use super::inputs::{BoundParams, LayerRadii, Setting};
use super::table::{DeepRadii, RowInputs, RowValues};
use super::tightening::{Tightening, gap_of, rademachers};
use crate::error::{Error, Result, check};

/// `ln(1 + e^x)` without overflow.
fn softplus(x: f64) -> f64 {
    if x > 35.0 {
        x + (-x).exp()
    } else {
        x.exp().ln_1p()
    }
}

/// `ln rho_l`, the layer's Lipschitz constant in the max-row-norm metric (I17):
/// `rho_l = 1 + H L_sigma B_C B_V (1 + 2 kappa B_QK)`.
pub fn ln_layer_lipschitz(heads: usize, r: &LayerRadii, p: &BoundParams) -> f64 {
    let ln_one_plus = softplus(std::f64::consts::LN_2 + p.kappa.ln() + r.b_qk.ln());
    softplus((heads as f64).ln() + p.l_sigma.ln() + r.b_c.ln() + r.b_v.ln() + ln_one_plus)
}

/// Stages of the deep cover: per layer `l` and head, scores / values / output projection, then
/// the read-out (table in the derivation document).
/// The deep cover's stages under `t`; [`Tightening::ROUND_1`] gives the table of section 5: with `l2_covers`, the last layer's values and output projection
/// and the read-out use the normalised BFT lemma in `L2(S)` (I26; only the \[CLS\] row of the
/// last layer is read, so their errors need no uniform control, section 12.6); with
/// `volumetric`, every score stage is min'd with the volumetric count (I27).
///
/// With `earlier_l2` (and `l2_covers`) the values and output projection of every *earlier*
/// layer are covered by the normalised BFT lemma too, over all `m q_l` rows, which costs the
/// factor `q_l = T + 1` in the count (I36, section 12.9): `A` gains `sqrt(q_l)`.
pub(crate) fn deep_stages_with(
    setting: &Setting,
    layers: &[LayerRadii],
    b_w: f64,
    p: &BoundParams,
    t: Tightening,
    earlier_l2: bool,
) -> Vec<Stage> {
    let (d, k, h) = (
        setting.width as f64,
        setting.value_dim as f64,
        setting.heads as f64,
    );
    let (ln_m, ln_t1) = (setting.m().ln(), (setting.t() + 1.0).ln());
    let rank = d.min(k).sqrt();
    let mut stages = Vec::with_capacity(3 * layers.len() + 1);
    // ln D_l = ln B_w + sum_{l' > l} ln rho_{l'}, built from the last layer backwards.
    let mut ln_d = b_w.ln();
    for (l, r) in layers.iter().enumerate().rev() {
        let ln_q = if l + 1 == layers.len() { 0.0 } else { ln_t1 };
        let ls = p.l_sigma.ln();
        let b_vf = r.b_v21.min(rank * r.b_v);
        let b_cf = r.b_c21.min(rank * r.b_c);
        let ln_n = ln_m + ln_q + ln_t1;
        stages.push(Stage {
            ln_a: ln_d + ls + r.b_c.ln() + r.b_v.ln() + p.kappa.ln() + r.b_qk.ln(),
            copies: h,
            lemma: if t.volumetric {
                Lemma::ZhangOrVolume { ln_n, dim2: d * d }
            } else {
                Lemma::Zhang { ln_n }
            },
        });
        if t.l2_covers && (l + 1 == layers.len() || earlier_l2) {
            // (2,1) radii: ||A||_{2,1} <= sqrt(cols) ||A||_F (W_V: k columns, W_C: d columns).
            let b_v21 = r.b_v21.min(k.sqrt() * rank * r.b_v);
            let b_c21 = r.b_c21.min(d.sqrt() * rank * r.b_c);
            let ln_log = bft_ln_log(d.max(k));
            // (I36): an earlier layer's rows are all read (q_l = T + 1), and the next layer
            // needs the per-sample max-row error: sum over the q_l rows, a factor sqrt(q_l) in A.
            let ln_sq = 0.5 * ln_q;
            stages.push(Stage {
                ln_a: ln_d + ls + r.b_c.ln() + b_v21.ln() + ln_sq,
                copies: h,
                lemma: Lemma::Bft { ln_log },
            });
            stages.push(Stage {
                ln_a: ln_d + b_c21.ln() + ls + r.b_v.ln() + ln_sq,
                copies: h,
                lemma: Lemma::Bft { ln_log },
            });
            ln_d += ln_layer_lipschitz(setting.heads, r, p);
            continue;
        }
        stages.push(Stage {
            ln_a: ln_d + ls + r.b_c.ln() + 0.5 * k.ln() + b_vf.ln(),
            copies: h,
            lemma: Lemma::Zhang {
                ln_n: ln_m + ln_q + k.ln(),
            },
        });
        stages.push(Stage {
            ln_a: ln_d + 0.5 * d.ln() + b_cf.ln() + ls + r.b_v.ln(),
            copies: h,
            lemma: Lemma::Zhang {
                ln_n: ln_m + ln_q + d.ln(),
            },
        });
        ln_d += ln_layer_lipschitz(setting.heads, r, p);
    }
    stages.push(Stage {
        ln_a: b_w.ln(),
        copies: 1.0,
        lemma: if t.l2_covers {
            Lemma::Bft {
                ln_log: bft_ln_log(d),
            }
        } else {
            Lemma::Zhang { ln_n: ln_m }
        },
    });
    stages
}

pub(crate) fn validate_deep(
    setting: &Setting,
    layers: &[LayerRadii],
    b_w: f64,
    params: &BoundParams,
) -> Result<()> {
    setting.validate()?;
    params.validate()?;
    check::positive("b_w", b_w)?;
    if layers.len() != setting.layers {
        return Err(Error::shape(
            "layers (radii per layer)",
            setting.layers,
            layers.len(),
        ));
    }
    layers
        .iter()
        .enumerate()
        .try_for_each(|(l, r)| r.validate(l))
}

/// `eps -> ln N` of the deep model under `t` (range `b_range = B_w`).
pub(crate) fn deep_fn_with(
    setting: &Setting,
    layers: &[LayerRadii],
    b_w: f64,
    params: &BoundParams,
    t: Tightening,
) -> impl Fn(f64) -> f64 + use<> {
    let split = if t.log_split {
        Split::LogWeighted
    } else {
        Split::Unweighted
    };
    // Two complete covers, each non-decreasing in every radius and in T: earlier layers by
    // Zhang (section 5) or by the normalised BFT lemma with the factor q_l (I36). Both are valid
    // at every eps, so their minimum is (section 12.9).
    let zhang = covering_fn_split(
        deep_stages_with(setting, layers, b_w, params, t, false),
        b_w,
        split,
    );
    let bft = (t.l2_covers && layers.len() > 1).then(|| {
        covering_fn_split(
            deep_stages_with(setting, layers, b_w, params, t, true),
            b_w,
            split,
        )
    });
    move |eps: f64| {
        let z = zhang(eps);
        bft.as_ref().map_or(z, |f| z.min(f(eps)))
    }
}

/// Deep model bound, **rigorous** for the model `Y_0 = Pi(X~)`,
/// `Y_l = Pi(Y_{l-1} + sum_h A_{l,h}(Y_{l-1}))`, `f = w^T y_cls,L` (rows projected to the unit
/// ball, so `B_X` does not enter):
///
/// `ln N_inf <= sum_stages copies ceil(36 A^2/eps_j^2) ln(2 ceil(4 A/eps_j + 2) n + 1)`, with
/// `3 L H + 1` stages, `A` built from `D_l = B_w prod_{l' > l} rho_{l'}` and
/// `rho_l = 1 + H L_sigma B_C B_V (1 + 2 kappa B_QK)` (I17), split by (I14); `0` for `eps >= B_w`.
///
/// Source: `docs/derivations.md#5-multi-head-multi-layer`.
pub fn deep_log_covering(
    setting: &Setting,
    layers: &[LayerRadii],
    b_w: f64,
    params: &BoundParams,
    eps: f64,
) -> Result<f64> {
    validate_deep(setting, layers, b_w, params)?;
    check::positive("eps", eps)?;
    Ok(deep_fn_with(
        setting,
        layers,
        b_w,
        params,
        Tightening::ROUND_1,
    )(eps))
}

/// The tightened deep bound's `L2(S)` covering number (section 12.6), **rigorous**: as
/// [`deep_log_covering`], with the last layer's values and output projection and the read-out
/// covered in `L2(S)` by the normalised BFT lemma (I26), every score stage min'd with the
/// volumetric count (I27), and the log-weighted split family (I28).
///
/// Source: `docs/derivations.md#126-the-deep-bound`.
pub fn deep_l2_log_covering(
    setting: &Setting,
    layers: &[LayerRadii],
    b_w: f64,
    params: &BoundParams,
    eps: f64,
) -> Result<f64> {
    validate_deep(setting, layers, b_w, params)?;
    check::positive("eps", eps)?;
    Ok(deep_fn_with(setting, layers, b_w, params, Tightening::ALL)(
        eps,
    ))
}

/// Row `Deep` (when `radii.deep` is given): the tightened deep bound [`deep_l2_log_covering`],
/// numeric Dudley to `B_w / 2` (I30), the gap with the range `min(B_w, gamma)` (I31) and the
/// one-sided confidence (I32: `B_X` does not enter, so the bound holds for every sample).
pub(crate) fn deep_row(x: &RowInputs) -> Result<Option<RowValues>> {
    let Some((layers, b_w)) = x.radii.layers(x.setting) else {
        return Ok(None);
    };
    deep_values(x, &layers, b_w, x.ln_conf, Tightening::ALL).map(Some)
}

/// Row `DeepRound1`: the deep bound of section 5 (`l_inf` covers, Dudley to `B_w`, two-sided
/// confidence), kept for comparison.
pub(crate) fn deep_round1_row(x: &RowInputs) -> Result<Option<RowValues>> {
    let Some((layers, b_w)) = x.radii.layers(x.setting) else {
        return Ok(None);
    };
    deep_values(x, &layers, b_w, x.ln_conf, Tightening::ROUND_1).map(Some)
}

/// Row `DeepPostHoc`: every radius rounded up to its grid (I23), `delta` split over the grid
/// tuples. Uniform radii are 6 tied radii (`B_QK, B_V, B_V^{2,1}, B_w, B_C, B_C^{2,1}`; `B_X`
/// does not enter the deep bound); per-layer radii are `B_w` and 5 per layer.
pub(crate) fn deep_post_hoc_row(x: &RowInputs) -> Result<Option<RowValues>> {
    let (h, p) = (&x.radii.head, x.params);
    let (layers, b_w, ln_conf) = match &x.radii.deep {
        None => return Ok(None),
        Some(DeepRadii::Uniform { b_c, b_c21 }) => {
            let trained = [h.b_qk, h.b_v, h.b_v21, h.b_w, *b_c, *b_c21];
            let (g, _, ln_conf) = round_up_to_grid(&trained, p.r_min, p.delta)?;
            let layer = LayerRadii {
                b_qk: g[0],
                b_v: g[1],
                b_v21: g[2],
                b_c: g[4],
                b_c21: g[5],
            };
            (vec![layer; x.setting.layers], g[3], ln_conf)
        }
        Some(DeepRadii::PerLayer(layers)) => {
            let trained: Vec<f64> = std::iter::once(h.b_w)
                .chain(
                    layers
                        .iter()
                        .flat_map(|l| [l.b_qk, l.b_v, l.b_v21, l.b_c, l.b_c21]),
                )
                .collect();
            let (g, _, ln_conf) = round_up_to_grid(&trained, p.r_min, p.delta)?;
            let grid_layers = g[1..]
                .chunks_exact(5)
                .map(|c| LayerRadii {
                    b_qk: c[0],
                    b_v: c[1],
                    b_v21: c[2],
                    b_c: c[3],
                    b_c21: c[4],
                })
                .collect();
            (grid_layers, g[0], ln_conf)
        }
    };
    validate_deep(x.setting, &layers, b_w, p)?;
    deep_values(x, &layers, b_w, ln_conf, Tightening::ALL).map(Some)
}

fn deep_values(
    x: &RowInputs,
    layers: &[LayerRadii],
    b_w: f64,
    ln_conf: f64,
    t: Tightening,
) -> Result<RowValues> {
    let f = deep_fn_with(x.setting, layers, b_w, x.params, t);
    let (m, gamma) = (x.setting.num_samples, x.params.gamma);
    let rads = rademachers(&f, b_w, m, gamma, t)?;
    let ln_n = f(x.params.eps);
    Ok(RowValues {
        log_covering: Some(ln_n),
        rademacher: Some(rads.of_f),
        // B_X does not enter the deep bound: one-sided whenever the step is on (I32).
        gap: Some(gap_of(rads.for_gap, gamma, m, ln_conf, t.fixed_b_x)),
        vc_dimension: None,
        saturated: ln_n >= f64::MAX,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::fixtures::{unit_layer, unit_setting};

    #[test]
    fn lipschitz_by_hand() {
        // H = 2, L_sigma = 1, B_C = 0.5, B_V = 3, B_QK = 1, kappa = 1:
        // rho = 1 + 2 * 1.5 * (1 + 2) = 10.
        let r = LayerRadii {
            b_qk: 1.0,
            b_v: 3.0,
            b_v21: 3.0,
            b_c: 0.5,
            b_c21: 0.5,
        };
        let v = ln_layer_lipschitz(2, &r, &BoundParams::default()).exp();
        assert!((v - 10.0).abs() < 1e-12, "{v}");
    }

    #[test]
    fn one_layer_one_head_by_hand() {
        // m = T = d = k = H = L = 1, all radii 1, eps = 0.45 (< B_w = 1). Last layer: q = 1.
        // Stages A = (1, 1, 1, 1) (sqrt(k) = sqrt(d) = 1), S = 4, A/eps_j = 4/0.45 = 8.889:
        // ceil(36 * 79.01) = ceil(2844.4) = 2845, ceil(35.56 + 2) = 38;
        // n = (m*1*(T+1), m*1*k, m*1*d, m) = (2, 1, 1, 1):
        // ln N = 2845 (ln(2*38*2 + 1) + 3 ln(2*38 + 1)) = 2845 (ln 153 + 3 ln 77).
        let s = unit_setting();
        let r = unit_layer();
        let v = deep_log_covering(&s, &[r], 1.0, &BoundParams::default(), 0.45).unwrap();
        let expect = 2845.0 * (153f64.ln() + 3.0 * 77f64.ln());
        crate::bounds::fixtures::assert_outward(v, expect);
    }

    #[test]
    fn wrong_number_of_layers_is_a_shape_error() {
        let s = Setting {
            layers: 2,
            ..unit_setting()
        };
        let r = unit_layer();
        assert!(matches!(
            deep_log_covering(&s, &[r], 1.0, &BoundParams::default(), 0.5),
            Err(Error::ShapeMismatch { .. })
        ));
    }
}
