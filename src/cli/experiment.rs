//! `attnbounds experiment <name>`: run (or resume) one experiment, print its table, write its
//! figures. Every experiment takes the same flags ([`RunArgs`]); `gap` also takes `--config`.
//!
//! Thin layer: the library functions in `experiments::*` do the work; this file parses flags,
//! opens the results store and prints.

use super::{RunArgs, capacity, gap, print_written};
use attnbounds::Result;
use attnbounds::experiments::{attention_map, bound_curves, construct, critical, parity};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum ExperimentCommand {
    /// Monte Carlo generalization gaps of trained models against the post-hoc bounds
    /// (docs/experiments.md); `--config FILE` runs a sweep config instead of a preset.
    Gap(gap::GapArgs),
    /// Empirical Rademacher and packing lower estimates of the head class against the bounds,
    /// vs T and m, with the flattened linear class as contrast.
    Capacity(RunArgs),
    /// The paper's experiment: critical sample size of 3-sparse AND against context length T,
    /// with bootstrap error bars, fits (ln T, ln^2 T, T) and their comparison, and a figure.
    CriticalSampleSize(RunArgs),
    /// Sparse parity loss curves: fresh samples every step vs one fixed sample.
    SparseParity(RunArgs),
    /// Mean [CLS] attention over positions of the trained theory head and 1-block Transformer
    /// on 3-sparse AND, before and after training, with the hidden set marked.
    AttentionMap(RunArgs),
    /// The explicit constructions' norms and predicted sample sizes vs T and vs s
    /// (deterministic: trains nothing, `--db` is not opened).
    Constructions(RunArgs),
    /// Every bound against context length T at fixed unit radii (deterministic: trains
    /// nothing, `--db` is not opened).
    BoundCurves(RunArgs),
}

pub fn run(cmd: ExperimentCommand) -> Result<()> {
    match cmd {
        ExperimentCommand::Gap(a) => a.run.in_pool(|| gap::run(&a)),
        ExperimentCommand::Capacity(a) => a.in_pool(|| capacity::run(&a)),
        ExperimentCommand::CriticalSampleSize(a) => a.in_pool(|| critical_sample_size(&a)),
        ExperimentCommand::SparseParity(a) => a.in_pool(|| sparse_parity(&a)),
        ExperimentCommand::AttentionMap(a) => a.in_pool(|| attention_map(&a)),
        ExperimentCommand::Constructions(a) => {
            let entries = construct::figures(a.preset(), a.out_dir()?)?;
            print_written(&a.out, &entries);
            Ok(())
        }
        ExperimentCommand::BoundCurves(a) => {
            let entries = bound_curves::figures(a.preset(), a.out_dir()?)?;
            print_written(&a.out, &entries);
            Ok(())
        }
    }
}

fn attention_map(a: &RunArgs) -> Result<()> {
    let (preset, mut db) = a.open()?;
    let plan = attention_map::AttentionPlan::preset(preset);
    let report = attention_map::run(&plan, &mut db, a.quiet)?;
    print!("{}", report.table());
    let entry = attention_map::write_figure(&report, preset, &a.out)?;
    print_written(&a.out, &[entry]);
    let (s, n) = (report.wall_s, report.trained);
    println!("wall time {s:.1} s ({n} trials trained)");
    Ok(())
}

fn critical_sample_size(a: &RunArgs) -> Result<()> {
    let (preset, mut db) = a.open()?;
    let report = critical::run(&critical::CriticalPlan::preset(preset), &mut db, a.quiet)?;
    print!("{}", report.table());
    let entry = critical::write_figure(&report, preset, &a.out)?;
    print_written(&a.out, &[entry]);
    println!("wall time {:.1} s", report.wall_s);
    Ok(())
}

fn sparse_parity(a: &RunArgs) -> Result<()> {
    let (preset, mut db) = a.open()?;
    let report = parity::run(&parity::ParityPlan::preset(preset), &mut db, a.quiet)?;
    print!("{}", report.table());
    let entry = parity::write_figure(&report, preset, &a.out)?;
    print_written(&a.out, &[entry]);
    Ok(())
}
