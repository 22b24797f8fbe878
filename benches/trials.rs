//! Trials per second of the gap experiment for one fixed cell, on 1 and on 2 rayon threads,
//! and the speed-up (target 1.8x on 2 cores: trials are independent and single-threaded, the
//! only shared work is the single writer thread storing results).
//! Cell: \[CLS\] head, 3-sparse AND, context_len 32, num_samples 200, 300 Adam steps
//! (batch 64), value_dim 4, population error on 20000 fresh samples (T = 32 > 20).
//! Run: `cargo bench --bench trials`.

use attnbounds::config::SweepConfig;
use attnbounds::experiments::gap;
use attnbounds::results::ResultsDb;
use std::time::Instant;

const TRIALS: usize = 32;

fn config() -> SweepConfig {
    let text = format!(
        r#"
name = "bench-trials"
task = "and"
sparsity = 3
context_len = [32]
num_samples = [200]
model = "cls_head"
trials = {TRIALS}
seed = 7

[train]
steps = 300
learning_rate = 0.02
batch_size = 64
value_dim = 4
target_loss = 0.0
"#
    );
    SweepConfig::from_toml(&text, "bench").expect("valid bench config")
}

fn trials_per_second(threads: usize) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let config = config();
    let mut db = ResultsDb::open_in_memory().expect("in-memory store");
    let clock = Instant::now();
    let run = pool
        .install(|| gap::run(&config, &mut db, true))
        .expect("bench sweep");
    let secs = clock.elapsed().as_secs_f64();
    assert_eq!(run.sweep.completed, TRIALS, "{:?}", run.sweep.failed);
    TRIALS as f64 / secs
}

fn main() {
    // Warm-up (page faults, allocator), then best of 3 per thread count.
    trials_per_second(1);
    let best = |t: usize| (0..3).map(|_| trials_per_second(t)).fold(0.0, f64::max);
    let one = best(1);
    let two = best(2);
    println!(
        "gap trials, fixed cell (T=32, m=200, 300 steps), {TRIALS} trials per run, best of 3:"
    );
    println!("  1 thread : {one:8.2} trials/s");
    println!("  2 threads: {two:8.2} trials/s");
    println!(
        "  speed-up : {:.2}x (target 1.8x on 2 free cores)",
        two / one
    );
}
