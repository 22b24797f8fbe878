//! One full-batch training step (forward + backward + Adam + projection onto the norm ball) of
//! the theory's head on the fixed one-hot embedding (`FixedEmbeddingHead`, d = T + 3), with
//! the token-table rows stored sparsely (the default) against the dense reference rows.
//!
//! Shape: the critical experiment's theory series (r = k = 4, ReLU, logistic loss, full batch
//! m = 300). f32, one thread. Plain timing (median of a few steps after one warm-up step): the
//! dense path at T = 1e4 takes seconds per step, too slow for criterion's sampling.
//! Second table: the head's forward + backward alone on the two mixing kernels (`MixKernel`:
//! the per-sample gather, the reference, against the bit-matrix kernel the trainer uses) at
//! T = 1e3, 1e4 and m = 64, 256, 1024 (tanh, k = 4, the theory series' shape), with the ratio.
//! Run: `cargo bench --bench onehot_step` (add `-- --quick` to skip the dense T = 1e4 case).

use attnbounds::config::NormBall;
use attnbounds::model::{
    Activation, ClsHead, Embedding, MixKernel, Positional, TableRows, TokenBatch,
};
use attnbounds::optim::{Adam, Optimizer};
use attnbounds::train::{FixedEmbeddingHead, Trainable};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Instant;

const RANK: usize = 4;
const M: usize = 300;

struct Setup {
    model: FixedEmbeddingHead,
    grad: FixedEmbeddingHead,
    adam: Adam<f32>,
    batch: TokenBatch,
    labels: Vec<f32>,
    ball: NormBall,
}

fn setup(t: usize, dense: bool) -> Setup {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let emb = Embedding::fixed_bits(t, Positional::OneHot).expect("T >= 1");
    let head = ClsHead::random(emb.width(), RANK, RANK, Activation::Relu, 1.0, &mut rng)
        .expect("valid shapes");
    let model = if dense {
        FixedEmbeddingHead::with_dense_rows(head, emb)
    } else {
        FixedEmbeddingHead::new(head, emb)
    };
    let tokens = (0..t * M).map(|_| rng.random_range(0..2u8)).collect();
    let labels = (0..M)
        .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
        .collect();
    Setup {
        grad: attnbounds::optim::Parameters::zeros_like(&model),
        model,
        adam: Adam::new(1e-2).expect("lr > 0"),
        batch: TokenBatch::new(t, tokens).expect("shape"),
        labels,
        // Radii that bind (the projection's cost is part of a bounded-norm step).
        ball: NormBall {
            b_qk: 0.5,
            b_v: 0.5,
            b_v21: 0.5,
            b_w: 0.5,
        },
    }
}

/// Logistic loss log(1 + exp(-y f)): dL/df = -y / (1 + exp(y f)) / m.
fn step(s: &mut Setup) {
    let labels = &s.labels;
    let mut dloss = |i: usize, f: f32| -labels[i] / (1.0 + (labels[i] * f).exp()) / M as f32;
    s.model
        .predict_and_grad(&s.batch, &mut dloss, &mut s.grad)
        .expect("valid batch");
    s.adam.step(&mut s.model, &s.grad).expect("finite gradient");
    s.model.project(&s.ball).expect("valid ball");
}

fn median_step_s(t: usize, dense: bool, reps: usize) -> f64 {
    let mut s = setup(t, dense);
    assert_eq!(matches!(s.model.rows(), TableRows::Dense(_)), dense);
    step(&mut s);
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            step(&mut s);
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    std::hint::black_box(&s.model);
    times[reps / 2]
}

/// Median seconds of one forward + backward of the head (logistic loss on random labels) on
/// `kernel`, after one warm-up call.
fn median_mix_s(t: usize, m: usize, kernel: MixKernel, reps: usize) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let emb = Embedding::<f32>::fixed_bits(t, Positional::OneHot).expect("T >= 1");
    let head = ClsHead::random(emb.width(), RANK, RANK, Activation::Tanh, 1.0, &mut rng)
        .expect("valid shapes");
    let rows = Arc::new(TableRows::of(&emb));
    let tokens = (0..t * m).map(|_| rng.random_range(0..2u8)).collect();
    let batch = TokenBatch::new(t, tokens).expect("shape");
    let labels: Vec<f32> = (0..m)
        .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
        .collect();
    let run = || {
        let cache = (head.forward_rows_with(&emb, &rows, &batch, kernel)).expect("valid batch");
        assert_eq!(cache.kernel(), kernel, "the bit kernel declined the batch");
        let dl: Vec<f32> = (cache.predictions.iter().zip(&labels))
            .map(|(&f, &y)| -y / (1.0 + (y * f).exp()) / m as f32)
            .collect();
        head.backward_tokens(&emb, &batch, &cache, &dl)
            .expect("finite gradient")
    };
    std::hint::black_box(run());
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(run());
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[reps / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    println!("=== onehot_step (FixedEmbeddingHead, r = k = {RANK}, m = {M}, f32, 1 thread) ===");
    for t in [1000usize, 10_000] {
        let sparse = median_step_s(t, false, 21);
        let line = if quick && t > 1000 {
            "dense skipped (--quick)".to_string()
        } else {
            let dense = median_step_s(t, true, if t > 1000 { 3 } else { 11 });
            format!(
                "dense {:.2} ms, dense/sparse = {:.0}x",
                dense * 1e3,
                dense / sparse
            )
        };
        println!(
            "T = {t:>5}: sparse {:.3} ms per step (median), {line}",
            sparse * 1e3
        );
    }
    println!("\n=== ClsHead forward + backward by mixing kernel (tanh, r = k = {RANK}, f32) ===");
    for t in [1000usize, 10_000] {
        for m in [64usize, 256, 1024] {
            let reps = if t * m > 1 << 22 { 5 } else { 15 };
            let gather = median_mix_s(t, m, MixKernel::Gather, reps);
            let bits = median_mix_s(t, m, MixKernel::Bits, reps);
            println!(
                "T = {t:>5}, m = {m:>4}: gather {:.3} ms, bits {:.3} ms, gather/bits = {:.1}x",
                gather * 1e3,
                bits * 1e3,
                gather / bits
            );
        }
    }
}
