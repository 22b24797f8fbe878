//! The sweep stage of every experiment that trains: what a shard of a sharded run executes.
//!
//! A shard (`--shard i/n`, or a Slurm array task) runs only the trials its store's shard owns
//! ([`crate::results::shard`]) and renders nothing: figures and tables need the whole sweep, so
//! they are drawn after `results merge`, from the merged store, by the same command without a
//! shard (which then replays every trial and trains nothing). The deterministic experiments
//! (`constructions`, `bound-curves`) have no sweep and are drawn there too.

use super::{Preset, attention_map, capacity_sweep, certificates, critical, gap, parity};
use crate::error::{Error, Result};
use crate::results::ResultsDb;

/// An experiment with a sweep, by its command-line name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Gap,
    Capacity,
    CriticalSampleSize,
    SparseParity,
    AttentionMap,
    /// The certificates of trained models (`attnbounds certify`).
    Certificates,
}

impl Stage {
    /// Every sweep, in the order the `figures` main job runs them.
    pub const ALL: [Stage; 6] = [
        Stage::Gap,
        Stage::Capacity,
        Stage::CriticalSampleSize,
        Stage::SparseParity,
        Stage::AttentionMap,
        Stage::Certificates,
    ];

    /// The name under `attnbounds experiment`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Gap => "gap",
            Stage::Capacity => "capacity",
            Stage::CriticalSampleSize => "critical-sample-size",
            Stage::SparseParity => "sparse-parity",
            Stage::AttentionMap => "attention-map",
            Stage::Certificates => "certificates",
        }
    }

    /// Parses a name of [`Stage::name`]; the error lists them.
    pub fn parse(name: &str) -> Result<Stage> {
        Stage::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
                Error::invalid("experiment", name, format!("one of {}", names.join(", ")))
            })
    }

    /// Runs the missing trials of this experiment's `preset` that the shard of `db` owns, on
    /// the current rayon pool; returns the number of trials run. A failed trial is an error.
    pub fn run(self, preset: Preset, db: &mut ResultsDb, quiet: bool) -> Result<usize> {
        match self {
            Stage::Gap => {
                let r = gap::run(&gap::preset_config(preset)?, db, quiet)?;
                match r.sweep.failed.first() {
                    Some(f) => Err(f.error.clone()),
                    None => Ok(r.sweep.completed),
                }
            }
            Stage::Capacity => Ok(capacity_sweep::sweep(preset, db, quiet)?.completed),
            Stage::CriticalSampleSize => {
                critical::sweep(&critical::CriticalPlan::preset(preset), db, quiet)
            }
            Stage::SparseParity => parity::sweep(&parity::ParityPlan::preset(preset), db, quiet),
            Stage::AttentionMap => {
                let plan = attention_map::AttentionPlan::preset(preset);
                Ok(attention_map::sweep(&plan, db, quiet)?.completed)
            }
            Stage::Certificates => {
                certificates::sweep(&certificates::CertPlan::preset(preset), db, quiet)
            }
        }
    }
}
