//! The table of [`CriticalReport::table`] as files beside the figure, for readers and scripts:
//! - `<stem>_points.csv`: one row per series and T: critical m, 95% interval (empty where
//!   open), status, probes, and the probes' successes;
//! - `<stem>_fits.csv`: one row per series and growth law: a, b, leave-one-out RMSE, AIC, BIC,
//!   BIC minus the series' best, whether the figure draws it, and the series' decision sentence;
//! - `<stem>_summary.json`: all of it and the ablation, nested.
//!
//! Numbers are the ones the table prints, at full precision; an open interval end is an empty
//! CSV field and `null` in JSON (never `inf`).

use super::{CriticalReport, TRow, crossing_text, drawn_fit, median, probed_range, row_status};
use crate::error::{Error, Result};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A finite number or nothing (open interval ends, missing estimates).
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// An interval end as `critical_m` reports it: 0 and +inf are open.
fn end(v: f64) -> Option<f64> {
    (v.is_finite() && v > 0.0).then_some(v)
}

fn csv_num(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| x.to_string())
}

/// A CSV text field, quoted when it holds a comma or a quote.
fn csv_text(s: &str) -> String {
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn probes_text(r: &TRow) -> String {
    r.search
        .probes
        .iter()
        .map(|p| format!("{}:{}/{}", p.num_samples, p.count(), p.successes.len()))
        .collect::<Vec<_>>()
        .join(" ")
}

impl CriticalReport {
    /// `<stem>_points.csv` (module doc).
    pub fn points_csv(&self) -> String {
        let mut out = String::from(
            "series,model,context_len,critical_m,lower,upper,status,probes,trials_per_probe,\
             probed_m_min,probed_m_max,successes\n",
        );
        for s in &self.series {
            for r in &s.rows {
                let (lo, hi) = r.search.interval_m();
                let (a, b) = probed_range(&r.search);
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{},{},{},{}",
                    csv_text(&s.name),
                    s.model.name(),
                    r.search.context_len,
                    csv_num(r.search.critical_m()),
                    csv_num(end(lo)),
                    csv_num(end(hi)),
                    csv_text(&row_status(r)),
                    r.search.probes.len(),
                    self.plan.trials,
                    a,
                    b,
                    probes_text(r)
                );
            }
            for t in &s.not_probed {
                let _ = writeln!(
                    out,
                    "{},{},{t},,,,not probed (censored at a smaller T),0,{},,,",
                    csv_text(&s.name),
                    s.model.name(),
                    self.plan.trials
                );
            }
        }
        out
    }

    /// `<stem>_fits.csv` (module doc); a series without fits has one row saying why.
    pub fn fits_csv(&self) -> String {
        let mut out =
            String::from("series,model,law,a,b,loo_rmse,aic,bic,bic_minus_best,drawn,decision\n");
        for s in &self.series {
            match &s.fits {
                None => {
                    let _ = writeln!(
                        out,
                        "{},{},,,,,,,,false,undecided because a fit needs >= 4 T with an \
                         estimate",
                        csv_text(&s.name),
                        s.model.name()
                    );
                }
                Some(c) => {
                    let best = c.fits.iter().map(|f| f.bic).fold(f64::INFINITY, f64::min);
                    let drawn = drawn_fit(c).0.model;
                    let sentence = csv_text(&c.decision_sentence());
                    for f in &c.fits {
                        let _ = writeln!(
                            out,
                            "{},{},{},{},{},{},{},{},{},{},{sentence}",
                            csv_text(&s.name),
                            s.model.name(),
                            f.model.label(),
                            f.a,
                            f.b,
                            f.loo_rmse,
                            f.aic,
                            f.bic,
                            f.bic - best,
                            f.model == drawn
                        );
                    }
                }
            }
        }
        out
    }

    /// `<stem>_summary.json` (module doc).
    pub fn summary_json(&self) -> Value {
        let series: Vec<Value> = self
            .series
            .iter()
            .enumerate()
            .map(|(si, s)| {
                let rows: Vec<Value> = s
                    .rows
                    .iter()
                    .map(|r| {
                        let (lo, hi) = r.search.interval_m();
                        json!({
                            "context_len": r.search.context_len,
                            "critical_m": r.search.critical_m(),
                            "lower": end(lo),
                            "upper": end(hi),
                            "status": row_status(r),
                            "first_probed": r.search.first_probed,
                            "probes": r.search.probes.iter().map(|p| json!({
                                "num_samples": p.num_samples,
                                "successes": p.count(),
                                "trials": p.successes.len(),
                            })).collect::<Vec<_>>(),
                            "wall_s": r.search.wall_s,
                        })
                    })
                    .collect();
                let fits = s.fits.as_ref().map(|c| {
                    let best = c.fits.iter().map(|f| f.bic).fold(f64::INFINITY, f64::min);
                    json!({
                        "laws": c.fits.iter().map(|f| json!({
                            "law": f.model.label(),
                            "a": finite(f.a),
                            "b": finite(f.b),
                            "loo_rmse": finite(f.loo_rmse),
                            "aic": finite(f.aic),
                            "bic": finite(f.bic),
                            "bic_minus_best": finite(f.bic - best),
                        })).collect::<Vec<_>>(),
                        "best_held_out": c.winner.label(),
                        "loo_ratio": finite(c.loo_ratio),
                        "best_bic": c.winner_bic.label(),
                        "runner_up_bic": c.runner_up_bic.label(),
                        "bic_margin": finite(c.delta_bic),
                        "drawn": drawn_fit(c).0.model.label(),
                    })
                });
                let decision = s.fits.as_ref().map_or_else(
                    || "undecided because a fit needs >= 4 T with an estimate".to_string(),
                    |c| c.decision_sentence(),
                );
                json!({
                    "name": s.name,
                    "model": s.model.name(),
                    "steps": self.plan.series.get(si).map(|p| p.train.steps),
                    "rows": rows,
                    "not_probed": s.not_probed,
                    "fits": fits,
                    "decision": decision,
                })
            })
            .collect();
        let ablation = self.ablation.as_ref().map(|a| {
            json!({
                "series": a.series,
                "context_len": a.ablation.context_len,
                "trials": a.ablation.trials,
                "points": a.points.iter().map(|p| json!({
                    "num_samples": p.num_samples,
                    "fixed_successes": p.fixed.successes.iter().filter(|&&b| b).count(),
                    "first_fit_successes": p.first_fit.successes.iter().filter(|&&b| b).count(),
                    "trials": p.fixed.successes.len(),
                    "first_fit_median_steps": median(p.first_fit.steps.clone()),
                })).collect::<Vec<_>>(),
                "fixed": crossing_text(&a.fixed),
                "first_fit": crossing_text(&a.first_fit),
            })
        });
        json!({
            "experiment": super::super::EXPERIMENT,
            "sparsity": self.plan.sparsity,
            "m_max": self.plan.m_max,
            "trials_per_probe": self.plan.trials,
            "confidence": super::CONFIDENCE,
            "success_accuracy": super::super::SUCCESS_ACCURACY,
            "decisive_bic_margin": crate::stats::growth::DECISIVE_DELTA_BIC,
            "series": series,
            "ablation": ablation,
            "wall_s": self.wall_s,
        })
    }

    /// Writes the three files of the module doc into `dir` and returns their paths.
    pub fn write_summary(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
        let json = serde_json::to_string_pretty(&self.summary_json())
            .map_err(|e| Error::parse("critical summary json", e))?;
        let texts = [self.points_csv(), self.fits_csv(), json + "\n"];
        let mut out = Vec::new();
        for (suffix, text) in super::TABLE_FILES.iter().zip(texts) {
            let path = dir.join(format!("{stem}{suffix}"));
            crate::fsio::write_atomic(&path, text.as_bytes())?;
            out.push(path);
        }
        Ok(out)
    }
}
