//! Multi-head, multi-layer bound (docs/derivations.md §5), `docs/derivations.md#5-multi-head-multi-layer`.

use super::compose::{Lemma, Stage, covering_fn};
use super::dudley::dudley_numeric;
use super::generalization::round_up_to_grid;
use super::inputs::{BoundParams, LayerRadii, Setting};
use super::table::{DeepRadii, RowInputs, RowValues};
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
pub(crate) fn deep_stages(
    setting: &Setting,
    layers: &[LayerRadii],
    b_w: f64,
    p: &BoundParams,
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
        stages.push(Stage {
            ln_a: ln_d + ls + r.b_c.ln() + r.b_v.ln() + p.kappa.ln() + r.b_qk.ln(),
            copies: h,
            lemma: Lemma::Zhang {
                ln_n: ln_m + ln_q + ln_t1,
            },
        });
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
        lemma: Lemma::Zhang { ln_n: ln_m },
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

/// Validated `eps -> ln N` of the deep model, and its range `b_range = B_w`.
pub(crate) fn deep_fn(
    setting: &Setting,
    layers: &[LayerRadii],
    b_w: f64,
    params: &BoundParams,
) -> impl Fn(f64) -> f64 + use<> {
    covering_fn(deep_stages(setting, layers, b_w, params), b_w)
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
    Ok(deep_fn(setting, layers, b_w, params)(eps))
}

/// Row `Deep` (when `radii.deep` is given): [`deep_log_covering`] at `eps`, numeric Dudley
/// (I19) on the range `B_w`, gap (I22).
pub(crate) fn deep_row(x: &RowInputs) -> Result<Option<RowValues>> {
    let Some((layers, b_w)) = x.radii.layers(x.setting) else {
        return Ok(None);
    };
    deep_values(x, &layers, b_w, x.ln_conf).map(Some)
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
    deep_values(x, &layers, b_w, ln_conf).map(Some)
}

fn deep_values(x: &RowInputs, layers: &[LayerRadii], b_w: f64, ln_conf: f64) -> Result<RowValues> {
    let f = deep_fn(x.setting, layers, b_w, x.params);
    let rad = dudley_numeric(&f, b_w, x.setting.num_samples)?.value;
    Ok(RowValues::covering(f(x.params.eps), rad, x, ln_conf))
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
        assert!((v - expect).abs() < 1e-9 * expect, "{v} vs {expect}");
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
