//! End-to-end: the smoke preset of the critical-sample-size experiment into a temporary store,
//! then a rerun that must replay every probe from the store without training anything.

use attnbounds::experiments::Preset;
use attnbounds::experiments::critical::{CriticalPlan, run};
use attnbounds::results::ResultsDb;

#[test]
fn smoke_runs_stores_and_resumes_without_training() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.sqlite");
    let plan = CriticalPlan::preset(Preset::Smoke);
    let first = {
        let mut db = ResultsDb::open(&path).unwrap();
        run(&plan, &mut db, true).unwrap()
    };
    let trained: usize = first
        .series
        .iter()
        .flat_map(|s| &s.rows)
        .map(|r| r.search.trained)
        .sum();
    // Every probe trains its series' trials once (the protocol series has its own count).
    let mut expected = 0;
    for (s, plan_s) in first.series.iter().zip(&plan.series) {
        let probing = plan.probing_of(plan_s);
        let ts: Vec<usize> = s.rows.iter().map(|r| r.search.context_len).collect();
        assert_eq!(ts, probing.context_lens, "{}", s.name);
        let probes: usize = s.rows.iter().map(|r| r.search.probes.len()).sum();
        expected += probes * probing.trials;
    }
    assert!(
        plan.series.iter().any(|s| s.probing.is_some()),
        "the smoke preset has a series with its own probing"
    );
    assert_eq!(trained, expected, "every probe trains its trials once");
    // The ablation stores a fixed-budget and a first-fit cell per m, and the first-fit twin's
    // trials carry the fixed cell's seeds (paired comparison).
    let ab = first
        .ablation
        .as_ref()
        .expect("the smoke preset has an ablation");
    let ab_plan = plan.ablation.as_ref().unwrap();
    let mut db = ResultsDb::open(&path).unwrap();
    let mut ablation_new = 0;
    for p in &ab.points {
        assert_ne!(p.fixed.hash, p.first_fit.hash);
        for t in 0..ab_plan.trials {
            let a = db.get(&p.fixed.hash, t).unwrap().unwrap();
            let b = db.get(&p.first_fit.hash, t).unwrap().unwrap();
            assert_eq!(a.seed, b.seed, "m = {} trial {t}", p.num_samples);
        }
        // A fixed cell may coincide with a probe of the main curve (then it is replayed).
        ablation_new += p.first_fit.trained + p.fixed.trained;
    }
    assert_eq!(db.count().unwrap(), trained + ablation_new);
    let second = run(&plan, &mut db, true).unwrap();
    for (a, b) in first.series.iter().zip(&second.series) {
        for (ra, rb) in a.rows.iter().zip(&b.rows) {
            assert_eq!(rb.search.trained, 0, "resume must not train");
            assert_eq!(ra.search.probes, rb.search.probes);
            assert_eq!(ra.search.crossing, rb.search.crossing);
        }
    }
    let ab2 = second.ablation.as_ref().unwrap();
    assert_eq!(ab.fixed, ab2.fixed);
    assert_eq!(ab.first_fit, ab2.first_fit);
    assert!(
        ab2.points
            .iter()
            .all(|p| p.fixed.trained + p.first_fit.trained == 0)
    );
    // The figure writes all four files.
    let out = dir.path().join("fig");
    attnbounds::experiments::critical::write_figure(&second, Preset::Smoke, &out).unwrap();
    assert!(out.join("critical_sample_size.csv").exists());
    // And the table beside it: per-T points, every fit, the summary.
    for f in ["_points.csv", "_fits.csv", "_summary.json"] {
        assert!(out.join(format!("critical_sample_size{f}")).exists(), "{f}");
    }
    attnbounds::experiments::critical::write_ablation_figure(&second, Preset::Smoke, &out)
        .unwrap()
        .unwrap();
    assert!(out.join("critical_stop_ablation.csv").exists());
    let table = second.table();
    assert!(table.contains("critical_m"), "{table}");
    assert!(table.contains("stop-rule ablation"), "{table}");
}
