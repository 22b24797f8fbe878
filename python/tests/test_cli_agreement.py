"""Python and the CLI agree to the last digit: the same rows, compared with ==, from the CLI's
JSON and CSV output (serde and Rust's `{:e}` both print the shortest decimal that reads back as
the same f64, so equality here is bit equality)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import attnbounds
from conftest import run_cli, torch_mha_tensors, write_safetensors

# Parameter sets covering the single-head rows, the deep rows (heads/layers with W_C radii),
# non-default delta/gamma/eps/constants, and a huge context (log-space values, saturation).
CASES = [
    dict(num_samples=1000, context_len=100, width=16, value_dim=16, b_x=1, b_qk=2, b_v=1, b_v21=4, b_w=1),
    dict(num_samples=50000, context_len=512, width=64, value_dim=32, b_x=1.0, b_qk=3.5, b_v=1.25,
         b_v21=9.0, b_w=2.0, heads=4, layers=3, b_c=1.5, b_c21=7.0, delta=0.01, gamma=0.5),
    dict(num_samples=10**6, context_len=10**5, width=8, value_dim=8, b_x=0.9, b_qk=1e3, b_v=10.0,
         b_v21=30.0, b_w=5.0, eps=0.01, kappa=1.5, kappa_paper=3.0, c0=0.25, sparsity=5,
         l_sigma=2.0, r_min=1e-3),
    dict(num_samples=7, context_len=3, width=1, value_dim=1, b_x=1e-12, b_qk=1e12, b_v=1e-6,
         b_v21=1e-6, b_w=1e6),
]


def flags(case: dict) -> list:
    out = []
    for k, v in case.items():
        out += ["--" + k.replace("_", "-"), repr(v) if isinstance(v, float) else str(v)]
    return out


@pytest.mark.parametrize("case", CASES)
def test_bound_rows_equal_cli_json(cli, case):
    got = attnbounds.bound(**case)
    r = run_cli(cli, ["bound", "--json", *flags(case)])
    assert r.returncode == 0, r.stderr
    want = json.loads(r.stdout)
    assert len(got) == len(want) > 0
    for g, w in zip(got, want):
        assert g == w, (g, w)
        for k in ("log_covering", "rademacher", "gap", "vc_dimension"):
            if w[k] is not None:  # bit identity, not just ==
                assert np.float64(g[k]).tobytes() == np.float64(w[k]).tobytes()


@pytest.mark.parametrize("case", CASES)
def test_bound_rows_equal_cli_csv(cli, case):
    got = attnbounds.bound(**case)
    r = run_cli(cli, ["bound", "--csv", *flags(case)])
    assert r.returncode == 0, r.stderr
    want = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(got) == len(want) > 0
    for g, w in zip(got, want):
        assert g["name"] == w["bound"] and g["source"] == w["source"]
        assert int(w["context_len"]) == g["context_len"] and int(w["num_samples"]) == g["num_samples"]
        assert float(w["eps"]) == g["eps"]
        assert (w["saturated"] == "true") == g["saturated"]
        for k, col in [("log_covering", "log_covering"), ("rademacher", "rademacher"),
                       ("gap", "gap"), ("vc_dimension", "vc_dimension")]:
            assert (None if w[col] == "" else float(w[col])) == g[k], (k, w[col], g[k])


def test_defaults_are_the_cli_defaults(cli):
    # Left out here and left out on the command line: the library's defaults on both sides.
    base = CASES[0]
    explicit = dict(base, delta=0.05, gamma=1.0, eps=0.1, heads=1, layers=1)
    assert attnbounds.bound(**base) == attnbounds.bound(**explicit)
    r = run_cli(cli, ["bound", "--json", *flags(explicit)])
    assert attnbounds.bound(**base) == json.loads(r.stdout)


def norms_flags(path, heads, extra=()):
    return ["norms", "--weights", str(path), "--heads", str(heads), "--num-samples", "2000",
            "--context-len", "12", "--b-x", "1.5", "--json", *extra]


def strip(result: dict) -> dict:
    """The CLI's object: Python adds `head_arrays`; `weights` names the input (path or dict)."""
    return {k: v for k, v in result.items() if k not in ("head_arrays", "weights")}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_norms_file_and_dict_equal_cli(cli, tmp_path, dtype):
    tensors = torch_mha_tensors(layers=2, width=8, seed=3, dtype=dtype)
    path = tmp_path / "model.safetensors"
    write_safetensors(path, tensors)
    r = run_cli(cli, norms_flags(path, heads=2))
    assert r.returncode == 0, r.stderr
    want = json.loads(r.stdout)
    from_file = attnbounds.norms(path, num_samples=2000, context_len=12, heads=2, b_x=1.5)
    from_dict = attnbounds.norms(tensors, num_samples=2000, context_len=12, heads=2, b_x=1.5)
    assert from_file["weights"] == want["weights"] == str(path)
    assert strip(from_file) == strip(want)
    assert strip(from_dict) == strip(want)
    assert want["ignored_tensors"]  # the biases are reported, not silently dropped


def test_norms_independent_numpy(tmp_path):
    # Theta of head h, from docs/pytorch.md (torch-mha): W_Q = Q_h^T / sqrt(dh), W_K = K_h^T, so
    # Theta = W_K W_Q^T = K_h^T Q_h / sqrt(dh); W_V = V_h^T; W_C = the out_proj columns of h,
    # transposed. Computed here with numpy in float64, compared to 1e-12 relative.
    width, heads = 8, 2
    dh = width // heads
    t = torch_mha_tensors(layers=1, width=width, seed=11, dtype=np.float64)
    res = attnbounds.norms(t, num_samples=100, context_len=5, heads=heads, b_x=1.0)
    w = t["layers.0.attn.in_proj_weight"]
    out = t["layers.0.attn.out_proj.weight"]
    for h in range(heads):
        rows = slice(h * dh, (h + 1) * dh)
        q, k, v = w[:width][rows], w[width:2 * width][rows], w[2 * width:][rows]
        theta = k.T @ q / np.sqrt(dh)
        got = res["norms"]["layers"][0]["heads"][h]
        np.testing.assert_allclose(got["theta_fro"], np.linalg.norm(theta, "fro"), rtol=1e-12)
        np.testing.assert_allclose(got["theta_spectral"], np.linalg.norm(theta, 2), rtol=1e-12)
        np.testing.assert_allclose(got["w_v_spectral"], np.linalg.norm(v.T, 2), rtol=1e-12)
        np.testing.assert_allclose(got["w_v_21"], np.linalg.norm(v.T, axis=0).sum(), rtol=1e-12)
        w_c = out[:, rows].T
        np.testing.assert_allclose(got["w_c_spectral"], np.linalg.norm(w_c, 2), rtol=1e-12)
    np.testing.assert_allclose(res["norms"]["w_l2"], np.linalg.norm(t["readout.weight"]), rtol=1e-12)


def test_head_arrays_are_the_table(tmp_path):
    t = torch_mha_tensors(layers=3, width=6, seed=5)
    res = attnbounds.norms(t, num_samples=100, context_len=5, heads=3, b_x=1.0)
    arrays = res["head_arrays"]
    assert arrays["theta_fro"].shape == (3, 3) and arrays["theta_fro"].dtype == np.float64
    for l, layer in enumerate(res["norms"]["layers"]):
        for h, head in enumerate(layer["heads"]):
            for key, arr in arrays.items():
                assert arr[l, h] == head[key]
