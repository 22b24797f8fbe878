//! Numerical verification of the inequalities in `docs/derivations.md`.
