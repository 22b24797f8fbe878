//! Cross-checks of the model code: fast paths against plain computations, and every
//! hand-written gradient against central finite differences in f64.

use super::*;
use crate::optim::Parameters;
use crate::tensor::{Mat, dot};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

pub(crate) fn random_batch(
    r: &mut ChaCha8Rng,
    context_len: usize,
    m: usize,
    vocab: u8,
) -> TokenBatch {
    TokenBatch::new(
        context_len,
        (0..context_len * m)
            .map(|_| r.random_range(0..vocab))
            .collect(),
    )
    .unwrap()
}

/// A smooth per-sample loss with non-trivial curvature: L = sum_i (c_i f_i + f_i^2 / 2).
fn coeffs(m: usize) -> Vec<f64> {
    (0..m).map(|i| 0.7 - 0.3 * i as f64).collect()
}
fn loss(preds: &[f64], c: &[f64]) -> f64 {
    preds.iter().zip(c).map(|(f, c)| c * f + 0.5 * f * f).sum()
}

/// Central differences, h = 1e-5 (truncation ~h^2, rounding ~1e-16/h: both far below 1e-6
/// relative), on every entry of every tensor; compares tensor by tensor in relative l2 error.
pub(crate) fn check_fd<P: Parameters<f64> + Clone>(
    params: &P,
    analytic: &P,
    mut value: impl FnMut(&P) -> f64,
) {
    let h = 1e-5;
    let names = params.names();
    let ana = analytic.tensors();
    for (j, name) in names.iter().enumerate() {
        let len = params.tensors()[j].len();
        let mut fd = vec![0.0; len];
        for (e, fd_e) in fd.iter_mut().enumerate() {
            let mut p = params.clone();
            p.tensors_mut()[j][e] += h;
            let up = value(&p);
            p.tensors_mut()[j][e] -= 2.0 * h;
            let down = value(&p);
            *fd_e = (up - down) / (2.0 * h);
        }
        let norm_fd = dot(&fd, &fd).sqrt();
        let diff: f64 = fd
            .iter()
            .zip(ana[j])
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        let rel = diff / norm_fd.max(dot(ana[j], ana[j]).sqrt());
        // A zero gradient would make the check vacuous: the test point must exercise it.
        assert!(
            norm_fd > 1e-4,
            "{name}: gradient too small to test ({norm_fd:e})"
        );
        assert!(
            rel < 1e-6,
            "{name}: relative error {rel:e} (|fd| = {norm_fd:e})"
        );
    }
}

pub(crate) fn small_transformer(
    seed: u64,
    layers: usize,
    mlp_width: usize,
    act: Activation,
) -> Transformer<f64> {
    let cfg = TransformerConfig {
        context_len: 5,
        vocab: 2,
        width: 6,
        heads: 2,
        head_dim: 3,
        mlp_width,
        layers,
        attn_activation: act,
        mlp_activation: Activation::Gelu,
        init_scale: 2.0,
    };
    Transformer::random(&cfg, &mut rng(seed)).unwrap()
}

#[test]
fn cls_head_token_path_equals_raw_forward() {
    // Reference: ClsHead::forward on the explicitly embedded X~ (no table).
    let mut r = rng(1);
    let emb = Embedding::<f64>::fixed_bits(7, Positional::RandomSigns { dim: 5, seed: 3 }).unwrap();
    let head = ClsHead::random(emb.width(), 4, 3, Activation::Tanh, 3.0, &mut r).unwrap();
    let batch = random_batch(&mut r, 7, 6, 2);
    let cache = head.forward_tokens(&emb, &batch).unwrap();
    for i in 0..6 {
        let out = head.forward(&emb.embed(batch.sample(i))).unwrap();
        assert!((out.value - cache.predictions[i]).abs() < 1e-13);
        for (a, b) in out.attention.iter().zip(cache.attention(i)) {
            assert!((a - b).abs() < 1e-14);
        }
    }
}

#[test]
fn cls_head_with_zero_theta_averages_uniformly() {
    // Closed form: Theta = 0 gives a = 1/(T+1), so f = w^T sigma(W_V^T mean of rows of X~).
    let x = Mat::<f64>::new("x", 3, 2, vec![1.0, 0.0, 0.0, 2.0, 2.0, 1.0]).unwrap();
    let w_v = Mat::new("w_v", 2, 1, vec![1.0, -1.0]).unwrap();
    let head = ClsHead::new(
        Mat::zeros(2, 1),
        Mat::zeros(2, 1),
        w_v,
        vec![2.0],
        Activation::Identity,
    )
    .unwrap();
    let out = head.forward(&x).unwrap();
    // mean of rows = (1, 1), W_V^T mean = 1 - 1 = 0, so f = 0.
    assert_eq!(out.attention, vec![1.0 / 3.0; 3]);
    assert!(out.value.abs() < 1e-15);
    let w_v = Mat::new("w_v", 2, 1, vec![3.0, 0.0]).unwrap();
    let head = ClsHead::new(
        Mat::zeros(2, 1),
        Mat::zeros(2, 1),
        w_v,
        vec![2.0],
        Activation::Relu,
    )
    .unwrap();
    // W_V^T mean = 3 * 1, relu(3) = 3, f = 2 * 3.
    assert!((head.forward(&x).unwrap().value - 2.0 * 3.0 * 1.0).abs() < 1e-14);
}

#[test]
fn cls_head_rejects_bad_shapes_and_nan() {
    let m = |r, c| Mat::<f64>::zeros(r, c);
    assert!(ClsHead::new(m(3, 2), m(4, 2), m(3, 2), vec![0.0; 2], Activation::Relu).is_err());
    assert!(ClsHead::new(m(3, 2), m(3, 1), m(3, 2), vec![0.0; 2], Activation::Relu).is_err());
    assert!(ClsHead::new(m(3, 2), m(3, 2), m(3, 2), vec![0.0; 3], Activation::Relu).is_err());
    let e = ClsHead::new(
        m(3, 2),
        m(3, 2),
        m(3, 2),
        vec![0.0, f64::NAN],
        Activation::Relu,
    )
    .unwrap_err();
    assert!(e.to_string().contains("w[1]"), "{e}");
    let head = ClsHead::new(m(3, 2), m(3, 2), m(3, 2), vec![0.0; 2], Activation::Relu).unwrap();
    assert!(head.forward(&m(4, 2)).is_err());
}

#[test]
fn cls_head_gradients_match_finite_differences() {
    let mut r = rng(2);
    let emb = Embedding::<f64>::fixed_bits(6, Positional::OneHot).unwrap();
    let head = ClsHead::random(emb.width(), 3, 4, Activation::Gelu, 4.0, &mut r).unwrap();
    let batch = random_batch(&mut r, 6, 5, 2);
    let c = coeffs(5);
    let cache = head.forward_tokens(&emb, &batch).unwrap();
    let g: Vec<f64> = cache
        .predictions
        .iter()
        .zip(&c)
        .map(|(f, c)| c + f)
        .collect();
    let grad = head.backward_tokens(&emb, &batch, &cache, &g).unwrap();
    check_fd(&head, &grad, |p| {
        loss(&p.forward_tokens(&emb, &batch).unwrap().predictions, &c)
    });
}

/// Independent reference for one block, all rows, plain loops (no gemm, no cache).
fn naive_block(b: &Block<f64>, act: Activation, mlp_act: Activation, y: &Mat<f64>) -> Mat<f64> {
    let (n, d) = (y.rows, y.cols);
    let mut p1 = y.clone();
    for hp in &b.heads {
        let theta = hp.w_k.matmul(&hp.w_q.transpose()).unwrap();
        for t in 0..n {
            let theta_z: Vec<f64> = (0..d).map(|i| dot(theta.row(i), y.row(t))).collect();
            let mut a: Vec<f64> = (0..n).map(|s| dot(y.row(s), &theta_z)).collect();
            softmax_in_place(&mut a);
            let mixed: Vec<f64> = (0..d)
                .map(|i| (0..n).map(|s| a[s] * y.get(s, i)).sum())
                .collect();
            let h: Vec<f64> = (0..hp.w_v.cols)
                .map(|j| act.apply((0..d).map(|i| hp.w_v.get(i, j) * mixed[i]).sum::<f64>()))
                .collect();
            for o in 0..d {
                p1.data[t * d + o] += (0..h.len()).map(|j| h[j] * hp.w_c.get(j, o)).sum::<f64>();
            }
        }
    }
    let pi = |m: &Mat<f64>| {
        let mut out = m.clone();
        for t in 0..n {
            let s = dot(m.row(t), m.row(t)).sqrt().max(1.0);
            out.row_mut(t).iter_mut().for_each(|x| *x /= s);
        }
        out
    };
    let y1 = pi(&p1);
    match &b.mlp {
        None => y1,
        Some(mlp) => {
            let mut z = y1.matmul(&mlp.w1).unwrap();
            z.data.iter_mut().for_each(|x| *x = mlp_act.apply(*x));
            let mut p2 = z.matmul(&mlp.w2).unwrap();
            p2.data.iter_mut().zip(&y1.data).for_each(|(a, b)| *a += b);
            pi(&p2)
        }
    }
}

#[test]
fn full_forward_matches_naive_loops_at_depth_two() {
    let model = small_transformer(3, 2, 4, Activation::Tanh);
    let x = model.embedding.embed(&[1, 0, 0, 1, 1]);
    let got = model.forward_rows(&x).unwrap();
    let mut want = x;
    for b in &model.blocks {
        want = naive_block(b, model.attn_activation, model.mlp_activation, &want);
    }
    for (a, b) in got.data.iter().zip(&want.data) {
        assert!((a - b).abs() < 1e-13, "{a} vs {b}");
    }
}

#[test]
fn cls_path_equals_full_path_in_value_and_gradient() {
    let mut r = rng(4);
    for (mlp_width, act) in [
        (4, Activation::Identity),
        (0, Activation::Relu),
        (7, Activation::Gelu),
    ] {
        let model = small_transformer(5, 1, mlp_width, act);
        let batch = random_batch(&mut r, 5, 6, 2);
        let c = coeffs(6);
        let full = model.forward_full(&batch).unwrap();
        let cache = model.forward_cls(&batch).unwrap();
        // Pi must be active on some rows and not others, or the test would miss its backward.
        let norms: Vec<f64> = (0..6)
            .map(|i| dot(cache.p1.row(i), cache.p1.row(i)).sqrt())
            .collect();
        assert!(norms.iter().any(|&n| n > 1.0), "{norms:?}");
        for (a, b) in full.iter().zip(&cache.predictions) {
            assert!((a - b).abs() < 1e-13, "{a} vs {b}");
        }
        let (p_full, g_full) = model.value_and_grad_full(&batch, |i, f| c[i] + f).unwrap();
        let (p_cls, g_cls) = model.value_and_grad_cls(&batch, |i, f| c[i] + f).unwrap();
        assert_eq!(p_full.len(), p_cls.len());
        for ((name, a), b) in g_full
            .names()
            .iter()
            .zip(g_full.tensors())
            .zip(g_cls.tensors())
        {
            for (x, y) in a.iter().zip(b) {
                assert!(
                    (x - y).abs() < 1e-12 * (1.0 + x.abs()),
                    "{name}: {x} vs {y}"
                );
            }
        }
    }
}

#[test]
fn transformer_cls_path_gradients_match_finite_differences() {
    let mut r = rng(6);
    let model = small_transformer(7, 1, 5, Activation::Gelu);
    let batch = random_batch(&mut r, 5, 4, 2);
    let c = coeffs(4);
    let (_, grad) = model.value_and_grad_cls(&batch, |i, f| c[i] + f).unwrap();
    check_fd(&model, &grad, |p| {
        loss(&p.forward_cls(&batch).unwrap().predictions, &c)
    });
}

#[test]
fn full_path_gradients_match_finite_differences_at_depth_two() {
    let mut r = rng(8);
    let model = small_transformer(9, 2, 3, Activation::Tanh);
    let batch = random_batch(&mut r, 5, 3, 2);
    let c = coeffs(3);
    let (_, grad) = model.value_and_grad_full(&batch, |i, f| c[i] + f).unwrap();
    check_fd(&model, &grad, |p| {
        loss(&p.forward_full(&batch).unwrap(), &c)
    });
}

#[test]
fn cls_path_rejects_deep_models_and_bad_batches() {
    let model = small_transformer(10, 2, 0, Activation::Relu);
    let batch = TokenBatch::new(5, vec![0; 10]).unwrap();
    assert!(model.forward_cls(&batch).is_err());
    let model = small_transformer(10, 1, 0, Activation::Relu);
    assert!(
        model
            .forward_cls(&TokenBatch::new(4, vec![0; 8]).unwrap())
            .is_err()
    );
    let cache = model.forward_cls(&batch).unwrap();
    assert!(model.backward_cls(&batch, &cache, &[0.0]).is_err());
    assert!(
        model
            .backward_cls(&batch, &cache, &[0.0, f64::NAN])
            .is_err()
    );
}

#[test]
fn f32_training_path_agrees_with_f64() {
    // Same weights cast to f32: predictions agree to single precision.
    let model = small_transformer(11, 1, 4, Activation::Gelu);
    let m32: Transformer<f32> = model.cast();
    let batch = TokenBatch::new(5, vec![1, 0, 1, 1, 0, 0, 0, 1, 0, 1]).unwrap();
    let a = model.forward_cls(&batch).unwrap().predictions;
    let b = m32.forward_cls(&batch).unwrap().predictions;
    for (x, y) in a.iter().zip(&b) {
        assert!((x - *y as f64).abs() < 1e-5, "{x} vs {y}");
    }
}

#[test]
fn projection_backward_matches_finite_differences() {
    // Rows inside (norm 0.5) and outside (norm 5) the unit ball; reference: central differences.
    let p = Mat::new("p", 2, 3, vec![0.3, -0.4, 0.0, 3.0, 4.0, 0.0]).unwrap();
    let g = Mat::new("g", 2, 3, vec![1.0, 2.0, -1.0, 0.5, -1.5, 2.0]).unwrap();
    let mut y = Mat::default();
    project_rows(&p, &mut y);
    let mut dp = g.clone();
    project_rows_backward(&p, &y, &mut dp);
    for e in 0..6 {
        let f = |d: f64| {
            let mut q = p.clone();
            q.data[e] += d;
            let mut y = Mat::default();
            project_rows(&q, &mut y);
            dot(&y.data, &g.data)
        };
        let fd = (f(1e-6) - f(-1e-6)) / 2e-6;
        assert!(
            (fd - dp.data[e]).abs() < 1e-8,
            "{e}: {fd} vs {}",
            dp.data[e]
        );
    }
}
