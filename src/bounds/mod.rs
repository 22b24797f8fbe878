//! Capacity and generalization bounds for bounded-norm attention: pure functions of plain `f64`
//! radii (no I/O, no randomness, nothing above `error`).
//!
//! Every bound's doc comment states its formula, its source (a paper and theorem, or a section
//! of `docs/derivations.md`) and its status (rigorous, closed form, paper shape with a free
//! constant, baseline, lower bound). [`all_bounds`] evaluates all of them for one parameter set:
//! it is what the `bound` command and the figures call. Each row carries a typed [`BoundId`]
//! from the registry (display name, status, source); callers pick rows with [`row`] by id.
//! [`sample_size`] is the one search for the smallest `m` at which a gap bound reaches a target.

mod baselines;
mod compose;
mod covering;
mod deep;
mod dudley;
mod generalization;
mod inputs;
mod kl;
mod numerics;
mod occam;
mod pac_bayes;
mod registry;
mod sample_size;
mod single_head;
mod table;
mod tightening;

#[cfg(test)]
pub(crate) mod fixtures;

pub use baselines::{
    parameter_count, rademacher_from_vc, spectral_flat_ln_c, vc_lower_sparse_and,
    vc_parameter_counting,
};
pub use covering::{bft_matrix, maurey, volumetric, volumetric_query, zhang_l1_shape, zhang_l2};
pub use deep::{deep_l2_log_covering, deep_log_covering, ln_layer_lipschitz};
pub use dudley::{
    DUDLEY_TOL, Dudley, dudley_closed_form, dudley_closed_form_half, dudley_numeric,
    dudley_numeric_half,
};
pub use generalization::{PostHoc, gap, post_hoc_grid};
pub use inputs::{BoundParams, FixedEmbedding, HeadRadii, LayerRadii, Setting};
pub use kl::{binary_kl, kl_inverse_lower, kl_inverse_upper};
pub use occam::{
    MAX_CODE_SPARSITY, elias_gamma_bits, index_bits, junta_code_bits, occam_hoeffding, occam_kl,
    occam_rhs,
};
pub use pac_bayes::{
    gaussian_kl, grid_delta, maurer_bound, maurer_rhs, mc_train_error_upper, pac_bayes_at_sigma,
};
pub use registry::{BoundId, BoundInfo, Status};
pub use sample_size::{SampleSize, sample_size, sample_size_of};
pub use single_head::{
    explicit_closed_form, explicit_closed_form_round1, explicit_l2_log_covering,
    explicit_log_covering, head_range, paper_log_covering,
};
pub use table::{
    BoundRow, DeepRadii, Radii, all_bounds, bound_row, explicit_gap, explicit_rademacher,
    explicit_with, row,
};
pub use tightening::{ExplicitPostHoc, LedgerStep, Tightening, explicit_post_hoc, slack_ledger};
