//! One training step (forward + backward + Adam) of a one-block \[CLS\] Transformer, full
//! self-attention vs the \[CLS\]-only token-table path, against this machine's sgemm rate.
//!
//! Model: vocab 2 (bits), width d = 64, H = 2 heads with r = k = 32, identity head sigma,
//! MLP width 64 with ReLU, Pi after each residual, logistic loss. f32, single thread.
//! Flop count of the full path (honest, what the code performs as gemm): per sequence with
//! n = T+1, forward = H (2nd(2r+k) + 2n^2 (r+k) + 2nkd) + 4ndp + 2d, and a backward costs
//! exactly twice the forward's gemm flops, so a step is 3x forward, times the batch size.
//! Softmax, activations and Pi are not counted as flops (they cost time, not gemm work).
//! Run: `cargo bench --bench train_step`.

mod common;

use attnbounds::model::Transformer;
use attnbounds::optim::Optimizer;
use criterion::{Criterion, criterion_group, criterion_main};
use std::cell::RefCell;
use std::time::{Duration, Instant};

const D: usize = 64;
const HEADS: usize = 2;
const HEAD_DIM: usize = 32;
const MLP: usize = 64;

fn model(context_len: usize) -> Transformer<f32> {
    common::one_block(context_len, D, HEADS, HEAD_DIM, MLP)
}

fn full_step_flops(t: usize, batch: usize) -> f64 {
    let (n, d, r, k, p, h) = (
        t as f64 + 1.0,
        D as f64,
        HEAD_DIM as f64,
        HEAD_DIM as f64,
        MLP as f64,
        HEADS as f64,
    );
    let fwd = h * (2.0 * n * d * (2.0 * r + k) + 2.0 * n * n * (r + k) + 2.0 * n * k * d)
        + 4.0 * n * d * p
        + 2.0 * d;
    3.0 * fwd * batch as f64
}

/// Logistic loss log(1 + exp(-y f)): dL/df = -y / (1 + exp(y f)).
fn step(s: &mut common::Setup, full: bool) {
    let labels = &s.labels;
    let dloss = |i: usize, f: f32| -labels[i] / (1.0 + (labels[i] * f).exp());
    let (_, grad) = if full {
        s.model.value_and_grad_full(&s.batch, dloss)
    } else {
        s.model.value_and_grad_cls(&s.batch, dloss)
    }
    .expect("valid batch");
    s.adam.step(&mut s.model, &grad).expect("finite gradient");
}

fn bench(c: &mut Criterion) {
    let rates = [256, 512].map(|s| (s, common::sgemm_rate(s)));
    let peak = rates.iter().map(|r| r.1).fold(0.0, f64::max);
    for (s, r) in rates {
        println!("sgemm {s}^3 single core: {r:.1} GFLOP/s");
    }
    let mut summary = Vec::new();
    for (t, m) in [(128usize, 32usize), (1024, 64)] {
        let mut group = c.benchmark_group(format!("train_step_T{t}_d{D}_batch{m}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(if t > 500 { 20 } else { 3 }));
        let mut per_path = Vec::new();
        for full in [true, false] {
            let name = if full {
                "full_attention"
            } else {
                "cls_token_table"
            };
            let mut s = common::setup(model(t), t, m);
            let best = RefCell::new(f64::INFINITY);
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        step(&mut s, full);
                    }
                    let e = start.elapsed();
                    let mut bst = best.borrow_mut();
                    *bst = bst.min(e.as_secs_f64() / iters as f64);
                    e
                })
            });
            per_path.push(best.into_inner());
        }
        group.finish();
        let (full, cls) = (per_path[0], per_path[1]);
        let gflops = full_step_flops(t, m) / full / 1e9;
        summary.push(format!(
            "T={t} d={D} batch={m}: full {:.2} ms ({:.1} GFLOP/s = {:.0}% of sgemm {peak:.1}), cls-only {:.3} ms, full/cls = {:.0}x",
            full * 1e3,
            gflops,
            100.0 * gflops / peak,
            cls * 1e3,
            full / cls
        ));
    }
    println!(
        "\n=== train_step summary (best iteration; H={HEADS}, head_dim={HEAD_DIM}, mlp={MLP}, f32, 1 thread) ==="
    );
    for line in summary {
        println!("{line}");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
