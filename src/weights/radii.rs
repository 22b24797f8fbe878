//! From an imported model's measured norms to what `bounds::all_bounds` reads: the model's
//! [`Setting`] and one set of [`Radii`] (the largest norm over every head of every layer, since
//! `all_bounds` applies one radius to all of them), and B_X from a file of embedded inputs.
//!
//! This is the combining step for imported models; it chooses radii and never computes a bound.

use super::{ImportedModel, ModelNorms, b_x_from_file};
use crate::bounds::{Radii, Setting};
use crate::error::{Error, Result, check};
use std::path::Path;

/// The bound setting of `model` at sample size m and context length T: width, heads and layers
/// from the model, value dimension the widest head's.
pub fn bound_setting(model: &ImportedModel, num_samples: usize, context_len: usize) -> Setting {
    Setting {
        num_samples,
        context_len,
        width: model.width(),
        value_dim: model
            .blocks
            .iter()
            .flat_map(|b| &b.heads)
            .map(|h| h.w_v.cols)
            .max()
            .unwrap_or(0),
        heads: model.heads(),
        layers: model.blocks.len(),
    }
}

/// Radii for the bounds, from the one combining step of `norms::model`: the single-head radii
/// (`ModelNorms::head_radii`, each norm maxed over every head of every layer, B_w the read-out's
/// `||w||_2`, the given `b_x > 0`) and per-layer radii for the deep rows
/// (`ModelNorms::layer_radii`: in each layer the max over its heads, including `||W_C||_2` and
/// `||W_C||_{2,1}`).
pub fn radii_for_bounds(norms: &ModelNorms, b_x: f64) -> Result<Radii> {
    check::positive("b_x", b_x)?;
    let head = norms.head_radii(Some(b_x))?;
    // A zero (or non-finite) radius comes from the weights, not from a radius the user gave:
    // name the tensors it was measured on.
    for (norm, value, tensors) in [
        (
            "||Theta||_F = ||W_K W_Q^T||_F",
            head.b_qk,
            "the query and key weights (W_Q, W_K)",
        ),
        ("||W_V||_2", head.b_v, "the value weights (W_V)"),
        ("||w||_2", head.b_w, "the read-out weight (w)"),
    ] {
        if !(value.is_finite() && value > 0.0) {
            return Err(Error::invalid(
                format!("{norm}, max over every head, of {tensors}"),
                value,
                "> 0 and finite: the file's tensors are all zero there (or overflow), so no \
                 bound applies",
            ));
        }
    }
    Ok(Radii::per_layer(head, norms.layer_radii()?))
}

/// B_X (the largest row norm) of the embedded inputs in `path` (see [`b_x_from_file`]), after
/// checking they fit `model`: rows of the model's width, and for (n, T', d) tensors T' = T or
/// T + 1 (with \[CLS\]).
pub fn b_x_for_model(path: &Path, model: &ImportedModel, context_len: usize) -> Result<f64> {
    let (b, shape) = b_x_from_file(path)?;
    let d = shape.last().copied().unwrap_or(0);
    let t_ok = shape.len() != 3 || [context_len, context_len + 1].contains(&shape[1]);
    if d != model.width() || !t_ok {
        return Err(Error::shape(
            format!("inputs in {}", path.display()),
            format!(
                "(n, T or T+1 = {} or {}, d = {}) or (rows, d = {}) (d = the model's width)",
                context_len,
                context_len + 1,
                model.width(),
                model.width()
            ),
            format!("{shape:?}"),
        ));
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::{DeepRadii, LayerRadii};
    use crate::weights::{HeadNorms, LayerNorms};

    fn head(x: f64) -> HeadNorms {
        HeadNorms {
            theta_fro: x,
            theta_21: 0.0,
            theta_21_transposed: 0.0,
            theta_spectral: 0.0,
            w_v_spectral: 2.0 * x,
            w_v_21: 3.0 * x,
            w_c_spectral: Some(4.0 * x),
            w_c_21: Some(5.0 * x),
        }
    }

    fn layer(heads: Vec<HeadNorms>) -> LayerNorms {
        LayerNorms {
            heads,
            mlp_spectral: None,
        }
    }

    #[test]
    fn head_radii_are_global_maxima_and_deep_radii_per_layer_maxima() {
        // Each norm is largest on a different head, so a first-head reading fails.
        let (h00, mut h01, mut h10) = (head(1.0), head(0.5), head(0.25));
        h01.w_v_spectral = 9.0;
        h10.w_c_21 = Some(11.0);
        let norms = ModelNorms {
            b_x: None,
            layers: vec![layer(vec![h00, h01]), layer(vec![h10])],
            w_l2: 0.75,
        };
        let r = radii_for_bounds(&norms, 2.5).unwrap();
        let h = r.head;
        assert_eq!(
            (h.b_x, h.b_qk, h.b_v, h.b_v21, h.b_w),
            (2.5, 1.0, 9.0, 3.0, 0.75)
        );
        // Layer 0: max over heads (1.0, 0.5) with W_V spectral 9 from head 1; layer 1 alone.
        let want = vec![
            LayerRadii {
                b_qk: 1.0,
                b_v: 9.0,
                b_v21: 3.0,
                b_c: 4.0,
                b_c21: 5.0,
            },
            LayerRadii {
                b_qk: 0.25,
                b_v: 0.5,
                b_v21: 0.75,
                b_c: 1.0,
                b_c21: 11.0,
            },
        ];
        assert_eq!(r.deep, Some(DeepRadii::PerLayer(want)));
        for bad in [0.0, -1.0, f64::NAN] {
            let e = radii_for_bounds(&norms, bad).unwrap_err().to_string();
            assert!(e.contains("b_x"), "{e}");
        }
    }

    #[test]
    fn a_head_without_w_c_is_refused_by_name() {
        let mut h = head(1.0);
        h.w_c_spectral = None;
        let norms = ModelNorms {
            b_x: None,
            layers: vec![layer(vec![head(1.0)]), layer(vec![head(1.0), h])],
            w_l2: 1.0,
        };
        let e = radii_for_bounds(&norms, 1.0).unwrap_err().to_string();
        assert!(e.contains("layer 1 head 1 w_c"), "{e}");
    }
}
