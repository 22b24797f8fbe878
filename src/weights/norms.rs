//! Every norm the bounds read, per head and per layer, from an imported model.

use super::ImportedModel;
use crate::error::Result;
use crate::norms::{norm_21, spectral_svd, theta_norms, vector_norm};
use nalgebra::DVector;
use serde::Serialize;

/// Norms of one head (all f64; orientations as in SPEC section 2, Theta = W_K W_Q^T).
#[derive(Debug, Clone, Serialize)]
pub struct HeadNorms {
    pub layer: usize,
    pub head: usize,
    pub theta_frobenius: f64,
    /// ||Theta||_{2,1} (column norms summed).
    pub theta_21: f64,
    /// ||Theta^T||_{2,1}.
    pub theta_21_transposed: f64,
    pub theta_spectral: f64,
    pub w_v_spectral: f64,
    pub w_v_21: f64,
    pub w_c_spectral: f64,
    pub w_c_21: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelNorms {
    pub heads: Vec<HeadNorms>,
    /// ||w||_2 of the read-out.
    pub readout: f64,
}

pub fn model_norms(model: &ImportedModel) -> Result<ModelNorms> {
    let mut heads = Vec::new();
    for (l, b) in model.blocks.iter().enumerate() {
        for (h, p) in b.heads.iter().enumerate() {
            let t = theta_norms(&p.w_q.to_dmatrix(), &p.w_k.to_dmatrix())?;
            let (v, c) = (p.w_v.to_dmatrix(), p.w_c.to_dmatrix());
            heads.push(HeadNorms {
                layer: l,
                head: h,
                theta_frobenius: t.frobenius,
                theta_21: t.two_one,
                theta_21_transposed: t.two_one_transposed,
                theta_spectral: t.spectral,
                w_v_spectral: spectral_svd(&v)?,
                w_v_21: norm_21(&v)?,
                w_c_spectral: spectral_svd(&c)?,
                w_c_21: norm_21(&c)?,
            });
        }
    }
    let readout = vector_norm(&DVector::from_column_slice(&model.w), 2.0)?;
    Ok(ModelNorms { heads, readout })
}
