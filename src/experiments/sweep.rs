//! A resumable, parallel sweep: run every (cell, trial) not yet in the results store.
//!
//! Trials run in parallel on the current rayon pool; each result is written by one writer
//! thread that owns the store, in its own transaction, as soon as it arrives. Killing the process
//! loses at most the trials in flight; rerunning the same sweep runs only what is missing.
//!
//! Each trial's seed is [`trial_seed`]`(base_seed, cell_hash, trial)`: it depends on neither the
//! thread nor the order of execution, so stored results are identical whatever the number of
//! threads. A trial function seeds its generator (named in [`SweepOptions::rng`], by default
//! `ChaCha8Rng::seed_from_u64(seed)`) from that seed and from nothing else.
//!
//! Sharding: a sweep runs only the cells that the store's shard ([`ResultsDb::shard`], see
//! [`crate::results::shard`]) owns by cell hash, so the shards of a sweep, each into its own
//! store, run every trial exactly once between them; `results::merge` joins the stores. An
//! adaptive experiment whose cells depend on earlier results shards by its independent units
//! instead and turns the cell filter off ([`SweepOptions::by_cell`]).

use crate::config::{CellConfig, SweepConfig, canonical_hash};
use crate::error::{Error, Result};
use crate::results::{
    CRATE_VERSION, GIT_COMMIT, Metrics, ResultsDb, TrialRecord, host_name, iso8601_utc,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Instant, SystemTime};

/// A cell config with its canonical JSON and hash (see [`crate::config::canonical_hash`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Cell<C> {
    pub config: C,
    pub json: String,
    pub hash: String,
}

impl<C: Serialize> Cell<C> {
    pub fn new(config: C) -> Result<Cell<C>> {
        let (json, hash) = canonical_hash(&config)?;
        Ok(Cell { config, json, hash })
    }
}

/// The cells of a validated sweep config.
pub fn cells_of(config: &SweepConfig) -> Result<Vec<Cell<CellConfig>>> {
    config.validate()?;
    config.cells().into_iter().map(Cell::new).collect()
}

/// What to run and how to report it.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Experiment name stored with each trial.
    pub experiment: String,
    /// Trials 0..trials of every cell.
    pub trials: usize,
    pub base_seed: u64,
    /// Name of the generator the trial function seeds, stored with each trial.
    pub rng: String,
    /// Hide the progress bar (it is also hidden when stderr is not a terminal).
    pub quiet: bool,
    /// When set to true, no further trial starts; running ones finish and are stored.
    pub stop: Option<Arc<AtomicBool>>,
    /// Run only the cells the store's shard owns (default). False when the caller has already
    /// chosen the units of its shard (the critical-m search shards by (series, T)).
    pub by_cell: bool,
    /// Derive every trial's seed from this hash instead of the cell's own: a paired comparison
    /// of cells that differ in one setting (the critical experiment's stop-rule ablation) then
    /// trains on the same data from the same initialisation. The stored seed is the one used.
    pub seed_hash: Option<String>,
}

impl SweepOptions {
    pub fn new(experiment: impl Into<String>, trials: usize, base_seed: u64) -> SweepOptions {
        SweepOptions {
            experiment: experiment.into(),
            trials,
            base_seed,
            rng: "ChaCha8Rng".to_string(),
            quiet: false,
            stop: None,
            by_cell: true,
            seed_hash: None,
        }
    }

    /// Options for a sweep config: its name, trials and seed.
    pub fn from_config(config: &SweepConfig) -> SweepOptions {
        SweepOptions::new(config.name.clone(), config.trials, config.seed)
    }
}

/// A trial whose function returned an error; it is not stored and will run again next time.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialFailure {
    pub cell_hash: String,
    pub trial: usize,
    pub error: Error,
}

/// What a sweep did.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSummary {
    /// cells x trials of this shard (all cells when the store is not sharded).
    pub total: usize,
    /// Trials of cells owned by other shards (not run here).
    pub other_shards: usize,
    /// Found in the store before this run (or stored by another process meanwhile).
    pub already_done: usize,
    /// Run and stored by this call.
    pub completed: usize,
    pub failed: Vec<TrialFailure>,
    /// Not started because the stop flag was raised.
    pub not_started: usize,
    pub elapsed_s: f64,
}

/// The seed of one trial: the first 8 bytes (little-endian) of
/// SHA-256("attnbounds trial seed v1" || base_seed as u64 LE || cell_hash || trial as u64 LE).
pub fn trial_seed(base_seed: u64, cell_hash: &str, trial: usize) -> u64 {
    let mut h = Sha256::new();
    h.update(b"attnbounds trial seed v1");
    h.update(base_seed.to_le_bytes());
    h.update(cell_hash.as_bytes());
    h.update((trial as u64).to_le_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

enum Outcome {
    Done(Box<TrialRecord>),
    Failed(TrialFailure),
}

/// Runs the missing trials of `cells` on the current rayon pool, storing each as it finishes.
/// Returns an error only if the store fails; failing trials are listed in the summary.
pub fn run_sweep<C, F>(
    db: &mut ResultsDb,
    cells: &[Cell<C>],
    opts: &SweepOptions,
    trial_fn: F,
) -> Result<SweepSummary>
where
    C: Sync,
    F: Fn(&Cell<C>, usize, u64) -> Result<Metrics> + Send + Sync,
{
    let clock = Instant::now();
    let shard = db.shard();
    let owned: Vec<usize> = (0..cells.len())
        .filter(|&c| !opts.by_cell || shard.owns(&cells[c].hash))
        .collect();
    let mut pending = Vec::new();
    for &c in &owned {
        let cell = &cells[c];
        let done = db.completed_trials(&cell.hash)?;
        pending.extend(
            (0..opts.trials)
                .filter(|t| !done.contains(t))
                .map(|t| (c, t)),
        );
    }
    let total = owned.len() * opts.trials;
    let (shard_label, host) = (shard.to_string(), host_name());
    let bar = progress_bar(pending.len(), opts.quiet);
    // Raised when the writer has gone (store error): stop starting trials.
    let writer_gone = AtomicBool::new(false);
    let stop_requested = || {
        writer_gone.load(Ordering::Relaxed)
            || opts
                .stop
                .as_ref()
                .is_some_and(|s| s.load(Ordering::Relaxed))
    };
    let (tx, rx) = mpsc::channel::<Outcome>();

    let written = std::thread::scope(|scope| {
        let writer_bar = bar.clone();
        let writer = scope.spawn(move || -> Result<(usize, usize, Vec<TrialFailure>)> {
            let (mut completed, mut duplicates, mut failed) = (0, 0, Vec::new());
            for outcome in rx {
                match outcome {
                    Outcome::Done(mut record) => {
                        record.shard.clone_from(&shard_label);
                        record.host.clone_from(&host);
                        if db.insert(&record)? {
                            completed += 1;
                        } else {
                            duplicates += 1;
                        }
                    }
                    Outcome::Failed(f) => failed.push(f),
                }
                writer_bar.inc(1);
            }
            Ok((completed, duplicates, failed))
        });
        pending.par_iter().for_each_with(tx, |tx, &(c, trial)| {
            if stop_requested() {
                return;
            }
            let cell = &cells[c];
            let outcome = run_one(cell, trial, opts, &trial_fn);
            if tx.send(outcome).is_err() {
                writer_gone.store(true, Ordering::Relaxed);
            }
        });
        writer
            .join()
            .map_err(|_| Error::io("results writer", "the writer thread panicked"))?
    });
    bar.finish_and_clear();
    let (completed, duplicates, failed) = written?;
    Ok(SweepSummary {
        total,
        other_shards: (cells.len() - owned.len()) * opts.trials,
        already_done: total - pending.len() + duplicates,
        completed,
        not_started: pending.len() - completed - duplicates - failed.len(),
        failed,
        elapsed_s: clock.elapsed().as_secs_f64(),
    })
}

fn run_one<C, F>(cell: &Cell<C>, trial: usize, opts: &SweepOptions, trial_fn: &F) -> Outcome
where
    F: Fn(&Cell<C>, usize, u64) -> Result<Metrics>,
{
    let seed = trial_seed(
        opts.base_seed,
        opts.seed_hash.as_deref().unwrap_or(&cell.hash),
        trial,
    );
    let started = SystemTime::now();
    let clock = Instant::now();
    match trial_fn(cell, trial, seed) {
        Ok(metrics) => Outcome::Done(Box::new(TrialRecord {
            experiment: opts.experiment.clone(),
            cell_hash: cell.hash.clone(),
            cell_config: cell.json.clone(),
            trial,
            seed,
            rng: opts.rng.clone(),
            crate_version: CRATE_VERSION.to_string(),
            git_commit: GIT_COMMIT.to_string(),
            started_at: iso8601_utc(started),
            finished_at: iso8601_utc(SystemTime::now()),
            duration_s: clock.elapsed().as_secs_f64(),
            metrics,
            // Filled in by the writer, which knows the store's shard.
            shard: String::new(),
            host: String::new(),
        })),
        Err(error) => Outcome::Failed(TrialFailure {
            cell_hash: cell.hash.clone(),
            trial,
            error,
        }),
    }
}

fn progress_bar(len: usize, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::hidden());
    }
    let template = "{elapsed_precise} [{wide_bar}] {pos}/{len} trials, ETA {eta}";
    // The template is a constant; fall back to indicatif's default rather than fail a run.
    let style =
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(len as u64).with_style(style)
}

#[cfg(test)]
mod tests;
