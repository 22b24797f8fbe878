//! Subcommand definitions and dispatch. One file per subcommand.

pub mod bound;
pub mod capacity;
pub mod check;
pub mod construct;
pub mod experiment;
pub mod figures;
pub mod gap;
pub mod norms;

use attnbounds::experiments::Preset;
use attnbounds::results::{DEFAULT_PATH, ResultsDb};
use attnbounds::{Error, Result};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Capacity bounds for bounded-norm self-attention (Edelman, Goel, Kakade, Zhang, ICML 2022),
/// checked against trained models and rendered as paper figures.
#[derive(Parser, Debug)]
#[command(name = "attnbounds", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
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
    /// Run (or resume) an experiment and write its figure.
    #[command(subcommand)]
    Experiment(experiment::ExperimentCommand),
    /// Monte Carlo generalization gaps of trained models against the post-hoc bounds
    /// (resumable; results in the SQLite store).
    Gap(gap::GapArgs),
    /// Build, verify and report an explicit head for an s-sparse function (SPEC section 4).
    Construct(construct::ConstructArgs),
    /// Empirical Rademacher and packing lower estimates of the head class against the bounds,
    /// vs T and m, with the flattened linear class as contrast (SPEC 5.5). Writes figures.
    Capacity(RunArgs),
    /// Norms per head and layer of a model trained elsewhere (safetensors) and the bounds they give.
    Norms(norms::NormsArgs),
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Figures(args) => figures::run(args),
        Command::Bound(args) => bound::run(*args),
        Command::Check(args) => check::run(args),
        Command::Experiment(cmd) => experiment::run(cmd),
        Command::Gap(args) => gap::run(args),
        Command::Construct(args) => construct::run(args),
        Command::Capacity(args) => capacity::run(args),
        Command::Norms(args) => norms::run(args),
    }
}

/// The arguments every experiment command shares (`figures`, `capacity`, `experiment ...`).
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scale: smoke (seconds), default (minutes), paper (full scale).
    #[arg(long, default_value = "default")]
    pub preset: String,
    /// Results store (SQLite): finished trials are replayed, an interrupted run resumes.
    #[arg(long, default_value = DEFAULT_PATH)]
    pub db: PathBuf,
    /// Output folder for the figures (SVG, PNG, CSV, pgfplots .tex).
    #[arg(long, default_value = "figures")]
    pub out: PathBuf,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

impl RunArgs {
    /// The parsed preset and the opened store, with the output folder created.
    pub fn open(&self) -> Result<(Preset, ResultsDb)> {
        let preset = Preset::parse(&self.preset)?;
        std::fs::create_dir_all(&self.out).map_err(|e| Error::io(self.out.display(), e))?;
        Ok((preset, ResultsDb::open(&self.db)?))
    }
}
