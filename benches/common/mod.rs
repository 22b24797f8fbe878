//! Helpers shared by the training-step benchmarks (`cls_kernel`, `train_step`).

use attnbounds::model::{Activation, TokenBatch, Transformer, TransformerConfig};
use attnbounds::optim::Adam;
use attnbounds::tensor::{Mat, gemm};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// Best-of-5 single-core sgemm rate for an s x s x s product, GFLOP/s.
pub fn sgemm_rate(s: usize) -> f64 {
    let a = Mat::<f32> {
        rows: s,
        cols: s,
        data: (0..s * s).map(|i| (i % 7) as f32 * 0.1).collect(),
    };
    let mut c = vec![0.0f32; s * s];
    let reps = (1 << 27) / (s * s * s) + 1;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..reps {
            gemm(1.0, a.view(), a.view(), 0.0, &mut c);
        }
        best = best.min(start.elapsed().as_secs_f64() / reps as f64);
    }
    std::hint::black_box(&c);
    2.0 * (s * s * s) as f64 / best / 1e9
}

pub struct Setup {
    pub model: Transformer<f32>,
    pub adam: Adam<f32>,
    pub batch: TokenBatch,
    pub labels: Vec<f32>,
}

pub fn setup(model: Transformer<f32>, t: usize, m: usize) -> Setup {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let tokens = (0..t * m).map(|_| rng.random_range(0..2u8)).collect();
    let labels = (0..m)
        .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
        .collect();
    Setup {
        model,
        adam: Adam::new(1e-3).expect("lr > 0"),
        batch: TokenBatch::new(t, tokens).expect("shape"),
        labels,
    }
}

/// The benchmarks' one-block [CLS] Transformer on bits: identity heads, ReLU MLP, seed 1.
pub fn one_block(
    context_len: usize,
    width: usize,
    heads: usize,
    head_dim: usize,
    mlp_width: usize,
) -> Transformer<f32> {
    let cfg = TransformerConfig {
        context_len,
        vocab: 2,
        width,
        heads,
        head_dim,
        mlp_width,
        layers: 1,
        attn_activation: Activation::Identity,
        mlp_activation: Activation::Relu,
        init_scale: 1.0,
    };
    Transformer::random(&cfg, &mut ChaCha8Rng::seed_from_u64(1)).expect("valid config")
}
