//! Hugging Face checkpoint directories (`weights::hf`, `norms --weights DIR`) on small files
//! written here with the real tensor names and shapes of GPT-2 and BERT (random values). Every
//! expected value is computed in this file with plain loops from the raw tensors, independently
//! of the library's nalgebra code.

use attnbounds::bounds::BoundParams;
use attnbounds::weights::{
    Arch, HfCheckpoint, HfOptions, augmented_heads, export_augmented, head_capacities, hf_table,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use std::collections::BTreeMap;
use std::path::Path;
mod common;
use common::cli;

type Tensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

fn random(rng: &mut ChaCha8Rng, shape: &[usize], scale: f32) -> (Vec<usize>, Vec<f32>) {
    let n = shape.iter().product();
    let v = (0..n)
        .map(|_| scale * rng.random_range(-1.0f32..1.0))
        .collect();
    (shape.to_vec(), v)
}

fn safetensors_bytes(t: &Tensors) -> Vec<u8> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = t
        .iter()
        .map(|(n, (s, v))| {
            (
                n.clone(),
                s.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

const D: usize = 8;
const H: usize = 4;
const DH: usize = D / H;
const L: usize = 2;
const P: usize = 32;
const NPOS: usize = 16;

fn gpt2_tensors(seed: u64) -> Tensors {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut t = Tensors::new();
    let mut put = |n: String, s: &[usize], sc: f32, rng: &mut ChaCha8Rng| {
        t.insert(n, random(rng, s, sc));
    };
    put("wte.weight".into(), &[11, D], 1.0, &mut rng);
    put("wpe.weight".into(), &[NPOS, D], 0.5, &mut rng);
    for l in 0..L {
        let p = format!("h.{l}.");
        for (n, s) in [
            ("ln_1.weight", vec![D]),
            ("ln_1.bias", vec![D]),
            ("attn.bias", vec![1, 1, NPOS, NPOS]),
            ("attn.c_attn.weight", vec![D, 3 * D]),
            ("attn.c_attn.bias", vec![3 * D]),
            ("attn.c_proj.weight", vec![D, D]),
            ("attn.c_proj.bias", vec![D]),
            ("ln_2.weight", vec![D]),
            ("ln_2.bias", vec![D]),
            ("mlp.c_fc.weight", vec![D, P]),
            ("mlp.c_fc.bias", vec![P]),
            ("mlp.c_proj.weight", vec![P, D]),
            ("mlp.c_proj.bias", vec![D]),
        ] {
            put(format!("{p}{n}"), &s, 0.7, &mut rng);
        }
    }
    put("ln_f.weight".into(), &[D], 1.0, &mut rng);
    put("ln_f.bias".into(), &[D], 1.0, &mut rng);
    t
}

fn gpt2_config(heads: usize) -> String {
    format!(
        r#"{{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_layer": {L},
            "n_head": {heads}, "n_embd": {D}, "n_positions": {NPOS}, "layer_norm_epsilon": 1e-5}}"#
    )
}

fn write_dir(dir: &Path, config: &str, t: &Tensors) {
    std::fs::write(dir.join("config.json"), config).unwrap();
    std::fs::write(dir.join("model.safetensors"), safetensors_bytes(t)).unwrap();
}

fn get<'a>(t: &'a Tensors, n: &str) -> &'a [f32] {
    &t[n].1
}

/// Head h's Theta = W_K W_Q^T / sqrt(dh) from GPT-2's fused (in, out) c_attn, by loops.
fn gpt2_theta(t: &Tensors, l: usize, h: usize) -> Vec<Vec<f64>> {
    let w = get(t, &format!("h.{l}.attn.c_attn.weight"));
    let at = |i: usize, j: usize| w[i * 3 * D + j] as f64;
    let s = 1.0 / (DH as f64).sqrt();
    (0..D)
        .map(|a| {
            (0..D)
                .map(|b| {
                    (0..DH)
                        .map(|j| at(a, D + h * DH + j) * at(b, h * DH + j) * s)
                        .sum()
                })
                .collect()
        })
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn gpt2_layout_norms_and_accounting() {
    let dir = tempfile::tempdir().unwrap();
    let t = gpt2_tensors(1);
    write_dir(dir.path(), &gpt2_config(H), &t);
    let ck = HfCheckpoint::read_dir(dir.path()).unwrap();
    assert_eq!(ck.config.arch, Arch::Gpt2);
    let tab = hf_table(&ck, &HfOptions::default()).unwrap();
    assert!(tab.causal);
    assert_eq!(
        (tab.layers, tab.heads, tab.width, tab.head_dim),
        (L, H, D, DH)
    );
    assert_eq!(tab.heads_table.len(), L * H);
    for r in &tab.heads_table {
        let th = gpt2_theta(&t, r.layer, r.head);
        let fro = th.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();
        let c21: f64 = (0..D)
            .map(|b| (0..D).map(|a| th[a][b].powi(2)).sum::<f64>().sqrt())
            .sum();
        assert!(rel(r.theta_fro, fro) < 1e-12, "{} vs {fro}", r.theta_fro);
        assert!(rel(r.theta_21, c21) < 1e-12, "{} vs {c21}", r.theta_21);
        // W_C^h: rows h dh.. of c_proj (already (in, out)).
        let o = get(&t, &format!("h.{}.attn.c_proj.weight", r.layer));
        let wc: f64 = (r.head * DH..(r.head + 1) * DH)
            .flat_map(|i| (0..D).map(move |j| (o[i * D + j] as f64).powi(2)))
            .sum::<f64>()
            .sqrt();
        assert!(rel(r.w_c_fro, wc) < 1e-12);
        // W_V^h: columns 2d + h dh.. of c_attn.
        let w = get(&t, &format!("h.{}.attn.c_attn.weight", r.layer));
        let wv: f64 = (0..D)
            .flat_map(|i| {
                (0..DH).map(move |j| (w[i * 3 * D + 2 * D + r.head * DH + j] as f64).powi(2))
            })
            .sum::<f64>()
            .sqrt();
        assert!(rel(r.w_v_fro, wv) < 1e-12);
        assert!(r.theta_spectral <= r.theta_fro * (1.0 + 1e-12));
        assert!(r.theta_aug_fro >= r.theta_fro * (1.0 - 1e-12));
    }
    // GPT-2 is pre-LN: layer l's input bound is ln_1's ||g||_inf sqrt(d) + ||beta||_2.
    for lr in &tab.layers_table {
        let g = get(&t, &format!("h.{}.ln_1.weight", lr.layer));
        let b = get(&t, &format!("h.{}.ln_1.bias", lr.layer));
        let gi = g.iter().map(|x| x.abs() as f64).fold(0.0, f64::max);
        let bn = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let want = gi * (D as f64).sqrt() + bn;
        assert!(lr.b_x_in >= want && rel(lr.b_x_in, want) < 1e-12);
        assert!(lr.b_x_in_source.contains("ln_1"), "{}", lr.b_x_in_source);
        assert!(lr.rho > 1.0);
    }
    // Every tensor accounted for; the mask buffers are not used, and say why.
    assert_eq!(tab.tensors.len(), t.len());
    for r in &tab.tensors {
        if r.name.ends_with(".attn.bias") {
            assert!(!r.used && r.role.contains("causal-mask"), "{r:?}");
        } else {
            assert!(r.used, "{r:?}");
        }
    }
    assert!(tab.layer_norms.iter().any(|n| n.site.contains("ln_f")));
}

#[test]
fn heads_other_than_config_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path(), &gpt2_config(H), &gpt2_tensors(2));
    let ck = HfCheckpoint::read_dir(dir.path()).unwrap();
    let opts = HfOptions {
        heads: Some(8),
        ..HfOptions::default()
    };
    let e = hf_table(&ck, &opts).unwrap_err().to_string();
    assert!(
        e.contains("heads") && e.contains('8') && e.contains('4'),
        "{e}"
    );
    // A config whose head count does not divide the width.
    let bad = tempfile::tempdir().unwrap();
    write_dir(bad.path(), &gpt2_config(3), &gpt2_tensors(2));
    let e = HfCheckpoint::read_dir(bad.path()).unwrap_err().to_string();
    assert!(e.contains("n_head") && e.contains("divisor"), "{e}");
    // A config with the wrong width: the shapes disagree, the tensor is named.
    let wide = tempfile::tempdir().unwrap();
    write_dir(
        wide.path(),
        &gpt2_config(H).replace("\"n_embd\": 8", "\"n_embd\": 16"),
        &gpt2_tensors(2),
    );
    let ck = HfCheckpoint::read_dir(wide.path()).unwrap();
    let e = hf_table(&ck, &HfOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("wpe.weight") || e.contains("c_attn"), "{e}");
}

#[test]
fn context_len_is_checked_against_the_positional_table() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path(), &gpt2_config(H), &gpt2_tensors(3));
    let ck = HfCheckpoint::read_dir(dir.path()).unwrap();
    let ok = HfOptions {
        context_len: Some(NPOS),
        ..HfOptions::default()
    };
    assert_eq!(
        hf_table(&ck, &ok)
            .unwrap()
            .embeddings
            .unwrap()
            .positions_used,
        NPOS
    );
    let over = HfOptions {
        context_len: Some(NPOS + 1),
        ..HfOptions::default()
    };
    let e = hf_table(&ck, &over).unwrap_err().to_string();
    assert!(e.contains("context_len") && e.contains("16"), "{e}");
}

#[test]
fn bias_absorption_is_exact_on_random_weights() {
    // Real GPT-2 attention (biases, 1/sqrt(dh), causal softmax) computed here from the raw
    // tensors equals the augmented attention (x~ = [x; 1], no biases) built by the library.
    let dir = tempfile::tempdir().unwrap();
    let t = gpt2_tensors(4);
    write_dir(dir.path(), &gpt2_config(H), &t);
    let ck = HfCheckpoint::read_dir(dir.path()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let n = 6;
    let x: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..D).map(|_| rng.random_range(-2.0..2.0)).collect())
        .collect();
    for l in 0..L {
        let w = get(&t, &format!("h.{l}.attn.c_attn.weight"));
        let b = get(&t, &format!("h.{l}.attn.c_attn.bias"));
        let proj = |row: &[f64], j: usize| {
            b[j] as f64
                + (0..D)
                    .map(|i| row[i] * w[i * 3 * D + j] as f64)
                    .sum::<f64>()
        };
        let o = get(&t, &format!("h.{l}.attn.c_proj.weight"));
        let ob = get(&t, &format!("h.{l}.attn.c_proj.bias"));
        let (heads, b_o) = augmented_heads(&ck, l).unwrap();
        let mut worst: f64 = 0.0;
        for tq in 0..n {
            // Real.
            let mut ctx = [0.0; D];
            for h in 0..H {
                let q: Vec<f64> = (0..DH).map(|j| proj(&x[tq], h * DH + j)).collect();
                let sc: Vec<f64> = (0..=tq)
                    .map(|s| {
                        (0..DH)
                            .map(|j| q[j] * proj(&x[s], D + h * DH + j))
                            .sum::<f64>()
                            / (DH as f64).sqrt()
                    })
                    .collect();
                let m = sc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = sc.iter().map(|u| (u - m).exp()).sum();
                for (s, u) in sc.iter().enumerate() {
                    for j in 0..DH {
                        ctx[h * DH + j] += (u - m).exp() / z * proj(&x[s], 2 * D + h * DH + j);
                    }
                }
            }
            let real: Vec<f64> = (0..D)
                .map(|k| ob[k] as f64 + (0..D).map(|i| ctx[i] * o[i * D + k] as f64).sum::<f64>())
                .collect();
            // Augmented.
            let xt = |s: usize| {
                let mut v = x[s].clone();
                v.push(1.0);
                nalgebra::DVector::from_vec(v)
            };
            let mut mine = b_o.clone();
            for a in &heads {
                let th = a.theta_aug();
                let sc: Vec<f64> = (0..=tq).map(|s| xt(s).dot(&(&th * xt(tq)))).collect();
                let m = sc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = sc.iter().map(|u| (u - m).exp()).sum();
                let mut pooled = nalgebra::DVector::zeros(D + 1);
                for (s, u) in sc.iter().enumerate() {
                    pooled += xt(s) * ((u - m).exp() / z);
                }
                mine += a.w_c.transpose() * (a.w_v_aug.transpose() * pooled);
            }
            for k in 0..D {
                worst = worst.max((mine[k] - real[k]).abs());
            }
        }
        assert!(
            worst < 1e-12,
            "layer {l}: augmented differs from real by {worst}"
        );
    }
    // The export writes one file per layer with the same matrices.
    let out = dir.path().join("aug");
    let files = export_augmented(&ck, &out).unwrap();
    assert_eq!(files.len(), L);
    let bytes = std::fs::read(&files[0]).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(
        st.tensor("heads.0.theta_aug").unwrap().shape(),
        &[D + 1, D + 1]
    );
    assert_eq!(st.tensor("heads.3.w_v_aug").unwrap().shape(), &[D + 1, DH]);
}

fn bert_tensors(prefix: &str, seed: u64) -> Tensors {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut t = Tensors::new();
    let e = format!("{prefix}embeddings.");
    for (n, s) in [
        ("word_embeddings.weight", vec![7, D]),
        ("position_embeddings.weight", vec![10, D]),
        ("token_type_embeddings.weight", vec![2, D]),
        ("LayerNorm.weight", vec![D]),
        ("LayerNorm.bias", vec![D]),
    ] {
        t.insert(format!("{e}{n}"), random(&mut rng, &s, 1.0));
    }
    t.insert(
        format!("{e}position_ids"),
        (vec![1, 10], (0..10).map(|i| i as f32).collect()),
    );
    let p = format!("{prefix}encoder.layer.0.");
    for (n, s) in [
        ("attention.self.query.weight", vec![D, D]),
        ("attention.self.query.bias", vec![D]),
        ("attention.self.key.weight", vec![D, D]),
        ("attention.self.key.bias", vec![D]),
        ("attention.self.value.weight", vec![D, D]),
        ("attention.self.value.bias", vec![D]),
        ("attention.output.dense.weight", vec![D, D]),
        ("attention.output.dense.bias", vec![D]),
        ("attention.output.LayerNorm.weight", vec![D]),
        ("attention.output.LayerNorm.bias", vec![D]),
        ("intermediate.dense.weight", vec![16, D]),
        ("intermediate.dense.bias", vec![16]),
        ("output.dense.weight", vec![D, 16]),
        ("output.dense.bias", vec![D]),
        ("output.LayerNorm.weight", vec![D]),
        ("output.LayerNorm.bias", vec![D]),
    ] {
        t.insert(format!("{p}{n}"), random(&mut rng, &s, 0.5));
    }
    t.insert(
        format!("{prefix}pooler.dense.weight"),
        random(&mut rng, &[D, D], 0.5),
    );
    t.insert(
        format!("{prefix}pooler.dense.bias"),
        random(&mut rng, &[D], 0.5),
    );
    t.insert("classifier.weight".into(), random(&mut rng, &[1, D], 0.5));
    t
}

const BERT_CONFIG: &str = r#"{"architectures": ["BertForSequenceClassification"],
  "model_type": "bert", "num_hidden_layers": 1, "num_attention_heads": 2, "hidden_size": 8,
  "max_position_embeddings": 10, "layer_norm_eps": 1e-12}"#;

#[test]
fn bert_prefix_readout_layer_norm_and_accounting() {
    let dir = tempfile::tempdir().unwrap();
    let t = bert_tensors("bert.", 5);
    write_dir(dir.path(), BERT_CONFIG, &t);
    let ck = HfCheckpoint::read_dir(dir.path()).unwrap();
    assert_eq!(ck.prefix, "bert.");
    let tab = hf_table(&ck, &HfOptions::default()).unwrap();
    assert!(!tab.causal);
    assert!(tab.readout.is_none());
    assert!(tab.statements.iter().any(|s| s.contains("unit read-out")));
    // Query weight is (out, in): Theta[a][b] = sum_j K[j][a] Q[j][b] / sqrt(dh) over head rows.
    let q = get(&t, "bert.encoder.layer.0.attention.self.query.weight");
    let k = get(&t, "bert.encoder.layer.0.attention.self.key.weight");
    let dh = 4;
    for h in 0..2 {
        let fro = (0..D)
            .flat_map(|a| (0..D).map(move |b| (a, b)))
            .map(|(a, b)| {
                (h * dh..(h + 1) * dh)
                    .map(|j| k[j * D + a] as f64 * q[j * D + b] as f64)
                    .sum::<f64>()
                    .powi(2)
            })
            .sum::<f64>()
            .sqrt()
            / (dh as f64).sqrt();
        assert!(rel(tab.heads_table[h].theta_fro, fro) < 1e-12);
    }
    // Layer 0 reads embeddings.LayerNorm's output; the bound holds on random rows.
    let ln = &tab.layer_norms[0];
    assert_eq!(ln.tensor, "bert.embeddings.LayerNorm.weight");
    assert_eq!(ln.lipschitz, None);
    let g = get(&t, "bert.embeddings.LayerNorm.weight");
    let be = get(&t, "bert.embeddings.LayerNorm.bias");
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    for _ in 0..200 {
        let x: Vec<f64> = (0..D).map(|_| rng.random_range(-100.0..100.0)).collect();
        let mu = x.iter().sum::<f64>() / D as f64;
        let var = x.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / D as f64;
        let y: f64 = (0..D)
            .map(|i| (g[i] as f64 * (x[i] - mu) / (var + 1e-12).sqrt() + be[i] as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(y <= ln.output_norm_bound, "{y} > {}", ln.output_norm_bound);
    }
    assert_eq!(tab.layers_table[0].b_x_in, ln.output_norm_bound);
    // Accounting.
    let role = |n: &str| tab.tensors.iter().find(|r| r.name == n).unwrap();
    assert!(!role("bert.embeddings.position_ids").used);
    assert!(role("bert.pooler.dense.weight").role.contains("pooler"));
    assert!(role("classifier.weight").role.contains("--readout"));
    assert!(
        role("bert.encoder.layer.0.attention.self.query.bias")
            .role
            .contains("Theta_aug")
    );
    assert_eq!(tab.tensors.iter().filter(|r| !r.used).count(), 4);
    // A read-out, a variance floor and a B_X to be warned about.
    let opts = HfOptions {
        readout: Some("classifier.weight".into()),
        variance_floor: Some(0.25),
        b_x: Some(0.5),
        ..HfOptions::default()
    };
    let tab = hf_table(&ck, &opts).unwrap();
    let w = get(&t, "classifier.weight");
    let wl2 = w.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    assert!(rel(tab.readout.as_ref().unwrap().w_l2, wl2) < 1e-12);
    let gi = g.iter().map(|x| x.abs() as f64).fold(0.0, f64::max);
    assert!(
        rel(
            tab.layer_norms[0].lipschitz.unwrap(),
            gi / (0.25f64 + 1e-12).sqrt()
        ) < 1e-12
    );
    assert!(
        tab.warnings
            .iter()
            .any(|w| w.contains("layer 0") && w.contains("B_X")),
        "{:?}",
        tab.warnings
    );
    let bad = HfOptions {
        readout: Some("bert.pooler.dense.weight".into()),
        ..HfOptions::default()
    };
    let e = hf_table(&ck, &bad).unwrap_err().to_string();
    assert!(e.contains("readout") && e.contains("[8, 8]"), "{e}");
    // CSV: one row per head plus the header.
    assert_eq!(tab.to_csv().lines().count(), 3);
    assert!(tab.to_json().unwrap().contains("\"heads_table\""));
}

#[test]
fn sharded_index_reads_like_one_file() {
    let t = bert_tensors("", 7);
    let one = tempfile::tempdir().unwrap();
    write_dir(one.path(), BERT_CONFIG, &t);
    let sh = tempfile::tempdir().unwrap();
    std::fs::write(sh.path().join("config.json"), BERT_CONFIG).unwrap();
    let (a, b): (Tensors, Tensors) = t
        .clone()
        .into_iter()
        .partition(|(n, _)| n.contains("encoder"));
    std::fs::write(
        sh.path().join("model-00001-of-00002.safetensors"),
        safetensors_bytes(&a),
    )
    .unwrap();
    std::fs::write(
        sh.path().join("model-00002-of-00002.safetensors"),
        safetensors_bytes(&b),
    )
    .unwrap();
    let map: serde_json::Map<String, serde_json::Value> = a
        .keys()
        .map(|k| (k.clone(), "model-00001-of-00002.safetensors".into()))
        .chain(
            b.keys()
                .map(|k| (k.clone(), "model-00002-of-00002.safetensors".into())),
        )
        .collect();
    let index = serde_json::json!({"metadata": {}, "weight_map": map});
    std::fs::write(
        sh.path().join("model.safetensors.index.json"),
        index.to_string(),
    )
    .unwrap();
    let t1 = hf_table(
        &HfCheckpoint::read_dir(one.path()).unwrap(),
        &HfOptions::default(),
    )
    .unwrap();
    let t2 = hf_table(
        &HfCheckpoint::read_dir(sh.path()).unwrap(),
        &HfOptions::default(),
    )
    .unwrap();
    assert_eq!(t1.heads_table, t2.heads_table);
    assert_eq!(t1.layers_table, t2.layers_table);
    assert!(
        t2.tensors
            .iter()
            .any(|r| r.file == "model-00002-of-00002.safetensors")
    );
    // An index entry outside the directory is refused.
    let evil = serde_json::json!({"weight_map": {"x": "../model.safetensors"}});
    std::fs::write(
        sh.path().join("model.safetensors.index.json"),
        evil.to_string(),
    )
    .unwrap();
    let e = HfCheckpoint::read_dir(sh.path()).unwrap_err().to_string();
    assert!(
        e.contains("weight_map") && e.contains("../model.safetensors"),
        "{e}"
    );
}

#[test]
fn cli_on_checkpoint_directories() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path(), &gpt2_config(H), &gpt2_tensors(8));
    let d = dir.path().to_str().unwrap();
    let (ok, out, err) = cli(&["norms", "--weights", d, "--format", "csv"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1 + L * H);
    assert!(out.starts_with("layer,head,Theta_F[Theta=W_K W_Q^T"));
    let (ok, out, err) = cli(&["norms", "--weights", d, "--format", "json", "--b-x", "0.1"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["heads"], H);
    assert!(err.contains("warning: layer 0"), "{err}");
    let (ok, out, _) = cli(&["norms", "--weights", d]);
    assert!(
        ok && out.contains("causal") && out.contains("NOT USED"),
        "{out}"
    );
    let (ok, _, err) = cli(&["norms", "--weights", d, "--heads", "8"]);
    assert!(!ok && err.contains("heads"), "{err}");
    let (ok, _, err) = cli(&["norms", "--weights", d, "--format", "xml"]);
    assert!(!ok && err.contains("format"), "{err}");
    // Only a pickle: refused with the conversion command.
    let pt = tempfile::tempdir().unwrap();
    std::fs::write(pt.path().join("config.json"), gpt2_config(H)).unwrap();
    std::fs::write(pt.path().join("pytorch_model.bin"), b"PK\x03\x04").unwrap();
    let (ok, _, err) = cli(&["norms", "--weights", pt.path().to_str().unwrap()]);
    assert!(
        !ok && err.contains("pytorch_model.bin") && err.contains("save_file"),
        "{err}"
    );
}

#[test]
fn per_head_capacities_use_the_augmented_radii() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path(), &gpt2_config(H), &gpt2_tensors(10));
    let ck = HfCheckpoint::read_dir(dir.path()).unwrap();
    let tab = hf_table(&ck, &HfOptions::default()).unwrap();
    let caps = head_capacities(&tab, 1000, 8, &BoundParams::default()).unwrap();
    assert_eq!(caps.len(), L * H);
    for (c, h) in caps.iter().zip(&tab.heads_table) {
        assert_eq!((c.layer, c.head), (h.layer, h.head));
        assert_eq!(c.setting.width, D + 1);
        assert_eq!(c.radii.b_qk, h.theta_aug_fro);
        assert_eq!(c.radii.b_v, h.w_v_aug_spectral);
        assert_eq!(c.radii.b_w, 1.0);
        assert_eq!(c.radii.b_x, tab.layers_table[h.layer].b_x_in_aug);
        assert!(c.bounds.iter().any(|r| r.gap.is_some()));
    }
    assert!(head_capacities(&tab, 0, 8, &BoundParams::default()).is_err());
}
