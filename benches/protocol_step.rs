//! One full-batch training step of the paper-protocol model (docs/experiments.md, "paper
//! protocol"): dropout masks, token-table forward, backward, Adam with weight decay 1e-4 as
//! PyTorch's Adam adds it (wd * p to the gradient). d = 64, 16 heads, MLP 64, dropout 0.1,
//! f32, single thread. Prints the median over repetitions of each part and of the step.
//! Run: `cargo bench --bench protocol_step`.

use attnbounds::model::{DropoutMasks, ProtocolConfig, ProtocolModel, TokenBatch};
use attnbounds::optim::{Adam, Optimizer, Parameters};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    for (t, m, reps) in [(100usize, 50usize, 200usize), (1000, 300, 30)] {
        let cfg = ProtocolConfig {
            context_len: t,
            width: 64,
            heads: 16,
            mlp_width: 64,
            init_std: 0.02,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut model = ProtocolModel::<f32>::random(&cfg, &mut rng).expect("valid config");
        let bits = (0..t * m).map(|_| rng.random_range(0..2u8)).collect();
        let batch = TokenBatch::new(t, bits).expect("valid batch");
        let mut adam = Adam::<f32>::new(1e-3).expect("valid lr");
        let (mut tm, mut tf, mut tb, mut ts) = (vec![], vec![], vec![], vec![]);
        for _ in 0..reps {
            let c0 = Instant::now();
            let masks = DropoutMasks::draw(&model, m, 0.1, &mut rng).expect("valid p");
            let c1 = Instant::now();
            let cache = model.forward(&batch, Some(masks)).expect("forward");
            let c2 = Instant::now();
            let dl: Vec<f32> = cache.predictions.iter().map(|f| 0.5 - 0.1 * f).collect();
            let mut g = model.backward(&batch, &cache, &dl).expect("backward");
            for (gt, pt) in g.tensors_mut().into_iter().zip(model.tensors()) {
                gt.iter_mut().zip(pt).for_each(|(gi, &pi)| *gi += 1e-4 * pi);
            }
            let c3 = Instant::now();
            adam.step(&mut model, &g).expect("finite gradient");
            let c4 = Instant::now();
            tm.push((c1 - c0).as_secs_f64());
            tf.push((c2 - c1).as_secs_f64());
            tb.push((c3 - c2).as_secs_f64());
            ts.push((c4 - c0).as_secs_f64());
        }
        println!(
            "T = {t:5}, m = {m:4}: step {:7.2} ms (masks {:.2}, forward {:.2}, backward {:.2}; median of {reps})",
            1e3 * median(ts),
            1e3 * median(tm),
            1e3 * median(tf),
            1e3 * median(tb),
        );
    }
}
