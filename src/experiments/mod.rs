//! Experiments: code that runs trials and stores their results (SPEC section 5).
//!
//! [`sweep`] is the generic resumable runner; training, Monte Carlo gaps and capacity estimates
//! plug into it as trial functions. Experiments may use randomness and I/O; `bounds` may not.

pub mod sweep;

pub use sweep::{Cell, SweepOptions, SweepSummary, TrialFailure, cells_of, run_sweep, trial_seed};
