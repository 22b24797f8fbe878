//! From an imported model's measured norms to what `bounds::all_bounds` reads: the model's
//! [`Setting`] and one set of [`Radii`] (the largest norm over every head of every layer, since
//! `all_bounds` applies one radius to all of them), and B_X from a file of embedded inputs.
//!
//! This is the combining step for imported models; it chooses radii and never computes a bound.

use super::{ImportedModel, ModelNorms, b_x_from_file};
use crate::bounds::{HeadRadii, Radii, Setting};
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

/// Radii for the bounds: each the maximum over every head of every layer of the measured norm
/// (B_QK = ||Theta||_F, B_V = ||W_V||_2, ||W_V||_{2,1}, ||W_C||_2, ||W_C||_{2,1}), the read-out's
/// ||w||_2 as B_w, and the given `b_x` (> 0).
pub fn radii_for_bounds(norms: &ModelNorms, b_x: f64) -> Result<Radii> {
    check::positive("b_x", b_x)?;
    let max = |f: fn(&super::HeadNorms) -> f64| norms.heads.iter().map(f).fold(0.0f64, f64::max);
    Ok(Radii::uniform(
        HeadRadii {
            b_x,
            b_qk: max(|h| h.theta_frobenius),
            b_v: max(|h| h.w_v_spectral),
            b_v21: max(|h| h.w_v_21),
            b_w: norms.readout,
        },
        max(|h| h.w_c_spectral),
        max(|h| h.w_c_21),
    ))
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
    use crate::bounds::DeepRadii;
    use crate::weights::HeadNorms;

    fn head(layer: usize, head: usize, x: f64) -> HeadNorms {
        HeadNorms {
            layer,
            head,
            theta_frobenius: x,
            theta_21: 0.0,
            theta_21_transposed: 0.0,
            theta_spectral: 0.0,
            w_v_spectral: 2.0 * x,
            w_v_21: 3.0 * x,
            w_c_spectral: 4.0 * x,
            w_c_21: 5.0 * x,
        }
    }

    #[test]
    fn radii_are_the_largest_norm_over_every_head_of_every_layer() {
        // Each norm is largest on a different head, so a per-layer or first-head reading fails.
        let mut heads = vec![head(0, 0, 1.0), head(0, 1, 0.5), head(1, 0, 0.25)];
        heads[1].w_v_spectral = 9.0;
        heads[2].w_c_21 = 11.0;
        let norms = ModelNorms {
            heads,
            readout: 0.75,
        };
        let r = radii_for_bounds(&norms, 2.5).unwrap();
        let h = r.head;
        assert_eq!(
            (h.b_x, h.b_qk, h.b_v, h.b_v21, h.b_w),
            (2.5, 1.0, 9.0, 3.0, 0.75)
        );
        assert_eq!(
            r.deep,
            Some(DeepRadii::Uniform {
                b_c: 4.0,
                b_c21: 11.0
            })
        );
        for bad in [0.0, -1.0, f64::NAN] {
            let e = radii_for_bounds(&norms, bad).unwrap_err().to_string();
            assert!(e.contains("b_x"), "{e}");
        }
    }
}
