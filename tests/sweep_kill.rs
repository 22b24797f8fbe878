//! Kill test for the results store: SIGKILL a sweep mid-run, then check the database is sound
//! and that resuming stores every trial exactly once.
//!
//! `harness = false` (see Cargo.toml): this binary is both the test and, when called with
//! `--sweep-child DB`, the child that runs a slow dummy sweep into DB.

use attnbounds::config::{CellConfig, preset};
use attnbounds::experiments::{Cell, SweepOptions, cells_of, run_sweep};
use attnbounds::results::{Metrics, ResultsDb};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRIALS: usize = 60; // x 4 smoke cells = 240 trials of 10 ms on 2 threads: about 1.2 s.

fn setup() -> (Vec<Cell<CellConfig>>, SweepOptions) {
    let config = preset("smoke").expect("smoke preset");
    let mut opts = SweepOptions::from_config(&config);
    opts.trials = TRIALS;
    opts.quiet = true;
    (cells_of(&config).expect("smoke cells"), opts)
}

/// Metrics that are a function of the seed only, so a resumed run can be checked exactly.
fn metrics_of(seed: u64) -> Metrics {
    Metrics::from([("seed_mod_1000".to_string(), (seed % 1000) as f64)])
}

fn slow_trial(_: &Cell<CellConfig>, _: usize, seed: u64) -> attnbounds::Result<Metrics> {
    std::thread::sleep(Duration::from_millis(10));
    Ok(metrics_of(seed))
}

fn child(db_path: &str) {
    let (cells, opts) = setup();
    let mut db = ResultsDb::open(db_path).expect("child opens the store");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    pool.install(|| run_sweep(&mut db, &cells, &opts, slow_trial))
        .expect("child sweep");
}

fn parent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("kill.sqlite");
    let db_arg = db_path.to_str().expect("utf-8 temp path");
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args(["--sweep-child", db_arg])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn child sweep");

    // Wait until some trials are stored, then SIGKILL the child while it is writing.
    let started = Instant::now();
    loop {
        let stored = if db_path.exists() {
            ResultsDb::open(&db_path)
                .and_then(|db| db.count())
                .unwrap_or(0)
        } else {
            0
        };
        if stored >= 20 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "child stored only {stored} trials in 60 s"
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("child exited early with {status}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL child");
    child.wait().expect("reap child");

    let (cells, opts) = setup();
    let total = cells.len() * TRIALS;
    let mut db = ResultsDb::open(&db_path).expect("store opens after a kill");
    assert_eq!(db.integrity_check().expect("integrity_check"), "ok");
    let before = db.count().expect("count");
    assert!(
        (20..total).contains(&before),
        "kill came too late to test anything: {before}/{total} stored"
    );

    let summary =
        run_sweep(&mut db, &cells, &opts, |_, _, seed| Ok(metrics_of(seed))).expect("resume");
    assert_eq!(summary.already_done, before);
    assert_eq!(summary.completed, total - before);
    assert_eq!(db.count().expect("count"), total);
    for cell in &cells {
        let stored: Vec<usize> = db
            .completed_trials(&cell.hash)
            .expect("trials")
            .into_iter()
            .collect();
        assert_eq!(
            stored,
            (0..TRIALS).collect::<Vec<_>>(),
            "cell {}",
            cell.hash
        );
    }
    for record in db.trials(None).expect("records") {
        assert_eq!(
            record.metrics,
            metrics_of(record.seed),
            "trial {}",
            record.trial
        );
    }
    assert_eq!(db.integrity_check().expect("integrity_check"), "ok");
    println!(
        "sweep_kill: killed after {before}/{total} stored trials; resumed the rest; integrity ok"
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--sweep-child") {
        Some(i) => child(
            args.get(i + 1)
                .expect("--sweep-child needs a database path"),
        ),
        None => parent(),
    }
}
