//! All bounds for one parameter set (target: well under 1 ms). Prints the measured time.

use attnbounds::bounds::{BoundParams, HeadRadii, Radii, Setting, all_bounds};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn all_bounds_one_set(c: &mut Criterion) {
    let s = Setting {
        num_samples: 100_000,
        context_len: 1000,
        width: 16,
        value_dim: 4,
        heads: 1,
        layers: 1,
    };
    let head = HeadRadii {
        b_x: 1.0,
        b_qk: 10.0,
        b_v: 1.0,
        b_v21: 2.0,
        b_w: 1.0,
    };
    let radii = Radii::uniform(head, 1.0, 2.0);
    let p = BoundParams::default();
    c.bench_function("all_bounds (single head + deep row)", |b| {
        b.iter(|| all_bounds(black_box(&s), black_box(&radii), black_box(&p)).unwrap())
    });
    // A non-vacuous regime (small radii, large m): Dudley's grid runs longest here.
    let small = Radii {
        head: HeadRadii {
            b_x: 1.0,
            b_qk: 0.01,
            b_v: 0.01,
            b_v21: 0.01,
            b_w: 1.0,
        },
        ..radii.clone()
    };
    let big_m = Setting {
        num_samples: 1_000_000_000,
        ..s
    };
    c.bench_function("all_bounds (small radii, m = 1e9)", |b| {
        b.iter(|| all_bounds(black_box(&big_m), black_box(&small), black_box(&p)).unwrap())
    });
    let t0 = std::time::Instant::now();
    for _ in 0..200 {
        black_box(all_bounds(&big_m, &small, &p).unwrap());
    }
    let per = t0.elapsed().as_secs_f64() / 200.0;
    println!(
        "all_bounds, small radii: {:.1} us per parameter set ({:.3} of the 1 ms target)",
        per * 1e6,
        per / 1e-3
    );
    let n = 200;
    let t0 = std::time::Instant::now();
    for _ in 0..n {
        black_box(all_bounds(&s, &radii, &p).unwrap());
    }
    let per = t0.elapsed().as_secs_f64() / n as f64;
    println!(
        "all_bounds: {:.1} us per parameter set ({:.3} of the 1 ms target)",
        per * 1e6,
        per / 1e-3
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500)).sample_size(20);
    targets = all_bounds_one_set
}
criterion_main!(benches);
