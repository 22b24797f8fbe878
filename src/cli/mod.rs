//! Subcommand definitions and dispatch. One file per subcommand.

pub mod bound;
pub mod norms;

use attnbounds::Result;
use clap::{Parser, Subcommand};

/// Capacity bounds for bounded-norm self-attention (Edelman, Goel, Kakade, Zhang, ICML 2022),
/// checked against trained models and rendered as paper figures.
#[derive(Parser, Debug)]
#[command(name = "attnbounds", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
// Parsed once per run; boxing the arguments would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Print the crate version (placeholder until the first real subcommand lands).
    Version,
    /// Print every applicable capacity and generalization bound for one parameter set
    /// (log covering number at eps, Rademacher bound, gap bound, status, source).
    Bound(bound::BoundArgs),
    /// Norms per head and layer of a model trained elsewhere (safetensors) and the bounds they give.
    Norms(norms::NormsArgs),
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Version => {
            println!("attnbounds {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Bound(args) => bound::run(args),
        Command::Norms(args) => norms::run(args),
    }
}
