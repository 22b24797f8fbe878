//! Between Python and the library: arguments in (each checked and named by its field, as the
//! CLI's flags are), the library's serde values out (the very values the CLI prints as JSON, so
//! Python and CLI agree to the last digit), and the library's `Error` as the Python exceptions of
//! `attnbounds._errors` (each names the field, the value and what is allowed).

use attnbounds::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString};

/// The library's error as the matching `attnbounds._errors` exception (a `ValueError`, except a
/// `Violation`, which is a finding and raised as `ViolationError(RuntimeError)`).
pub fn to_py_err(py: Python<'_>, e: Error) -> PyErr {
    let message = e.to_string();
    let none = || None::<String>;
    let (class, kind, field, value, allowed) = match e {
        Error::InvalidValue {
            field,
            value,
            allowed,
        } => (
            "InvalidValueError",
            "invalid_value",
            Some(field),
            Some(value),
            Some(allowed),
        ),
        Error::ShapeMismatch {
            field,
            expected,
            found,
        } => (
            "ShapeMismatchError",
            "shape_mismatch",
            Some(field),
            Some(found),
            Some(expected),
        ),
        Error::Io { path, message } => ("FileError", "io", Some(path), none(), Some(message)),
        Error::Parse { source, message } => {
            ("ParseError", "parse", Some(source), none(), Some(message))
        }
        Error::TooLarge {
            field,
            value,
            estimate,
            limit,
        } => (
            "TooLargeError",
            "too_large",
            Some(field),
            Some(format!("{value} (estimate {estimate})")),
            Some(format!("at most {limit}")),
        ),
        Error::Violation { claim, detail } => (
            "ViolationError",
            "violation",
            Some(claim),
            Some(detail),
            none(),
        ),
    };
    let made = py
        .import("attnbounds._errors")
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.call1((message.clone(), kind, field, value, allowed)));
    match made {
        Ok(obj) => PyErr::from_value(obj),
        // The package's own module is missing (a broken install): still say what went wrong.
        Err(import_err) => PyRuntimeError::new_err(format!("{message} (and {import_err})")),
    }
}

/// A Python exception naming `field` for a bad argument type or sign.
fn bad_arg(py: Python<'_>, field: &str, obj: &Bound<'_, PyAny>, allowed: &str) -> PyErr {
    let shown = obj
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "(unprintable)".to_string());
    to_py_err(py, Error::invalid(field, shown, allowed))
}

/// A count (`usize`): a Python or numpy integer >= 0, never a bool or a float.
pub fn count(py: Python<'_>, field: &str, obj: &Bound<'_, PyAny>) -> PyResult<usize> {
    if obj.is_instance_of::<PyBool>() || obj.is_instance_of::<PyFloat>() {
        return Err(bad_arg(py, field, obj, "an integer >= 0"));
    }
    let v: i128 = obj
        .extract()
        .map_err(|_| bad_arg(py, field, obj, "an integer >= 0"))?;
    if v < 0 {
        return Err(bad_arg(py, field, obj, "an integer >= 0"));
    }
    usize::try_from(v).map_err(|_| bad_arg(py, field, obj, "an integer at most usize::MAX"))
}

/// A real number (`f64`): a Python or numpy float or integer, never a bool. Its domain (finite,
/// positive, ...) is checked by the library, as for the CLI.
pub fn real(py: Python<'_>, field: &str, obj: &Bound<'_, PyAny>) -> PyResult<f64> {
    if obj.is_instance_of::<PyBool>() {
        return Err(bad_arg(py, field, obj, "a real number"));
    }
    obj.extract()
        .map_err(|_| bad_arg(py, field, obj, "a real number"))
}

/// An optional count.
pub fn opt_count(py: Python<'_>, f: &str, o: Option<&Bound<'_, PyAny>>) -> PyResult<Option<usize>> {
    o.filter(|o| !o.is_none())
        .map(|o| count(py, f, o))
        .transpose()
}

/// An optional real.
pub fn opt_real(py: Python<'_>, f: &str, o: Option<&Bound<'_, PyAny>>) -> PyResult<Option<f64>> {
    o.filter(|o| !o.is_none())
        .map(|o| real(py, f, o))
        .transpose()
}

/// A serde value as Python objects: objects to dicts, arrays to lists, integers to `int`, other
/// numbers to `float` (the same `f64`; serde writes non-finite floats as null, as the CLI does).
pub fn json_to_py<'py>(py: Python<'py>, v: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else {
                PyFloat::new(
                    py,
                    n.as_f64().ok_or_else(|| {
                        pyo3::exceptions::PyValueError::new_err(format!("number {n} is not an f64"))
                    })?,
                )
                .into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let items = a
                .iter()
                .map(|x| json_to_py(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                d.set_item(k, json_to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// Any serializable library value, through serde (the CLI's `--json` path).
pub fn to_json<T: serde::Serialize>(
    py: Python<'_>,
    what: &str,
    v: &T,
) -> PyResult<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| to_py_err(py, Error::parse(what, e)))
}
