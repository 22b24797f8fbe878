"""attnbounds: generalization bounds for bounded-norm self-attention, from Python.

The same computations as the ``attnbounds`` command line, through the same Rust library:
``bound(...)`` returns the rows of ``attnbounds bound --json``; ``norms(...)`` returns the object
of ``attnbounds norms --json`` for a safetensors file or a dict of numpy arrays (a PyTorch
``state_dict`` through ``.numpy()``). Bad input raises an ``AttnboundsError`` (a ``ValueError``)
naming the field, the value and what is allowed. See docs/python.md.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Union

import numpy as np

from . import _errors, _native
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

__all__ = ["bound", "norms", "AttnboundsWarning"]
__all__ += _errors.__all__


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


class AttnboundsWarning(UserWarning):
    """A warning of the library (the CLI prints it as ``warning: ...`` on stderr), e.g. a
    layer whose input rows may be longer than the B_X a bound is evaluated with."""


def _grid(rows: List[Dict[str, Any]], index: List[str]) -> Dict[str, np.ndarray]:
    """Each numeric column of ``rows`` as a float64 array indexed by the ``index`` columns
    (e.g. (layer, head) -> shape (layers, heads)). A column some row lacks or holds None in gets
    no array (no NaN stands for a missing value)."""
    if not rows:
        return {}
    try:
        coords = [tuple(int(r[k]) for k in index) for r in rows]
    except (KeyError, TypeError, ValueError):
        return {}
    shape = tuple(max(c[i] for c in coords) + 1 for i in range(len(index)))
    if len(set(coords)) != len(rows) or int(np.prod(shape)) != len(rows):
        return {}
    out: Dict[str, np.ndarray] = {}
    for key in rows[0]:
        if key in index:
            continue
        values = [r.get(key) for r in rows]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            arr = np.empty(shape, dtype=np.float64)
            for c, v in zip(coords, values):
                arr[c] = v
            out[key] = arr
    return out


def _add_arrays(result: Dict[str, Any]) -> None:
    if "heads_table" in result:  # a Hugging Face checkpoint's table
        result["head_arrays"] = _grid(result["heads_table"], ["layer", "head"])
        result["layer_arrays"] = _grid(result["layers_table"], ["layer"])
    else:
        rows = [
            dict(h, layer=l, head=i)
            for l, layer in enumerate(result["norms"]["layers"])
            for i, h in enumerate(layer["heads"])
        ]
        result["head_arrays"] = _grid(rows, ["layer", "head"])


PathLike = Union[str, "os.PathLike[str]"]


def norms(
    weights: Union[PathLike, Mapping],
    *,
    num_samples: Optional[int] = None,
    context_len: Optional[int] = None,
    layout: PathLike = "torch-mha",
    heads: Optional[int] = None,
    delta: Optional[float] = None,
    gamma: Optional[float] = None,
    b_x: Optional[float] = None,
    data: Optional[PathLike] = None,
    readout: Optional[str] = None,
    variance_floor: Optional[float] = None,
    config: Union[Mapping, PathLike, None] = None,
    export_augmented: Optional[PathLike] = None,
) -> Dict[str, Any]:
    """The norms of a model: the object ``attnbounds norms --json`` prints, plus numpy arrays.

    ``weights`` is one of
    - a safetensors file (``layout``: torch-mha, separate-qkv or a .toml mapping, docs/pytorch.md;
      ``num_samples``, ``context_len`` and ``b_x`` or ``data`` required): keys weights, layout,
      ignored_tensors, setting, radii, norms, bounds (the bound rows), plus ``head_arrays``;
    - a Hugging Face checkpoint directory (config.json + model.safetensors or a sharded index;
      BERT family or GPT-2): the per-layer, per-head table (heads_table, layers_table,
      layer_norms, embeddings, readout, tensors: every tensor used or not and why, warnings,
      statements), plus ``head_arrays`` (each per-head norm, shape (layers, heads)) and
      ``layer_arrays`` (shape (layers,)). ``readout``, ``variance_floor``, ``context_len``,
      ``heads``, ``b_x`` and ``export_augmented`` as the CLI's flags;
    - a mapping from tensor names to arrays (float32 or float64; anything ``numpy.asarray``
      accepts, e.g. a PyTorch ``state_dict`` as ``{k: v.detach().cpu().numpy()}``): read as a
      safetensors file, or as a checkpoint when ``config`` is given (a dict such as
      ``model.config.to_dict()``, or a path to config.json).

    The library's warnings are issued as ``AttnboundsWarning``.
    """
    if isinstance(weights, Mapping):
        weights = {str(k): np.asarray(v) for k, v in weights.items()}
    elif isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    config_text: Optional[str] = None
    if isinstance(config, Mapping):
        config_text = json.dumps(dict(config))
    elif config is not None:
        with open(os.fspath(config), encoding="utf-8") as f:
            config_text = f.read()
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
        readout=readout,
        variance_floor=variance_floor,
        config=config_text,
        export_augmented=None if export_augmented is None else os.fspath(export_augmented),
    )
    for w in result.get("warnings", []):
        warnings.warn(w, AttnboundsWarning, stacklevel=2)
    _add_arrays(result)
    return result
