//! Trained weights in, norms out: import attention models trained elsewhere (PyTorch) from
//! safetensors files, and export our own models in the same layout so round trips are tested.
//!
//! Layouts (tensor names, `{l}` the layer index; PyTorch `Linear.weight` is (out, in) and is
//! transposed to our (in, out) convention, docs/derivations.md §1):
//! - `torch-mha` (`nn.MultiheadAttention`): `layers.{l}.attn.in_proj_weight` (3E x E, rows
//!   q | k | v), `layers.{l}.attn.out_proj.weight` (E x E). Head h owns rows `h dh..(h+1) dh` of
//!   each block (dh = E / H) and columns `h dh..(h+1) dh` of `out_proj`. PyTorch multiplies q by
//!   `1/sqrt(dh)` inside attention; our heads have no such factor, so the import folds it into
//!   `W_Q` (hence into Theta = W_K W_Q^T) and the export multiplies it back out.
//! - `separate-qkv`: `layers.{l}.q.weight`, `.k.weight`, `.v.weight` (H dh x E), `.o.weight`
//!   (E x H dh); scores are `q . k` with no scale factor.
//! - both: optional MLP `layers.{l}.mlp.0.weight` (P x E), `layers.{l}.mlp.2.weight` (E x P),
//!   read-out `readout.weight` (1 x E), optional embeddings `tok_emb.weight` (vocab x E),
//!   `pos_emb.weight` (T x E), `cls` (E).
//!
//! Any other naming: a [`Mapping`] of templates read from TOML (`--layout FILE.toml`, format in
//! `docs/pytorch.md`, presets restated in `docs/layouts/`); the presets are mappings too
//! ([`Layout::mapping`]), so one import path serves all.
//!
//! Biases (`*.bias`, `in_proj_bias`) are reported and ignored: the theory's class has none.
//! Accepted dtypes: F32, F64, F16, BF16 (converted to f64). Documented for users in
//! `docs/pytorch.md`. No CLI knowledge here.

mod dtype;
mod export;
mod hf;
mod hf_table;
mod import;
mod mapping;
mod norms;
mod radii;

#[cfg(test)]
mod tests;

pub use crate::norms::model::{HeadNorms, LayerNorms, ModelNorms};
pub use export::{export_transformer, write_transformer};
pub use hf::{Arch, CONVERT_HINT, HfCheckpoint, HfConfig, TensorInfo};
pub use hf_table::{
    AugmentedHead, CSV_HEADER, EmbeddingRow, HeadCapacity, HeadRow, HfOptions, HfTable,
    LayerNormRow, LayerRow, ReadoutRow, TensorRow, augmented_heads, export_augmented,
    head_capacities, hf_table,
};
pub use import::{
    ImportedModel, b_x_from_bytes, b_x_from_file, import_bytes, import_mapped, parse_csv_rows,
    read_file, read_file_mapped,
};
pub use mapping::{Mapping, layout_from_arg};
pub use norms::model_norms;
pub use radii::{b_x_for_model, bound_setting, radii_for_bounds};

use crate::error::{Error, Result};

/// Tensor-name layout of a safetensors file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// PyTorch `nn.MultiheadAttention` (fused `in_proj_weight`, q scaled by `1/sqrt(dh)`).
    TorchMha,
    /// Separate q/k/v/o `Linear` layers, unscaled scores.
    SeparateQkv,
}

impl Layout {
    pub const NAMES: &'static str = "torch-mha, separate-qkv, or a mapping file ending in .toml";

    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "torch-mha" => Ok(Layout::TorchMha),
            "separate-qkv" => Ok(Layout::SeparateQkv),
            _ => Err(Error::invalid("layout", name, Layout::NAMES)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Layout::TorchMha => "torch-mha",
            Layout::SeparateQkv => "separate-qkv",
        }
    }
}

/// Metadata keys written by the export and read by the import (all optional on import).
pub const META_HEADS: &str = "heads";
pub const META_LAYOUT: &str = "layout";
pub const META_ATTN_ACTIVATION: &str = "attn_activation";
pub const META_MLP_ACTIVATION: &str = "mlp_activation";
