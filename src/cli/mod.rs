//! Subcommand definitions and dispatch. One file per subcommand.

pub mod bound;
pub mod capacity;

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
pub enum Command {
    /// Print the crate version (placeholder until the first real subcommand lands).
    Version,
    /// Print every applicable capacity and generalization bound for one parameter set
    /// (log covering number at eps, Rademacher bound, gap bound, status, source).
    Bound(Box<bound::BoundArgs>),
    /// Empirical Rademacher and packing lower estimates of the head class against the bounds,
    /// vs T and m, with the flattened linear class as contrast (SPEC 5.5). Writes figures.
    Capacity(capacity::CapacityArgs),
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Version => {
            println!("attnbounds {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Bound(args) => bound::run(*args),
        Command::Capacity(args) => capacity::run(args),
    }
}
