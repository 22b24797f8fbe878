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

pub mod bounds;
pub mod capacity;
pub mod check;
pub mod config;
pub mod construct;
pub mod error;
pub mod experiments;
pub mod figure;
pub mod model;
pub mod norms;
pub mod optim;
pub mod report;
pub mod results;
pub mod tasks;
pub mod tensor;
pub mod train;
pub mod weights;

pub use error::{Error, Result};

/// The README's code blocks compile and run as doctests, so the example there stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
