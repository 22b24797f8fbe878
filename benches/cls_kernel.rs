//! One full-batch training step (forward + backward + Adam) of the training Transformer
//! (one block, vocab 2, width 32, 4 heads of head_dim 8, MLP 64 with ReLU, identity head
//! sigma, logistic loss, f32, one thread) on the two \[CLS\] mixing kernels: the per-sample
//! gather (`MixKernel::Gather`, the reference) and the bit-matrix gemm kernel
//! (`MixKernel::Bits`), at (T, m) = (100, 50), (1000, 300), (10000, 300).
//!
//! Prints, per size: step time of each kernel (median of the fastest half of the timed steps,
//! and the plain median), their
//! ratio, the forward-only time, and the bit kernel's gemm work as a fraction of this
//! machine's sgemm rate: the two batch gemms cost 2 m T n flops each way with n = H (k + 1)
//! = 36 columns (per indicator used), and the fraction is (their flops / step time) / peak,
//! peak = best-of-5 square sgemm at 256^3 and 512^3. Also times one bare (m x T)(T x n)
//! sgemm, the best the kernel's main product can do at that shape.
//! Run: `cargo bench --bench cls_kernel` (add `-- quick` for fewer repetitions).

mod common;

use attnbounds::model::{MixKernel, Transformer};
use attnbounds::optim::Optimizer;
use attnbounds::tensor::{View, gemm};
use std::time::Instant;

const WIDTH: usize = 32;
const HEADS: usize = 4;
const HEAD_DIM: usize = 8;
const MLP: usize = 64;

fn model(context_len: usize) -> Transformer<f32> {
    common::one_block(context_len, WIDTH, HEADS, HEAD_DIM, MLP)
}

/// Median of the fastest half of `reps` timed calls of `f`, in seconds, after `reps / 5 + 1`
/// warm-up calls. The fastest half, because this machine's two cores are shared: slow calls
/// are other processes' time, not ours (the plain median is printed too).
fn time(reps: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..reps / 5 + 1 {
        f();
    }
    let mut xs: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    xs.sort_by(f64::total_cmp);
    (xs[xs.len() / 4], xs[xs.len() / 2])
}

/// Logistic loss log(1 + exp(-y f)): dL/df = -y / (1 + exp(y f)).
fn step(s: &mut common::Setup, kernel: MixKernel) {
    let labels = &s.labels;
    let dloss = |i: usize, f: f32| -labels[i] / (1.0 + (labels[i] * f).exp());
    let (_, grad) = s
        .model
        .value_and_grad_cls_with(&s.batch, kernel, dloss)
        .expect("valid batch");
    s.adam.step(&mut s.model, &grad).expect("finite gradient");
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    // `-- profile T`: only bit-kernel steps at context length T (for perf), no report.
    let args: Vec<String> = std::env::args().collect();
    if let Some(p) = args.iter().position(|a| a == "profile") {
        let t = args.get(p + 1).and_then(|x| x.parse().ok()).unwrap_or(1000);
        let mut s = common::setup(model(t), t, 300);
        for _ in 0..20 {
            step(&mut s, MixKernel::Bits);
        }
        return;
    }
    let peak = [256, 512]
        .map(|s| {
            let r = common::sgemm_rate(s);
            println!("sgemm {s}^3 single core: {r:.1} GFLOP/s");
            r
        })
        .into_iter()
        .fold(0.0, f64::max);
    let n_cols = HEADS * (HEAD_DIM + 1);
    println!(
        "\n=== cls_kernel: one training step, w{WIDTH} h{HEADS} k{HEAD_DIM} mlp{MLP}, f32, 1 thread (median) ==="
    );
    for (t, m) in [(100usize, 50usize), (1000, 300), (10000, 300)] {
        let reps = match (quick, t) {
            (true, _) => 5,
            (false, 10000) => 15,
            (false, _) => 60,
        };
        let mut per = Vec::new();
        for kernel in [MixKernel::Gather, MixKernel::Bits] {
            let mut s = common::setup(model(t), t, m);
            let used = s
                .model
                .forward_cls_with(&s.batch, kernel)
                .expect("valid")
                .kernel();
            assert_eq!(used, kernel, "the bit kernel declined the benchmark batch");
            let (step_s, step_med) = time(reps, || step(&mut s, kernel));
            let (fwd_s, _) = time(reps, || {
                std::hint::black_box(s.model.forward_cls_with(&s.batch, kernel).expect("valid"));
            });
            per.push((step_s, fwd_s, step_med));
        }
        // Bare main product: (m x T) 0/1 matrix times (T x n).
        let a: Vec<f32> = (0..m * t).map(|i| (i % 2) as f32).collect();
        let b: Vec<f32> = (0..t * n_cols).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0.0f32; m * n_cols];
        let (bare, _) = time(reps, || {
            gemm(
                1.0,
                View::new(&a, m, t),
                View::new(&b, t, n_cols),
                0.0,
                &mut c,
            )
        });
        let gemm_flops = 2.0 * 2.0 * (m * t * n_cols) as f64;
        let ((old, old_fwd, old_med), (new, new_fwd, new_med)) = (per[0], per[1]);
        println!(
            "T={t} m={m}: gather {:.2} ms (fwd {:.2}; plain median {:.2}), bits {:.3} ms (fwd {:.3}; plain median {:.3}), gather/bits = {:.1}x; \
             bits' two batch gemms = {:.1} MFLOP -> {:.0}% of sgemm peak {peak:.0} GFLOP/s over the whole step; \
             bare (m x T)(T x {n_cols}) sgemm {:.3} ms = {:.0}% of peak",
            old * 1e3,
            old_fwd * 1e3,
            old_med * 1e3,
            new * 1e3,
            new_fwd * 1e3,
            new_med * 1e3,
            old / new,
            gemm_flops / 1e6,
            100.0 * gemm_flops / new / 1e9 / peak,
            bare * 1e3,
            100.0 * (gemm_flops / 2.0) / bare / 1e9 / peak,
        );
    }
}
