//! Benchmark of the critical-sample-size search on the default preset's grid: wall time per T
//! and the fraction of it spent inside training steps (sum of per-trial training seconds divided
//! by wall time x rayon threads). Runs into an in-memory store, so everything is trained.
//! `cargo bench --bench critical`

use attnbounds::experiments::Preset;
use attnbounds::experiments::critical::{CriticalPlan, search_one};
use attnbounds::results::ResultsDb;

fn main() -> attnbounds::Result<()> {
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
    let clock = std::time::Instant::now();
    for s in &plan.series {
        for &t in &plan.context_lens {
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
