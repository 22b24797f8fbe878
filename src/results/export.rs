//! CSV and JSON exports of stored trials, for figures and for readers without SQLite.
//!
//! CSV: one row per trial; the bookkeeping columns, then one column per cell-config field
//! (nested fields flattened as `train.steps`, lists as JSON text), then one column per metric
//! (the union over the exported trials, sorted; empty where a trial lacks it; `metrics.<name>`
//! where a config field has the same name). Column names are the config's field names, so
//! `context_len` and `num_samples` read the same everywhere.
//! JSON: an array of objects with `cell_config` and `metrics` as nested objects.
//! [`ResultsDb::export`] is what `attnbounds results export` calls: it refuses an experiment
//! name the store does not hold, naming the ones it does.

use super::{ResultsDb, TrialRecord};
use crate::error::{Error, Result};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

/// The bookkeeping columns of the CSV: every stored column but the config and the metrics
/// (which get one column per field).
fn fixed<'a>() -> impl Iterator<Item = &'a str> + Clone {
    (super::ROW_COLUMNS.into_iter())
        .filter(|c| !["cell_config", "metrics"].contains(c))
        .map(|c: &'static str| -> &'a str { c })
}

/// Output format of [`ResultsDb::export`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

impl ResultsDb {
    /// The distinct experiment names in the store, sorted.
    pub fn experiments(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT experiment FROM trials ORDER BY experiment")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Writes the trials of `experiment` (all when `None`) in `format`. An experiment the store
    /// does not hold is an error naming the stored ones (not an empty export).
    pub fn export(
        &self,
        experiment: Option<&str>,
        format: ExportFormat,
        out: &mut impl Write,
    ) -> Result<()> {
        if let Some(name) = experiment {
            let stored = self.experiments()?;
            if !stored.iter().any(|s| s == name) {
                let allowed = if stored.is_empty() {
                    format!("an experiment stored in {} (it holds none)", self.path())
                } else {
                    format!("one of the experiments stored: {}", stored.join(", "))
                };
                return Err(Error::invalid("experiment", name, allowed));
            }
        }
        match format {
            ExportFormat::Csv => self.export_csv(experiment, out),
            ExportFormat::Json => self.export_json(experiment, out),
        }
    }

    /// Writes the trials of `experiment` (all when `None`) as CSV.
    pub fn export_csv(&self, experiment: Option<&str>, out: &mut impl Write) -> Result<()> {
        write_csv(&self.trials(experiment)?, out)
    }

    /// Writes the trials of `experiment` (all when `None`) as a pretty JSON array.
    pub fn export_json(&self, experiment: Option<&str>, out: &mut impl Write) -> Result<()> {
        let records = self.trials(experiment)?;
        let rows = records
            .iter()
            .map(record_json)
            .collect::<Result<Vec<_>>>()?;
        serde_json::to_writer_pretty(&mut *out, &rows).map_err(|e| Error::io("json output", e))?;
        writeln!(out).map_err(|e| Error::io("json output", e))
    }

    /// Writes CSV (`.csv`) or JSON (any other extension) to a file.
    pub fn export_file(&self, experiment: Option<&str>, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        // Into memory first, then one atomic write: a refused export or a full disk leaves no
        // partial file under `path`.
        let mut buf = Vec::new();
        if path.extension().is_some_and(|e| e == "csv") {
            self.export_csv(experiment, &mut buf)?;
        } else {
            self.export_json(experiment, &mut buf)?;
        }
        crate::fsio::write_atomic(path, &buf)
    }
}

fn parse_config(record: &TrialRecord) -> Result<Value> {
    let source = format!("cell_config of cell {}", record.cell_hash);
    serde_json::from_str(&record.cell_config).map_err(|e| Error::parse(source, e))
}

fn record_json(r: &TrialRecord) -> Result<Value> {
    Ok(json!({
        "experiment": r.experiment,
        "cell_hash": r.cell_hash,
        "cell_config": parse_config(r)?,
        "trial": r.trial,
        "seed": r.seed,
        "rng": r.rng,
        "crate_version": r.crate_version,
        "git_commit": r.git_commit,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "duration_s": r.duration_s,
        "shard": r.shard,
        "host": r.host,
        "metrics": r.metrics,
    }))
}

/// Flattens a JSON object into `prefix.key` -> text cells.
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| flatten(&key(k), v, out)),
        Value::Null => {
            out.insert(prefix.to_string(), String::new());
        }
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn write_csv(records: &[TrialRecord], out: &mut impl Write) -> Result<()> {
    let mut configs = Vec::with_capacity(records.len());
    let (mut config_cols, mut metric_cols) = (BTreeSet::new(), BTreeSet::new());
    for r in records {
        let mut flat = BTreeMap::new();
        match parse_config(r)? {
            Value::Object(map) => flatten("", &Value::Object(map), &mut flat),
            other => flatten("cell_config", &other, &mut flat),
        }
        config_cols.extend(flat.keys().cloned());
        metric_cols.extend(r.metrics.keys().cloned());
        configs.push(flat);
    }
    let taken: BTreeSet<&str> = fixed()
        .chain(config_cols.iter().map(String::as_str))
        .collect();
    // A metric named like a config field (capacity stores `b_x` in both) is written as
    // `metrics.<name>`, its path in the JSON export; a clash even then (with a column or
    // another metric) is refused.
    let mut metric_names = Vec::with_capacity(metric_cols.len());
    for m in &metric_cols {
        let name = if taken.contains(m.as_str()) {
            format!("metrics.{m}")
        } else {
            m.clone()
        };
        if taken.contains(name.as_str()) || (name != *m && metric_cols.contains(&name)) {
            let allowed = "a metric name different from every bookkeeping and config column";
            return Err(Error::invalid("metrics", m, allowed));
        }
        metric_names.push(name);
    }
    let header: Vec<&str> = fixed()
        .chain(config_cols.iter().map(String::as_str))
        .chain(metric_names.iter().map(String::as_str))
        .collect();
    let io = |e: std::io::Error| Error::io("csv output", e);
    write_row(out, header.iter().map(|s| s.to_string())).map_err(io)?;
    for (r, flat) in records.iter().zip(&configs) {
        let fixed = [
            r.experiment.clone(),
            r.cell_hash.clone(),
            r.trial.to_string(),
            r.seed.to_string(),
            r.rng.clone(),
            r.crate_version.clone(),
            r.git_commit.clone(),
            r.started_at.clone(),
            r.finished_at.clone(),
            r.duration_s.to_string(),
            r.shard.clone(),
            r.host.clone(),
        ];
        let config = config_cols
            .iter()
            .map(|c| flat.get(c).cloned().unwrap_or_default());
        let metrics = metric_cols
            .iter()
            .map(|m| r.metrics.get(m).map(f64::to_string).unwrap_or_default());
        write_row(out, fixed.into_iter().chain(config).chain(metrics)).map_err(io)?;
    }
    Ok(())
}

/// RFC 4180: quote a field holding a comma, a quote or a line break; double inner quotes.
fn write_row(out: &mut impl Write, fields: impl Iterator<Item = String>) -> std::io::Result<()> {
    let quoted: Vec<String> = fields
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f
            }
        })
        .collect();
    writeln!(out, "{}", quoted.join(","))
}
