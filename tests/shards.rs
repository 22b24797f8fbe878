//! Sharded sweeps through the binary: `--shard i/n` runs, `results merge`, and `slurm` scripts.
//! The same flow on a real Slurm is `.ci/slurm-test`.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn attnbounds(args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_attnbounds"));
    // A test run inside a Slurm job must not pick up that job's array task.
    for v in attnbounds::results::shard::SLURM_VARS {
        c.env_remove(v);
    }
    c.args(args).output().unwrap()
}

fn ok(out: Output) -> String {
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{s}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The JSON export with provenance and timing removed, sorted by (cell hash, trial).
fn rows_without_provenance(db: &Path) -> Vec<Value> {
    let json = ok(attnbounds(&[
        "results",
        "export",
        "--db",
        arg(db),
        "--format",
        "json",
    ]));
    let mut rows: Vec<Value> = serde_json::from_str(&json).unwrap();
    for r in &mut rows {
        let o = r.as_object_mut().unwrap();
        for k in [
            "shard",
            "host",
            "git_commit",
            "started_at",
            "finished_at",
            "duration_s",
        ] {
            assert!(o.remove(k).is_some(), "{k} missing from the export");
        }
    }
    rows.sort_by_key(|r| {
        (
            r["cell_hash"].as_str().unwrap().to_string(),
            r["trial"].as_u64(),
        )
    });
    rows
}

#[test]
fn three_shards_merged_equal_one_whole_run_and_draw_the_same_figures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let whole = d.join("whole.sqlite");
    let common = [
        "experiment",
        "gap",
        "--preset",
        "smoke",
        "--quiet",
        "--threads",
        "1",
    ];
    let run = |db: &Path, out: &Path, shard: &str| {
        let mut a = common.to_vec();
        a.extend(["--db", arg(db), "--out", arg(out), "--shard", shard]);
        ok(attnbounds(&a))
    };
    run(&whole, &d.join("fig-whole"), "0/1");
    let mut shards = Vec::new();
    for i in 0..3 {
        let db = d.join(format!("shard-{i}.sqlite"));
        let printed = run(&db, &d.join("fig-shard"), &format!("{i}/3"));
        assert!(printed.contains("no figures from shard"), "{printed}");
        shards.push(db);
    }
    assert!(!d.join("fig-shard").join("gap_vs_num_samples.csv").exists());
    let merged = d.join("merged.sqlite");
    let mut a = vec!["results", "merge", arg(&merged)];
    a.extend(shards.iter().map(|p| arg(p)));
    let printed = ok(attnbounds(&a));
    assert!(printed.contains("(8 rows)"), "{printed}");
    let (w, m) = (
        rows_without_provenance(&whole),
        rows_without_provenance(&merged),
    );
    assert_eq!(w.len(), 8);
    assert_eq!(w, m, "merged shards differ from the whole run");
    // The merged store replays into the same figures as the whole run.
    let printed = run(&merged, &d.join("fig-merged"), "0/1");
    assert!(printed.contains("8 already stored, 0 run now"), "{printed}");
    let mut compared = 0;
    for e in std::fs::read_dir(d.join("fig-whole")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "csv") {
            let other = d.join("fig-merged").join(p.file_name().unwrap());
            assert_eq!(
                std::fs::read(&p).unwrap(),
                std::fs::read(other).unwrap(),
                "{p:?}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 3, "only {compared} figure CSVs");
    // The whole run and the merged shards hold the same trials: identical duplicates, accepted
    // (conflicting ones are refused by key: `results::tests`).
    let both = d.join("both.sqlite");
    let printed = ok(attnbounds(&[
        "results",
        "merge",
        arg(&both),
        arg(&merged),
        arg(&whole),
    ]));
    assert!(
        printed.contains("8 rows, 0 added, 8 identical duplicates"),
        "{printed}"
    );
    let e = attnbounds(&[
        "results",
        "merge",
        arg(&d.join("x.sqlite")),
        arg(&d.join("nope")),
    ]);
    assert!(!e.status.success());
    assert!(String::from_utf8_lossy(&e.stderr).contains("invalid input"));
}

#[test]
fn bad_shard_flags_name_the_field() {
    for bad in ["3/3", "x", "1/0"] {
        let out = attnbounds(&["experiment", "gap", "--preset", "smoke", "--shard", bad]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("invalid shard"), "{bad}: {err}");
    }
}

#[test]
fn slurm_writes_the_array_merge_and_submit_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let printed = ok(attnbounds(&[
        "slurm",
        "gap",
        "--preset",
        "smoke",
        "--array",
        "4",
        "--out",
        arg(&out),
    ]));
    assert!(printed.contains("submit with:"), "{printed}");
    for f in ["array.sbatch", "merge.sbatch", "submit.sh"] {
        let t = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(t.starts_with("#!/bin/bash\n"), "{f}");
        // bash -n: the generated shell parses.
        let st = Command::new("bash")
            .arg("-n")
            .arg(out.join(f))
            .status()
            .unwrap();
        assert!(st.success(), "{f} does not parse:\n{t}");
    }
    let array = std::fs::read_to_string(out.join("array.sbatch")).unwrap();
    assert!(array.contains("#SBATCH --array=0-3"), "{array}");
    let bad = attnbounds(&["slurm", "bound-curves", "--array", "2", "--out", arg(&out)]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid experiment"));
}

#[test]
fn critical_search_shards_by_series_and_t_and_merges_into_the_same_figure() {
    // The adaptive experiment: its shards own whole (series, T) searches.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |db: &Path, out: &Path, shard: &str| {
        ok(attnbounds(&[
            "experiment",
            "critical-sample-size",
            "--preset",
            "smoke",
            "--quiet",
            "--threads",
            "2",
            "--db",
            arg(db),
            "--out",
            arg(out),
            "--shard",
            shard,
        ]))
    };
    let mut shards = Vec::new();
    let mut trained = 0;
    for i in 0..2 {
        let db = d.join(format!("shard-{i}.sqlite"));
        let printed = run(&db, &d.join("unused"), &format!("{i}/2"));
        let n: usize = (printed.split(" ran ").nth(1))
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{printed}"));
        trained += n;
        shards.push(db);
    }
    let merged = d.join("merged.sqlite");
    ok(attnbounds(&[
        "results",
        "merge",
        arg(&merged),
        arg(&shards[0]),
        arg(&shards[1]),
    ]));
    run(&merged, &d.join("fig-merged"), "0/1");
    let whole = d.join("whole.sqlite");
    run(&whole, &d.join("fig-whole"), "0/1");
    assert_eq!(
        rows_without_provenance(&merged),
        rows_without_provenance(&whole)
    );
    assert_eq!(
        trained,
        rows_without_provenance(&whole).len(),
        "a trial ran twice or not at all"
    );
    let csv = "critical_sample_size.csv";
    assert_eq!(
        std::fs::read(d.join("fig-merged").join(csv)).unwrap(),
        std::fs::read(d.join("fig-whole").join(csv)).unwrap()
    );
}
