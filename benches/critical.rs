//! Benchmarks of the critical-sample-size experiment (no timed asserts; numbers are printed):
//! 1. the default preset's probes for every (series, T), wall time and the fraction of it spent
//!    inside training (sum of per-trial training seconds / (wall time x rayon threads));
//! 2. the cost of one paper-preset trial (fixed budget) per series at a few (T, m), in wall and
//!    CPU seconds per trial and CPU milliseconds per full-batch step: the numbers the paper and extended
//!    presets' wall-time estimates in docs/experiments.md §3 are built from.
//!
//! 3. with `-- protocol`: the paper preset's probes of the paper-protocol series at its smallest
//!    T (or at `PROTOCOL_T=T,T,...`), with their wall time and summed trial seconds: a check of
//!    the protocol series' budget estimate (docs/experiments.md §3).
//!
//! Runs into an in-memory store, so everything is trained.
//! `cargo bench --bench critical` (`-- paper` runs part 2 only; `-- paper series=1
//! t=100,1000 m=64,256` picks the series by index and the (T, m) grid; `-- protocol` part 3 only).

use attnbounds::experiments::Preset;
use attnbounds::experiments::critical::{CriticalPlan, run_trial, search_one};
use attnbounds::results::ResultsDb;
use std::time::Instant;

fn main() -> attnbounds::Result<()> {
    if std::env::args().any(|a| a == "protocol") {
        return protocol_probes();
    }
    let only_paper = std::env::args().any(|a| a == "paper");
    if !only_paper {
        default_preset()?;
    }
    paper_trials()
}

fn default_preset() -> attnbounds::Result<()> {
    let plan = CriticalPlan::preset(Preset::Default);
    let threads = rayon::current_num_threads() as f64;
    let mut db = ResultsDb::open_in_memory()?;
    println!(
        "threads {threads}; default preset grid; trials {} per probe",
        plan.trials
    );
    println!(
        "{:<28} {:>11} {:>7} {:>8} {:>10}",
        "series", "context_len", "probes", "wall_s", "train_frac"
    );
    let clock = Instant::now();
    for s in &plan.series {
        for t in plan.probing_of(s).context_lens {
            let r = search_one(&plan, s, t, &mut db, true)?;
            println!(
                "{:<28} {:>11} {:>7} {:>8.2} {:>10.2}",
                s.name,
                t,
                r.probes.len(),
                r.wall_s,
                r.train_s / (r.wall_s * threads)
            );
        }
    }
    println!("total wall {:.1} s", clock.elapsed().as_secs_f64());
    Ok(())
}

/// CPU seconds of this thread so far (Linux `/proc/thread-self/schedstat`, NaN elsewhere):
/// on shared cores the wall time of a trial measures the load, its CPU time the trial.
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns * 1e-9)
}

/// `name=a,b,c` from the command line, else `default`.
fn list_arg(name: &str, default: &[usize]) -> Vec<usize> {
    let prefix = format!("{name}=");
    std::env::args()
        .find_map(|a| a.strip_prefix(&prefix).map(str::to_string))
        .map(|v| {
            v.split(',')
                .map(|x| x.parse().expect("a comma-separated list of integers"))
                .collect()
        })
        .unwrap_or_else(|| default.to_vec())
}

fn paper_trials() -> attnbounds::Result<()> {
    let plan = CriticalPlan::preset(Preset::Paper);
    let mut series = plan.series.clone();
    if !attnbounds::experiments::critical::INCLUDE_PROTOCOL_SERIES {
        series.push(attnbounds::experiments::critical::paper_protocol());
    }
    // `series=0,1` picks series by index (0 Transformer, 1 theory head, 2 paper protocol);
    // `t=...` and `m=...` the grid (every T with every m).
    let pick = list_arg("series", &[0, 1, 2]);
    let ts = list_arg("t", &[100, 1100]);
    let ms = list_arg("m", &[64, 256]);
    println!("\none paper-preset trial (single-threaded), fixed budget");
    println!(
        "{:<44} {:>11} {:>6} {:>6} {:>9} {:>9} {:>8}",
        "series", "context_len", "m", "steps", "wall_s", "cpu_s", "ms/step"
    );
    for (i, s) in series.iter().enumerate() {
        if !pick.contains(&i) {
            continue;
        }
        for &t in &ts {
            for &m in &ms {
                let cell = plan.cell(s, t, m);
                let (clock, cpu) = (Instant::now(), thread_cpu_s());
                run_trial(&cell, 7)?;
                let secs = clock.elapsed().as_secs_f64();
                let cpu = thread_cpu_s() - cpu;
                println!(
                    "{:<44} {:>11} {:>6} {:>6} {:>9.2} {:>9.2} {:>8.2}",
                    s.name,
                    t,
                    m,
                    s.train.steps,
                    secs,
                    cpu,
                    1e3 * cpu / s.train.steps as f64
                );
            }
        }
    }
    Ok(())
}

fn protocol_probes() -> attnbounds::Result<()> {
    use attnbounds::config::ModelKind;
    let plan = CriticalPlan::preset(Preset::Paper);
    let Some(series) = plan
        .series
        .iter()
        .find(|s| s.model == ModelKind::PaperProtocol)
    else {
        println!("the paper preset has no protocol series (INCLUDE_PROTOCOL_SERIES)");
        return Ok(());
    };
    let probing = plan.probing_of(series);
    let ts: Vec<usize> = match std::env::var("PROTOCOL_T") {
        Ok(v) => v.split(',').filter_map(|t| t.trim().parse().ok()).collect(),
        Err(_) => probing.context_lens[..1].to_vec(),
    };
    let threads = rayon::current_num_threads();
    println!(
        "paper-protocol probes, paper preset, {} trials per probe, {threads} threads",
        probing.trials
    );
    let mut db = ResultsDb::open_in_memory()?;
    for t in ts {
        let r = search_one(&plan, series, t, &mut db, true)?;
        let probes: Vec<String> = (r.probes.iter())
            .map(|p| format!("{}:{}/{}", p.num_samples, p.count(), p.successes.len()))
            .collect();
        println!(
            "T = {t}: probes {}; critical m {:?} ({}); wall {:.1} s, trial seconds summed {:.1} s",
            probes.join(" "),
            r.critical_m().map(|m| (m * 10.0).round() / 10.0),
            r.crossing.status.label(),
            r.wall_s,
            r.train_s
        );
    }
    Ok(())
}
