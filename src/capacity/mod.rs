//! Empirical capacity of the bounded-norm \[CLS\] head class on a sample (docs/experiments.md §5): lower
//! estimates of the empirical Rademacher complexity (projected ascent over the norm ball) and of
//! the covering number (greedy packings), an exactly computable contrasting class (a linear
//! read-out of the flattened input), and the check of lower estimates against rigorous upper
//! bounds. Library code only: no storage, no figures (those are in `experiments::capacity_sweep`).
//!
//! Every number produced here from a search is a **lower estimate**; only
//! [`linear_flat_sup`] is exact.

pub mod ball;
pub mod check;
pub mod packing;
pub mod rademacher;
pub mod sample;

pub use ball::{HeadBall, theta_frobenius};
pub use check::{Warning, check_rigorous, check_shape};
pub use packing::{greedy_packing, head_members, max_distance};
pub use rademacher::{
    AscentOptions, RademacherEstimate, correlation, draw_signs, head_rademacher, head_sup,
    linear_flat_rademacher, linear_flat_sup,
};
pub use sample::BitSample;

#[cfg(test)]
mod tests;
