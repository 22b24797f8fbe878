"""Shared fixtures: the CLI binary built from this repository, and a writer of safetensors files
(the format by hand: an 8-byte little-endian header length, the JSON header, the raw data)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `attnbounds` binary: $ATTNBOUNDS_CLI, else target/release/attnbounds of this repo.
    Missing is a failure, never a skip (build it with `cargo build --release`)."""
    path = Path(os.environ.get("ATTNBOUNDS_CLI", REPO / "target" / "release" / "attnbounds"))
    if not path.is_file():
        pytest.fail(f"CLI binary {path} not found: run `cargo build --release` or set ATTNBOUNDS_CLI")
    return path


def run_cli(cli: Path, args: List[str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=120)


def write_safetensors(path: Path, tensors: Dict[str, np.ndarray], metadata=None) -> None:
    dtypes = {np.dtype("float32"): "F32", np.dtype("float64"): "F64"}
    header: Dict[str, object] = {}
    blobs = []
    offset = 0
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": dtypes[arr.dtype],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def torch_mha_tensors(layers: int, width: int, seed: int, dtype=np.float32) -> Dict[str, np.ndarray]:
    """A model in the `torch-mha` layout (docs/pytorch.md), random weights, with biases (which
    the import reports as not used)."""
    rng = np.random.default_rng(seed)
    t: Dict[str, np.ndarray] = {}
    for l in range(layers):
        t[f"layers.{l}.attn.in_proj_weight"] = rng.normal(0, 0.3, (3 * width, width)).astype(dtype)
        t[f"layers.{l}.attn.in_proj_bias"] = rng.normal(0, 0.1, (3 * width,)).astype(dtype)
        t[f"layers.{l}.attn.out_proj.weight"] = rng.normal(0, 0.3, (width, width)).astype(dtype)
    t["readout.weight"] = rng.normal(0, 0.5, (1, width)).astype(dtype)
    return t
