//! Subcommand definitions and dispatch. One file per subcommand.
//!
//! Every experiment sits under one verb with the same flags ([`RunArgs`]):
//! `attnbounds experiment <name> --preset smoke|default|paper --db PATH --out DIR [--threads N]
//! [--quiet] [--shard i/n]`; the main job `figures` takes the same flags.

pub mod bound;
pub mod capacity;
pub mod certify;
pub mod check;
pub mod construct;
pub mod experiment;
pub mod figures;
pub mod gap;
pub mod norms;
pub mod results;
pub mod slurm;

use attnbounds::experiments::Preset;
use attnbounds::results::{DEFAULT_PATH, ResultsDb, Shard};
use attnbounds::{Error, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Capacity bounds for bounded-norm self-attention (Edelman, Goel, Kakade, Zhang, ICML 2022),
/// checked against trained models and rendered as paper figures.
#[derive(Parser, Debug)]
#[command(name = "attnbounds", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Memory limit for the estimates checked before any work, in bytes (suffix K, M, G, T
    /// allowed) [default: $ATTNBOUNDS_MEMORY_LIMIT, else half of physical memory or of the
    /// address-space limit, whichever is smaller; docs/limits.md].
    #[arg(long, global = true)]
    pub memory_limit: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Regenerate every figure (SVG, PNG, CSV, pgfplots) into figures/: the main job.
    Figures(RunArgs),
    /// Print every applicable capacity and generalization bound for one parameter set
    /// (log covering number at eps, Rademacher bound, gap bound, status, source).
    Bound(Box<bound::BoundArgs>),
    /// Check every inequality of docs/derivations.md numerically (runs the proofs-check crate;
    /// needs `cargo run`). Fails if a claim is violated.
    Check(check::CheckArgs),
    /// Run (or resume) one experiment into the results store and write its figures.
    #[command(subcommand)]
    Experiment(experiment::ExperimentCommand),
    /// Build, verify and report an explicit head for an s-sparse function
    /// (docs/constructions.md).
    Construct(construct::ConstructArgs),
    /// Norms per head and layer of a model trained elsewhere (safetensors) and the bounds they give.
    Norms(norms::NormsArgs),
    /// Read the results store: export its trials as CSV or JSON, merge the stores of shards.
    #[command(subcommand)]
    Results(results::ResultsCommand),
    /// Write an sbatch script that runs an experiment as a Slurm job array over shards, then
    /// merges the shard stores and renders the figures (docs/slurm.md).
    Slurm(slurm::SlurmArgs),
    /// Certificates of trained models (junta: the trained model; PAC-Bayes: the stochastic
    /// predictor) beside the measured test error and the norm bound (docs/certificates.md).
    Certify(certify::CertifyArgs),
}

pub fn run(cli: Cli) -> Result<()> {
    if let Some(s) = &cli.memory_limit {
        attnbounds::limits::set_memory_limit(attnbounds::limits::parse_bytes("memory-limit", s)?);
    }
    match cli.command {
        Command::Figures(args) => args.in_pool(|| figures::run(&args)),
        Command::Bound(args) => bound::run(*args),
        Command::Check(args) => check::run(args),
        Command::Experiment(cmd) => experiment::run(cmd),
        Command::Construct(args) => construct::run(args),
        Command::Norms(args) => norms::run(args),
        Command::Results(cmd) => results::run(cmd),
        Command::Slurm(args) => slurm::run(&args),
        Command::Certify(args) => certify::run(&args),
    }
}

/// The scale of a run, as a command-line value (mapped onto the library's [`Preset`]).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresetArg {
    /// Seconds: what the tests run.
    Smoke,
    /// Minutes on 2 cores: what the committed figures are.
    Default,
    /// Full scale (hours).
    Paper,
}

impl From<PresetArg> for Preset {
    fn from(p: PresetArg) -> Preset {
        match p {
            PresetArg::Smoke => Preset::Smoke,
            PresetArg::Default => Preset::Default,
            PresetArg::Paper => Preset::Paper,
        }
    }
}

/// The arguments every experiment command shares (`figures` and `experiment <name>`).
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scale of the run.
    #[arg(long, value_enum, default_value_t = PresetArg::Default)]
    pub preset: PresetArg,
    /// Results store (SQLite): finished trials are replayed, an interrupted run resumes.
    #[arg(long, default_value = DEFAULT_PATH)]
    pub db: PathBuf,
    /// Output folder for the figures (SVG, PNG, CSV, pgfplots .tex).
    #[arg(long, default_value = "figures")]
    pub out: PathBuf,
    /// Worker threads for trials (each trial is single-threaded) [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Run only shard i of n (0 <= i < n) of the sweep into --db, and draw no figures (merge the
    /// shards' stores with `results merge`, then rerun without --shard). [default: the Slurm
    /// array task when SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT are set, else the whole
    /// sweep; an explicit --shard wins, `--shard 0/1` forces the whole sweep]
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<Shard>,
}

fn parse_shard(text: &str) -> std::result::Result<Shard, String> {
    Shard::parse(text).map_err(|e| e.to_string())
}

impl RunArgs {
    /// The library preset.
    pub fn preset(&self) -> Preset {
        self.preset.into()
    }

    /// The output folder, created if missing.
    pub fn out_dir(&self) -> Result<&std::path::Path> {
        std::fs::create_dir_all(&self.out).map_err(|e| Error::io(self.out.display(), e))?;
        Ok(&self.out)
    }

    /// The shard to run: `--shard`, else the Slurm array task, else the whole sweep.
    pub fn shard(&self) -> Result<Shard> {
        Shard::resolve(self.shard, |k| std::env::var(k).ok())
    }

    /// The store at `--db`, filled for [`RunArgs::shard`].
    pub fn open_db(&self) -> Result<ResultsDb> {
        let shard = self.shard()?;
        let mut db = ResultsDb::open(&self.db)?;
        db.set_shard(shard);
        Ok(db)
    }

    /// The parsed preset and the opened store, with the output folder created.
    pub fn open(&self) -> Result<(Preset, ResultsDb)> {
        self.out_dir()?;
        Ok((self.preset(), self.open_db()?))
    }

    /// For a partial shard: runs the sweep stages and prints what ran (`None` for the whole
    /// sweep, which the caller runs and draws itself).
    pub fn run_shard(
        &self,
        stages: &[attnbounds::experiments::sweep_stage::Stage],
    ) -> Result<Option<()>> {
        let shard = self.shard()?;
        if shard.is_whole() {
            return Ok(None);
        }
        let mut db = self.open_db()?;
        for stage in stages {
            let clock = std::time::Instant::now();
            let ran = stage.run(self.preset(), &mut db, self.quiet)?;
            println!(
                "shard {shard}: {} ran {ran} trials in {:.1} s into {}",
                stage.name(),
                clock.elapsed().as_secs_f64(),
                self.db.display()
            );
        }
        println!("no figures from a shard: merge the shards' stores, then rerun without --shard");
        Ok(Some(()))
    }

    /// Runs `f` on a rayon pool of `--threads` workers (all cores when absent).
    pub fn in_pool<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        let mut b = rayon::ThreadPoolBuilder::new();
        if let Some(n) = self.threads {
            let max = attnbounds::limits::MAX_THREADS;
            attnbounds::error::check::at_least("threads", n, 1)?;
            attnbounds::limits::count("threads", n, max)?;
            b = b.num_threads(n);
        }
        let pool = b.build().map_err(|e| {
            Error::invalid(
                "threads",
                self.threads.map_or("(all cores)".into(), |n| n.to_string()),
                format!("a count the system can start (starting the pool failed: {e})"),
            )
        })?;
        pool.install(f)
    }
}

/// One line per written figure: its four files.
pub fn print_written(out: &std::path::Path, entries: &[attnbounds::experiments::GalleryEntry]) {
    for e in entries {
        println!("wrote {}/{}.{{svg,png,csv,tex}}", out.display(), e.stem);
    }
}
