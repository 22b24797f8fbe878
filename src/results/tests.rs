use super::*;
use std::path::Path;

fn record(cell: &str, trial: usize, value: f64) -> TrialRecord {
    TrialRecord {
        experiment: "exp, one".to_string(),
        cell_hash: cell.to_string(),
        cell_config: r#"{"context_len":100,"train":{"steps":5},"truth_table":[true,false]}"#
            .to_string(),
        trial,
        seed: u64::MAX - trial as u64,
        rng: "ChaCha8Rng".to_string(),
        crate_version: CRATE_VERSION.to_string(),
        git_commit: GIT_COMMIT.to_string(),
        started_at: "2000-02-29T00:00:00.000Z".to_string(),
        finished_at: "2000-02-29T00:00:01.500Z".to_string(),
        duration_s: 1.5,
        metrics: Metrics::from([
            ("population_error".to_string(), value),
            ("train_error".to_string(), 0.0),
        ]),
        shard: "0/1".to_string(),
        host: "here".to_string(),
    }
}

#[test]
fn insert_roundtrips_and_duplicates_are_skipped() {
    let mut db = ResultsDb::open_in_memory().unwrap();
    let a = record("abc", 0, 0.25);
    assert!(db.insert(&a).unwrap());
    assert!(db.insert(&record("abc", 1, 0.5)).unwrap());
    // Same (cell_hash, trial) with other metrics: ignored, the first row stays.
    assert!(!db.insert(&record("abc", 0, 0.75)).unwrap());
    assert_eq!(db.count().unwrap(), 2);
    assert_eq!(db.get("abc", 0).unwrap(), Some(a.clone()));
    assert_eq!(db.get("abc", 2).unwrap(), None);
    assert_eq!(db.completed_trials("abc").unwrap(), BTreeSet::from([0, 1]));
    assert!(db.completed_trials("other").unwrap().is_empty());
    assert_eq!(db.trials(Some("exp, one")).unwrap().len(), 2);
    assert!(db.trials(Some("nope")).unwrap().is_empty());
}

#[test]
fn non_finite_metrics_are_refused_by_name() {
    let mut db = ResultsDb::open_in_memory().unwrap();
    let e = db.insert(&record("abc", 0, f64::NAN)).unwrap_err();
    assert!(
        matches!(e, Error::InvalidValue { ref field, .. } if field == "metrics.population_error"),
        "{e}"
    );
    assert_eq!(db.count().unwrap(), 0);
}

#[test]
fn file_store_uses_wal_persists_and_passes_integrity_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/results.sqlite");
    {
        let mut db = ResultsDb::open(&path).unwrap();
        db.insert(&record("abc", 3, 0.125)).unwrap();
        let mode: String = db
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
    let db = ResultsDb::open(&path).unwrap();
    assert_eq!(db.integrity_check().unwrap(), "ok");
    assert_eq!(db.get("abc", 3).unwrap(), Some(record("abc", 3, 0.125)));
}

#[test]
fn csv_export_flattens_config_and_quotes_fields() {
    let mut db = ResultsDb::open_in_memory().unwrap();
    db.insert(&record("abc", 0, 0.25)).unwrap();
    let mut out = Vec::new();
    db.export_csv(None, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "experiment,cell_hash,trial,seed,rng,crate_version,git_commit,started_at,finished_at,\
         duration_s,shard,host,context_len,train.steps,truth_table,population_error,train_error"
    );
    let expected = format!(
        "\"exp, one\",abc,0,{},ChaCha8Rng,{CRATE_VERSION},{GIT_COMMIT},2000-02-29T00:00:00.000Z,\
         2000-02-29T00:00:01.500Z,1.5,0/1,here,100,5,\"[true,false]\",0.25,0",
        u64::MAX
    );
    assert_eq!(lines[1], expected);
    assert_eq!(lines.len(), 2);
}

#[test]
fn json_export_parses_back() {
    let mut db = ResultsDb::open_in_memory().unwrap();
    db.insert(&record("abc", 0, 0.25)).unwrap();
    db.insert(&record("def", 1, 0.5)).unwrap();
    let mut out = Vec::new();
    db.export_json(None, &mut out).unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["cell_config"]["context_len"], 100);
    assert_eq!(rows[1]["metrics"]["population_error"], 0.5);
    assert_eq!(rows[1]["seed"].as_u64(), Some(u64::MAX - 1));
}

#[test]
fn metric_named_like_a_config_field_is_exported_under_its_json_path() {
    let mut db = ResultsDb::open_in_memory().unwrap();
    let mut r = record("abc", 0, 0.25);
    r.metrics.insert("context_len".to_string(), 1.0);
    db.insert(&r).unwrap();
    let mut out = Vec::new();
    db.export_csv(None, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Config column `context_len` = 100, metric column `metrics.context_len` = 1 (sorted first).
    assert!(
        lines[0].ends_with(
            ",context_len,train.steps,truth_table,metrics.context_len,population_error,train_error"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with(",100,5,\"[true,false]\",1,0.25,0"),
        "{}",
        lines[1]
    );
    // Only a clash that survives the prefix is refused: with a config column, or another metric.
    for (config, other) in [
        (r#"{"x":1,"metrics":{"x":1}}"#, None),
        ("{}", Some("metrics.x")),
    ] {
        let mut r = record("def", 0, 0.5);
        r.cell_config = config.to_string();
        r.metrics = Metrics::from([("x".to_string(), 2.0)]);
        if let Some(o) = other {
            r.cell_config = r#"{"x":1}"#.to_string();
            r.metrics.insert(o.to_string(), 3.0);
        }
        let mut db = ResultsDb::open_in_memory().unwrap();
        db.insert(&r).unwrap();
        let e = db.export_csv(None, &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("invalid metrics = x"), "{e}");
    }
}

#[test]
fn iso8601_matches_known_dates() {
    // References: Python datetime.fromtimestamp(t, timezone.utc).
    let at = |s: u64, ms: u64| UNIX_EPOCH + Duration::from_millis(s * 1000 + ms);
    assert_eq!(iso8601_utc(at(0, 0)), "1970-01-01T00:00:00.000Z");
    assert_eq!(iso8601_utc(at(951_782_400, 7)), "2000-02-29T00:00:00.007Z");
    assert_eq!(
        iso8601_utc(at(4_107_542_399, 999)),
        "2100-02-28T23:59:59.999Z"
    );
}

#[test]
fn build_metadata_is_a_commit_or_unknown() {
    let hex = GIT_COMMIT.len() == 40 && GIT_COMMIT.chars().all(|c| c.is_ascii_hexdigit());
    assert!(hex || GIT_COMMIT == "unknown", "{GIT_COMMIT}");
    assert_eq!(CRATE_VERSION, env!("CARGO_PKG_VERSION"));
}

fn store_with(dir: &Path, name: &str, records: &[TrialRecord]) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut db = ResultsDb::open(&path).unwrap();
    for r in records {
        assert!(db.insert(r).unwrap());
    }
    path
}

#[test]
fn store_identity_is_set_checked_and_foreign_databases_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ours = store_with(dir.path(), "ours.sqlite", &[record("abc", 0, 0.25)]);
    let conn = Connection::open(&ours).unwrap();
    let (app, version): (i32, i32) = (
        conn.query_row("PRAGMA application_id", [], |r| r.get(0))
            .unwrap(),
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap(),
    );
    assert_eq!((app, version), (APPLICATION_ID, SCHEMA_VERSION));
    // An unknown schema version is refused with what was found.
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let e = ResultsDb::open(&ours).err().unwrap().to_string();
    assert!(
        e.contains("schema version = 99") && e.contains("tables [trials]"),
        "{e}"
    );
    // Another application's database: refused, and left untouched (no table added).
    let foreign = dir.path().join("foreign.sqlite");
    let conn = Connection::open(&foreign).unwrap();
    conn.execute_batch("CREATE TABLE people (name TEXT)")
        .unwrap();
    drop(conn);
    let e = ResultsDb::open(&foreign).err().unwrap().to_string();
    assert!(
        e.contains("application_id 0x0") && e.contains("tables [people]"),
        "{e}"
    );
    let conn = Connection::open(&foreign).unwrap();
    let tables: i64 = conn
        .query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1);
    conn.execute_batch("PRAGMA application_id = 7").unwrap();
    drop(conn);
    let e = ResultsDb::open(&foreign).err().unwrap().to_string();
    assert!(e.contains("application_id 0x7"), "{e}");
    // Not SQLite at all.
    let text = dir.path().join("notes.sqlite");
    std::fs::write(
        &text,
        "not a database, but long enough to have a header ".repeat(20),
    )
    .unwrap();
    assert!(ResultsDb::open(&text).is_err());
    // An empty file is initialised.
    let empty = dir.path().join("empty.sqlite");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(ResultsDb::open(&empty).unwrap().count().unwrap(), 0);
}

#[test]
fn a_store_from_before_the_identity_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    let conn = Connection::open(&path).unwrap();
    // The schema of the previous release, without provenance columns or identity.
    let old = SCHEMA
        .replace("    shard         TEXT NOT NULL DEFAULT '',  -- provenance: i/n of the sweep that ran it\n", "")
        .replace("    host          TEXT NOT NULL DEFAULT '',  -- provenance: machine that ran it\n", "");
    assert!(!old.contains("shard") && !old.contains("host"), "{old}");
    conn.execute_batch(&old).unwrap();
    conn.execute(
        "INSERT INTO trials (experiment, cell_hash, cell_config, trial, seed, rng, crate_version,
         git_commit, started_at, finished_at, duration_s, metrics)
         VALUES ('gap', 'abc', '{}', 0, '5', 'ChaCha8Rng', '0', 'x', 't0', 't1', 2.0,
         '{\"gap\":0.5,\"train_time_s\":1.25}')",
        [],
    )
    .unwrap();
    drop(conn);
    let db = ResultsDb::open(&path).unwrap();
    let r = db.get("abc", 0).unwrap().unwrap();
    assert_eq!((r.shard.as_str(), r.host.as_str()), ("", ""));
    // The timing key is dropped on read: identical runs compare equal on metrics.
    assert_eq!(r.metrics, Metrics::from([("gap".to_string(), 0.5)]));
}

#[test]
fn merge_keeps_identical_duplicates_once_with_provenance_and_refuses_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let mut a0 = record("abc", 0, 0.25);
    a0.shard = "0/2".into();
    let mut b1 = record("def", 1, 0.5);
    b1.shard = "1/2".into();
    b1.host = "node7".into();
    // The same trial again in the second store, run elsewhere at another time: identical.
    let mut a0_again = a0.clone();
    a0_again.host = "node9".into();
    a0_again.duration_s = 9.0;
    let s0 = store_with(dir.path(), "s0.sqlite", std::slice::from_ref(&a0));
    let s1 = store_with(dir.path(), "s1.sqlite", &[b1.clone(), a0_again]);
    let out = dir.path().join("merged.sqlite");
    let summary = merge::merge(&out, &[s0.clone(), s1.clone()]).unwrap();
    assert_eq!(summary.rows, 2);
    assert_eq!(
        (summary.inputs[1].added, summary.inputs[1].duplicates),
        (1, 1)
    );
    let db = ResultsDb::open(&out).unwrap();
    assert_eq!(
        db.get("abc", 0).unwrap(),
        Some(a0.clone()),
        "first input's row kept"
    );
    assert_eq!(db.get("def", 1).unwrap(), Some(b1), "provenance kept");
    assert_eq!(db.integrity_check().unwrap(), "ok");
    drop(db);
    // A conflicting duplicate: an error naming the key and the differing field; the existing
    // output is untouched and no temporary file is left behind.
    let mut clash = a0.clone();
    clash.metrics.insert("population_error".into(), 0.3);
    let s2 = store_with(dir.path(), "s2.sqlite", &[clash]);
    let e = merge::merge(&out, &[s0, s1, s2]).unwrap_err().to_string();
    assert!(e.contains("(abc, 0)") && e.contains("metrics"), "{e}");
    assert_eq!(ResultsDb::open(&out).unwrap().count().unwrap(), 2);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
    let missing = dir.path().join("nope.sqlite");
    let e = merge::merge(&out, &[missing]).unwrap_err().to_string();
    assert!(
        e.contains("invalid input") && e.contains("nope.sqlite"),
        "{e}"
    );
}
