//! `attnbounds experiment gap`: Monte Carlo generalization gaps of trained models against the
//! post-hoc bounds (docs/experiments.md section 4). Runs the missing trials of a preset or config
//! into the results store, prints the per-cell summary table, and renders the figures.

use super::{RunArgs, print_written};
use attnbounds::config::SweepConfig;
use attnbounds::experiments::gap;
use attnbounds::{Error, Result};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `attnbounds experiment gap`: the shared flags, or a sweep config file.
#[derive(Args, Debug)]
pub struct GapArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// A sweep config TOML file instead of a preset (see presets/gap/*.toml); the figures are
    /// drawn for presets only.
    #[arg(long, conflicts_with = "preset")]
    pub config: Option<PathBuf>,
}

/// Runs the missing trials, prints the summary, writes the figures (presets only).
pub fn run(args: &GapArgs) -> Result<()> {
    let a = &args.run;
    let config = match &args.config {
        Some(path) => SweepConfig::load(path)?,
        None => gap::preset_config(a.preset())?,
    };
    let mut db = a.open_db()?;
    let run = gap::run(&config, &mut db, a.quiet)?;
    let s = &run.sweep;
    println!(
        "gap experiment `{}`: {} trials, {} already stored, {} run now, {} failed, {:.1} s",
        config.name,
        s.total,
        s.already_done,
        s.completed,
        s.failed.len(),
        s.elapsed_s
    );
    for f in &s.failed {
        eprintln!(
            "trial {} of cell {} failed: {}",
            f.trial, f.cell_hash, f.error
        );
    }
    print!("{}", gap::format_table(&run.cells));
    println!(
        "gap = population error - training error (0-1); bounds are post hoc at the trained norms \
         (delta = {}), valid for population error - empirical ramp loss; `violations` counts trials \
         where that quantity exceeds the explicit bound. Intervals 95%: t interval, and bootstrap \
         percentile (read it where skewed = yes).",
        gap::DELTA
    );
    let violations: usize = run.cells.iter().map(|c| c.violations).sum();
    if violations > 0 {
        eprintln!("WARNING: the explicit post-hoc bound was exceeded in {violations} trial(s)");
    }
    if !s.failed.is_empty() {
        return Err(Error::invalid(
            "gap trials",
            format!("{} failed", s.failed.len()),
            "every trial succeeds (see the messages above)",
        ));
    }
    if !db.shard().is_whole() {
        println!(
            "no figures from shard {}: merge the shards' stores, then rerun without --shard",
            db.shard()
        );
    } else if args.config.is_some() {
        println!("no figures: they are drawn for presets only (not --config)");
    } else {
        print_written(
            &a.out,
            &gap::figures(a.preset(), &mut db, a.out_dir()?, true)?,
        );
    }
    Ok(())
}
