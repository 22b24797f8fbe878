//! The figure, table and exports on synthetic reports (no training): what is drawn, in which
//! colour, and that the table and the exports say the same.

use super::*;
use crate::experiments::critical::{
    Ablation, AblationPoint, CellOutcome, CriticalPlan, Probe, SearchResult, paper_protocol,
    theory_head, transformer,
};
use crate::figure::{Figure, Series};
use crate::stats::growth::{Decision, GrowthModel};

const M_MAX: usize = 4096;

fn fitted(t: usize, m: f64) -> TRow {
    let probes = [m / 2.0, m, 2.0 * m]
        .iter()
        .enumerate()
        .map(|(i, &v)| Probe {
            num_samples: v.round() as usize,
            successes: (0..4).map(|j| j < 2 * i).collect(),
        })
        .collect();
    row(
        t,
        probes,
        Crossing {
            status: CrossingStatus::Fitted,
            estimate: Some(m.ln()),
            slope: Some(4.0),
            interval: ((0.8 * m).ln(), (1.25 * m).ln()),
        },
    )
}

fn censored(t: usize) -> TRow {
    let probes = [1024, 2048, 4096]
        .iter()
        .map(|&m| Probe {
            num_samples: m,
            successes: vec![false; 4],
        })
        .collect();
    row(
        t,
        probes,
        Crossing {
            status: CrossingStatus::NoSuccess,
            estimate: None,
            slope: None,
            interval: ((M_MAX as f64).ln(), f64::INFINITY),
        },
    )
}

fn row(t: usize, probes: Vec<Probe>, crossing: Crossing) -> TRow {
    let n = crossing_hashes(&probes);
    TRow {
        search: SearchResult {
            context_len: t,
            probes,
            cell_hashes: n,
            crossing,
            first_probed: None,
            wall_s: 0.0,
            train_s: 0.0,
            trained: 0,
        },
        trained_radii: None,
    }
}

fn crossing_hashes(probes: &[Probe]) -> Vec<String> {
    (0..probes.len()).map(|i| format!("h{i}")).collect()
}

fn series(name: &str, model: ModelKind, rows: Vec<TRow>, not_probed: Vec<usize>) -> SeriesReport {
    let (t, m): (Vec<f64>, Vec<f64>) = rows
        .iter()
        .filter_map(|r| {
            r.search
                .critical_m()
                .map(|m| (r.search.context_len as f64, m))
        })
        .unzip();
    SeriesReport {
        name: name.into(),
        model,
        rows,
        not_probed,
        fits: (t.len() >= 4).then(|| compare(&t, &m).unwrap()),
    }
}

const TS: [usize; 6] = [100, 215, 464, 1000, 2150, 4640];

/// Three series as the paper preset would give them: the Transformer on every T (m = 20 + 30 ln
/// T with a wobble, so nearby laws are close), the theory head censored from T = 1000 on, the
/// paper protocol at three T only (no fit).
fn report() -> CriticalReport {
    let wobble = [1.0, -3.0, 2.0, -1.0, 3.0, -2.0];
    let tf = TS
        .iter()
        .zip(wobble)
        .map(|(&t, w)| fitted(t, 20.0 + 30.0 * (t as f64).ln() + w))
        .collect();
    let head = vec![
        fitted(100, 150.0),
        fitted(215, 300.0),
        fitted(464, 700.0),
        censored(1000),
    ];
    let proto = [100, 464, 2150]
        .iter()
        .map(|&t| fitted(t, 40.0 + 8.0 * (t as f64).ln()))
        .collect();
    let mut plan = CriticalPlan::preset(Preset::Smoke);
    plan.context_lens = TS.to_vec();
    plan.m_max = M_MAX;
    plan.series = vec![transformer(60, 8, 2), theory_head(60), paper_protocol()];
    plan.ablation = None;
    CriticalReport {
        series: vec![
            series(plan.series[0].name, ModelKind::Transformer, tf, vec![]),
            series(
                plan.series[1].name,
                ModelKind::ClsHead,
                head,
                vec![2150, 4640],
            ),
            series(plan.series[2].name, ModelKind::PaperProtocol, proto, vec![]),
        ],
        plan,
        ablation: None,
        wall_s: 0.0,
    }
}

fn of<'a>(fig: &'a Figure, series_name: &str) -> Vec<&'a Series> {
    let prefix = format!("{series_name}:");
    fig.series
        .iter()
        .filter(|s| s.name.starts_with(&prefix))
        .collect()
}

#[test]
fn each_series_has_its_own_colour_marker_and_one_fit() {
    let r = report();
    let fig = r.figure().unwrap();
    fig.validate().unwrap();
    let mut styles = Vec::new();
    for (si, s) in r.series.iter().enumerate() {
        let pieces = of(&fig, &s.name);
        assert!(!pieces.is_empty(), "{} not drawn", s.name);
        let (color, marker) = series_style(si);
        for p in &pieces {
            assert_eq!(p.color, Some(color), "{}", p.name);
            if p.style != crate::figure::SeriesStyle::Line {
                assert_eq!(p.marker, Some(marker), "{}", p.name);
            }
        }
        styles.push((color, marker));
        let fits: Vec<_> = pieces
            .iter()
            .filter(|p| p.name.contains("fit a + b"))
            .collect();
        assert_eq!(fits.len(), usize::from(s.fits.is_some()), "{}", s.name);
        // Intervals on every measured point.
        let measured = pieces
            .iter()
            .find(|p| p.name.contains("critical m, 95% profile interval"))
            .unwrap();
        assert!(matches!(
            measured.uncertainty,
            crate::figure::Uncertainty::ErrorBars { .. }
        ));
    }
    styles.sort();
    styles.dedup();
    assert_eq!(
        styles.len(),
        3,
        "series share a colour or marker: {styles:?}"
    );
    // Overlays: black, never a series colour; present (lower bound and constructed norms).
    let overlays: Vec<_> = fig
        .series
        .iter()
        .filter(|s| s.name.contains("shape only"))
        .collect();
    assert!(overlays.len() >= 2, "{:?}", fig.series);
    for o in overlays {
        assert_eq!(o.color, Some(figure::OVERLAY_COLOR), "{}", o.name);
    }
    // Series without fits say so in the legend.
    let proto = of(&fig, &r.series[2].name);
    assert!(proto.iter().any(|p| p.name.contains("no fit")));
}

#[test]
fn censored_and_unprobed_t_are_visible() {
    let r = report();
    let fig = r.figure().unwrap();
    let head = of(&fig, &r.series[1].name);
    let c = head
        .iter()
        .find(|p| p.name.contains("censored"))
        .expect("censored piece");
    assert_eq!(c.x, vec![1000.0]);
    assert_eq!(c.y, vec![M_MAX as f64]);
    assert!(c.dashed, "censored T must be open markers");
    assert!(c.name.contains("T = 2150, 4640 not probed"), "{}", c.name);
}

#[test]
fn the_drawn_fit_follows_the_decision_rule() {
    let r = report();
    let fig = r.figure().unwrap();
    let c = r.series[0].fits.as_ref().unwrap();
    let (f, note) = drawn_fit(c);
    let line = of(&fig, &r.series[0].name)
        .into_iter()
        .find(|p| p.name.contains("fit a + b"))
        .unwrap();
    assert!(line.name.contains(f.model.label()), "{}", line.name);
    assert!(line.name.contains(&note), "{}", line.name);
    match c.decision() {
        Decision::Decided { model, .. } => assert_eq!(f.model, model),
        Decision::Undecided { .. } => {
            assert_eq!(f.model, c.winner);
            assert!(
                line.name
                    .contains(&format!("undecided: BIC margin {:.1}", c.delta_bic)),
                "{}",
                line.name
            );
        }
    }
    // The line is the fit's prediction, over the fitted T only.
    assert_eq!(line.x.first(), Some(&(TS[0] as f64)));
    assert!((line.x.last().unwrap() - TS[5] as f64).abs() < 1e-6);
    for (x, y) in line.x.iter().zip(&line.y) {
        assert!((f.predict(*x) - y).abs() < 1e-9);
    }
    // A decided comparison draws the decided law: exact a + b sqrt T on a wide range.
    let mut t = r.clone();
    let ts: Vec<f64> = TS.iter().map(|&v| v as f64).collect();
    let m: Vec<f64> = ts.iter().map(|v| 10.0 + 3.0 * v.sqrt()).collect();
    t.series[0].fits = Some(compare(&ts, &m).unwrap());
    let (f, note) = drawn_fit(t.series[0].fits.as_ref().unwrap());
    assert_eq!(f.model, GrowthModel::SqrtT);
    assert!(note.starts_with("decided: BIC margin "), "{note}");
}

#[test]
fn table_and_exports_carry_the_same_numbers() {
    let r = report();
    let table = r.table();
    let points = r.points_csv();
    let fits = r.fits_csv();
    let json = r.summary_json();
    // Points: one row per probed T and per not-probed T, plus the header.
    let rows: usize = r
        .series
        .iter()
        .map(|s| s.rows.len() + s.not_probed.len())
        .sum();
    assert_eq!(points.lines().count(), rows + 1);
    for (s, js) in r.series.iter().zip(json["series"].as_array().unwrap()) {
        // Every fit with its held-out error and BIC, in the table and the fits CSV.
        match &s.fits {
            Some(c) => {
                let sentence = c.decision_sentence();
                assert!(table.contains(&format!("decision: {sentence}")), "{table}");
                assert_eq!(js["decision"], sentence.as_str());
                for f in &c.fits {
                    let cells = format!("{},{},{},{},{}", f.a, f.b, f.loo_rmse, f.aic, f.bic);
                    assert!(fits.contains(&cells), "{cells} missing in {fits}");
                    assert!(table.contains(&format!("{:.2}", f.loo_rmse)));
                }
                let drawn: Vec<&str> = fits
                    .lines()
                    .filter(|l| l.starts_with(&s.name) && l.contains(",true,"))
                    .collect();
                assert_eq!(drawn.len(), 1, "{fits}");
                assert!(drawn[0].contains(drawn_fit(c).0.model.label()));
            }
            None => assert!(js["decision"].as_str().unwrap().starts_with("undecided")),
        }
        for (r, jr) in s.rows.iter().zip(js["rows"].as_array().unwrap()) {
            let crit = r.search.critical_m();
            assert_eq!(jr["critical_m"].as_f64(), crit);
            if let Some(m) = crit {
                assert!(table.contains(&format!("{m:.1}")));
                assert!(points.contains(&format!(",{},{m},", r.search.context_len)));
            }
        }
    }
    // An open end is null in JSON and empty in the CSV, never inf.
    assert!(!points.contains("inf") && !json.to_string().contains("inf"));
    let head = &json["series"][1]["rows"][3];
    assert_eq!(head["status"], "no success (censored)");
    assert!(head["upper"].is_null());
    assert!(table.contains("no success (censored)"));
}

#[test]
fn the_ablation_figure_names_both_arms_apart() {
    let mut r = report();
    let outcome = |k: usize| CellOutcome {
        hash: "h".into(),
        successes: (0..4).map(|j| j < k).collect(),
        steps: vec![30.0; 4],
        train_s: 0.0,
        trained: 0,
    };
    let points: Vec<AblationPoint> = [(32, 0, 0), (64, 2, 0), (128, 4, 1)]
        .iter()
        .map(|&(m, a, b)| AblationPoint {
            num_samples: m,
            fixed: outcome(a),
            first_fit: outcome(b),
        })
        .collect();
    let probes = |ff: bool| -> Vec<Probe> {
        points
            .iter()
            .map(|p| Probe {
                num_samples: p.num_samples,
                successes: if ff { &p.first_fit } else { &p.fixed }.successes.clone(),
            })
            .collect()
    };
    r.ablation = Some(AblationReport {
        ablation: Ablation {
            context_len: 100,
            sample_sizes: vec![32, 64, 128],
            trials: 4,
        },
        series: r.series[0].name.clone(),
        fixed: super::super::crossing_of(&probes(false)).unwrap(),
        first_fit: super::super::crossing_of(&probes(true)).unwrap(),
        points,
    });
    let fig = r.ablation_figure().unwrap().unwrap();
    fig.validate().unwrap();
    let fixed = fig
        .series
        .iter()
        .find(|s| s.name.starts_with("fixed"))
        .unwrap();
    let first = fig
        .series
        .iter()
        .find(|s| s.name.starts_with("first-fit"))
        .unwrap();
    assert!(fixed.name.starts_with("fixed budget (60 full-batch steps)"));
    assert!(first.name.starts_with("first-fit stop"), "{}", first.name);
    assert!(
        first.name.contains("median 30 of at most 60 steps"),
        "{}",
        first.name
    );
    // Both critical m are named: the first-fit arm never reaches 1/2 (censored).
    let ff = &r.ablation.as_ref().unwrap().first_fit;
    assert!(ff.status.is_censored(), "{ff:?}");
    let text = format!("critical m > {:.1} (censored)", ff.interval.0.exp());
    assert!(first.name.contains(&text), "{}", first.name);
    assert!(fixed.name.contains("critical m "), "{}", fixed.name);
    assert_ne!(fixed.color, first.color);
    assert_ne!(fixed.marker, first.marker);
    assert!(first.dashed && !fixed.dashed);
    // The fixed arm keeps the ablated series' colour and marker from the critical figure.
    assert_eq!((fixed.color, fixed.marker), {
        let (c, m) = series_style(0);
        (Some(c), Some(m))
    });
    assert!(fig.title.contains("same seeds in both arms"));
}

#[test]
fn open_interval_ends_print_as_open_never_as_zero_or_inf() {
    let c = Crossing {
        status: CrossingStatus::Fitted,
        estimate: Some(22.6f64.ln()),
        slope: Some(1.0),
        interval: (f64::NEG_INFINITY, f64::INFINITY),
    };
    let text = crossing_text(&c);
    assert_eq!(text, "22.6 [open, open] (fitted)");
    let closed = Crossing {
        interval: (20.0f64.ln(), 25.0f64.ln()),
        ..c
    };
    assert_eq!(crossing_text(&closed), "22.6 [20.0, 25.0] (fitted)");
}
