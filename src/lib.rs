//! attnbounds: capacity bounds for bounded-norm self-attention, checked numerically.
//!
//! The subject is Edelman, Goel, Kakade and Zhang, *Inductive Biases and Variable Creation in
//! Self-Attention Mechanisms* (ICML 2022, arXiv 2110.10090): a bounded-norm attention head has
//! a covering number that grows only with log T in the context length T. This crate computes
//! those bounds (the paper's shape and our explicit version, see `docs/derivations.md`), the
//! baselines, and the experiments that check them. See ARCHITECTURE.md for the module map.
//!
//! Layers, one direction only: `tensor`, `model`, `norms` -> `bounds` (pure maths) ->
//! experiments -> `figure` and reports -> the CLI in `src/main.rs`.
//!
//! Cargo features follow the layers (see `Cargo.toml`): without default features only `error`,
//! `tensor`, `optim`, `model`, `norms` and `bounds` are built, with no SQLite, plotting, rayon,
//! safetensors, progress bars or clap; `store`, `train`, `weights`, `figures`, `experiments`
//! and `cli` (the default) add the rest.

// Always built: the bounds and everything they read (`--no-default-features` builds only these).
pub mod bounds;
pub mod check;
pub mod error;
pub mod fsio;
pub mod limits;
pub mod model;
pub mod norms;
pub mod optim;
pub mod tensor;

#[cfg(feature = "experiments")]
pub mod capacity;
#[cfg(feature = "experiments")]
pub mod certify;
#[cfg(feature = "store")]
pub mod config;
// Under `train`: the radius rule of `train::projection` reads the construction's norms.
#[cfg(feature = "train")]
pub mod construct;
#[cfg(feature = "experiments")]
pub mod experiments;
#[cfg(feature = "figures")]
pub mod figure;
#[cfg(feature = "store")]
pub mod metrics;
#[cfg(feature = "experiments")]
pub mod report;
#[cfg(feature = "store")]
pub mod results;
#[cfg(feature = "stats")]
pub mod stats;
#[cfg(feature = "store")]
pub mod tasks;
#[cfg(feature = "train")]
pub mod train;
#[cfg(feature = "weights")]
pub mod weights;

pub use error::{Error, Result};

/// The README's code blocks compile and run as doctests, so the example there stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
