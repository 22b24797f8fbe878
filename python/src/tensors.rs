//! A dict of numpy arrays (a PyTorch `state_dict` through `.numpy()`) as safetensors bytes, so
//! it goes through the library's one import path (`weights::import_mapped`), exactly as a file
//! would. float32 and float64 keep their dtype (the import converts to f64 as for a file).

use crate::convert::to_py_err;
use attnbounds::Error;
use numpy::{PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use safetensors::Dtype;
use safetensors::tensor::TensorView;

/// One tensor's name, dtype, shape and little-endian bytes.
struct Owned {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn one(py: Python<'_>, name: String, obj: &Bound<'_, PyAny>) -> PyResult<Owned> {
    if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<'_, f32>>() {
        let bytes = a.as_array().iter().flat_map(|x| x.to_le_bytes()).collect();
        return Ok(Owned {
            shape: a.shape().to_vec(),
            name,
            dtype: Dtype::F32,
            bytes,
        });
    }
    if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<'_, f64>>() {
        let bytes = a.as_array().iter().flat_map(|x| x.to_le_bytes()).collect();
        return Ok(Owned {
            shape: a.shape().to_vec(),
            name,
            dtype: Dtype::F64,
            bytes,
        });
    }
    let found = obj
        .getattr("dtype")
        .and_then(|d| d.str())
        .map(|s| format!("an array of dtype {s}"))
        .or_else(|_| obj.get_type().name().map(|n| format!("a {n}")))
        .unwrap_or_else(|_| "an unknown object".to_string());
    Err(to_py_err(
        py,
        Error::invalid(
            format!("weights[{name:?}]"),
            found,
            "a numpy array of dtype float32 or float64 (for a torch tensor: \
             t.detach().cpu().float().numpy())",
        ),
    ))
}

/// The dict's tensors serialized as one safetensors buffer (no metadata: heads come from the
/// caller, as for a file without metadata).
pub fn dict_to_safetensors(py: Python<'_>, d: &Bound<'_, PyDict>) -> PyResult<Vec<u8>> {
    let mut owned = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let name: String = k.extract().map_err(|_| {
            let shown = k.repr().map(|r| r.to_string()).unwrap_or_default();
            to_py_err(
                py,
                Error::invalid("weights (a key)", shown, "tensor names as str"),
            )
        })?;
        owned.push(one(py, name, &v)?);
    }
    let views = owned
        .iter()
        .map(|t| {
            TensorView::new(t.dtype, t.shape.clone(), &t.bytes)
                .map(|view| (t.name.clone(), view))
                .map_err(|e| {
                    to_py_err(
                        py,
                        Error::invalid(format!("weights[{:?}]", t.name), e, "a consistent shape"),
                    )
                })
        })
        .collect::<PyResult<Vec<_>>>()?;
    safetensors::serialize(views, None)
        .map_err(|e| to_py_err(py, Error::invalid("weights", e, "serializable tensors")))
}
