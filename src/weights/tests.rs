use super::*;
use crate::model::{Activation, TokenBatch, Transformer, TransformerConfig};
use rand::SeedableRng;
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use std::collections::HashMap;

/// Safetensors bytes from (name, dtype, shape, raw bytes).
pub(crate) fn file(
    tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)],
    heads: Option<usize>,
) -> Vec<u8> {
    let views: Vec<_> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let meta = heads.map(|h| HashMap::from([(META_HEADS.to_string(), h.to_string())]));
    safetensors::serialize(views, meta).unwrap()
}

fn f32s(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect()
}

fn t(name: &str, shape: &[usize], v: &[f64]) -> (&'static str, Dtype, Vec<usize>, Vec<u8>) {
    let name: &'static str = Box::leak(name.to_string().into_boxed_str());
    (name, Dtype::F32, shape.to_vec(), f32s(v))
}

fn tiny() -> Vec<(&'static str, Dtype, Vec<usize>, Vec<u8>)> {
    vec![
        t("layers.0.q.weight", &[2, 2], &[1.0, 0.0, 0.0, 2.0]),
        t("layers.0.k.weight", &[2, 2], &[3.0, 0.0, 0.0, 1.0]),
        t("layers.0.v.weight", &[2, 2], &[3.0, 4.0, 0.0, 0.0]),
        t("layers.0.o.weight", &[2, 2], &[1.0, 1.0, 1.0, 1.0]),
        t("readout.weight", &[1, 2], &[3.0, 4.0]),
    ]
}

#[test]
fn tiny_model_norms_by_hand() {
    // W = weight^T: W_Q = diag(1, 2), W_K = diag(3, 1), W_V = [[3, 0], [4, 0]], W_C = ones(2, 2),
    // w = (3, 4): the head of `norms::model`'s `head_norms_by_hand`, whose closed forms are
    // checked there. Here: the import lands on those matrices, so ||Theta||_F = sqrt(13) and
    // ||W_V||_2 = 5 (a transposed W_V would have ||.||_{2,1} = 3 + 4 = 7, not 5).
    let m = import_bytes(&file(&tiny(), None), Layout::SeparateQkv, Some(1)).unwrap();
    let n = model_norms(&m).unwrap();
    let h = &n.layers[0].heads[0];
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    close(h.theta_fro, 13f64.sqrt());
    close(h.w_v_21, 5.0);
    close(n.w_l2, 5.0);
    assert_eq!(n.b_x, None, "no embeddings in the file");
    assert!(m.ignored.is_empty());
}

#[test]
fn fused_qkv_split_matches_hand_built_heads() {
    // E = 4, H = 2, dh = 2; in_proj entry (row, col) = 100 row + col, out_proj = 10 row + col.
    let (e, dh) = (4usize, 2usize);
    let w_in: Vec<f64> = (0..3 * e * e)
        .map(|i| (100 * (i / e) + i % e) as f64)
        .collect();
    let w_out: Vec<f64> = (0..e * e).map(|i| (10 * (i / e) + i % e) as f64).collect();
    let f = file(
        &[
            t("layers.0.attn.in_proj_weight", &[3 * e, e], &w_in),
            t("layers.0.attn.in_proj_bias", &[3 * e], &[0.0; 12]),
            t("layers.0.attn.out_proj.weight", &[e, e], &w_out),
            t("readout.weight", &[1, e], &[1.0; 4]),
        ],
        Some(2),
    );
    let m = import_bytes(&f, Layout::TorchMha, None).unwrap();
    assert_eq!(m.ignored, vec!["layers.0.attn.in_proj_bias".to_string()]);
    let s = 1.0 / (dh as f64).sqrt();
    for h in 0..2 {
        let p = &m.blocks[0].heads[h];
        for i in 0..e {
            for j in 0..dh {
                // W^h[i][j] = weight[block_offset + h dh + j][i] (transpose of the row block).
                let row = |blk: usize| (100 * (blk * e + h * dh + j) + i) as f64;
                assert!((p.w_q.get(i, j) - s * row(0)).abs() < 1e-9 * row(0).max(1.0));
                assert_eq!(p.w_k.get(i, j), row(1));
                assert_eq!(p.w_v.get(i, j), row(2));
                // W_C^h[j][i] = out_proj[i][h dh + j].
                assert_eq!(p.w_c.get(j, i), (10 * i + h * dh + j) as f64);
            }
        }
    }
}

fn random_model(seed: u64) -> Transformer<f32> {
    let cfg = TransformerConfig {
        context_len: 5,
        vocab: 2,
        width: 8,
        heads: 2,
        head_dim: 4,
        mlp_width: 6,
        layers: 2,
        attn_activation: Activation::Identity,
        mlp_activation: Activation::Relu,
        init_scale: 1.0,
    };
    Transformer::random(&cfg, &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed)).unwrap()
}

#[test]
fn round_trip_both_layouts() {
    let model = random_model(7);
    let batch = TokenBatch::new(5, vec![0, 1, 1, 0, 1, 1, 1, 0, 0, 0]).unwrap();
    let want = model.cast::<f64>().forward_full(&batch).unwrap();
    for layout in [Layout::SeparateQkv, Layout::TorchMha] {
        let bytes = export_transformer(&model, layout).unwrap();
        let back = import_bytes(&bytes, layout, None).unwrap();
        // dh = 4: sqrt(dh) = 2 is exact, so even torch-mha's scaling round-trips bit for bit.
        let tr = back.to_transformer().unwrap();
        assert_eq!(tr, model.cast::<f64>(), "{layout:?}");
        assert_eq!(tr.forward_full(&batch).unwrap(), want);
        assert!(back.ignored.is_empty());
    }
}

#[test]
fn errors_name_the_tensor() {
    let err = |mut ts: Vec<(&'static str, Dtype, Vec<usize>, Vec<u8>)>,
               edit: &dyn Fn(&mut Vec<_>)| {
        edit(&mut ts);
        import_bytes(&file(&ts, None), Layout::SeparateQkv, Some(1))
            .unwrap_err()
            .to_string()
    };
    let e = err(tiny(), &|ts| {
        ts[1] = t("layers.0.k.weight", &[3, 2], &[0.0; 6])
    });
    assert!(
        e.contains("layers.0.k.weight") && e.contains("[2, 2]") && e.contains("[3, 2]"),
        "{e}"
    );
    let e = err(tiny(), &|ts| {
        ts.remove(3);
    });
    assert!(
        e.contains("layers.0.o.weight") && e.contains("missing"),
        "{e}"
    );
    let e = err(tiny(), &|ts| {
        ts[2] = t("layers.0.v.weight", &[2, 2], &[1.0, f64::NAN, 0.0, 0.0])
    });
    assert!(e.contains("layers.0.v.weight") && e.contains("NaN"), "{e}");
    let e = err(tiny(), &|ts| {
        ts[0] = ("layers.0.q.weight", Dtype::I64, vec![2, 2], vec![0u8; 32])
    });
    assert!(
        e.contains("layers.0.q.weight") && e.contains("I64") && e.contains("F32, F64, F16 or BF16"),
        "{e}"
    );
    // No head count anywhere.
    let e = import_bytes(&file(&tiny(), None), Layout::SeparateQkv, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("heads"), "{e}");
    // Wrong layout for the file: names the tensor it looked for.
    let e = import_bytes(&file(&tiny(), None), Layout::TorchMha, Some(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("layers.0.attn.in_proj_weight"), "{e}");
    assert!(Layout::parse("keras").is_err());
}

#[test]
fn f64_and_half_dtypes_are_read() {
    // 1.5 in f64, f16 (0x3e00) and bf16 (0x3fc0) are exact.
    let mut ts = tiny();
    ts[4] = (
        "readout.weight",
        Dtype::F64,
        vec![1, 2],
        [1.5f64, 1.5].iter().flat_map(|x| x.to_le_bytes()).collect(),
    );
    let m = import_bytes(&file(&ts, None), Layout::SeparateQkv, Some(1)).unwrap();
    assert_eq!(m.w, vec![1.5, 1.5]);
    // The same read-out as f16 and bf16 bit patterns.
    for (dtype, bits) in [(Dtype::F16, 0x3e00u16), (Dtype::BF16, 0x3fc0u16)] {
        let bytes = [bits, bits].iter().flat_map(|x| x.to_le_bytes()).collect();
        ts[4] = ("readout.weight", dtype, vec![1, 2], bytes);
        let m = import_bytes(&file(&ts, None), Layout::SeparateQkv, Some(1)).unwrap();
        assert_eq!(m.w, vec![1.5, 1.5], "{dtype:?}");
    }
}

const SEPARATE_TOML: &str = include_str!("../../docs/layouts/separate_qkv.toml");
const TORCH_TOML: &str = include_str!("../../docs/layouts/torch_mha.toml");

#[test]
fn shipped_mappings_equal_the_presets() {
    // Same file read with the preset and with docs/layouts/*.toml: identical weights and norms.
    let model = random_model(11);
    for (layout, toml) in [
        (Layout::SeparateQkv, SEPARATE_TOML),
        (Layout::TorchMha, TORCH_TOML),
    ] {
        let bytes = export_transformer(&model, layout).unwrap();
        let preset = import_bytes(&bytes, layout, None).unwrap();
        let mapping = Mapping::from_toml(toml).unwrap();
        let mapped = import_mapped(&bytes, &mapping, "file.toml", None).unwrap();
        assert_eq!(mapped.blocks, preset.blocks, "{layout:?}");
        assert_eq!(mapped.w, preset.w);
        assert_eq!(mapped.embedding, preset.embedding);
        assert!(mapped.embedding.is_some() && mapped.blocks[0].mlp.is_some());
        let (a, b) = (model_norms(&preset).unwrap(), model_norms(&mapped).unwrap());
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        assert_eq!(a.heads().count(), 4);
    }
    // The preset tolerates a file without MLP and embeddings; so does the shipped mapping.
    let m = import_mapped(
        &file(&tiny(), None),
        &Mapping::from_toml(SEPARATE_TOML).unwrap(),
        "x",
        Some(1),
    )
    .unwrap();
    assert!(m.embedding.is_none() && m.blocks[0].mlp.is_none() && m.blocks.len() == 1);
}

fn transpose(v: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    (0..rows * cols)
        .map(|k| v[(k % rows) * cols + k / rows])
        .collect()
}

#[test]
fn in_out_orientation_and_custom_names_give_the_hand_norms() {
    // tiny() stored transposed ((in, out), as x @ W code keeps it) under other names, one layer
    // without `{l}`: same weights as the preset reading of tiny().
    let mut ts = Vec::new();
    for (old, new) in [
        ("layers.0.q.weight", "attn.wq"),
        ("layers.0.k.weight", "attn.wk"),
        ("layers.0.v.weight", "attn.wv"),
        ("layers.0.o.weight", "attn.wo"),
    ] {
        let (_, _, _, b) = tiny().into_iter().find(|x| x.0 == old).unwrap();
        let v: Vec<f64> = b
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect();
        ts.push(t(new, &[2, 2], &transpose(&v, 2, 2)));
    }
    ts.push(t("head", &[2, 1], &[3.0, 4.0]));
    let toml = r#"
        heads = 1
        orientation = "in_out"
        q = "attn.wq"
        k = "attn.wk"
        v = "attn.wv"
        out = "attn.wo"
        readout = "head"
    "#;
    let m = import_mapped(
        &file(&ts, None),
        &Mapping::from_toml(toml).unwrap(),
        "t",
        None,
    )
    .unwrap();
    let want = import_bytes(&file(&tiny(), None), Layout::SeparateQkv, Some(1)).unwrap();
    assert_eq!(m.blocks, want.blocks);
    assert_eq!(m.w, vec![3.0, 4.0]);
    // Hand values of tiny_model_norms_by_hand: ||Theta||_F = sqrt(13), ||W_V||_2 = 5.
    let n = model_norms(&m).unwrap();
    let h = &n.layers[0].heads[0];
    assert!((h.theta_fro - 13f64.sqrt()).abs() < 1e-12);
    assert!((h.w_v_spectral - 5.0).abs() < 1e-12);
}

#[test]
fn fused_mapping_equals_separate_projections() {
    // Fused qkv (rows q | k | v) without scale == the separate file it was stacked from.
    let q = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]; // (4, 2): H = 2 heads of r = 2
    let k = [0.5, -1.0, 2.0, 0.0, 1.0, 1.0, -3.0, 2.0];
    let v = [2.0, 0.0, 0.0, 3.0, 1.0, -1.0, 4.0, 4.0];
    let o = [1.0, 0.0, 2.0, 0.0, 0.0, 1.0, 0.0, 3.0]; // (2, 4)
    let qkv: Vec<f64> = q.iter().chain(&k).chain(&v).copied().collect();
    let sep = file(
        &[
            t("layers.0.q.weight", &[4, 2], &q),
            t("layers.0.k.weight", &[4, 2], &k),
            t("layers.0.v.weight", &[4, 2], &v),
            t("layers.0.o.weight", &[2, 4], &o),
            t("readout.weight", &[1, 2], &[1.0, 1.0]),
        ],
        Some(2),
    );
    let fused = file(
        &[
            t("blk.{l}".replace("{l}", "0").as_str(), &[12, 2], &qkv),
            t("out.0", &[2, 4], &o),
            t("ro", &[1, 2], &[1.0, 1.0]),
        ],
        Some(2),
    );
    let toml = |scale: &str| {
        format!(
            "orientation = \"out_in\"\nscore_scale = \"{scale}\"\nqkv = \"blk.{{l}}\"\n\
             out = \"out.{{l}}\"\nreadout = \"ro\"\n"
        )
    };
    let a = import_bytes(&sep, Layout::SeparateQkv, None).unwrap();
    let b = import_mapped(
        &fused,
        &Mapping::from_toml(&toml("none")).unwrap(),
        "f",
        None,
    )
    .unwrap();
    assert_eq!(a.blocks, b.blocks);
    assert_eq!(a.blocks[0].heads.len(), 2);
    // With the scale, W_Q alone is divided by sqrt(dh) = sqrt(2).
    let c = import_mapped(
        &fused,
        &Mapping::from_toml(&toml("inv_sqrt_head_dim")).unwrap(),
        "f",
        None,
    )
    .unwrap();
    for (x, y) in a.blocks[0].heads.iter().zip(&c.blocks[0].heads) {
        assert_eq!(x.w_k, y.w_k);
        for i in 0..2 {
            for j in 0..2 {
                assert!((x.w_q.get(i, j) / 2f64.sqrt() - y.w_q.get(i, j)).abs() < 1e-15);
            }
        }
    }
}

#[test]
fn mapping_errors_name_field_value_and_allowed() {
    let base = "orientation = \"out_in\"\nq = \"layers.{l}.q.weight\"\nk = \"layers.{l}.k.weight\"\n\
                v = \"layers.{l}.v.weight\"\nout = \"layers.{l}.o.weight\"\nreadout = \"readout.weight\"\n";
    assert!(Mapping::from_toml(base).is_ok());
    let err = |s: &str| Mapping::from_toml(s).unwrap_err().to_string();
    // Unknown key: serde names it and lists the allowed keys.
    let e = err(&format!("{base}colour = \"red\"\n"));
    assert!(
        e.contains("colour") && e.contains("orientation") && e.contains("qkv"),
        "{e}"
    );
    // Missing template.
    let e = err(&base.replace("out = \"layers.{l}.o.weight\"\n", ""));
    assert!(e.contains("missing field `out`"), "{e}");
    // Bad orientation.
    let e = err(&base.replace("out_in", "rows_first"));
    assert!(
        e.contains("orientation") && e.contains("rows_first") && e.contains("in_out"),
        "{e}"
    );
    let e = err(&format!("{base}score_scale = \"sqrt\"\n"));
    assert!(
        e.contains("score_scale") && e.contains("inv_sqrt_head_dim"),
        "{e}"
    );
    // q/k/v and qkv together.
    let e = err(&format!("{base}qkv = \"layers.{{l}}.qkv\"\n"));
    assert!(
        e.contains("qkv") && e.contains("either all of q, k, v"),
        "{e}"
    );
    // Placeholder typo; {l} in a global name; mixed layering; bad optional entry.
    let e = err(&base.replace("layers.{l}.k", "layers.{layer}.k"));
    assert!(e.contains("`k`") && e.contains("{layer}"), "{e}");
    let e = err(&base.replace("readout.weight", "readout.{l}"));
    assert!(e.contains("`readout`"), "{e}");
    let e = err(&base.replace("layers.{l}.v", "layers.0.v"));
    assert!(e.contains("`v`") && e.contains("layers.0.v.weight"), "{e}");
    let e = err(&format!("{base}optional = [\"q\"]\n"));
    assert!(
        e.contains("optional") && e.contains("\"q\"") && e.contains("mlp_in"),
        "{e}"
    );
    // A template matching no tensor: names the field, the template and the tensor looked for.
    let m =
        Mapping::from_toml(&base.replace("layers.{l}.o.weight", "layers.{l}.proj.weight")).unwrap();
    let e = import_mapped(&file(&tiny(), None), &m, "x", Some(1))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`out`")
            && e.contains("layers.{l}.proj.weight")
            && e.contains("layers.0.proj.weight"),
        "{e}"
    );
    // A non-optional MLP template that matches nothing is an error too.
    let m = Mapping::from_toml(&format!(
        "{base}mlp_in = \"layers.{{l}}.fc1\"\nmlp_out = \"layers.{{l}}.fc2\"\n"
    ))
    .unwrap();
    let e = import_mapped(&file(&tiny(), None), &m, "x", Some(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`mlp_in`") && e.contains("layers.0.fc1"), "{e}");
    // Heads in the mapping disagreeing with --heads.
    let m = Mapping::from_toml(&format!("heads = 2\n{base}")).unwrap();
    let e = import_mapped(&file(&tiny(), None), &m, "x", Some(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("heads") && e.contains("mapping"), "{e}");
}

#[test]
fn b_x_from_csv_and_safetensors_inputs() {
    let dir = tempfile::tempdir().unwrap();
    // Rows (3, 4) and (1, 1): B_X = 5 by hand. A header line is skipped.
    let csv = dir.path().join("x.csv");
    std::fs::write(&csv, "a,b\n3,4\n# comment\n1, 1\n").unwrap();
    let (b, shape) = b_x_from_file(&csv).unwrap();
    assert_eq!((b, shape), (5.0, vec![2, 2]));
    // (n T, d) = (2, 3) safetensors under any single name: rows (1, 2, 2) -> 3, (0, 0, 1) -> 1.
    let st = dir.path().join("x.safetensors");
    std::fs::write(
        &st,
        file(
            &[t("inputs", &[2, 3], &[1.0, 2.0, 2.0, 0.0, 0.0, 1.0])],
            None,
        ),
    )
    .unwrap();
    assert_eq!(b_x_from_file(&st).unwrap(), (3.0, vec![2, 3]));
    // Malformed inputs: ragged CSV, text cell, NaN, rank-1 tensor, two unnamed tensors.
    std::fs::write(&csv, "1,2\n3\n").unwrap();
    let e = b_x_from_file(&csv).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("2 columns"), "{e}");
    std::fs::write(&csv, "1,2\n3,x\n").unwrap();
    let e = b_x_from_file(&csv).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("3,x"), "{e}");
    std::fs::write(&csv, "1,NaN\n").unwrap();
    let e = b_x_from_file(&csv).unwrap_err().to_string();
    assert!(e.contains("column 2") && e.contains("NaN"), "{e}");
    std::fs::write(&st, file(&[t("x", &[3], &[1.0, 2.0, 2.0])], None)).unwrap();
    let e = b_x_from_file(&st).unwrap_err().to_string();
    assert!(
        e.contains("(n, T, d) or (n T, d)") && e.contains("[3]"),
        "{e}"
    );
    std::fs::write(
        &st,
        file(&[t("a", &[1, 1], &[1.0]), t("b", &[1, 1], &[1.0])], None),
    )
    .unwrap();
    let e = b_x_from_file(&st).unwrap_err().to_string();
    assert!(e.contains("exactly one tensor"), "{e}");
}
