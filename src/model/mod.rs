//! Attention models: the theory's \[CLS\] head class and general Transformers, with
//! hand-written forward and backward passes generic over [`Real`](crate::tensor::Real).
//!
//! - [`ClsHead`]: f = w^T sigma(W_V^T X~^T softmax(X~ W_K W_Q^T x_cls)) (docs/derivations.md §1).
//! - [`Transformer`]: L residual blocks of H heads (+ optional MLP), Pi onto the unit ball,
//!   read-out at \[CLS\]. `forward_full` / `value_and_grad_full` compute every query row (any
//!   depth); `forward_cls` / `backward_cls` compute only the \[CLS\] row of a one-block model
//!   through the token table (`table`), the path training uses.
//! - [`Embedding`] and [`TokenBatch`]: bit sequences to X~.
//!
//! Backward passes take dL_i/df_i from the caller, so any per-sample loss (logistic, ramp,
//! the Rademacher objective sum_i s_i f_i) reuses them. This module never draws data.

mod activation;
mod bitmix;
mod block;
mod cls_path;
mod embedding;
mod head;
mod layernorm;
mod mixing;
mod protocol;
mod softmax;
mod table;
mod transformer;

#[cfg(test)]
mod kernel_tests;
#[cfg(test)]
pub(crate) mod tests;

pub use activation::Activation;
pub use block::{Block, HeadParams, Mlp};
pub use block::{project_rows, project_rows_backward};
pub use cls_path::ClsCache;
pub use embedding::{Embedding, Positional, SPARSE_MAX_FILL, SparseRows, TokenBatch};
pub use head::{ClsHead, ClsHeadCache, HeadOutput, TableRows};
pub use layernorm::{LAYER_NORM_EPS, LayerNorm};
pub use mixing::MixKernel;
#[cfg(test)]
pub(crate) use mixing::with_mix_kernel;
pub use protocol::{
    DropoutMasks, MAX_SCORE_GAP, MixPath, PROTOCOL_ACTIVATION, ProtocolCache, ProtocolConfig,
    ProtocolModel,
};
pub use softmax::{softmax_backward_in_place, softmax_in_place};
pub use transformer::{Transformer, TransformerConfig};
