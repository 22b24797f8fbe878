import os
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Union

import numpy as np
import numpy.typing as npt

from ._errors import (
    AttnboundsError as AttnboundsError,
    FileError as FileError,
    InvalidValueError as InvalidValueError,
    ParseError as ParseError,
    ShapeMismatchError as ShapeMismatchError,
    TooLargeError as TooLargeError,
    ViolationError as ViolationError,
)

__version__: str

Real = Union[int, float, np.floating[Any], np.integer[Any]]
Count = Union[int, np.integer[Any]]

def bound(
    *,
    num_samples: Count,
    context_len: Count,
    width: Count,
    value_dim: Count,
    b_x: Real,
    b_qk: Real,
    b_v: Real,
    b_v21: Real,
    b_w: Real,
    heads: Optional[Count] = None,
    layers: Optional[Count] = None,
    b_c: Optional[Real] = None,
    b_c21: Optional[Real] = None,
    l_sigma: Optional[Real] = None,
    delta: Optional[Real] = None,
    gamma: Optional[Real] = None,
    eps: Optional[Real] = None,
    kappa: Optional[Real] = None,
    kappa_paper: Optional[Real] = None,
    c0: Optional[Real] = None,
    sparsity: Optional[Count] = None,
    r_min: Optional[Real] = None,
) -> List[Dict[str, Any]]: ...

class AttnboundsWarning(UserWarning): ...

PathLike = Union[str, os.PathLike[str]]

def norms(
    weights: Union[PathLike, Mapping[str, npt.ArrayLike]],
    *,
    num_samples: Optional[Count] = None,
    context_len: Optional[Count] = None,
    layout: PathLike = "torch-mha",
    heads: Optional[Count] = None,
    delta: Optional[Real] = None,
    gamma: Optional[Real] = None,
    b_x: Optional[Real] = None,
    data: Optional[PathLike] = None,
    readout: Optional[str] = None,
    variance_floor: Optional[Real] = None,
    config: Union[Mapping[str, Any], PathLike, None] = None,
    export_augmented: Optional[PathLike] = None,
) -> Dict[str, Any]: ...
