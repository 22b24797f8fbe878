//! End to end: a model exported by the library, read back by `attnbounds norms`.

use attnbounds::model::{Activation, Transformer, TransformerConfig};
use attnbounds::weights::{Layout, model_norms, read_file, write_transformer};
use rand::SeedableRng;
use safetensors::Dtype;
use safetensors::tensor::TensorView;
mod common;
use common::cli;

fn model(heads: usize, layers: usize) -> Transformer<f32> {
    let cfg = TransformerConfig {
        context_len: 6,
        vocab: 2,
        width: 8,
        heads,
        head_dim: 8 / heads,
        mlp_width: 0,
        layers,
        attn_activation: Activation::Identity,
        mlp_activation: Activation::Relu,
        init_scale: 1.0,
    };
    Transformer::random(&cfg, &mut rand_chacha::ChaCha8Rng::seed_from_u64(3)).unwrap()
}

#[test]
fn cli_norms_on_exported_files() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.safetensors");
    write_transformer(&model(1, 1), Layout::TorchMha, &one).unwrap();
    // Data file: x of shape (m = 2, T+1 = 7, d = 8), one row of norm 3 (entries 3, rest 0).
    let mut x = vec![0f32; 2 * 7 * 8];
    x[8 * 9] = 3.0;
    x[0] = 1.0;
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let data = dir.path().join("x.safetensors");
    let st = safetensors::serialize(
        [(
            "x",
            TensorView::new(Dtype::F32, vec![2, 7, 8], &bytes).unwrap(),
        )],
        None,
    )
    .unwrap();
    std::fs::write(&data, st).unwrap();

    let w = one.to_str().unwrap();
    let (ok, out, err) = cli(&[
        "norms",
        "--weights",
        w,
        "--num-samples",
        "1000",
        "--context-len",
        "6",
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["radii"]["head"]["b_x"], 3.0);
    // The CLI prints the library's norms of the same file.
    let lib = model_norms(&read_file(&one, Layout::TorchMha, None).unwrap()).unwrap();
    // serde_json's default float parser may be off by one ulp, hence 1e-14 relative.
    let printed = v["norms"]["layers"][0]["heads"][0]["theta_fro"]
        .as_f64()
        .unwrap();
    assert!(
        (printed - lib.layers[0].heads[0].theta_fro).abs() <= 1e-14 * printed,
        "{printed}"
    );
    let names: Vec<&str> = v["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(names.iter().any(|n| n.contains("post")), "{names:?}");

    // Multi-layer, multi-head: the deep bound appears; table output names every head.
    let two = dir.path().join("two.safetensors");
    write_transformer(&model(2, 2), Layout::SeparateQkv, &two).unwrap();
    let (ok, out, err) = cli(&[
        "norms",
        "--weights",
        two.to_str().unwrap(),
        "--layout",
        "separate-qkv",
        "--num-samples",
        "1000",
        "--context-len",
        "6",
        "--b-x",
        "1.5",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("multi-layer"), "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.trim_start().starts_with(['0', '1']))
            .count(),
        4,
        "{out}"
    );

    // Errors: wrong layout names the missing tensor; no B_X.
    let (ok, _, err) = cli(&[
        "norms",
        "--weights",
        w,
        "--layout",
        "separate-qkv",
        "--num-samples",
        "10",
        "--context-len",
        "6",
        "--b-x",
        "1",
    ]);
    assert!(!ok && err.contains("layers.0.q.weight"), "{err}");
    let (ok, _, err) = cli(&[
        "norms",
        "--weights",
        w,
        "--num-samples",
        "10",
        "--context-len",
        "6",
    ]);
    assert!(!ok && err.contains("b_x"), "{err}");

    // The shipped mapping file gives the preset's norms; --inputs takes a CSV of rows.
    let csv = dir.path().join("x.csv");
    // Rows of width d = 8; the largest has norm sqrt(4 * 4) = 4 (hand computation).
    std::fs::write(&csv, "1,0,0,0,0,0,0,0\n2,2,2,2,0,0,0,0\n").unwrap();
    let toml = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/layouts/separate_qkv.toml"
    );
    let mut outs = Vec::new();
    for layout in ["separate-qkv", toml] {
        let (ok, out, err) = cli(&[
            "norms",
            "--weights",
            two.to_str().unwrap(),
            "--layout",
            layout,
            "--num-samples",
            "1000",
            "--context-len",
            "6",
            "--inputs",
            csv.to_str().unwrap(),
            "--json",
        ]);
        assert!(ok, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["radii"]["head"]["b_x"], 4.0);
        outs.push((v["norms"].clone(), v["bounds"].clone()));
    }
    assert_eq!(outs[0], outs[1]);
    // A mapping with a typo names the field and the allowed keys.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "orientation = \"out_in\"\nqkv = \"a\"\nout = \"b\"\nread_out = \"c\"\n",
    )
    .unwrap();
    let (ok, _, err) = cli(&[
        "norms",
        "--weights",
        w,
        "--layout",
        bad.to_str().unwrap(),
        "--num-samples",
        "10",
        "--context-len",
        "6",
        "--b-x",
        "1",
    ]);
    assert!(
        !ok && err.contains("read_out") && err.contains("readout"),
        "{err}"
    );
}
