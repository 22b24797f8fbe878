//! `attnbounds experiment <name>`: run (or resume) an experiment, print its table, write figures.
//!
//! Thin layer: the library functions in `experiments::{attention_map, critical, parity}` do the
//! work; this file parses flags, opens the results store and prints.

use super::RunArgs;
use attnbounds::Result;
use attnbounds::experiments::{attention_map, critical, parity};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum ExperimentCommand {
    /// Mean [CLS] attention over positions of the trained theory head and 1-block Transformer
    /// on 3-sparse AND, before and after training, with the hidden set marked (SPEC 6).
    AttentionMap(RunArgs),
    /// The paper's experiment: critical sample size of 3-sparse AND against context length T,
    /// with bootstrap error bars, fits (ln T, ln^2 T, T) and their comparison, and a figure.
    CriticalSampleSize(RunArgs),
    /// Sparse parity loss curves: fresh samples every step vs one fixed sample (SPEC 5.6).
    SparseParity(RunArgs),
}

pub fn run(cmd: ExperimentCommand) -> Result<()> {
    match cmd {
        ExperimentCommand::AttentionMap(a) => {
            let (preset, mut db) = a.open()?;
            let plan = attention_map::AttentionPlan::preset(preset);
            let report = attention_map::run(&plan, &mut db, a.quiet)?;
            print!("{}", report.table());
            let entry = attention_map::write_figure(&report, preset, &a.out)?;
            println!(
                "wall time {:.1} s ({} trials trained); figure {}/{}.svg",
                report.wall_s,
                report.trained,
                a.out.display(),
                entry.stem
            );
            Ok(())
        }
        ExperimentCommand::CriticalSampleSize(a) => {
            let (preset, mut db) = a.open()?;
            let report = critical::run(&critical::CriticalPlan::preset(preset), &mut db, a.quiet)?;
            print!("{}", report.table());
            let entry = critical::write_figure(&report, preset, &a.out)?;
            println!(
                "wall time {:.1} s; figure {}/{}.svg",
                report.wall_s,
                a.out.display(),
                entry.stem
            );
            Ok(())
        }
        ExperimentCommand::SparseParity(a) => {
            let (preset, mut db) = a.open()?;
            let report = parity::run(&parity::ParityPlan::preset(preset), &mut db, a.quiet)?;
            print!("{}", report.table());
            let entry = parity::write_figure(&report, preset, &a.out)?;
            println!("figure {}/{}.svg", a.out.display(), entry.stem);
            Ok(())
        }
    }
}
