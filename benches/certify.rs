//! The junta certificate at T = 1000, s = 3, m = 300 (target: well under 1 s). Prints the
//! measured time of the extraction, of the sampled route's forward passes alone, of the exact
//! verification and of the whole certificate for the explicit AND
//! head (verified route) and for a random one-block Transformer (width 32, 4 heads, MLP 64;
//! not a junta, so the sampled route with 10^4 fresh inputs).

use attnbounds::certify::{ClsModel, JuntaParams, certify_junta, disagreement, extract, verify};
use attnbounds::construct::{Target, standard};
use attnbounds::model::{Activation, Transformer, TransformerConfig};
use attnbounds::tasks::Task;
use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::time::Duration;

const T: usize = 1000;

fn models() -> Vec<(&'static str, ClsModel)> {
    let c = standard::construction(Target::And, 3, T).unwrap();
    let head = ClsModel::head(&c.head, &c.embedding().unwrap()).unwrap();
    let cfg = TransformerConfig {
        context_len: T,
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
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let block = Transformer::<f64>::random(&cfg, &mut rng).unwrap();
    vec![
        ("and head (one-hot, d = 1003)", head),
        (
            "transformer (d = 32, 4 heads, mlp 64)",
            ClsModel::transformer(&block).unwrap(),
        ),
    ]
}

fn certify(c: &mut Criterion) {
    let task = Task::with_support(attnbounds::tasks::TaskKind::And, T, vec![0, 1, 2]).unwrap();
    let train = task.sample(300, &mut ChaCha8Rng::seed_from_u64(2)).unwrap();
    let params = JuntaParams {
        sparsity: 3,
        delta: 0.05,
        fresh_samples: 10_000,
        seed: 3,
        bit_prob: task.bit_prob(),
    };
    for (name, model) in models() {
        let junta = extract(&model, 3, task.bit_prob(), 3).unwrap();
        c.bench_function(&format!("extract, {name}"), |b| {
            b.iter(|| extract(black_box(&model), 3, task.bit_prob(), 3).unwrap())
        });
        c.bench_function(&format!("disagreement on 10^4 fresh inputs, {name}"), |b| {
            b.iter(|| {
                disagreement(black_box(&model), &junta, task.bit_prob(), 10_000, 3, 0.025).unwrap()
            })
        });
        c.bench_function(&format!("verify, {name}"), |b| {
            b.iter(|| verify(black_box(&model), black_box(&junta)).unwrap())
        });
        c.bench_function(&format!("certify_junta, {name}"), |b| {
            b.iter(|| certify_junta(black_box(&model), black_box(&train), &params).unwrap())
        });
        let cert = certify_junta(&model, &train, &params).unwrap();
        println!(
            "{name}: route {}, certified error {:.4}, worst margin {:.3e}",
            cert.route.name(),
            cert.certified_error_model,
            cert.worst_margin
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = certify
}
criterion_main!(benches);
