//! `attnbounds experiment <name>`: run (or resume) one experiment, print its table, write its
//! figures. Every experiment takes the same flags ([`RunArgs`]); `gap` also takes `--config`.
//!
//! Thin layer: the library functions in `experiments::*` do the work; this file parses flags,
//! opens the results store and prints.

use super::{RunArgs, capacity, gap, print_written};
use attnbounds::Result;
use attnbounds::experiments::Preset;
use attnbounds::experiments::sweep_stage::Stage;
use attnbounds::experiments::{
    GalleryEntry, attention_map, bound_curves, construct_figures, critical, parity,
};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum ExperimentCommand {
    /// Monte Carlo generalization gaps of trained models against the post-hoc bounds
    /// (docs/experiments.md); `--config FILE` runs a sweep config instead of a preset.
    Gap(gap::GapArgs),
    /// Empirical Rademacher and packing lower estimates of the head class against the bounds,
    /// vs T and m, with the flattened linear class as contrast.
    Capacity(RunArgs),
    /// The paper's experiment: critical sample size of 3-sparse AND against context length T
    /// (fixed training budget; logistic crossing of the success rate with profile intervals),
    /// fits (ln T, ln^2 T, sqrt T, T) and their decision, the stop-rule ablation, two figures.
    CriticalSampleSize(RunArgs),
    /// The critical sample size beyond the paper's range (`--preset paper`: T from 100 to 1e4),
    /// same protocol, no ablation; its own figure `critical_sample_size_extended`.
    CriticalSampleSizeExtended(RunArgs),
    /// Sparse parity loss curves: fresh samples every step vs one fixed sample.
    SparseParity(RunArgs),
    /// Mean \[CLS\] attention over positions of the trained theory head and 1-block Transformer
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
    // A partial shard runs the sweep only (`experiments::sweep_stage`); gap handles it itself
    // (it also takes --config).
    let sharded = |a: &RunArgs, stages: &[Stage]| a.in_pool(|| a.run_shard(stages));
    let done = match &cmd {
        ExperimentCommand::Gap(_) => None,
        ExperimentCommand::Capacity(a) => sharded(a, &[Stage::Capacity])?,
        ExperimentCommand::CriticalSampleSize(a) => sharded(a, &[Stage::CriticalSampleSize])?,
        // Not sharded: run whole (the extended plan is not a stage of the main job).
        ExperimentCommand::CriticalSampleSizeExtended(_) => None,
        ExperimentCommand::SparseParity(a) => sharded(a, &[Stage::SparseParity])?,
        ExperimentCommand::AttentionMap(a) => sharded(a, &[Stage::AttentionMap])?,
        // Deterministic: nothing to shard, drawn whole (shard or not).
        ExperimentCommand::Constructions(_) | ExperimentCommand::BoundCurves(_) => None,
    };
    if done.is_some() {
        return Ok(());
    }
    match cmd {
        ExperimentCommand::Gap(a) => a.run.in_pool(|| gap::run(&a)),
        ExperimentCommand::Capacity(a) => a.in_pool(|| capacity::run(&a)),
        ExperimentCommand::CriticalSampleSize(a) => a.in_pool(|| {
            let (r, preset) =
                run_critical(&a, critical::CriticalPlan::preset, critical::write_figure)?;
            let ablation = critical::write_ablation_figure(&r, preset, &a.out)?;
            print_written(&a.out, &ablation.into_iter().collect::<Vec<_>>());
            Ok(())
        }),
        ExperimentCommand::CriticalSampleSizeExtended(a) => a.in_pool(|| {
            run_critical(
                &a,
                critical::CriticalPlan::extended,
                critical::write_extended_figure,
            )
            .map(|_| ())
        }),
        ExperimentCommand::SparseParity(a) => a.in_pool(|| {
            let (preset, mut db) = a.open()?;
            let r = parity::run(&parity::ParityPlan::preset(preset), &mut db, a.quiet)?;
            let entry = parity::write_figure(&r, preset, &a.out)?;
            finish(&a, r.table(), entry, String::new())
        }),
        ExperimentCommand::AttentionMap(a) => a.in_pool(|| {
            let (preset, mut db) = a.open()?;
            let plan = attention_map::AttentionPlan::preset(preset);
            let r = attention_map::run(&plan, &mut db, a.quiet)?;
            let entry = attention_map::write_figure(&r, preset, &a.out)?;
            let (s, n) = (r.wall_s, r.trained);
            finish(
                &a,
                r.table(),
                entry,
                format!("wall time {s:.1} s ({n} trials trained)"),
            )
        }),
        ExperimentCommand::Constructions(a) => a.in_pool(|| {
            print_written(
                &a.out,
                &construct_figures::figures(a.preset(), a.out_dir()?)?,
            );
            Ok(())
        }),
        ExperimentCommand::BoundCurves(a) => a.in_pool(|| {
            print_written(&a.out, &bound_curves::figures(a.preset(), a.out_dir()?)?);
            Ok(())
        }),
    }
}

/// Prints the experiment's table, the written figure and a closing note.
/// The "wrote" line of the critical table files beside figure `stem`.
/// Runs one critical-sample-size plan, writes its figure with `write` and prints the table, the
/// table files and the wall time; returns the report for further figures.
fn run_critical(
    a: &RunArgs,
    plan: fn(Preset) -> critical::CriticalPlan,
    write: fn(&critical::CriticalReport, Preset, &std::path::Path) -> Result<GalleryEntry>,
) -> Result<(critical::CriticalReport, Preset)> {
    let (preset, mut db) = a.open()?;
    let r = critical::run(&plan(preset), &mut db, a.quiet)?;
    let entry = write(&r, preset, &a.out)?;
    let tables = table_files(&a.out, &entry.stem);
    let wall = format!("{tables}\nwall time {:.1} s", r.wall_s);
    finish(a, r.table(), entry, wall)?;
    Ok((r, preset))
}

fn table_files(out: &std::path::Path, stem: &str) -> String {
    format!(
        "wrote {}/{stem}{{{}}}",
        out.display(),
        critical::report::TABLE_FILES.join(",")
    )
}

fn finish(a: &RunArgs, table: String, entry: GalleryEntry, note: String) -> Result<()> {
    print!("{table}");
    print_written(&a.out, &[entry]);
    if !note.is_empty() {
        println!("{note}");
    }
    Ok(())
}
