//! `attnbounds check`: the full-budget numerical check of docs/derivations.md (proofs-check).
//!
//! `proofs-check` depends on this crate, so this crate cannot call it as a library. Under
//! `cargo run` (which exports `CARGO`) this runs the workspace's `proofs-check` binary; its
//! table, JSON and tightness figure land in `--out`, and a violated claim fails the command.

use attnbounds::experiments::GalleryEntry;
use attnbounds::{Error, Result};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Search budget of the proofs-check run.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// Seconds, as in the tests.
    Quick,
    /// The full search.
    Full,
}

impl Budget {
    /// The name proofs-check's own `--budget` flag takes.
    pub fn name(self) -> &'static str {
        match self {
            Budget::Quick => "quick",
            Budget::Full => "full",
        }
    }
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[arg(long, value_enum, default_value_t = Budget::Full)]
    pub budget: Budget,
    /// Folder for proofs_check.json and the proofs_check_tightness figure.
    #[arg(long, default_value = "results/proofs-check")]
    pub out: PathBuf,
}

pub fn run(args: CheckArgs) -> Result<()> {
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(args.out.display(), e))?;
    run_proofs_check(args.budget, &args.out).map(|_| ())
}

pub fn run_proofs_check(budget: Budget, out: &Path) -> Result<Vec<GalleryEntry>> {
    let budget = budget.name();
    let cargo = std::env::var_os("CARGO").ok_or_else(|| {
        Error::invalid(
            "CARGO",
            "unset",
            "a run through `cargo run --release -- ...` (which builds and runs the proofs-check \
             binary), or `cargo run -p proofs-check --release` directly",
        )
    })?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let status = Command::new(cargo)
        .args(["run", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .args(["-p", "proofs-check", "--", "--budget", budget, "--out"])
        .arg(out)
        .status()
        .map_err(|e| Error::io("cargo run -p proofs-check", e))?;
    if !status.success() {
        return Err(Error::Violation {
            claim: "proofs-check".into(),
            detail: format!(
                "exited with {status}: a claim of docs/derivations.md is violated or the run \
                 failed; see its output above and {}/proofs_check.json",
                out.display()
            ),
        });
    }
    Ok(vec![GalleryEntry {
        stem: "proofs_check_tightness".into(),
        description: "Worst ratio lhs/rhs found by random search and adversarial ascent for every \
                      numbered inequality of docs/derivations.md; none may lie above 1."
            .into(),
        command: format!("cargo run -p proofs-check --release -- --budget {budget}"),
    }])
}
