//! `attnbounds figures`: the README's main command. Regenerates every figure into `figures/`.

use super::RunArgs;
use super::check::Budget;
use attnbounds::experiments::Preset;
use attnbounds::report::{StageReport, render_all, write_gallery};
use attnbounds::{Error, Result};
use std::path::Path;
use std::time::Instant;

pub fn run(args: &RunArgs) -> Result<()> {
    // A partial shard runs every sweep's share and draws nothing.
    if args
        .run_shard(&attnbounds::experiments::sweep_stage::Stage::ALL)?
        .is_some()
    {
        return Ok(());
    }
    let (preset, mut db) = args.open()?;
    let mut stages = render_all(preset, &mut db, &args.out, args.quiet);
    stages.push(proofs_check_stage(preset, &args.out));
    let mut failed = Vec::new();
    println!("{:<34} {:>9} {:>8}", "stage", "seconds", "figures");
    for (st, err) in &stages {
        println!(
            "{:<34} {:>9.1} {:>8}",
            st.stage,
            st.seconds,
            st.entries.len()
        );
        if let Some(e) = err {
            eprintln!("  FAILED {}: {e}", st.stage);
            failed.push(st.stage);
        }
    }
    let reports: Vec<_> = stages.into_iter().map(|(s, _)| s).collect();
    write_gallery(&args.out, preset, &reports)?;
    println!("gallery: {}", args.out.join("README.md").display());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(
            "figures",
            failed.join(", "),
            "every stage to succeed (figures of the other stages were written)",
        ))
    }
}

/// The proofs-check tightness figure. `proofs-check` depends on this crate, so the main job
/// cannot call it as a library; under `cargo run` (which exports `CARGO`) it runs the
/// `proofs-check` binary of this workspace, whose exit status reports any violated claim.
fn proofs_check_stage(preset: Preset, out: &Path) -> (StageReport, Option<Error>) {
    let t0 = Instant::now();
    // The full search budget takes ~8 min (483 s measured, 56 claims), which alone would break
    // the warm-rerun target of the default preset (< 30 s); the quick budget draws the same
    // claims, less searched.
    let budget = if preset == Preset::Paper {
        Budget::Full
    } else {
        Budget::Quick
    };
    let result = super::check::run_proofs_check(budget, out);
    let seconds = t0.elapsed().as_secs_f64();
    let (entries, err) = match result {
        Ok(e) => (e, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    (
        StageReport {
            stage: "proofs-check tightness",
            seconds,
            entries,
        },
        err,
    )
}
