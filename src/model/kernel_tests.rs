//! The bit-matrix mixing kernel (`bitmix`) against the per-sample gather (`table::mix`, the
//! reference): on arbitrary tables in each of its three modes (f64, both directions, and
//! against central differences), and inside the one-block Transformer in f32 at several T,
//! including batches whose score gap sends it to the fallback.

use super::bitmix::{self, BitMatrix, BitTable, MAX_SCORE_GAP};
use super::table::{self, HeadTable};
use super::tests::{check_fd, random_batch, small_transformer};
use super::*;
use crate::optim::Parameters;
use crate::tensor::{Mat, dot};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Scores on rows 2t + b (\[CLS\] last) with bit 1's score = bit 0's + `gap` (None: independent
/// draws, so the sign of w^1 - w^0 changes along t), values uniform in [-1, 1].
fn random_table(r: &mut ChaCha8Rng, t_len: usize, k: usize, gap: Option<f64>) -> HeadTable<f64> {
    let mut scores = vec![0.0; 2 * t_len + 1];
    for t in 0..t_len {
        scores[2 * t] = 3.0 * r.random::<f64>() - 1.5;
        scores[2 * t + 1] = match gap {
            Some(g) => scores[2 * t] + g,
            None => 3.0 * r.random::<f64>() - 1.5,
        };
    }
    scores[2 * t_len] = r.random::<f64>();
    let values = Mat::from_fn("v", 2 * t_len + 1, k, |_, _| 2.0 * r.random::<f64>() - 1.0).unwrap();
    HeadTable::from_parts(Vec::new(), Vec::new(), scores, values)
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Three heads, one per mode: gap +0.7 (indicator B), gap -0.9 (1 - B), no common gap (both).
fn three_heads(r: &mut ChaCha8Rng, t_len: usize) -> Vec<HeadTable<f64>> {
    vec![
        random_table(r, t_len, 3, Some(0.7)),
        random_table(r, t_len, 2, Some(-0.9)),
        random_table(r, t_len, 4, None),
    ]
}

#[test]
fn bit_kernel_equals_gather_on_arbitrary_tables_in_every_mode() {
    // Reference: table::mix / table::mix_backward, the per-sample softmax of the same tables.
    // Both are exact in real arithmetic; in f64 they differ by summation order only, i.e. by
    // O(T u) with u = 2^-53 on values of size <= 1: 1e-12 leaves a 20x margin at T = 40.
    let mut r = ChaCha8Rng::seed_from_u64(21);
    let (t_len, m) = (40, 23);
    let heads = three_heads(&mut r, t_len);
    let batch = random_batch(&mut r, t_len, m, 2);
    let bits = BitMatrix::new(&batch).unwrap();
    let views: Vec<BitTable<'_, f64>> = heads.iter().map(|h| h.bit_table()).collect();
    let fast = bitmix::forward(&bits, &views).unwrap();
    assert_eq!(fast.modes(), vec![1, 0, 2]);
    let d_mixed: Vec<Mat<f64>> = (fast.mixed.iter())
        .map(|mx| Mat::from_fn("g", m, mx.cols, |_, _| r.random::<f64>() - 0.5).unwrap())
        .collect();
    let grads = bitmix::backward(&bits, &views, &fast, &d_mixed);
    let mut row = vec![0.0; t_len + 1];
    for (j, h) in heads.iter().enumerate() {
        let reference = table::mix(h, 2, &batch);
        assert!(max_abs_diff(&fast.mixed[j].data, &reference.mixed.data) < 1e-12);
        for i in 0..m {
            fast.attention_row(&bits, j, i, &mut row);
            assert!(max_abs_diff(&row, reference.attention.row(i)) < 1e-12);
        }
        let want = table::mix_backward(h, 2, &batch, &reference, &d_mixed[j]);
        assert!(max_abs_diff(&grads[j].d_scores, &want.d_scores) < 1e-12);
        assert!(max_abs_diff(&grads[j].d_values.data, &want.d_values.data) < 1e-12);
        // Every table row is used by some sample, so the gradients are not trivially zero.
        assert!(want.d_scores.iter().all(|&x| x != 0.0));
    }
}

#[test]
fn bit_kernel_gradients_match_finite_differences() {
    // L = sum over heads of <C_h, mixed_h>; central differences with h = 1e-6 in f64
    // (truncation ~h^2, rounding ~1e-16 / h = 1e-10), compared entry by entry at 1e-7.
    let mut r = ChaCha8Rng::seed_from_u64(22);
    let (t_len, m) = (6, 9);
    let heads = three_heads(&mut r, t_len);
    let batch = random_batch(&mut r, t_len, m, 2);
    let bits = BitMatrix::new(&batch).unwrap();
    let coef: Vec<Mat<f64>> = (heads.iter())
        .map(|h| {
            Mat::from_fn("c", m, h.bit_table().values.cols, |_, _| {
                r.random::<f64>() - 0.5
            })
            .unwrap()
        })
        .collect();
    let value = |scores: &[Vec<f64>], values: &[Mat<f64>]| -> f64 {
        let views: Vec<BitTable<'_, f64>> = (scores.iter().zip(values))
            .map(|(s, v)| BitTable {
                scores: s,
                values: v,
            })
            .collect();
        let fwd = bitmix::forward(&bits, &views).unwrap();
        fwd.mixed
            .iter()
            .zip(&coef)
            .map(|(x, c)| dot(&x.data, &c.data))
            .sum()
    };
    let scores: Vec<Vec<f64>> = heads
        .iter()
        .map(|h| h.bit_table().scores.to_vec())
        .collect();
    let values: Vec<Mat<f64>> = heads.iter().map(|h| h.bit_table().values.clone()).collect();
    let views: Vec<BitTable<'_, f64>> = heads.iter().map(|h| h.bit_table()).collect();
    let fwd = bitmix::forward(&bits, &views).unwrap();
    assert_eq!(fwd.modes(), vec![1, 0, 2]);
    let grads = bitmix::backward(&bits, &views, &fwd, &coef);
    let h = 1e-6;
    for j in 0..heads.len() {
        for e in 0..scores[j].len() {
            let (mut up, mut down) = (scores.clone(), scores.clone());
            up[j][e] += h;
            down[j][e] -= h;
            let fd = (value(&up, &values) - value(&down, &values)) / (2.0 * h);
            let got = grads[j].d_scores[e];
            assert!((fd - got).abs() < 1e-7, "head {j} score {e}: {fd} vs {got}");
        }
        for e in 0..values[j].data.len() {
            let (mut up, mut down) = (values.clone(), values.clone());
            up[j].data[e] += h;
            down[j].data[e] -= h;
            let fd = (value(&scores, &up) - value(&scores, &down)) / (2.0 * h);
            let got = grads[j].d_values.data[e];
            assert!((fd - got).abs() < 1e-7, "head {j} value {e}: {fd} vs {got}");
        }
    }
}

#[test]
fn transformer_bit_kernel_gradients_match_finite_differences() {
    // The model's own finite-difference check (model::tests), on a batch the bit kernel takes.
    let mut r = ChaCha8Rng::seed_from_u64(23);
    let model = small_transformer(24, 1, 5, Activation::Gelu);
    let batch = random_batch(&mut r, 5, 4, 2);
    assert_eq!(model.forward_cls(&batch).unwrap().kernel(), MixKernel::Bits);
    let c = [0.4, -0.2, 0.9, 0.1];
    let (_, grad) = model
        .value_and_grad_cls_with(&batch, MixKernel::Bits, |i, f| c[i] + f)
        .unwrap();
    check_fd(&model, &grad, |p| {
        let f = p
            .forward_cls_with(&batch, MixKernel::Bits)
            .unwrap()
            .predictions;
        f.iter().zip(&c).map(|(f, c)| c * f + 0.5 * f * f).sum()
    });
}

fn f32_model(context_len: usize, seed: u64) -> Transformer<f32> {
    let cfg = TransformerConfig {
        context_len,
        vocab: 2,
        width: 32,
        heads: 4,
        head_dim: 8,
        mlp_width: 64,
        layers: 1,
        attn_activation: Activation::Identity,
        mlp_activation: Activation::Relu,
        init_scale: 1.0,
    };
    Transformer::random(&cfg, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap()
}

/// Rescales tok[1] - tok[0] so that the largest score gap max_h |(tok1 - tok0) . Theta_h z|
/// of the model's heads becomes `gap` (the gap is the same at every position).
fn set_score_gap(model: &mut Transformer<f32>, gap: f64) {
    let emb = &model.embedding;
    let d = emb.width();
    let diff: Vec<f64> = (0..d)
        .map(|j| f64::from(emb.tok.get(1, j) - emb.tok.get(0, j)))
        .collect();
    let cls: Vec<f64> = emb.cls.iter().map(|&x| f64::from(x)).collect();
    let mut largest = 0.0f64;
    for hp in &model.blocks[0].heads {
        let (wq, wk) = (hp.w_q.cast::<f64>(), hp.w_k.cast::<f64>());
        let q: Vec<f64> = (0..wq.cols)
            .map(|c| (0..d).map(|i| cls[i] * wq.get(i, c)).sum())
            .collect();
        let theta_z: Vec<f64> = (0..d)
            .map(|i| (0..wk.cols).map(|c| wk.get(i, c) * q[c]).sum())
            .collect();
        largest = largest.max(dot(&diff, &theta_z).abs());
    }
    let scale = gap / largest;
    for (j, &dj) in diff.iter().enumerate() {
        model.embedding.tok.data[d + j] = model.embedding.tok.get(0, j) + (scale * dj) as f32;
    }
}

/// Relative l2 distance of two f32 vectors, in f64.
fn rel_l2(a: &[f32], b: &[f32]) -> f64 {
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        num += (f64::from(x) - f64::from(y)).powi(2);
        den += f64::from(y).powi(2);
    }
    (num / den.max(f64::MIN_POSITIVE)).sqrt()
}

#[test]
fn f32_bit_kernel_matches_the_gather_reference_in_predictions_and_gradients() {
    // Same model (w32 h4, as in training), batch and loss on both kernels in f32, and on the
    // reference in f64 (the truth, to ~1e-16). The kernels compute the same sums in another
    // order (docs/kernels.md §1.4): by the standard bound each f32 result is within
    // gamma_n = n u of the exact one relative to the sum of |terms|, n <= T + 1 (sums over
    // positions) or m (over samples), u = 2^-24, and the block's later sums (width 32, MLP 64)
    // add ~100 u: tol = 2 (T + m + 100) u. Predictions must be within tol of the reference in
    // relative l2. A gradient tensor can be ill-conditioned (the W_Q, W_K gradients are sums of
    // d(score) x_r whose d(score) sum to zero), so each gradient tensor is held to: error of the
    // bit kernel against f64 <= 2 (error of the gather against f64 + tol), i.e. no worse than
    // the reference's own f32 error, up to the factor 2 of the extra sums (complement and
    // differences). Score gaps: those of a random initialisation (~0.5-2), 2, 8 and 50 (near the
    // fallback; there the gather's own W_Q, W_K error is large, docs/kernels.md §1.4).
    let mut r = ChaCha8Rng::seed_from_u64(25);
    let u = f64::from(f32::EPSILON) / 2.0;
    for (t_len, m, gap) in [
        (16, 40, None),
        (100, 50, None),
        (1000, 60, None),
        (300, 40, Some(2.0)),
        (300, 40, Some(8.0)),
        (300, 40, Some(50.0)),
    ] {
        let mut model = f32_model(t_len, 26 + t_len as u64);
        if let Some(g) = gap {
            set_score_gap(&mut model, g);
        }
        let batch = random_batch(&mut r, t_len, m, 2);
        let y: Vec<f32> = (0..m)
            .map(|_| if r.random::<bool>() { 1.0 } else { -1.0 })
            .collect();
        let dloss = |i: usize, f: f32| -y[i] / (1.0 + (y[i] * f).exp());
        let fast = model.forward_cls_with(&batch, MixKernel::Bits).unwrap();
        assert_eq!(fast.kernel(), MixKernel::Bits, "T = {t_len}, gap {gap:?}");
        let (p_fast, g_fast) = model
            .value_and_grad_cls_with(&batch, MixKernel::Bits, dloss)
            .unwrap();
        let (p_ref, g_ref) = model
            .value_and_grad_cls_with(&batch, MixKernel::Gather, dloss)
            .unwrap();
        let (_, g_64) = model
            .cast::<f64>()
            .value_and_grad_cls_with(&batch, MixKernel::Gather, |i, f| {
                let y = f64::from(y[i]);
                -y / (1.0 + (y * f).exp())
            })
            .unwrap();
        let g_64: Transformer<f32> = g_64.cast();
        let tol = 2.0 * (t_len + m + 100) as f64 * u;
        let pred = rel_l2(&p_fast, &p_ref);
        println!(
            "T = {t_len}, m = {m}, gap {gap:?}: predictions rel l2 {pred:.2e} (tol {tol:.1e})"
        );
        assert!(pred < tol, "predictions: {pred:e} >= {tol:e}");
        for (((name, truth), a), b) in (g_64.names().iter().zip(g_64.tensors()))
            .zip(g_fast.tensors())
            .zip(g_ref.tensors())
        {
            let (e_fast, e_ref) = (rel_l2(a, truth), rel_l2(b, truth));
            println!("  {name}: bits {e_fast:.2e}, gather {e_ref:.2e} from f64");
            assert!(
                e_fast <= 2.0 * (e_ref + tol),
                "T = {t_len}, gap {gap:?}, {name}: bits {e_fast:e} vs gather {e_ref:e}"
            );
        }
    }
}

#[test]
fn a_score_gap_above_the_limit_falls_back_to_the_reference_exactly() {
    // Above MAX_SCORE_GAP the bit kernel declines and the gather runs: identical results.
    let mut r = ChaCha8Rng::seed_from_u64(27);
    let mut model = f32_model(200, 28);
    set_score_gap(&mut model, MAX_SCORE_GAP + 10.0);
    let batch = random_batch(&mut r, 200, 30, 2);
    let fast = model.forward_cls_with(&batch, MixKernel::Bits).unwrap();
    assert_eq!(fast.kernel(), MixKernel::Gather);
    let reference = model.forward_cls_with(&batch, MixKernel::Gather).unwrap();
    assert_eq!(fast.predictions, reference.predictions);
    let dloss = |_: usize, f: f32| f - 0.25;
    let a = model
        .value_and_grad_cls_with(&batch, MixKernel::Bits, dloss)
        .unwrap();
    let b = model
        .value_and_grad_cls_with(&batch, MixKernel::Gather, dloss)
        .unwrap();
    assert_eq!(a, b);
    // Vocab above 2 also takes the reference.
    let mut cfg_model = small_transformer(29, 1, 0, Activation::Relu);
    cfg_model.embedding.tok = Mat::zeros(3, cfg_model.width());
    let batch3 = random_batch(&mut r, 5, 4, 3);
    assert_eq!(
        cfg_model.forward_cls(&batch3).unwrap().kernel(),
        MixKernel::Gather
    );
}

#[test]
fn attention_maps_agree_between_kernels() {
    // ClsCache::attention is built lazily on the bit kernel: same rows as the gather's.
    let mut r = ChaCha8Rng::seed_from_u64(30);
    let model = small_transformer(31, 1, 4, Activation::Relu);
    let batch = random_batch(&mut r, 5, 7, 2);
    let fast = model.forward_cls_with(&batch, MixKernel::Bits).unwrap();
    let reference = model.forward_cls_with(&batch, MixKernel::Gather).unwrap();
    assert_eq!(fast.kernel(), MixKernel::Bits);
    for h in 0..2 {
        for i in 0..7 {
            let (a, b) = (fast.attention(h, i), reference.attention(h, i));
            assert!(max_abs_diff(a, b) < 1e-14, "head {h} sample {i}");
            assert!((a.iter().sum::<f64>() - 1.0).abs() < 1e-14);
        }
    }
}
