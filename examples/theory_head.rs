//! Does the theory's head learn 3-sparse AND? Success rates per (T, m) for one training setting.
//!
//! Each trial is `train::train_cell` on a `cls_head` cell (one-hot embedding, r = k = value_dim,
//! ReLU, full batch, logistic loss); success means population accuracy >= 0.99 on 2000 fresh
//! samples, the critical experiment's rule. Prints, per (T, m), successes / trials, the median
//! steps and the median trained norms beside the construction's (construct::standard::and_norms).
//!
//! Run: `cargo run --release --example theory_head -- --t 100,300 --m 100,300 --trials 8
//!   --steps 1000 --lr 0.02 --stop max_steps --radius fixed|construction:C [--opt adam|sgd]
//!   [--act tanh|relu|identity|gelu] [--k 4]` (`fixed` with no ball trains unconstrained).

use attnbounds::config::{
    CellConfig, ModelKind, OptimizerName, RadiusRule, StopRule, TaskName, TrainConfig,
};
use attnbounds::train::train_cell;
use std::time::Instant;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    (args.iter().position(|a| a == name))
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn list(name: &str, default: &str) -> Vec<usize> {
    arg(name, default)
        .split(',')
        .map(|x| x.parse().expect("a list of integers"))
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

fn main() -> attnbounds::Result<()> {
    let (ts, ms) = (list("--t", "100"), list("--m", "100,300"));
    let trials: usize = arg("--trials", "8").parse().expect("trials");
    let stop = StopRule::try_from(arg("--stop", "max_steps"))?;
    let radius_rule: RadiusRule = arg("--radius", "fixed").parse()?;
    let train = TrainConfig {
        steps: arg("--steps", "1000").parse().expect("steps"),
        learning_rate: arg("--lr", "0.02").parse().expect("lr"),
        optimizer: OptimizerName::try_from(arg("--opt", "adam"))?,
        value_dim: arg("--k", "4").parse().expect("k"),
        head_activation: serde_json::from_str(&format!("\"{}\"", arg("--act", "relu")))
            .expect("activation"),
        eval_every: if stop == StopRule::MaxSteps { 0 } else { 1 },
        population_samples: 2000,
        stop,
        radius_rule,
        ..TrainConfig::default()
    };
    println!(
        "setting: {}",
        serde_json::to_string(&train).expect("serializable")
    );
    println!(
        "T m successes/trials median_steps median_pop_err theta_fro(trained/constr) w_v_2 w_2 s/trial"
    );
    for &t in &ts {
        let c = attnbounds::construct::standard::and_norms(3, t)?;
        for &m in &ms {
            let cell = CellConfig {
                task: TaskName::And,
                truth_table: None,
                sparsity: 3,
                context_len: t,
                num_samples: m,
                model: ModelKind::ClsHead,
                train: TrainConfig {
                    batch_size: m,
                    ..train.clone()
                },
                seed: 2022,
            };
            let clock = Instant::now();
            let seeds: Vec<u64> = (0..trials as u64)
                .map(|i| 7919 * t as u64 + 31 * m as u64 + i)
                .collect();
            let results: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = seeds
                    .chunks(trials.div_ceil(2))
                    .map(|chunk| {
                        let cell = &cell;
                        s.spawn(move || {
                            chunk
                                .iter()
                                .map(|&seed| train_cell(cell, seed).map(|t| t.report))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().expect("no panic"))
                    .collect()
            });
            let reports = results
                .into_iter()
                .collect::<attnbounds::Result<Vec<_>>>()?;
            let ok = reports
                .iter()
                .filter(|r| r.population.estimate <= 0.01)
                .count();
            let get = |f: &dyn Fn(&attnbounds::train::TrainReport) -> f64| {
                median(reports.iter().map(f).collect())
            };
            println!(
                "{t} {m} {ok}/{trials} {:.0} {:.3} {:.2}/{:.2} {:.2}/{:.2} {:.2}/{:.2} {:.1}",
                get(&|r| r.steps as f64),
                get(&|r| r.population.estimate),
                get(&|r| r.norms.heads[0].theta_fro),
                c.theta_frobenius,
                get(&|r| r.norms.heads[0].w_v_spectral),
                c.w_v_spectral,
                get(&|r| r.norms.w_l2),
                c.w_2,
                clock.elapsed().as_secs_f64() / trials as f64,
            );
        }
    }
    Ok(())
}
