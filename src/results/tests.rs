use super::*;

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
         duration_s,context_len,train.steps,truth_table,population_error,train_error"
    );
    let expected = format!(
        "\"exp, one\",abc,0,{},ChaCha8Rng,{CRATE_VERSION},{GIT_COMMIT},2000-02-29T00:00:00.000Z,\
         2000-02-29T00:00:01.500Z,1.5,100,5,\"[true,false]\",0.25,0",
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
