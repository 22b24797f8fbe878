//! `attnbounds gap`: Monte Carlo generalization gaps of trained models against the post-hoc
//! bounds (SPEC 5.4). Runs the missing trials of a preset or config into the results store,
//! prints the per-cell summary table, and optionally renders the figures.

use attnbounds::config::SweepConfig;
use attnbounds::experiments::{Preset, gap};
use attnbounds::results::{DEFAULT_PATH, ResultsDb};
use attnbounds::{Error, Result};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `attnbounds gap`.
#[derive(Args, Debug)]
pub struct GapArgs {
    /// Preset scale: smoke (seconds), default (about a minute on 2 cores), paper (hours).
    #[arg(long, default_value = "default", conflicts_with = "config")]
    pub preset: String,
    /// A sweep config TOML file instead of a preset (see presets/gap/*.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Results store; trials already stored there are not run again.
    #[arg(long, default_value = DEFAULT_PATH)]
    pub db: PathBuf,
    /// Render the figures into this folder (presets only).
    #[arg(long)]
    pub figures: Option<PathBuf>,
    /// Rayon threads (trials run in parallel; each trial is single-threaded) [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(args: GapArgs) -> Result<()> {
    let pool = {
        let mut b = rayon::ThreadPoolBuilder::new();
        if let Some(n) = args.threads {
            attnbounds::error::check::at_least("threads", n, 1)?;
            b = b.num_threads(n);
        }
        b.build()
            .map_err(|e| Error::invalid("threads", format!("{:?}", args.threads), e.to_string()))?
    };
    pool.install(|| run_in_pool(args))
}

fn run_in_pool(args: GapArgs) -> Result<()> {
    let (config, preset) = match &args.config {
        Some(path) => (SweepConfig::load(path)?, None),
        None => {
            let p = Preset::parse(&args.preset)?;
            (gap::preset_config(p)?, Some(p))
        }
    };
    if let Some(parent) = args.db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent.display(), e))?;
    }
    let mut db = ResultsDb::open(&args.db)?;
    let run = gap::run(&config, &mut db, args.quiet)?;
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
    if let Some(dir) = &args.figures {
        let preset = preset.ok_or_else(|| {
            Error::invalid(
                "figures",
                dir.display(),
                "used with --preset (not --config)",
            )
        })?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
        for e in gap::figures(preset, &mut db, dir, true)? {
            println!("wrote {}/{}.{{svg,png,csv,tex}}", dir.display(), e.stem);
        }
    }
    if !s.failed.is_empty() {
        return Err(Error::invalid(
            "gap trials",
            format!("{} failed", s.failed.len()),
            "every trial succeeds (see the messages above)",
        ));
    }
    Ok(())
}
