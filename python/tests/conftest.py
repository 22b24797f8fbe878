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


BERT_CONFIG = {
    "model_type": "bert",
    "architectures": ["BertModel"],
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "hidden_size": 8,
    "intermediate_size": 16,
    "max_position_embeddings": 32,
    "type_vocab_size": 2,
    "vocab_size": 20,
    "layer_norm_eps": 1e-12,
}


def bert_tensors(seed: int, cfg=BERT_CONFIG) -> Dict[str, np.ndarray]:
    """A tiny BERT with Hugging Face's tensor names (PyTorch Linear weights are (out, in)),
    random weights, biases and LayerNorm parameters included."""
    rng = np.random.default_rng(seed)
    d, p = cfg["hidden_size"], cfg["intermediate_size"]
    f = lambda *shape, s=0.3: rng.normal(0, s, shape).astype(np.float32)  # noqa: E731
    t = {
        "embeddings.word_embeddings.weight": f(cfg["vocab_size"], d),
        "embeddings.position_embeddings.weight": f(cfg["max_position_embeddings"], d),
        "embeddings.token_type_embeddings.weight": f(cfg["type_vocab_size"], d),
        "embeddings.LayerNorm.weight": 1 + f(d, s=0.1),
        "embeddings.LayerNorm.bias": f(d, s=0.1),
    }
    for l in range(cfg["num_hidden_layers"]):
        pre = f"encoder.layer.{l}."
        for name in ("query", "key", "value"):
            t[pre + f"attention.self.{name}.weight"] = f(d, d)
            t[pre + f"attention.self.{name}.bias"] = f(d, s=0.2)
        t[pre + "attention.output.dense.weight"] = f(d, d)
        t[pre + "attention.output.dense.bias"] = f(d, s=0.1)
        t[pre + "attention.output.LayerNorm.weight"] = 1 + f(d, s=0.1)
        t[pre + "attention.output.LayerNorm.bias"] = f(d, s=0.1)
        t[pre + "intermediate.dense.weight"] = f(p, d)
        t[pre + "intermediate.dense.bias"] = f(p, s=0.1)
        t[pre + "output.dense.weight"] = f(d, p)
        t[pre + "output.dense.bias"] = f(d, s=0.1)
        t[pre + "output.LayerNorm.weight"] = 1 + f(d, s=0.1)
        t[pre + "output.LayerNorm.bias"] = f(d, s=0.1)
    t["pooler.dense.weight"] = f(d, d)
    t["pooler.dense.bias"] = f(d, s=0.1)
    return t


def write_bert_dir(path: Path, seed: int) -> Dict[str, np.ndarray]:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(BERT_CONFIG))
    t = bert_tensors(seed)
    write_safetensors(path / "model.safetensors", t)
    return t
