//! The README's main job at smoke scale: every stage succeeds, every gallery entry has its four
//! files, the gallery lists them, and a rerun on the same database reproduces the plotted data
//! (finished trials are replayed, not retrained).

use attnbounds::experiments::Preset;
use attnbounds::report::{render_all, write_gallery};
use attnbounds::results::ResultsDb;

#[test]
fn smoke_main_job_writes_every_figure_and_replays_identically() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("figures");
    std::fs::create_dir_all(&out).unwrap();
    let mut db = ResultsDb::open(dir.path().join("db.sqlite")).unwrap();

    let stages = render_all(Preset::Smoke, &mut db, &out, true);
    for (st, err) in &stages {
        assert!(err.is_none(), "stage {} failed: {:?}", st.stage, err);
        assert!(!st.entries.is_empty(), "stage {} wrote no figure", st.stage);
    }
    let reports: Vec<_> = stages.iter().map(|(s, _)| s.clone()).collect();
    write_gallery(&out, Preset::Smoke, &reports).unwrap();
    let gallery = std::fs::read_to_string(out.join("README.md")).unwrap();
    let mut csvs = Vec::new();
    for e in reports.iter().flat_map(|s| &s.entries) {
        for ext in ["svg", "png", "csv", "tex"] {
            let p = out.join(format!("{}.{ext}", e.stem));
            assert!(p.is_file(), "missing {}", p.display());
        }
        assert!(
            gallery.contains(&format!("[{}]", e.stem)),
            "gallery lacks {}",
            e.stem
        );
        csvs.push((
            e.stem.clone(),
            std::fs::read(out.join(format!("{}.csv", e.stem))).unwrap(),
        ));
    }
    let trials = db.count().unwrap();
    assert!(trials > 0);

    let again = render_all(Preset::Smoke, &mut db, &out, true);
    assert!(again.iter().all(|(_, e)| e.is_none()));
    assert_eq!(
        db.count().unwrap(),
        trials,
        "a warm rerun must not train again"
    );
    for (stem, before) in csvs {
        let after = std::fs::read(out.join(format!("{stem}.csv"))).unwrap();
        assert!(before == after, "{stem}.csv changed on a warm rerun");
    }
}
