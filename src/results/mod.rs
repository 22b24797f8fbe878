//! The results store: one SQLite row per finished trial, safe to kill at any moment.
//!
//! Each trial is committed in its own transaction in WAL mode, so a killed process loses at most
//! the trials still running and never leaves a half-written row or a corrupt file.
//! `UNIQUE(cell_hash, trial)` makes a rerun skip what is already stored. Every row records what
//! is needed to reproduce it: the cell config (canonical JSON, see [`crate::config`]) and its
//! hash, the trial's seed and generator, the crate version and the git commit of the build.
//! Every row also keeps its provenance: the shard ([`shard`]) and host that ran it.
//!
//! The file identifies itself: SQLite's `application_id` is [`APPLICATION_ID`] and its
//! `user_version` is [`SCHEMA_VERSION`]. Opening refuses a database that is not a store
//! (another application id, or tables of its own) or has an unknown schema version, saying what
//! it found; an empty or new file is initialised; a store written before the identity existed
//! (application id 0 and exactly the old `trials` table) is upgraded in place.
//! Exports to CSV and JSON live in [`export`], merging shard stores in [`merge`]. This module
//! stores and reads; it never runs trials.

pub mod export;
pub mod merge;
pub mod shard;

pub use shard::Shard;

use crate::error::{Error, Result, check};
use rusqlite::{Connection, params};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Named scalar results of one trial; keys are defined in [`crate::metrics`].
pub use crate::metrics::Metrics;

/// Version of this crate, stored with each trial.
pub const CRATE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// `git rev-parse HEAD` at build time (build.rs), or "unknown" outside a git checkout.
pub const GIT_COMMIT: &str = env!("ATTNBOUNDS_GIT_COMMIT");
/// Default location of the store, relative to the working directory.
pub const DEFAULT_PATH: &str = "results/attnbounds.sqlite";

/// SQLite `application_id` of a results store: "ATNB" in ASCII.
pub const APPLICATION_ID: i32 = 0x4154_4E42;
/// SQLite `user_version` of the current schema: 1 = the `trials` table below.
pub const SCHEMA_VERSION: i32 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS trials (
    id            INTEGER PRIMARY KEY,
    experiment    TEXT NOT NULL,
    cell_hash     TEXT NOT NULL,
    cell_config   TEXT NOT NULL,
    trial         INTEGER NOT NULL,
    seed          TEXT NOT NULL,   -- decimal u64 (SQLite integers are i64)
    rng           TEXT NOT NULL,
    crate_version TEXT NOT NULL,
    git_commit    TEXT NOT NULL,
    started_at    TEXT NOT NULL,   -- ISO 8601, UTC
    finished_at   TEXT NOT NULL,
    duration_s    REAL NOT NULL,
    metrics       TEXT NOT NULL,   -- JSON object of finite numbers
    shard         TEXT NOT NULL DEFAULT '',  -- provenance: i/n of the sweep that ran it
    host          TEXT NOT NULL DEFAULT '',  -- provenance: machine that ran it
    UNIQUE (cell_hash, trial)
);";

/// The columns of a stored trial (all but `id`), in table order; the schema-0 table had the first
/// [`LEGACY_ROW_COLUMNS`] of them (after `id`).
const ROW_COLUMNS: [&str; 14] = [
    "experiment",
    "cell_hash",
    "cell_config",
    "trial",
    "seed",
    "rng",
    "crate_version",
    "git_commit",
    "started_at",
    "finished_at",
    "duration_s",
    "metrics",
    "shard",
    "host",
];
const LEGACY_ROW_COLUMNS: usize = 12;

/// One stored trial.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRecord {
    pub experiment: String,
    pub cell_hash: String,
    /// Canonical JSON of the cell config.
    pub cell_config: String,
    pub trial: usize,
    pub seed: u64,
    /// Name of the seeded generator, e.g. "ChaCha8Rng".
    pub rng: String,
    pub crate_version: String,
    pub git_commit: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_s: f64,
    pub metrics: Metrics,
    /// Provenance: the shard (`i/n`) that ran the trial ("" in stores older than shards).
    pub shard: String,
    /// Provenance: the host that ran the trial ("" in stores older than shards).
    pub host: String,
}

/// The name of this machine (`/proc/sys/kernel/hostname`, else `$HOSTNAME`, else "unknown").
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// A connection to the results store.
pub struct ResultsDb {
    conn: Connection,
    path: String,
    shard: Shard,
}

impl ResultsDb {
    /// Opens (creating the file, its parent folder and the table if needed) in WAL mode.
    pub fn open(path: impl AsRef<Path>) -> Result<ResultsDb> {
        let path = path.as_ref();
        let name = path.display().to_string();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent.display(), e))?;
        }
        let conn = Connection::open(path).map_err(|e| Error::io(&name, e))?;
        ResultsDb::init(conn, name, true)
    }

    /// An in-memory store (tests, dry runs); nothing survives the process.
    pub fn open_in_memory() -> Result<ResultsDb> {
        let conn = Connection::open_in_memory().map_err(|e| Error::io(":memory:", e))?;
        ResultsDb::init(conn, ":memory:".to_string(), false)
    }

    fn init(conn: Connection, path: String, wal: bool) -> Result<ResultsDb> {
        let err = |e: rusqlite::Error| Error::io(&path, e);
        // Another process (a reader, or a run being killed) may hold the lock briefly.
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        // Identity first: never touch (not even switch to WAL) a database that is not ours.
        identify_or_init(&conn, &path)?;
        if wal {
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(err)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::io(
                    &path,
                    format!("journal_mode is {mode}, WAL required"),
                ));
            }
        }
        Ok(ResultsDb {
            conn,
            path,
            shard: Shard::WHOLE,
        })
    }

    /// The shard this store is filled for: sweeps run only the units it owns, and each stored
    /// trial records it ([`Shard::WHOLE`] unless set).
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// Sets the shard (see [`ResultsDb::shard`]).
    pub fn set_shard(&mut self, shard: Shard) {
        self.shard = shard;
    }

    /// The file this store lives in.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        Error::io(&self.path, e)
    }

    /// Stores one trial in its own transaction. Returns false (and changes nothing) when
    /// `(cell_hash, trial)` is already stored. Metrics must be finite.
    pub fn insert(&mut self, record: &TrialRecord) -> Result<bool> {
        for (name, &value) in &record.metrics {
            check::finite(&format!("metrics.{name}"), value)?;
        }
        check::non_negative("duration_s", record.duration_s)?;
        let metrics =
            serde_json::to_string(&record.metrics).map_err(|e| Error::parse("metrics", e))?;
        let trial = i64::try_from(record.trial)
            .map_err(|_| Error::invalid("trial", record.trial, "< 2^63"))?;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| Error::io(&self.path, e))?;
        let inserted = tx
            .execute(
                "INSERT OR IGNORE INTO trials (experiment, cell_hash, cell_config, trial, seed, rng,
                 crate_version, git_commit, started_at, finished_at, duration_s, metrics, shard,
                 host) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    record.experiment,
                    record.cell_hash,
                    record.cell_config,
                    trial,
                    record.seed.to_string(),
                    record.rng,
                    record.crate_version,
                    record.git_commit,
                    record.started_at,
                    record.finished_at,
                    record.duration_s,
                    metrics,
                    record.shard,
                    record.host
                ],
            )
            .map_err(|e| Error::io(&self.path, e))?;
        tx.commit().map_err(|e| Error::io(&self.path, e))?;
        Ok(inserted == 1)
    }

    /// Trial indices already stored for a cell.
    pub fn completed_trials(&self, cell_hash: &str) -> Result<BTreeSet<usize>> {
        let mut stmt = self
            .conn
            .prepare("SELECT trial FROM trials WHERE cell_hash = ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([cell_hash], |r| r.get::<_, i64>(0))
            .map_err(|e| self.err(e))?;
        rows.map(|r| r.map(|t| t as usize).map_err(|e| self.err(e)))
            .collect()
    }

    /// Number of stored trials (all experiments).
    pub fn count(&self) -> Result<usize> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM trials", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(n as usize)
    }

    /// Stored trials, of one experiment or all, ordered by experiment, cell hash and trial
    /// (independent of the order in which they finished).
    pub fn trials(&self, experiment: Option<&str>) -> Result<Vec<TrialRecord>> {
        self.select("WHERE ?1 IS NULL OR experiment = ?1", [experiment])
    }

    /// One stored trial, if present.
    pub fn get(&self, cell_hash: &str, trial: usize) -> Result<Option<TrialRecord>> {
        let filter = "WHERE cell_hash = ?1 AND trial = ?2";
        Ok(self.select(filter, params![cell_hash, trial as i64])?.pop())
    }

    fn select(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<TrialRecord>> {
        let sql = format!(
            "SELECT experiment, cell_hash, cell_config, trial, seed, rng, crate_version,
             git_commit, started_at, finished_at, duration_s, metrics, shard, host FROM trials
             {filter} ORDER BY experiment, cell_hash, trial"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok((
                    TrialRecord {
                        experiment: r.get(0)?,
                        cell_hash: r.get(1)?,
                        cell_config: r.get(2)?,
                        trial: r.get::<_, i64>(3)? as usize,
                        seed: 0,
                        rng: r.get(5)?,
                        crate_version: r.get(6)?,
                        git_commit: r.get(7)?,
                        started_at: r.get(8)?,
                        finished_at: r.get(9)?,
                        duration_s: r.get(10)?,
                        metrics: Metrics::new(),
                        shard: r.get(12)?,
                        host: r.get(13)?,
                    },
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(11)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (mut record, seed, metrics) = row.map_err(|e| self.err(e))?;
            let source = format!(
                "{} trial {} of cell {}",
                self.path, record.trial, record.cell_hash
            );
            record.seed = seed.parse().map_err(|e| Error::parse(&source, e))?;
            record.metrics =
                serde_json::from_str(&metrics).map_err(|e| Error::parse(&source, e))?;
            crate::metrics::upgrade_legacy(&record.experiment, &mut record.metrics);
            out.push(record);
        }
        Ok(out)
    }

    /// SQLite's `PRAGMA integrity_check`: "ok" for a sound file.
    pub fn integrity_check(&self) -> Result<String> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }
}

/// Checks the identity of the database behind `conn` (module doc): initialises a new or empty
/// file, upgrades a store of schema 0, accepts the current schema, refuses anything else.
fn identify_or_init(conn: &Connection, path: &str) -> Result<()> {
    let err = |e: rusqlite::Error| Error::io(path, e);
    let pragma = |name: &str| -> Result<i32> {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .map_err(err)
    };
    // Cheap check without a write lock: the usual case (our store, current schema).
    if pragma("application_id")? == APPLICATION_ID && pragma("user_version")? == SCHEMA_VERSION {
        return Ok(());
    }
    // Initialise or upgrade under a write lock, so two processes opening one new file agree.
    conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
    let result = (|| {
        let (app, version) = (pragma("application_id")?, pragma("user_version")?);
        let found = |tables: &[String]| {
            format!(
                "application_id {app:#x}, user_version {version}, tables [{}]",
                tables.join(", ")
            )
        };
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .map_err(err)?;
        let tables = (stmt.query_map([], |r| r.get::<_, String>(0)).map_err(err)?)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(err)?;
        drop(stmt);
        if app == APPLICATION_ID {
            if version == SCHEMA_VERSION {
                return Ok(());
            }
            let allowed = format!(
                "schema version {SCHEMA_VERSION} (this build); found {}",
                found(&tables)
            );
            return Err(Error::invalid(
                "results store schema version",
                version,
                allowed,
            ));
        }
        let not_ours = || {
            let allowed = format!(
                "an attnbounds results store (application_id {APPLICATION_ID:#x}) or an empty \
                 file; found {}",
                found(&tables)
            );
            Error::invalid("results store", path, allowed)
        };
        if app != 0 || version != 0 {
            return Err(not_ours());
        }
        if tables.is_empty() {
            conn.execute_batch(SCHEMA).map_err(err)?;
        } else if tables == ["trials"]
            && columns(conn, path)? == [&["id"], &ROW_COLUMNS[..LEGACY_ROW_COLUMNS]].concat()
        {
            conn.execute_batch(
                "ALTER TABLE trials ADD COLUMN shard TEXT NOT NULL DEFAULT '';
                 ALTER TABLE trials ADD COLUMN host TEXT NOT NULL DEFAULT '';",
            )
            .map_err(err)?;
        } else {
            return Err(not_ours());
        }
        conn.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
        ))
        .map_err(err)
    })();
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.execute_batch(end).map_err(err)?;
    result
}

/// Column names of the `trials` table, in order.
fn columns(conn: &Connection, path: &str) -> Result<Vec<String>> {
    let err = |e: rusqlite::Error| Error::io(path, e);
    let mut stmt = conn.prepare("PRAGMA table_info(trials)").map_err(err)?;
    let names = stmt.query_map([], |r| r.get::<_, String>(1)).map_err(err)?;
    names
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(err)
}

/// A time as ISO 8601 UTC with milliseconds, e.g. "2025-03-01T12:00:00.000Z".
pub fn iso8601_utc(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-Compatible Low-Level Date
    // Algorithms", civil_from_days).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests;
