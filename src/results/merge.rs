//! Merging the stores of a sharded sweep into one: what `attnbounds results merge` calls.
//!
//! Rows are keyed by `(cell_hash, trial)`. A key present in several inputs must hold the same
//! trial in each (same experiment, cell config, seed, generator and metrics, compared as the
//! stored text, so bit for bit); such identical duplicates are kept once (the first input's row,
//! with its provenance). Anything else is a conflict: an error naming the key and the inputs.
//! Provenance (shard, host, git commit, timestamps, duration) is copied unchanged. The output is
//! written to a temporary file next to it and renamed into place only when complete, so an
//! interrupted or refused merge never leaves a partial store under the final name. Rows are
//! copied as stored (SQL `INSERT ... SELECT`), never re-serialised.

use super::ResultsDb;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// What one input contributed to a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedInput {
    pub path: String,
    /// Rows in the input.
    pub rows: usize,
    /// Rows added to the output.
    pub added: usize,
    /// Rows identical to one already taken from an earlier input.
    pub duplicates: usize,
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeSummary {
    pub inputs: Vec<MergedInput>,
    /// Rows in the output.
    pub rows: usize,
}

/// Fields that must agree between two rows of one key; the rest is provenance or timing.
const IDENTITY: [&str; 5] = ["experiment", "cell_config", "seed", "rng", "metrics"];

/// Merges the stores `inputs` into a new store at `out` (replacing it atomically if it exists;
/// list it among the inputs to keep its rows).
pub fn merge(out: &Path, inputs: &[PathBuf]) -> Result<MergeSummary> {
    if inputs.is_empty() {
        return Err(Error::invalid(
            "inputs",
            0,
            "at least one results store to merge",
        ));
    }
    for input in inputs {
        if !input.is_file() {
            return Err(Error::invalid(
                "input",
                input.display(),
                "an existing results store",
            ));
        }
        // Identity check (and upgrade of an old store) before anything is read from it.
        drop(ResultsDb::open(input)?);
    }
    let name = out
        .file_name()
        .ok_or_else(|| Error::invalid("out", out.display(), "a file path"))?;
    let tmp = out.with_file_name(format!(
        ".{}.merge-{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    remove_store_files(&tmp)?;
    let result = merge_into(&tmp, inputs).and_then(|summary| {
        if out.exists() {
            // A clean close checkpoints and deletes its WAL; one left behind means a writer.
            drop(ResultsDb::open(out)?);
            let wal = sidecar(out, "-wal");
            if wal.exists() {
                let allowed = "a store no process has open (its -wal file is still present)";
                return Err(Error::invalid("out", out.display(), allowed));
            }
        }
        std::fs::rename(&tmp, out).map_err(|e| Error::io(out.display(), e))?;
        Ok(summary)
    });
    if result.is_err() {
        let _ = remove_store_files(&tmp);
    }
    result
}

fn merge_into(tmp: &Path, inputs: &[PathBuf]) -> Result<MergeSummary> {
    let db = ResultsDb::open(tmp)?;
    let conn = &db.conn;
    let err = |e: rusqlite::Error| Error::io(tmp.display(), e);
    let columns = super::ROW_COLUMNS.join(", ");
    let mut summary = MergeSummary {
        inputs: Vec::new(),
        rows: 0,
    };
    for input in inputs {
        let path = input.display().to_string();
        conn.execute("ATTACH DATABASE ?1 AS src", [&path])
            .map_err(|e| Error::io(&path, e))?;
        let merged = (|| {
            let differs = IDENTITY.map(|c| format!("s.{c} IS NOT m.{c}")).join(" OR ");
            let which = IDENTITY
                .map(|c| format!("CASE WHEN s.{c} IS NOT m.{c} THEN '{c} ' ELSE '' END"))
                .join(" || ");
            let conflict = conn.query_row(
                &format!(
                    "SELECT m.cell_hash, m.trial, m.shard, m.host, {which} FROM src.trials s
                     JOIN main.trials m ON s.cell_hash = m.cell_hash AND s.trial = m.trial
                     WHERE {differs} ORDER BY m.cell_hash, m.trial LIMIT 1"
                ),
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            );
            match conflict {
                Ok((hash, trial, shard, host, fields)) => {
                    let allowed = format!(
                        "identical duplicates only: {path} and an earlier input (shard {shard:?}, \
                         host {host:?}) store different {}for this key",
                        fields
                    );
                    return Err(Error::invalid(
                        "merge key (cell_hash, trial)",
                        format!("({hash}, {trial})"),
                        allowed,
                    ));
                }
                Err(rusqlite::Error::QueryReturnedNoRows) => {}
                Err(e) => return Err(err(e)),
            }
            let rows: i64 = conn
                .query_row("SELECT COUNT(*) FROM src.trials", [], |r| r.get(0))
                .map_err(err)?;
            let added = conn
                .execute(
                    &format!(
                        "INSERT OR IGNORE INTO main.trials ({columns}) SELECT {columns}
                         FROM src.trials ORDER BY cell_hash, trial"
                    ),
                    [],
                )
                .map_err(err)?;
            let rows = rows as usize;
            Ok(MergedInput {
                path: path.clone(),
                rows,
                added,
                duplicates: rows - added,
            })
        })();
        conn.execute("DETACH DATABASE src", []).map_err(err)?;
        summary.inputs.push(merged?);
    }
    summary.rows = db.count()?;
    // Fold the WAL into the file so the renamed file is the whole store.
    let _: String = conn
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .map_err(err)?;
    Ok(summary)
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn remove_store_files(path: &Path) -> Result<()> {
    for p in [
        path.to_path_buf(),
        sidecar(path, "-wal"),
        sidecar(path, "-shm"),
    ] {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(p.display(), e)),
        }
    }
    Ok(())
}
