//! Figures (placeholder while norms builds).
