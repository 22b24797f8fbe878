//! End to end through the binary: the uniform `experiment` verb and its flags, the removed old
//! spellings, and `results export` of a store written by the library.

use attnbounds::results::{CRATE_VERSION, GIT_COMMIT, Metrics, ResultsDb, TrialRecord};
use std::path::Path;
use std::process::{Command, Output};

fn attnbounds(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_attnbounds"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn every_experiment_takes_the_same_flags() {
    let help = text(&attnbounds(&["experiment", "--help"]).stdout);
    for name in [
        "gap",
        "capacity",
        "critical-sample-size",
        "sparse-parity",
        "attention-map",
        "constructions",
        "bound-curves",
    ] {
        let h = text(&attnbounds(&["experiment", name, "--help"]).stdout);
        assert!(help.contains(name), "experiment --help lacks {name}");
        for flag in ["--preset", "--db", "--out", "--threads", "--quiet"] {
            assert!(h.contains(flag), "experiment {name} lacks {flag}:\n{h}");
        }
        assert!(h.contains("smoke") && h.contains("paper"), "{h}");
    }
    assert!(text(&attnbounds(&["experiment", "gap", "--help"]).stdout).contains("--config"));
}

#[test]
fn bad_flags_are_refused_with_the_allowed_values() {
    let out = attnbounds(&["experiment", "capacity", "--preset", "huge"]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("huge") && err.contains("smoke") && err.contains("default"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let out = attnbounds(&[
        "experiment",
        "constructions",
        "--threads",
        "0",
        "--db",
        arg(&db),
        "--out",
        arg(dir.path()),
    ]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("threads") && err.contains(">= 1"), "{err}");

    let out = attnbounds(&["construct", "--task", "xor"]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("xor") && err.contains("truth-table"), "{err}");

    // --config replaces the preset: giving both is an error, not a silent choice.
    let out = attnbounds(&[
        "experiment",
        "gap",
        "--preset",
        "smoke",
        "--config",
        "x.toml",
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--config"));

    // The old spellings are gone (one spelling per command).
    for old in [
        &["gap"][..],
        &["capacity"],
        &["construct", "--figures", "x"],
    ] {
        assert!(!attnbounds(old).status.success(), "{old:?} still accepted");
    }
}

#[test]
fn constructions_write_their_figures_without_opening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (db, out) = (dir.path().join("db.sqlite"), dir.path().join("fig"));
    let run = attnbounds(&[
        "experiment",
        "constructions",
        "--preset",
        "smoke",
        "--db",
        arg(&db),
        "--out",
        arg(&out),
        "--quiet",
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    // The three figures of experiments::construct_figures, each with its four files.
    let stems = [
        "construction_norms_vs_context_len",
        "bounds_at_construction_norms_vs_context_len",
        "predicted_samples_vs_sparsity",
    ];
    for stem in stems {
        assert!(stdout.contains(stem), "{stdout}");
        for ext in ["svg", "png", "csv", "tex"] {
            assert!(out.join(format!("{stem}.{ext}")).is_file(), "{stem}.{ext}");
        }
    }
    assert!(!db.exists(), "a deterministic experiment created the store");
}

fn record(experiment: &str, cell: &str, trial: usize, value: f64) -> TrialRecord {
    TrialRecord {
        experiment: experiment.to_string(),
        cell_hash: cell.to_string(),
        cell_config: r#"{"context_len":100,"train":{"steps":5}}"#.to_string(),
        trial,
        seed: 7 + trial as u64,
        rng: "ChaCha8Rng".to_string(),
        crate_version: CRATE_VERSION.to_string(),
        git_commit: GIT_COMMIT.to_string(),
        started_at: "2000-02-29T00:00:00.000Z".to_string(),
        finished_at: "2000-02-29T00:00:01.500Z".to_string(),
        duration_s: 1.5,
        metrics: Metrics::from([("population_error".to_string(), value)]),
        shard: "0/1".to_string(),
        host: "here".to_string(),
    }
}

#[test]
fn results_export_writes_csv_and_json_and_names_what_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.sqlite");
    let mut db = ResultsDb::open(&path).unwrap();
    db.insert(&record("gap_smoke", "aaa", 0, 0.25)).unwrap();
    db.insert(&record("gap_smoke", "aaa", 1, 0.5)).unwrap();
    db.insert(&record("capacity", "bbb", 0, 0.125)).unwrap();
    drop(db);
    let db = arg(&path);

    // CSV of one experiment to stdout: the header, then its two trials in (cell, trial) order.
    let out = attnbounds(&[
        "results",
        "export",
        "--db",
        db,
        "--format",
        "csv",
        "--experiment",
        "gap_smoke",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "experiment,cell_hash,trial,seed,rng,crate_version,git_commit,started_at,finished_at,\
         duration_s,shard,host,context_len,train.steps,population_error"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].starts_with("gap_smoke,aaa,0,7,ChaCha8Rng,") && lines[1].ends_with(",0.25"));
    assert!(lines[2].starts_with("gap_smoke,aaa,1,8,") && lines[2].ends_with(",0.5"));

    // JSON of everything into a file: the three records, parsed back.
    let file = dir.path().join("all.json");
    let out = attnbounds(&[
        "results",
        "export",
        "--db",
        db,
        "--format",
        "json",
        "--out",
        arg(&file),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let got: Vec<(String, f64)> = rows
        .iter()
        .map(|r| {
            let e = r["experiment"].as_str().unwrap().to_string();
            (e, r["metrics"]["population_error"].as_f64().unwrap())
        })
        .collect();
    let want = [("capacity", 0.125), ("gap_smoke", 0.25), ("gap_smoke", 0.5)];
    let want: Vec<(String, f64)> = want.iter().map(|(e, v)| (e.to_string(), *v)).collect();
    assert_eq!(got, want);
    assert_eq!(rows[0]["cell_config"]["train"]["steps"], 5);

    // An experiment the store lacks is an error naming the stored ones, and writes no file.
    let missing = dir.path().join("none.csv");
    let out = attnbounds(&[
        "results",
        "export",
        "--db",
        db,
        "--experiment",
        "gap",
        "--out",
        arg(&missing),
    ]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("gap") && err.contains("capacity, gap_smoke"),
        "{err}"
    );
    assert!(!missing.exists());

    // A store that does not exist is refused, not created empty.
    let nowhere = dir.path().join("typo.sqlite");
    let out = attnbounds(&["results", "export", "--db", arg(&nowhere)]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("typo.sqlite"));
    assert!(!nowhere.exists());
}

#[test]
fn construct_verify_is_exhaustive_up_to_the_threshold_and_random_beyond() {
    let verify = |t: &str| {
        let out = attnbounds(&[
            "construct",
            "--sparsity",
            "2",
            "--context-len",
            t,
            "--verify",
            "--inputs",
            "1000",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let at = attnbounds::construct::EXHAUSTIVE_MAX_CONTEXT_LEN;
    // 2^8 = 256 inputs at T = 8; --inputs random ones just above the threshold.
    assert!(verify("8").contains("verify: 256 inputs (all 2^T)"));
    let above = verify(&(at + 1).to_string());
    assert!(above.contains("verify: 1000 inputs (random)"), "{above}");
}
