//! The one error type of the library.
//!
//! Every check on user-controlled input returns an [`Error`] that names the field, the value
//! that was given and what is allowed, so a researcher can fix a config without reading code.
//! Nothing in the library panics on user input, and no function returns NaN silently.

use std::fmt;

/// Errors a caller can cause and fix.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A scalar or setting outside its domain, e.g. `delta = 1.5` (allowed: "in (0, 1)").
    InvalidValue {
        field: String,
        value: String,
        allowed: String,
    },
    /// Two shapes that must agree do not, e.g. `w_v` rows vs the input width `d`.
    ShapeMismatch {
        field: String,
        expected: String,
        found: String,
    },
    /// A file could not be read or written.
    Io { path: String, message: String },
    /// A config, weights or data file could be read but not understood.
    Parse { source: String, message: String },
    /// An input whose estimated memory or work exceeds a limit (`crate::limits`), refused
    /// before any allocation, e.g. `num_samples = 1e12` (estimate 9 TiB, limit 11 GiB).
    TooLarge {
        field: String,
        value: String,
        estimate: String,
        limit: String,
    },
    /// A numerical check found a lower estimate above a rigorous upper bound (or similar).
    /// This is a finding, never tuned away: callers print it and fail the run.
    Violation { claim: String, detail: String },
}

/// Library-wide result type.
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidValue {
                field,
                value,
                allowed,
            } => write!(f, "invalid {field} = {value}: allowed {allowed}"),
            Error::ShapeMismatch {
                field,
                expected,
                found,
            } => write!(
                f,
                "shape mismatch in {field}: expected {expected}, found {found}"
            ),
            Error::Io { path, message } => write!(f, "cannot access {path}: {message}"),
            Error::Parse { source, message } => write!(f, "cannot parse {source}: {message}"),
            Error::TooLarge {
                field,
                value,
                estimate,
                limit,
            } => write!(
                f,
                "too large: {field} = {value} needs an estimated {estimate}, above the limit {limit}"
            ),
            Error::Violation { claim, detail } => {
                write!(f, "VIOLATION of {claim}: {detail}")
            }
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// Shorthand for [`Error::InvalidValue`].
    pub fn invalid(
        field: impl Into<String>,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        Error::InvalidValue {
            field: field.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    /// Shorthand for [`Error::ShapeMismatch`].
    pub fn shape(
        field: impl Into<String>,
        expected: impl fmt::Display,
        found: impl fmt::Display,
    ) -> Self {
        Error::ShapeMismatch {
            field: field.into(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl fmt::Display, err: impl fmt::Display) -> Self {
        Error::Io {
            path: path.to_string(),
            message: err.to_string(),
        }
    }

    /// Shorthand for [`Error::Parse`].
    pub fn parse(source: impl fmt::Display, err: impl fmt::Display) -> Self {
        Error::Parse {
            source: source.to_string(),
            message: err.to_string(),
        }
    }
}

/// Validators shared by every constructor. Each returns the value so it can be used inline.
pub mod check {
    use super::{Error, Result};

    /// `x` is finite (not NaN, not infinite).
    pub fn finite(field: &str, x: f64) -> Result<f64> {
        if x.is_finite() {
            Ok(x)
        } else {
            Err(Error::invalid(field, x, "a finite number"))
        }
    }

    /// `x > 0` and finite (norm radii, eps, gamma, ...).
    pub fn positive(field: &str, x: f64) -> Result<f64> {
        if x.is_finite() && x > 0.0 {
            Ok(x)
        } else {
            Err(Error::invalid(field, x, "a finite number > 0"))
        }
    }

    /// `x >= 0` and finite.
    pub fn non_negative(field: &str, x: f64) -> Result<f64> {
        if x.is_finite() && x >= 0.0 {
            Ok(x)
        } else {
            Err(Error::invalid(field, x, "a finite number >= 0"))
        }
    }

    /// `0 < x < 1` (delta, eta0, ...).
    pub fn open_unit(field: &str, x: f64) -> Result<f64> {
        if x.is_finite() && x > 0.0 && x < 1.0 {
            Ok(x)
        } else {
            Err(Error::invalid(
                field,
                x,
                "a number in the open interval (0, 1)",
            ))
        }
    }

    /// A count that must be at least `min` (e.g. `context_len >= 1`, `m >= 1`).
    pub fn at_least(field: &str, n: usize, min: usize) -> Result<usize> {
        if n >= min {
            Ok(n)
        } else {
            Err(Error::invalid(field, n, format!("an integer >= {min}")))
        }
    }

    /// Every entry of a weight tensor is finite; names the first bad index.
    pub fn all_finite<T: Copy + Into<f64>>(field: &str, xs: &[T]) -> Result<()> {
        match xs.iter().position(|&x| !x.into().is_finite()) {
            None => Ok(()),
            Some(i) => Err(Error::invalid(
                format!("{field}[{i}]"),
                xs[i].into(),
                "finite weights (no NaN or infinity)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_field_value_and_domain() {
        let e = check::open_unit("delta", 1.5).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("delta") && s.contains("1.5") && s.contains("(0, 1)"),
            "{s}"
        );
        assert!(check::positive("b_v", -1.0).is_err());
        assert!(check::positive("b_v", f64::NAN).is_err());
        assert!(check::positive("b_v", 1e-12).is_ok());
        assert!(check::at_least("context_len", 0, 1).is_err());
        let e = check::all_finite("w_v", &[1.0f32, f32::NAN]).unwrap_err();
        assert!(e.to_string().contains("w_v[1]"));
    }
}
