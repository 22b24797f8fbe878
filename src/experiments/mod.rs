//! Experiments: code that runs trials and stores their results (docs/experiments.md).
//!
//! [`sweep`] is the generic resumable runner; training, Monte Carlo gaps and capacity estimates
//! plug into it as trial functions. Experiments may use randomness and I/O; `bounds` may not.

pub mod attention_map;
pub mod bound_curves;
pub mod capacity_sweep;
pub mod certificates;
pub mod construct_figures;
pub mod critical;
pub mod gap;
pub mod parity;
pub mod sweep;
pub mod sweep_stage;

pub use sweep::{Cell, SweepOptions, SweepSummary, TrialFailure, cells_of, run_sweep, trial_seed};

/// One rendered figure, as listed in `figures/README.md` (the gallery).
///
/// Every experiment that renders figures returns these, so the `figures` main job can write the
/// gallery without knowing what each experiment does.
#[derive(Debug, Clone, PartialEq)]
pub struct GalleryEntry {
    /// File stem inside the output folder (`<stem>.svg/.png/.csv/.tex`).
    pub stem: String,
    /// One sentence: what the figure shows and what a reader should see in it.
    pub description: String,
    /// The command that regenerates exactly this figure.
    pub command: String,
}

/// The result of an experiment's `figures` stage (what the `figures` main job collects).
pub type Gallery = crate::Result<Vec<GalleryEntry>>;

/// Writes `figure` as `out_dir/stem.{svg,png,csv,tex}` (creating the folder), reports the
/// figure's warnings on stderr unless `quiet`, and returns its gallery entry.
pub fn write_gallery_figure(
    figure: &crate::figure::Figure,
    out_dir: &std::path::Path,
    stem: &str,
    description: &str,
    command: String,
    quiet: bool,
) -> crate::Result<GalleryEntry> {
    std::fs::create_dir_all(out_dir).map_err(|e| crate::Error::io(out_dir.display(), e))?;
    let written = figure.write(out_dir, stem)?;
    if !quiet {
        for w in &written.warnings {
            eprintln!("figure {stem}: {w}");
        }
    }
    Ok(GalleryEntry {
        stem: stem.into(),
        description: description.into(),
        command,
    })
}

/// The command that regenerates an `attnbounds experiment <name>` figure at `preset`.
pub fn experiment_command(name: &str, preset: Preset) -> String {
    format!("attnbounds experiment {name} --preset {}", preset.name())
}

/// Which scale of an experiment to run (the presets of `config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Seconds: used by tests.
    Smoke,
    /// Minutes on 2 cores: what `attnbounds figures` runs.
    Default,
    /// The full-scale version for papers.
    Paper,
}

impl Preset {
    /// Parse a preset name; the error names the field and the allowed values.
    pub fn parse(name: &str) -> crate::Result<Self> {
        match name {
            "smoke" => Ok(Preset::Smoke),
            "default" => Ok(Preset::Default),
            "paper" => Ok(Preset::Paper),
            other => Err(crate::Error::invalid(
                "preset",
                other,
                "one of smoke, default, paper",
            )),
        }
    }

    /// The preset's name as used on the command line and in `presets/`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Smoke => "smoke",
            Preset::Default => "default",
            Preset::Paper => "paper",
        }
    }
}
