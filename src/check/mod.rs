//! A property-check kit for researchers' own bounds, to be called from their `cargo test`.
//!
//! The claim search ([`search`]: random search, then (1+1)-ES ascent on `lhs / rhs`, seeded
//! at extremal configurations, with a mutant that must be caught) is plain library code, always
//! compiled: proofs-check runs every inequality of `docs/derivations.md` through it. The rest
//! needs the `check` feature (it pulls in proptest):
//!
//! | with `check` | property |
//! |---|---|
//! | `Kit::monotone` | non-decreasing in every radius and in the context length `T` |
//! | `Kit::qk_invariance` | unchanged under `(c W_Q, W_K / c)` when the radii are measured from weights |
//! | `Kit::domain` | finite on the documented domain, a typed error naming the field outside it |
//! | `Kit::above_estimates` | never below our empirical lower estimates on sampled instances |
//! | `Kit::above_lower_bound` | never below a rigorous lower bound the user states |
//! | `Kit::search` | the claim search on a user's `Claim` and its mutant |
//!
//! A bound is a `Bound`, a pure function of a `Point` (the setting, the `bounds::HeadRadii`,
//! the scale `eps`, a seed). The first five checkers are proptest properties run by a
//! `TestRunner`: a failure is shrunk as usual, written to a regression file when the kit was
//! made with `Kit::persisted(file!())`, and returned as a `Failure` whose report ends with a
//! copy-pasteable `#[test]` replaying the minimal instance through the matching single-case
//! function (`monotone_at`, ...). Those return `Result<(), TestCaseError>`, so they also work
//! with `?` inside a user's own `proptest!` block, with the strategies of `check::strategy`.
//! Nothing else in the library depends on this module. Guide: `docs/check-kit.md`.

pub mod search;

#[cfg(feature = "check")]
mod kit;
#[cfg(feature = "check")]
mod props;
#[cfg(feature = "check")]
pub mod strategy;

#[cfg(all(test, feature = "check"))]
mod tests;

#[cfg(feature = "check")]
pub use kit::{Bound, Failure, Kit, Passed, Quantity};
#[cfg(feature = "check")]
pub use props::{
    Axis, EstimateBudget, Field, above_estimates_at, above_lower_bound_at, claim_at, domain_at,
    domain_error_at, monotone_at, qk_invariance_at,
};
pub use search::{Budget, Claim, ClaimOutcome, Outcome, RATIO_TOL, run_claim};
#[cfg(feature = "check")]
pub use strategy::{Point, Ranges};
