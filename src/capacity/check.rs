//! Lower estimates held against rigorous upper bounds.
//!
//! A lower estimate (empirical Rademacher by ascent, a packing number) above a **rigorous**
//! upper bound at the same radii and sample is a bug or a disproof: it is returned as
//! `Error::Violation` naming the configuration, never clamped. Against the paper's shape
//! (free constant `c0`) an excess is only a [`Warning`], since `c0` is unknown.

use crate::error::{Error, Result};

/// A lower estimate above a paper-shape value (not a violation: `c0` is unconfirmed).
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub claim: String,
    pub detail: String,
}

/// `Err(Violation)` when `lower > upper` (beyond a relative `1e-12` for rounding).
pub fn check_rigorous(claim: &str, lower: f64, upper: f64, config: &str) -> Result<()> {
    if lower.is_nan() || upper.is_nan() || lower > upper * (1.0 + 1e-12) {
        return Err(Error::Violation {
            claim: claim.to_string(),
            detail: format!("lower estimate {lower:.6e} > upper bound {upper:.6e} at {config}"),
        });
    }
    Ok(())
}

/// `Some(Warning)` when `lower > shape`.
pub fn check_shape(claim: &str, lower: f64, shape: f64, config: &str) -> Option<Warning> {
    (lower > shape).then(|| Warning {
        claim: claim.to_string(),
        detail: format!(
            "lower estimate {lower:.6e} > paper shape {shape:.6e} at {config} \
             (c0 is unconfirmed: a warning, not a violation)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violation_triggers_on_a_too_small_bound() {
        assert!(check_rigorous("x", 0.5, 1.0, "cfg").is_ok());
        assert!(check_rigorous("x", 1.0, 1.0, "cfg").is_ok());
        match check_rigorous("explicit Rademacher", 0.3, 0.1, "T = 10") {
            Err(Error::Violation { claim, detail }) => {
                assert_eq!(claim, "explicit Rademacher");
                assert!(detail.contains("T = 10"), "{detail}");
            }
            other => panic!("expected a violation, got {other:?}"),
        }
        assert!(check_rigorous("x", f64::NAN, 1.0, "cfg").is_err());
        assert!(check_shape("p", 2.0, 1.0, "c").is_some());
        assert!(check_shape("p", 0.5, 1.0, "c").is_none());
    }
}
