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
    // W = weight^T: W_Q = diag(1, 2), W_K = diag(3, 1), so Theta = W_K W_Q^T = diag(3, 2):
    // ||Theta||_F = sqrt(13), ||Theta||_{2,1} = 3 + 2 = 5 (both orientations), ||Theta||_2 = 3.
    // W_V = [[3, 0], [4, 0]]: columns (3,4) and 0, so ||W_V||_2 = ||W_V||_{2,1} = 5.
    // W_C = all-ones 2x2: ||W_C||_2 = 2, ||W_C||_{2,1} = 2 sqrt(2). ||w||_2 = ||(3,4)|| = 5.
    let m = import_bytes(&file(&tiny(), None), Layout::SeparateQkv, Some(1)).unwrap();
    let n = model_norms(&m).unwrap();
    let h = &n.heads[0];
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    close(h.theta_frobenius, 13f64.sqrt());
    close(h.theta_21, 5.0);
    close(h.theta_21_transposed, 5.0);
    close(h.theta_spectral, 3.0);
    close(h.w_v_spectral, 5.0);
    close(h.w_v_21, 5.0);
    close(h.w_c_spectral, 2.0);
    close(h.w_c_21, 2.0 * 2f64.sqrt());
    close(n.readout, 5.0);
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

fn cast_f64(m: &Transformer<f32>) -> Transformer<f64> {
    use crate::model::{Block, Embedding, HeadParams, Mlp};
    let e = &m.embedding;
    Transformer {
        embedding: Embedding::new(
            e.tok.cast(),
            e.pos.cast(),
            e.cls.iter().map(|&x| x as f64).collect(),
        )
        .unwrap(),
        blocks: m
            .blocks
            .iter()
            .map(|b| Block {
                heads: b
                    .heads
                    .iter()
                    .map(|h| HeadParams {
                        w_q: h.w_q.cast(),
                        w_k: h.w_k.cast(),
                        w_v: h.w_v.cast(),
                        w_c: h.w_c.cast(),
                    })
                    .collect(),
                mlp: b.mlp.as_ref().map(|p| Mlp {
                    w1: p.w1.cast(),
                    w2: p.w2.cast(),
                }),
            })
            .collect(),
        w: m.w.iter().map(|&x| x as f64).collect(),
        attn_activation: m.attn_activation,
        mlp_activation: m.mlp_activation,
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
    let want = cast_f64(&model).forward_full(&batch).unwrap();
    for layout in [Layout::SeparateQkv, Layout::TorchMha] {
        let bytes = export_transformer(&model, layout).unwrap();
        let back = import_bytes(&bytes, layout, None).unwrap();
        // dh = 4: sqrt(dh) = 2 is exact, so even torch-mha's scaling round-trips bit for bit.
        let tr = back.to_transformer().unwrap();
        assert_eq!(tr, cast_f64(&model), "{layout:?}");
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
    ts[4] = (
        "readout.weight",
        Dtype::F16,
        vec![1, 2],
        [0x3e00u16, 0x3e00]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect(),
    );
    assert_eq!(
        import_bytes(&file(&ts, None), Layout::SeparateQkv, Some(1))
            .unwrap()
            .w,
        vec![1.5, 1.5]
    );
    ts[4] = (
        "readout.weight",
        Dtype::BF16,
        vec![1, 2],
        [0x3fc0u16, 0x3fc0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect(),
    );
    assert_eq!(
        import_bytes(&file(&ts, None), Layout::SeparateQkv, Some(1))
            .unwrap()
            .w,
        vec![1.5, 1.5]
    );
}
