"""Bad input raises an AttnboundsError (a ValueError) naming the field, the value and what is
allowed; its message is the CLI's for the same input."""

from __future__ import annotations

import numpy as np
import pytest

import attnbounds
from attnbounds import AttnboundsError, InvalidValueError
from conftest import run_cli, torch_mha_tensors, write_safetensors

OK = dict(num_samples=1000, context_len=100, width=16, value_dim=16, b_x=1, b_qk=2, b_v=1, b_v21=4, b_w=1)


@pytest.mark.parametrize(
    "field, value, flag",
    [
        ("delta", 1.5, "--delta"),
        ("gamma", -1.0, "--gamma"),
        ("b_qk", float("nan"), "--b-qk"),
        ("num_samples", 0, "--num-samples"),
        ("eps", float("inf"), "--eps"),
    ],
)
def test_domain_errors_name_the_field_like_the_cli(cli, field, value, flag):
    with pytest.raises(InvalidValueError) as info:
        attnbounds.bound(**dict(OK, **{field: value}))
    err = info.value
    assert isinstance(err, ValueError)
    assert err.field == field and err.kind == "invalid_value"
    assert err.allowed
    args = []
    for k, v in dict(OK, **{field: value}).items():
        args += ["--" + k.replace("_", "-"), str(v)]
    r = run_cli(cli, ["bound", "--json", *args])
    assert r.returncode != 0
    assert f"error: {err}" in r.stderr, (str(err), r.stderr)


def test_missing_required_names_it():
    kw = dict(OK)
    del kw["b_v21"]
    with pytest.raises(InvalidValueError) as info:
        attnbounds.bound(**kw)
    assert info.value.field == "b_v21" and info.value.value == "(missing)"


@pytest.mark.parametrize("value", [-3, 2.5, True, "10", None])
def test_bad_count_types(value):
    with pytest.raises(InvalidValueError) as info:
        attnbounds.bound(**dict(OK, context_len=value))
    assert info.value.field == "context_len"


def test_numpy_scalars_accepted():
    kw = dict(OK, num_samples=np.int64(1000), b_qk=np.float64(2.0), b_x=np.float32(1.0))
    assert attnbounds.bound(**kw) == attnbounds.bound(**OK)


def test_only_one_of_b_c_pair():
    with pytest.raises(InvalidValueError) as info:
        attnbounds.bound(**dict(OK, heads=2, b_c=1.0))
    assert info.value.field == "b_c21"


def test_norms_errors(tmp_path):
    t = torch_mha_tensors(layers=1, width=8, seed=1)
    kw = dict(num_samples=100, context_len=5, b_x=1.0)
    with pytest.raises(InvalidValueError) as info:
        attnbounds.norms(dict(t, **{"readout.weight": t["readout.weight"].astype(np.float16)}), heads=2, **kw)
    assert info.value.field == 'weights["readout.weight"]' and "float16" in info.value.value
    with pytest.raises(AttnboundsError) as info:
        attnbounds.norms(t, heads=3, **kw)  # 8 is not divisible by 3
    assert info.value.field
    with pytest.raises(InvalidValueError) as info:
        attnbounds.norms(t, heads=2, layout="no-such-layout", **kw)
    assert info.value.field == "layout"
    with pytest.raises(attnbounds.FileError) as info:
        attnbounds.norms(tmp_path / "missing.safetensors", heads=2, **kw)
    assert "missing.safetensors" in info.value.field
    with pytest.raises(InvalidValueError) as info:
        attnbounds.norms(t, heads=2, num_samples=100, context_len=5)
    assert info.value.field == "b_x"
    with pytest.raises(InvalidValueError) as info:
        attnbounds.norms(42, heads=2, **kw)
    assert info.value.field == "weights"


def test_norms_error_matches_cli(cli, tmp_path):
    t = torch_mha_tensors(layers=1, width=8, seed=1)
    del t["readout.weight"]
    path = tmp_path / "m.safetensors"
    write_safetensors(path, t)
    with pytest.raises(AttnboundsError) as info:
        attnbounds.norms(path, heads=2, num_samples=100, context_len=5, b_x=1.0)
    r = run_cli(cli, ["norms", "--weights", str(path), "--heads", "2", "--num-samples", "100",
                      "--context-len", "5", "--b-x", "1.0"])
    assert r.returncode != 0 and f"error: {info.value}" in r.stderr
