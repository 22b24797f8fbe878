"""attnbounds: generalization bounds for bounded-norm self-attention, from Python.

The same computations as the ``attnbounds`` command line, through the same Rust library:
``bound(...)`` returns the rows of ``attnbounds bound --json``; ``norms(...)`` returns the object
of ``attnbounds norms --json`` for a safetensors file or a dict of numpy arrays (a PyTorch
``state_dict`` through ``.numpy()``). Bad input raises an ``AttnboundsError`` (a ``ValueError``)
naming the field, the value and what is allowed. See docs/python.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Union

import numpy as np

from . import _native
from ._errors import (
    AttnboundsError,
    FileError,
    InvalidValueError,
    ParseError,
    ShapeMismatchError,
    TooLargeError,
    ViolationError,
)

__version__: str = _native.__version__

__all__ = [
    "bound",
    "norms",
    "AttnboundsError",
    "InvalidValueError",
    "ShapeMismatchError",
    "FileError",
    "ParseError",
    "TooLargeError",
    "ViolationError",
]


def bound(**kwargs: Any) -> List[Dict[str, Any]]:
    """Every applicable bound for one parameter set: the rows ``attnbounds bound --json`` prints.

    Keyword arguments have the CLI's names (``--num-samples`` is ``num_samples``). Required:
    num_samples, context_len, width, value_dim, b_x, b_qk, b_v, b_v21, b_w. Optional (the CLI's
    defaults when left out): heads, layers, b_c and b_c21 (both or neither), l_sigma, delta,
    gamma, eps, kappa, kappa_paper, c0, sparsity, r_min.

    Each row is a dict: id, name, log_covering, rademacher, gap, vc_dimension (float or None
    where the bound gives none), status, source, saturated, and context_len, num_samples, eps.
    """
    return _native.bound(**kwargs)


def _head_arrays(result: Dict[str, Any]) -> Dict[str, np.ndarray]:
    """Each per-head norm as a (layers, heads) float64 array; a norm some head lacks (None, e.g.
    ``w_c_spectral`` of a head without W_C) gets no array."""
    layers = result["norms"]["layers"]
    if not layers or not layers[0]["heads"]:
        return {}
    out: Dict[str, np.ndarray] = {}
    for key in layers[0]["heads"][0]:
        values = [[h.get(key) for h in layer["heads"]] for layer in layers]
        flat = [v for row in values for v in row]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
            if len({len(row) for row in values}) == 1:
                out[key] = np.array(values, dtype=np.float64)
    return out


def norms(
    weights: Union[str, "os.PathLike[str]", Mapping],
    *,
    num_samples: int,
    context_len: int,
    layout: str = "torch-mha",
    heads: Optional[int] = None,
    delta: Optional[float] = None,
    gamma: Optional[float] = None,
    b_x: Optional[float] = None,
    data: Union[str, "os.PathLike[str]", None] = None,
) -> Dict[str, Any]:
    """The norms of a model and the bounds they give: the object ``attnbounds norms --json``
    prints (keys weights, layout, ignored_tensors, setting, radii, norms, bounds), plus
    ``head_arrays``: each per-head norm as a numpy array of shape (layers, heads).

    ``weights`` is a path to a safetensors file, or a mapping from tensor names to arrays
    (float32 or float64; anything ``numpy.asarray`` turns into one, e.g. ``t.detach().numpy()``).
    ``layout`` is a preset (torch-mha, separate-qkv) or a mapping file ending in .toml
    (docs/pytorch.md). B_X is ``b_x``, or the largest row norm of the inputs in ``data``.
    """
    if isinstance(weights, Mapping):
        weights = {str(k): np.asarray(v) for k, v in weights.items()}
    elif isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    result = _native.norms(
        weights,
        num_samples=num_samples,
        context_len=context_len,
        layout=os.fspath(layout),
        heads=heads,
        delta=delta,
        gamma=gamma,
        b_x=b_x,
        data=None if data is None else os.fspath(data),
    )
    result["head_arrays"] = _head_arrays(result)
    return result
