//! Every norm the bounds read, per layer and per head, from an imported model: the one
//! measurement of `norms::model` applied to the imported blocks.

use super::ImportedModel;
use crate::error::Result;
use crate::norms::model::{ModelNorms, blocks_norms, embedding_b_x, l2};

/// Norms of every head of every layer and of the read-out; `b_x` is measured from the file's
/// embeddings when it has them (else `None`: B_X then comes from the inputs, `b_x_from_file`).
pub fn model_norms(model: &ImportedModel) -> Result<ModelNorms> {
    Ok(ModelNorms {
        b_x: model.embedding.as_ref().map(embedding_b_x),
        layers: blocks_norms(&model.blocks)?,
        w_l2: l2(&model.w),
    })
}
