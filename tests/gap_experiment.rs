//! End to end: the gap experiment's smoke preset into a temporary results store, resumed, and
//! rendered; and stored trials independent of the number of threads.

use attnbounds::experiments::{Preset, gap};
use attnbounds::metrics::Metric;
use attnbounds::results::{ResultsDb, TrialRecord};

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

#[test]
fn smoke_preset_runs_every_trial_once_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.sqlite");
    let config = gap::preset_config(Preset::Smoke).unwrap();
    let total = config.context_len.len() * config.num_samples.len() * config.trials;

    let mut db = ResultsDb::open(&path).unwrap();
    let first = gap::run(&config, &mut db, true).unwrap();
    assert!(first.sweep.failed.is_empty(), "{:?}", first.sweep.failed);
    assert_eq!((first.sweep.total, first.sweep.completed), (total, total));
    let stored: Vec<TrialRecord> = db.trials(Some(&config.name)).unwrap();
    assert_eq!(stored.len(), total);
    for r in &stored {
        let m = &r.metrics;
        // Every trial carries the measurements and, for the [CLS] head, the post-hoc bounds.
        for k in [
            Metric::TrainError,
            Metric::PopulationError,
            Metric::Gap,
            Metric::MarginMin,
            Metric::ThetaFro,
            Metric::WVSpectral,
            Metric::WL2,
            Metric::BX,
            Metric::BoundExplicit,
            Metric::BoundPaper,
        ] {
            assert!(k.get(m).is_some(), "missing {k:?} in {m:?}");
        }
        let get = |k: Metric| k.get(m).unwrap();
        let gap = get(Metric::PopulationError) - get(Metric::TrainError);
        assert!((get(Metric::Gap) - gap).abs() < 1e-12);
        assert_eq!(
            get(Metric::PopulationExact),
            1.0,
            "T <= 8 is enumerated exactly"
        );
    }
    drop(db);

    // Reopen and rerun: nothing runs again, the stored rows are untouched (same timestamps).
    let mut db = ResultsDb::open(&path).unwrap();
    let second = gap::run(&config, &mut db, true).unwrap();
    assert_eq!(
        (second.sweep.completed, second.sweep.already_done),
        (0, total)
    );
    assert_eq!(db.trials(Some(&config.name)).unwrap(), stored);
    assert_eq!(first.cells, second.cells);
    assert_eq!(
        first.cells.len(),
        config.context_len.len() * config.num_samples.len()
    );
    assert!(gap::format_table(&second.cells).lines().count() == 1 + second.cells.len());

    // Figures reuse the stored trials (the store does not grow) and write every file.
    let out = dir.path().join("figures");
    std::fs::create_dir_all(&out).unwrap();
    let entries = gap::figures(Preset::Smoke, &mut db, &out, true).unwrap();
    assert_eq!(db.count().unwrap(), total);
    assert!(entries.len() >= 2, "{entries:?}");
    for e in &entries {
        for ext in ["svg", "png", "csv", "tex"] {
            assert!(
                out.join(format!("{}.{ext}", e.stem)).is_file(),
                "{} .{ext}",
                e.stem
            );
        }
    }
    // Trained norms vs T: one trained and one construction series per norm; the construction's
    // ||Theta||_F = sqrt(s) ln((T-s+1)(1-eta0)/(s eta0)) (docs/constructions.md, one-hot) at s = 2,
    // eta0 = 0.05: sqrt(2) ln(3 * 9.5) = 4.7375 at T = 4, sqrt(2) ln(7 * 9.5) = 5.9357 at T = 8.
    assert!(
        entries
            .iter()
            .any(|e| e.stem == "trained_norms_vs_context_len")
    );
    let csv = std::fs::read_to_string(out.join("trained_norms_vs_context_len.csv")).unwrap();
    let rows = |name: &str| -> Vec<(f64, f64)> {
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f[5] == name)
            .map(|f| (f[1].parse().unwrap(), f[2].parse().unwrap()))
            .collect()
    };
    let built = rows("||Theta||_F; explicit construction");
    assert_eq!(built.len(), config.context_len.len(), "{csv}");
    for ((t, y), want) in built.iter().zip([4.7375, 5.9357]) {
        assert!((y - want).abs() < 1e-3, "T = {t}: {y} vs {want}");
    }
    let trained = rows("||Theta||_F; trained (mean over trials)");
    assert_eq!(trained.len(), config.context_len.len(), "{csv}");
    assert!(trained.iter().all(|p| p.1 > 0.0 && p.1.is_finite()));
}

#[test]
fn stored_trials_do_not_depend_on_the_number_of_threads() {
    let config = gap::preset_config(Preset::Smoke).unwrap();
    let run_with = |threads: usize| {
        let mut db = ResultsDb::open_in_memory().unwrap();
        pool(threads)
            .install(|| gap::run(&config, &mut db, true))
            .unwrap();
        let mut rows: Vec<_> = db
            .trials(None)
            .unwrap()
            .into_iter()
            // Wall-clock time is kept out of the metrics, so they compare whole.
            .map(|r| (r.cell_hash, r.trial, r.seed, r.metrics))
            .collect();
        rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        rows
    };
    let one = run_with(1);
    assert_eq!(one.len(), 8);
    assert_eq!(one, run_with(2));
}

#[test]
fn embedding_geometry_streams_large_tables() {
    // One-hot rows tok[b] + pos[t] and [CLS]: pairwise distances are sqrt(2), 2 or sqrt(3), so the
    // exact half diameter is 1 (T = 12, exact route). At T = 1e4 (20 001 rows of width 10 003,
    // n^2 d = 4e12) the route bounds h by the centred radius R_c: valid (>= 1) and <= R_c, in
    // O(n d) work instead of a pairwise scan that would not finish.
    use attnbounds::experiments::gap::embedding_geometry;
    use attnbounds::model::{Embedding, Positional};
    let small =
        embedding_geometry(&Embedding::<f64>::fixed_bits(12, Positional::OneHot).unwrap()).unwrap();
    assert!((small.half_diameter - 1.0).abs() < 1e-8, "{small:?}");
    let big =
        embedding_geometry(&Embedding::<f64>::fixed_bits(10_000, Positional::OneHot).unwrap())
            .unwrap();
    assert_eq!(big.rows, 20_001);
    assert!(
        big.half_diameter >= 1.0 && big.half_diameter <= big.key_radius,
        "{big:?}"
    );
}
