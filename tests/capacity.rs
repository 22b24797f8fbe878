//! End to end: the smoke preset of `attnbounds experiment capacity` into a temporary store and
//! folder.

use attnbounds::Error;
use attnbounds::experiments::{Preset, capacity_sweep as capacity};
use attnbounds::metrics::{AtEps, Metric};
use attnbounds::results::ResultsDb;

#[test]
fn smoke_preset_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = ResultsDb::open(dir.path().join("r.sqlite")).unwrap();
    let out = dir.path().join("fig");
    let entries = capacity::figures(Preset::Smoke, &mut db, &out, true).unwrap();
    assert_eq!(entries.len(), 3);
    for e in &entries {
        for ext in ["svg", "png", "csv", "tex"] {
            assert!(
                out.join(format!("{}.{ext}", e.stem)).exists(),
                "{} {ext}",
                e.stem
            );
        }
    }
    let cells = capacity::cells(Preset::Smoke).unwrap();
    let rows = capacity::rows(Preset::Smoke, &db).unwrap();
    assert_eq!(rows.len(), cells.len(), "one stored trial per cell");
    for r in &rows {
        let lower = r.get(Metric::RademacherLowerMean).unwrap();
        // The lower estimate is at most the trivial bound |f| <= range, and the rigorous bound.
        assert!(lower > 0.0 && lower <= r.get(Metric::HeadRange).unwrap());
        assert!(lower <= r.get(Metric::RademacherBoundExplicit).unwrap());
    }
    // Resuming runs nothing new.
    let again = capacity::run(Preset::Smoke, &mut db, true).unwrap();
    assert_eq!(again.summary.completed, 0);
    assert_eq!(again.summary.already_done, cells.len());

    // A deliberately too-small rigorous bound is reported as a violation naming the configuration.
    let mut bad = rows.clone();
    let half = 0.5 * bad[0].get(Metric::RademacherLowerMean).unwrap();
    Metric::RademacherBoundExplicit.put(&mut bad[0].metrics, half);
    match capacity::check_rows(&bad) {
        Err(Error::Violation { detail, .. }) => assert!(detail.contains("context_len"), "{detail}"),
        other => panic!("expected a violation, got {other:?}"),
    }
    // Same for the packing against the covering bound.
    let mut bad = rows.clone();
    let i = bad.iter().position(|r| r.cell.packing.is_some()).unwrap();
    let keys: Vec<String> = bad[i]
        .metrics
        .keys()
        .filter(|k| k.starts_with(AtEps::CoverExplicitLnEps.prefix()))
        .cloned()
        .collect();
    for k in keys {
        bad[i].metrics.insert(k, -1.0);
    }
    assert!(matches!(
        capacity::check_rows(&bad),
        Err(Error::Violation { .. })
    ));
}
