//! One full-batch training step of the paper-protocol model (docs/experiments.md, "paper
//! protocol"): dropout masks, token-table forward, backward, Adam with weight decay 1e-4 as
//! PyTorch's Adam adds it (wd * p to the gradient). d = 64, 16 heads, MLP 64, dropout 0.1,
//! f32, single thread. Prints the median over repetitions of each part and of the step, for
//! the table mix and for the per-sample gather mix (the reference, and the path before the
//! table mix existed); then the wall and CPU time of whole protocol trials (`train_cell`: 1000
//! full-batch steps plus the trial's measurements) at T = 100, 300, 1100 and m = 32, 64, 128
//! (`PROTOCOL_TRIALS="T:m,..."` for other points): the per-trial cost behind the paper
//! preset's budget for the protocol series (docs/experiments.md §3).
//! Run: `cargo bench --bench protocol_step` (`-- steps` or `-- trials` for one half only).

use attnbounds::config::CellConfig;
use attnbounds::model::{DropoutMasks, MixPath, ProtocolConfig, ProtocolModel, TokenBatch};
use attnbounds::optim::{Adam, Optimizer, Parameters};
use attnbounds::train::train_cell;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// CPU time of this thread in seconds (Linux schedstat), so a loaded machine shows up as a
/// wall time above it rather than as a slower step.
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns * 1e-9)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Median step and part wall times and the mean step CPU time (ms) of `reps` steps with
/// the mix `path` (schedstat is updated at scheduler ticks, so CPU time is read over the
/// whole loop, not per step).
fn steps(t: usize, m: usize, reps: usize, path: MixPath) -> [f64; 5] {
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
    let cpu0 = cpu_s();
    for _ in 0..reps {
        let c0 = Instant::now();
        let masks = DropoutMasks::draw(&model, m, 0.1, &mut rng).expect("valid p");
        let c1 = Instant::now();
        let cache = model
            .forward_with(&batch, Some(masks), path)
            .expect("forward");
        // The synthetic dL/df grows the weights without bound; over these few steps the
        // score gap stays below MAX_SCORE_GAP, so Auto is the table mix throughout.
        assert_eq!(cache.used_tables(), path == MixPath::Auto);
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
    let cpu = 1e3 * (cpu_s() - cpu0) / reps as f64;
    let [s, mk, f, b] = [ts, tm, tf, tb].map(|x| 1e3 * median(x));
    [s, mk, f, b, cpu]
}

fn main() {
    if let Some(v) = std::env::var_os("PROTOCOL_STEP_PROFILE") {
        // Only the table step (for `perf record`): at T = 1000, m = 300, or at "T,m".
        let v = v.to_string_lossy();
        let (t, m) = v
            .split_once(',')
            .and_then(|(t, m)| Some((t.parse().ok()?, m.parse().ok()?)))
            .unwrap_or((1000, 300));
        let [s, mk, f, b, c] = steps(t, m, 300, MixPath::Auto);
        println!(
            "profile T = {t}, m = {m}: step {s:.2} ms, CPU {c:.2} ms (masks {mk:.2}, forward {f:.2}, backward {b:.2})"
        );
        return;
    }
    if std::env::args().any(|a| a == "trials") {
        trials();
        return;
    }
    let mut table_ms = vec![];
    for (t, m, reps, gather_reps) in [(100usize, 50usize, 200usize, 50usize), (1000, 300, 50, 3)] {
        for (path, reps) in [(MixPath::Auto, reps), (MixPath::Gather, gather_reps)] {
            let [s, mk, f, b, c] = steps(t, m, reps, path);
            let name = if path == MixPath::Auto {
                "table "
            } else {
                "gather"
            };
            println!(
                "T = {t:5}, m = {m:4}, {name}: step {s:8.2} ms wall, {c:8.2} ms CPU (wall: masks {mk:.2}, forward {f:.2}, backward {b:.2}; wall medians, CPU mean of {reps})"
            );
            if path == MixPath::Auto {
                table_ms.push(c);
            } else {
                println!(
                    "    gather / table (CPU): {:.1}x",
                    c / table_ms.last().unwrap()
                );
            }
        }
    }
    if !std::env::args().any(|a| a == "steps") {
        trials();
    }
}

/// Whole trials at the protocol's hyper-parameters (3-sparse AND, 1000 full-batch steps plus
/// the trial's measurements, population error on 2000 fresh samples) on the grid of the
/// critical experiment's per-trial cost table (docs/experiments.md §8): wall and CPU seconds
/// of this thread, one seed per (T, m).
fn trials() {
    let series = attnbounds::experiments::critical::paper_protocol();
    println!(
        "whole protocol trials ({} steps, one thread)",
        series.train.steps
    );
    println!(
        "{:>11} {:>4} {:>8} {:>8} {:>10} {:>10}",
        "context_len", "m", "wall_s", "cpu_s", "ms/step", "pop_error"
    );
    // `PROTOCOL_TRIALS="T:m,T:m"` replaces the grid.
    let grid: Vec<(usize, usize)> = match std::env::var("PROTOCOL_TRIALS") {
        Ok(v) => v
            .split(',')
            .filter_map(|p| {
                let (t, m) = p.split_once(':')?;
                Some((t.trim().parse().ok()?, m.trim().parse().ok()?))
            })
            .collect(),
        Err(_) => [100usize, 300, 1100]
            .into_iter()
            .flat_map(|t| [32usize, 64, 128].map(|m| (t, m)))
            .collect(),
    };
    // The paper preset's own cell of the series (full batch), at seed 0.
    let plan = attnbounds::experiments::critical::CriticalPlan::preset(
        attnbounds::experiments::Preset::Paper,
    );
    {
        for (t, m) in grid {
            let cell = CellConfig {
                seed: 0,
                ..plan.cell(&series, t, m)
            };
            let (c, cpu0) = (Instant::now(), cpu_s());
            let run = train_cell(&cell, 0).expect("protocol trial");
            let (wall, cpu) = (c.elapsed().as_secs_f64(), cpu_s() - cpu0);
            println!(
                "{t:>11} {m:>4} {wall:>8.2} {cpu:>8.2} {:>10.3} {:>10.4}",
                1e3 * cpu / series.train.steps as f64,
                run.report.population.estimate
            );
        }
    }
}
