//! `attnbounds._native`: the compiled half of the Python package `attnbounds` (the public API,
//! its docs and stubs are in `attnbounds/__init__.py` and `__init__.pyi`; docs/python.md).
//!
//! Thin by design: each function resolves its arguments exactly as the CLI command of the same
//! name does (same names, same defaults, taken from the library), calls the same library
//! functions, and returns the same serde values the CLI prints with `--json`. No formula lives
//! here.

mod convert;
mod tensors;

use attnbounds::bounds::{BoundParams, HeadRadii, Radii, Setting, all_bounds};
use attnbounds::weights::{
    HfCheckpoint, HfConfig, HfOptions, b_x_for_model, bound_setting,
    export_augmented as export_augmented_heads, hf_table, import_mapped, layout_from_arg,
    model_norms, radii_for_bounds, read_file_mapped,
};
use attnbounds::{Error, Result};
use convert::{count, json_to_py, opt_count, opt_real, real, to_json, to_py_err};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::path::{Path, PathBuf};

/// A required argument, with the CLI's error when it is missing.
fn required<'a, 'py>(
    field: &str,
    v: Option<&'a Bound<'py, PyAny>>,
) -> Result<&'a Bound<'py, PyAny>> {
    v.filter(|o| !o.is_none())
        .ok_or_else(|| Error::invalid(field, "(missing)", "a value (a keyword argument)"))
}

/// Every applicable bound for one parameter set: the rows of `attnbounds bound --json`
/// (each row's fields plus `context_len`, `num_samples`, `eps`).
#[pyfunction]
#[pyo3(signature = (*, num_samples=None, context_len=None, width=None, value_dim=None, b_x=None,
    b_qk=None, b_v=None, b_v21=None, b_w=None, heads=None, layers=None, b_c=None, b_c21=None,
    l_sigma=None, delta=None, gamma=None, eps=None, kappa=None, kappa_paper=None, c0=None,
    sparsity=None, r_min=None))]
#[allow(clippy::too_many_arguments)]
fn bound<'py>(
    py: Python<'py>,
    num_samples: Option<Bound<'py, PyAny>>,
    context_len: Option<Bound<'py, PyAny>>,
    width: Option<Bound<'py, PyAny>>,
    value_dim: Option<Bound<'py, PyAny>>,
    b_x: Option<Bound<'py, PyAny>>,
    b_qk: Option<Bound<'py, PyAny>>,
    b_v: Option<Bound<'py, PyAny>>,
    b_v21: Option<Bound<'py, PyAny>>,
    b_w: Option<Bound<'py, PyAny>>,
    heads: Option<Bound<'py, PyAny>>,
    layers: Option<Bound<'py, PyAny>>,
    b_c: Option<Bound<'py, PyAny>>,
    b_c21: Option<Bound<'py, PyAny>>,
    l_sigma: Option<Bound<'py, PyAny>>,
    delta: Option<Bound<'py, PyAny>>,
    gamma: Option<Bound<'py, PyAny>>,
    eps: Option<Bound<'py, PyAny>>,
    kappa: Option<Bound<'py, PyAny>>,
    kappa_paper: Option<Bound<'py, PyAny>>,
    c0: Option<Bound<'py, PyAny>>,
    sparsity: Option<Bound<'py, PyAny>>,
    r_min: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let e = |err| to_py_err(py, err);
    let req_count = |f: &str, o: &Option<Bound<'py, PyAny>>| -> PyResult<usize> {
        count(py, f, required(f, o.as_ref()).map_err(e)?)
    };
    let req_real = |f: &str, o: &Option<Bound<'py, PyAny>>| -> PyResult<f64> {
        real(py, f, required(f, o.as_ref()).map_err(e)?)
    };
    let setting = Setting {
        num_samples: req_count("num_samples", &num_samples)?,
        context_len: req_count("context_len", &context_len)?,
        width: req_count("width", &width)?,
        value_dim: req_count("value_dim", &value_dim)?,
        heads: opt_count(py, "heads", heads.as_ref())?.unwrap_or(1),
        layers: opt_count(py, "layers", layers.as_ref())?.unwrap_or(1),
    };
    let head = HeadRadii {
        b_x: req_real("b_x", &b_x)?,
        b_qk: req_real("b_qk", &b_qk)?,
        b_v: req_real("b_v", &b_v)?,
        b_v21: req_real("b_v21", &b_v21)?,
        b_w: req_real("b_w", &b_w)?,
    };
    let radii = Radii::with_optional_c(
        head,
        opt_real(py, "b_c", b_c.as_ref())?,
        opt_real(py, "b_c21", b_c21.as_ref())?,
    )
    .map_err(e)?;
    let d = BoundParams::default();
    let params = BoundParams {
        delta: opt_real(py, "delta", delta.as_ref())?.unwrap_or(d.delta),
        gamma: opt_real(py, "gamma", gamma.as_ref())?.unwrap_or(d.gamma),
        eps: opt_real(py, "eps", eps.as_ref())?.unwrap_or(d.eps),
        l_sigma: opt_real(py, "l_sigma", l_sigma.as_ref())?.unwrap_or(d.l_sigma),
        kappa: opt_real(py, "kappa", kappa.as_ref())?.unwrap_or(d.kappa),
        kappa_paper: opt_real(py, "kappa_paper", kappa_paper.as_ref())?.unwrap_or(d.kappa_paper),
        c0: opt_real(py, "c0", c0.as_ref())?.unwrap_or(d.c0),
        sparsity: opt_count(py, "sparsity", sparsity.as_ref())?.unwrap_or(d.sparsity),
        r_min: opt_real(py, "r_min", r_min.as_ref())?.unwrap_or(d.r_min),
        ..d
    };
    let rows = all_bounds(&setting, &radii, &params).map_err(e)?;
    let out = PyList::empty(py);
    for row in &rows {
        let mut v = to_json(py, "bound row", row)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("context_len".into(), setting.context_len.into());
            o.insert("num_samples".into(), setting.num_samples.into());
            o.insert("eps".into(), params.eps.into());
        }
        out.append(json_to_py(py, &v)?)?;
    }
    Ok(out)
}

/// A required count of the safetensors-file path, with the CLI's error when it is missing.
fn need(py: Python<'_>, v: Option<&Bound<'_, PyAny>>, field: &str, flag: &str) -> PyResult<usize> {
    match opt_count(py, field, v)? {
        Some(n) => Ok(n),
        None => Err(to_py_err(
            py,
            Error::invalid(
                field,
                "absent",
                format!("{flag} N (required for a safetensors file)"),
            ),
        )),
    }
}

/// The norms of a model: the object `attnbounds norms --json` prints. `weights` is a path (a
/// safetensors file, or a Hugging Face checkpoint directory) or a dict of float32/float64 numpy
/// arrays (read as a safetensors file, or as a checkpoint when `config` holds config.json's text).
#[pyfunction]
#[pyo3(signature = (weights, *, num_samples=None, context_len=None, layout="torch-mha",
    heads=None, delta=None, gamma=None, b_x=None, data=None, readout=None, variance_floor=None,
    config=None, export_augmented=None))]
#[allow(clippy::too_many_arguments)]
fn norms<'py>(
    py: Python<'py>,
    weights: Bound<'py, PyAny>,
    num_samples: Option<Bound<'py, PyAny>>,
    context_len: Option<Bound<'py, PyAny>>,
    layout: &str,
    heads: Option<Bound<'py, PyAny>>,
    delta: Option<Bound<'py, PyAny>>,
    gamma: Option<Bound<'py, PyAny>>,
    b_x: Option<Bound<'py, PyAny>>,
    data: Option<PathBuf>,
    readout: Option<String>,
    variance_floor: Option<Bound<'py, PyAny>>,
    config: Option<String>,
    export_augmented: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    let e = |err| to_py_err(py, err);
    let heads = opt_count(py, "heads", heads.as_ref())?;
    let b_x = opt_real(py, "b_x", b_x.as_ref())?;
    let dict = weights.cast::<PyDict>().ok();
    let path = match dict {
        Some(_) => None,
        None => Some(weights.extract::<PathBuf>().map_err(|_| {
            let shown =
                (weights.get_type().name()).map_or_else(|_| String::new(), |n| n.to_string());
            e(Error::invalid(
                "weights",
                format!("a {shown}"),
                "a path (str or os.PathLike) or a dict of numpy arrays",
            ))
        })?),
    };
    let checkpoint = match (&path, dict, &config) {
        (Some(p), _, None) if p.is_dir() => Some(HfCheckpoint::read_dir(p).map_err(e)?),
        (Some(p), _, Some(_)) => {
            return Err(e(Error::invalid(
                "config",
                "given with a path",
                format!(
                    "absent: config.json is read from the checkpoint directory ({})",
                    p.display()
                ),
            )));
        }
        (None, Some(d), Some(text)) => {
            let cfg = HfConfig::from_json("config", text).map_err(e)?;
            let bytes = tensors::dict_to_safetensors(py, d)?;
            let shown = format!("<dict of {} tensors>", d.len());
            let files = vec![(shown.clone(), bytes)];
            Some(HfCheckpoint::from_parts(Path::new(&shown), cfg, files).map_err(e)?)
        }
        _ => None,
    };
    if let Some(ck) = checkpoint {
        // As `attnbounds norms --weights DIR` (src/cli/norms.rs): the per-layer, per-head table.
        if data.is_some() {
            return Err(e(Error::invalid(
                "data",
                "given with a checkpoint",
                "absent: B_X of every layer is bounded from the checkpoint's LayerNorms; give \
                 b_x to be warned where those bounds exceed it",
            )));
        }
        let opts = HfOptions {
            heads,
            context_len: opt_count(py, "context_len", context_len.as_ref())?,
            b_x,
            variance_floor: opt_real(py, "variance_floor", variance_floor.as_ref())?,
            readout,
        };
        let t = hf_table(&ck, &opts).map_err(e)?;
        if let Some(dir) = &export_augmented {
            export_augmented_heads(&ck, dir).map_err(e)?;
        }
        return json_to_py(py, &to_json(py, "table", &t)?);
    }
    for (field, given) in [
        ("readout", readout.is_some()),
        (
            "variance_floor",
            variance_floor.as_ref().is_some_and(|v| !v.is_none()),
        ),
        ("export_augmented", export_augmented.is_some()),
    ] {
        if given {
            return Err(e(Error::invalid(
                field,
                "given for a safetensors file",
                "only with a Hugging Face checkpoint (a directory, or a dict with config)",
            )));
        }
    }
    // As `attnbounds norms --weights FILE` (src/cli/norms.rs): norms and the bounds they give.
    let num_samples = need(py, num_samples.as_ref(), "num_samples", "--num-samples")?;
    let context_len = need(py, context_len.as_ref(), "context_len", "--context-len")?;
    let d = BoundParams::default();
    let delta = opt_real(py, "delta", delta.as_ref())?.unwrap_or(d.delta);
    let gamma = opt_real(py, "gamma", gamma.as_ref())?.unwrap_or(d.gamma);
    let (layout, mapping) = layout_from_arg(layout).map_err(e)?;
    let (shown, model) = match (dict, &path) {
        (Some(dict), _) => {
            let bytes = tensors::dict_to_safetensors(py, dict)?;
            let shown = format!("<dict of {} tensors>", dict.len());
            (
                shown,
                import_mapped(&bytes, &mapping, &layout, heads).map_err(e)?,
            )
        }
        (None, Some(path)) => {
            let model = read_file_mapped(path, &mapping, &layout, heads).map_err(e)?;
            (path.display().to_string(), model)
        }
        (None, None) => return Err(e(Error::invalid("weights", "absent", "a path or a dict"))),
    };
    let norms = model_norms(&model).map_err(e)?;
    let b_x = match (b_x, &data) {
        (Some(b), None) => b,
        (None, Some(p)) => b_x_for_model(p, &model, context_len).map_err(e)?,
        (Some(_), Some(_)) => {
            return Err(e(Error::invalid(
                "b_x",
                "given with data",
                "b_x or data, not both",
            )));
        }
        (None, None) => return Err(e(Error::invalid("b_x", "absent", "b_x=X or data=FILE"))),
    };
    let setting = bound_setting(&model, num_samples, context_len);
    let radii = radii_for_bounds(&norms, b_x).map_err(e)?;
    let params = BoundParams {
        delta,
        gamma,
        ..BoundParams::default()
    };
    let rows = all_bounds(&setting, &radii, &params).map_err(e)?;
    let v = serde_json::json!({
        "weights": shown, "layout": layout,
        "ignored_tensors": model.ignored, "setting": to_json(py, "setting", &setting)?,
        "radii": to_json(py, "radii", &radii)?, "norms": to_json(py, "norms", &norms)?,
        "bounds": to_json(py, "bounds", &rows)?,
    });
    json_to_py(py, &v)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(bound, m)?)?;
    m.add_function(wrap_pyfunction!(norms, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
