//! Multi-head, multi-layer bound (SPEC 3.3), `docs/derivations.md#5-multi-head-multi-layer`.

use super::compose::{Lemma, Stage, log_covering_at, split_offsets};
use super::inputs::{BoundParams, LayerRadii, Setting};
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
    let stages = deep_stages(setting, layers, b_w, params);
    let offsets = split_offsets(&stages);
    move |eps: f64| {
        if eps >= b_w {
            0.0
        } else {
            log_covering_at(&stages, &offsets, eps)
        }
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
    Ok(deep_fn(setting, layers, b_w, params)(eps))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let s = Setting {
            num_samples: 1,
            context_len: 1,
            width: 1,
            value_dim: 1,
            heads: 1,
            layers: 1,
        };
        let r = LayerRadii {
            b_qk: 1.0,
            b_v: 1.0,
            b_v21: 1.0,
            b_c: 1.0,
            b_c21: 1.0,
        };
        let v = deep_log_covering(&s, &[r], 1.0, &BoundParams::default(), 0.45).unwrap();
        let expect = 2845.0 * (153f64.ln() + 3.0 * 77f64.ln());
        assert!((v - expect).abs() < 1e-9 * expect, "{v} vs {expect}");
    }

    #[test]
    fn wrong_number_of_layers_is_a_shape_error() {
        let s = Setting {
            num_samples: 1,
            context_len: 1,
            width: 1,
            value_dim: 1,
            heads: 1,
            layers: 2,
        };
        let r = LayerRadii {
            b_qk: 1.0,
            b_v: 1.0,
            b_v21: 1.0,
            b_c: 1.0,
            b_c21: 1.0,
        };
        assert!(matches!(
            deep_log_covering(&s, &[r], 1.0, &BoundParams::default(), 0.5),
            Err(Error::ShapeMismatch { .. })
        ));
    }
}
