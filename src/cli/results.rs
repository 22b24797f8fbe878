//! `attnbounds results export`: the results store as CSV or JSON, for readers without SQLite.
//! `attnbounds results merge OUT IN...`: the stores of a sharded sweep as one.
//!
//! Library calls: `ResultsDb::export` (`results::export`), `results::merge::merge`; this file
//! parses flags, picks the destination (stdout or `--out FILE`) and prints.

use attnbounds::results::export::ExportFormat;
use attnbounds::results::{DEFAULT_PATH, ResultsDb};
use attnbounds::{Error, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ResultsCommand {
    /// Export stored trials: one row (CSV) or object (JSON) per trial, with its cell config,
    /// seed, generator, crate version, git commit, timestamps and metrics.
    Export(ExportArgs),
    /// Merge results stores (e.g. one per shard) into OUT, atomically: rows keyed by
    /// (cell hash, trial), identical duplicates kept once, a conflicting duplicate is an error
    /// naming the key; each row keeps its provenance (shard, host, commit).
    Merge(MergeArgs),
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The merged store to write (replaced atomically if it exists; list it as an input too to
    /// keep its rows).
    pub out: PathBuf,
    /// The stores to merge.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

/// Output format of `results export`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    /// One row per trial; config fields flattened (`train.steps`), then one column per metric.
    Csv,
    /// A pretty JSON array; `cell_config` and `metrics` as nested objects.
    Json,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Results store (SQLite) to read; it must exist.
    #[arg(long, default_value = DEFAULT_PATH)]
    pub db: PathBuf,
    #[arg(long, value_enum, default_value_t = FormatArg::Csv)]
    pub format: FormatArg,
    /// Only the trials of this experiment (as stored, e.g. `capacity`) [default: all].
    #[arg(long)]
    pub experiment: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(cmd: ResultsCommand) -> Result<()> {
    match cmd {
        ResultsCommand::Export(a) => export(&a),
        ResultsCommand::Merge(a) => {
            let s = attnbounds::results::merge::merge(&a.out, &a.inputs)?;
            for i in &s.inputs {
                println!(
                    "{}: {} rows, {} added, {} identical duplicates",
                    i.path, i.rows, i.added, i.duplicates
                );
            }
            println!("wrote {} ({} rows)", a.out.display(), s.rows);
            Ok(())
        }
    }
}

fn export(a: &ExportArgs) -> Result<()> {
    // Opening creates a missing store; an export of a path that does not exist is a typo.
    if !a.db.is_file() {
        return Err(Error::invalid(
            "db",
            a.db.display(),
            "an existing results store (run an experiment first)",
        ));
    }
    // The export is built in memory (a few times the stored text): refuse a store whose
    // export would not fit before reading it.
    let len = std::fs::metadata(&a.db)
        .map_err(|e| Error::io(a.db.display(), e))?
        .len();
    attnbounds::limits::memory(
        "db",
        format!("{} ({len} bytes)", a.db.display()),
        4.0 * len as f64,
    )?;
    let db = ResultsDb::open(&a.db)?;
    let format = match a.format {
        FormatArg::Csv => ExportFormat::Csv,
        FormatArg::Json => ExportFormat::Json,
    };
    // Into memory first, so a refused export leaves no half-written file behind.
    let mut buf = Vec::new();
    db.export(a.experiment.as_deref(), format, &mut buf)?;
    match &a.out {
        Some(path) => attnbounds::fsio::write_atomic(path, &buf),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&buf)
                .and_then(|()| out.flush())
                .map_err(|e| Error::io("standard output", e))
        }
    }
}
