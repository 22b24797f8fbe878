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
    let probes: usize = first
        .series
        .iter()
        .flat_map(|s| &s.rows)
        .map(|r| r.search.probes.len())
        .sum();
    assert_eq!(
        trained,
        probes * plan.trials,
        "every probe trains its trials once"
    );
    let mut db = ResultsDb::open(&path).unwrap();
    assert_eq!(db.count().unwrap(), trained);
    let second = run(&plan, &mut db, true).unwrap();
    for (a, b) in first.series.iter().zip(&second.series) {
        for (ra, rb) in a.rows.iter().zip(&b.rows) {
            assert_eq!(rb.search.trained, 0, "resume must not train");
            assert_eq!(ra.search.probes, rb.search.probes);
            assert_eq!(ra.search.critical, rb.search.critical);
            assert_eq!(ra.interval, rb.interval);
        }
    }
    // The figure writes all four files.
    let out = dir.path().join("fig");
    attnbounds::experiments::critical::write_figure(&second, Preset::Smoke, &out).unwrap();
    assert!(out.join("critical_sample_size.csv").exists());
    let table = second.table();
    assert!(table.contains("critical_m"), "{table}");
}
