//! Numerical verification of the inequalities in `docs/derivations.md`.
//!
//! Every numbered inequality that can be evaluated on a concrete instance is a [`Claim`]: a map
//! from a flat parameter vector in `R^dim` (unconstrained; the claim maps it onto a valid
//! instance) to `(lhs, rhs)` of the inequality `lhs <= rhs`. One optimiser, [`search`], shared by
//! every claim, hunts for the worst ratio `lhs / rhs`: random search, then (1+1)-evolution-strategy
//! ascent on `ln(lhs / rhs)` with restarts, the first ones from the claim's seeds. A ratio above
//! `1 + RATIO_TOL` is a violation. The search is the library's `attnbounds::check::search`
//! (re-exported here), so researchers can run it on their own claims.
//!
//! The claims call the project's own code (`attnbounds::model`, `norms`, `bounds`), so they test
//! the implementation, not a copy of it. This crate never edits a claim to make it pass: a
//! violation fails the run and is printed loudly.
//!
//! Each claim also carries a *mutant* (a deliberately wrong constant that the same search must
//! flag) and a sensitivity note; the report prints both. Statements without a numeric instance
//! (the counting step (I12), the cited theorems behind (I19) and (I22), the unconfirmed constant
//! of (I16)) are listed with their reason in [`claims::UNCHECKED`].

pub mod claims;
mod report;

pub use report::{CheckReport, MutantRow, Row, figures, run_all, run_claims, write_outputs};

pub use attnbounds::check::search::{Budget, Claim, Eval, Outcome, RATIO_TOL, search};

/// Seed of the reported runs.
pub const DEFAULT_SEED: u64 = 2022;

#[cfg(test)]
mod tests;
