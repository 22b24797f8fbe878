//! Runs every claim, prints the table, writes JSON and the tightness figure.

use crate::{Budget, Claim, Outcome};
use attnbounds::check::search::run_claim;
use attnbounds::error::{Error, Result};
use attnbounds::experiments::GalleryEntry;
use attnbounds::figure::{Figure, FigureSize, Series};
use std::path::Path;

/// One line of the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub id: String,
    pub section: String,
    pub statement: String,
    pub budget: Budget,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// `"holds"`, `"VIOLATED"`.
    pub verdict: String,
    /// The deliberately wrong variant and whether the same search caught it.
    pub mutant: Option<MutantRow>,
    /// What the check can and cannot detect.
    pub note: String,
}

/// Outcome of a claim's mutant (a wrong constant) under the same budget.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MutantRow {
    pub statement: String,
    pub worst_ratio: f64,
    /// `true` iff the search found the wrong variant violated.
    pub caught: bool,
}

impl Row {
    /// Sensitivity in one cell: the uniform shrink of the rhs that the search would detect
    /// (any factor below the worst ratio), and the mutant's fate.
    pub fn sensitivity(&self) -> String {
        let w = self.outcome.worst_ratio;
        let uniform = if w.abs() >= 0.01 || w == 0.0 {
            format!("rhs*c caught for c<{w:.3}")
        } else {
            format!("rhs*c caught for c<{w:.1e}")
        };
        match &self.mutant {
            Some(m) if m.caught => format!("{uniform}; mutant caught ({:.3})", m.worst_ratio),
            Some(m) => format!("{uniform}; mutant MISSED ({:.3})", m.worst_ratio),
            None => format!("{uniform}; no mutant"),
        }
    }
}

/// All rows of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckReport {
    pub seed: u64,
    pub quick: bool,
    pub rows: Vec<Row>,
}

impl CheckReport {
    pub fn violations(&self) -> Vec<&Row> {
        self.rows.iter().filter(|r| r.outcome.violated()).collect()
    }

    /// Fixed-width table: claim, holds?, worst ratio, sensitivity, trials, statement; then the
    /// per-claim notes, the mutants' statements and the claims that are not checked numerically.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<3} {:<10} {:<9} {:>14}  {:<58} {:>8}  {}\n",
            "#", "claim", "holds?", "worst lhs/rhs", "sensitivity", "trials", "statement"
        );
        for (i, r) in self.rows.iter().enumerate() {
            s += &format!(
                "{:<3} {:<10} {:<9} {:>14.9}  {:<58} {:>8}  {}\n",
                i,
                r.id,
                r.verdict,
                r.outcome.worst_ratio,
                r.sensitivity(),
                r.outcome.trials,
                r.statement,
            );
        }
        s += "\nmutants (same instance map, same budget, a deliberately wrong constant):\n";
        for r in self.rows.iter() {
            if let Some(m) = &r.mutant {
                s += &format!(
                    "  {:<10} {:<7} worst {:>12.6}  {}\n",
                    r.id,
                    if m.caught { "caught" } else { "MISSED" },
                    m.worst_ratio,
                    m.statement
                );
            }
        }
        s += "\nsensitivity notes:\n";
        for r in self.rows.iter().filter(|r| !r.note.is_empty()) {
            s += &format!("  {:<10} {}\n", r.id, r.note);
        }
        s += "\nnot checked numerically (see docs/derivations.md):\n";
        for (id, why) in crate::claims::UNCHECKED {
            s += &format!("  {id:<10} {why}\n");
        }
        s
    }
}

/// Runs `claims` with `budget` (divided by each claim's cost; parameter-free claims run once).
pub fn run_claims(claims: &[Claim], budget: Budget, seed: u64, quick: bool) -> CheckReport {
    let rows = claims
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let run = run_claim(c, budget, seed.wrapping_add(i as u64));
            let (b, outcome) = (run.budget, run.outcome);
            let mutant = run.mutant.map(|(statement, o)| MutantRow {
                statement,
                worst_ratio: o.worst_ratio,
                caught: o.violated(),
            });
            let verdict = if outcome.violated() {
                "VIOLATED"
            } else {
                "holds"
            };
            Row {
                id: c.id.clone(),
                section: c.section.clone(),
                statement: c.statement.clone(),
                budget: b,
                outcome,
                verdict: verdict.into(),
                mutant,
                note: c.note.clone(),
            }
        })
        .collect();
    CheckReport { seed, quick, rows }
}

/// Every claim of [`crate::claims::all`] at the quick or full budget.
pub fn run_all(quick: bool, seed: u64) -> CheckReport {
    let (budget, members) = if quick {
        (Budget::QUICK, 200)
    } else {
        (Budget::FULL, 1000)
    };
    run_claims(&crate::claims::all(members), budget, seed, quick)
}

/// Writes `proofs_check.json` and the `proofs_check_tightness` figure into `out_dir`.
pub fn write_outputs(report: &CheckReport, out_dir: &Path) -> Result<Vec<GalleryEntry>> {
    let io = |path: &Path, e: &dyn std::fmt::Display| Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(out_dir).map_err(|e| io(out_dir, &e))?;
    let path = out_dir.join("proofs_check.json");
    let json = serde_json::to_string_pretty(report).map_err(|e| io(&path, &e))?;
    std::fs::write(&path, json).map_err(|e| io(&path, &e))?;
    // One series per claim so the CSV and the legend name each point. Every claim is drawn and
    // the axis follows the data (nothing clipped): a ratio that a log axis cannot show (`+inf`
    // when rhs = 0 < lhs, `0` when lhs = 0 everywhere) is drawn one decade beyond the finite
    // range and its legend entry says so; the JSON keeps the exact value.
    let finite: Vec<f64> = report
        .rows
        .iter()
        .map(|r| r.outcome.worst_ratio)
        .filter(|v| v.is_finite() && *v > 0.0)
        .chain([1.0])
        .collect();
    let hi = finite.iter().fold(1.0f64, |m, v| m.max(*v)) * 10.0;
    let lo = finite.iter().fold(1.0f64, |m, v| m.min(*v)) / 10.0;
    let mut series: Vec<Series> = report
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let v = r.outcome.worst_ratio;
            let (y, tag) = if v.is_finite() && v > 0.0 {
                (v, String::new())
            } else if v > 0.0 {
                (hi, format!("; ratio {v} drawn at {hi:.1e}"))
            } else {
                (lo, format!("; ratio {v} drawn at {lo:.1e}"))
            };
            let flag = if r.outcome.violated() {
                "; VIOLATED"
            } else {
                ""
            };
            Series::points(
                format!("{} ({i}){flag}{tag}", r.id),
                vec![i as f64],
                vec![y],
            )
            .with_color(i)
        })
        .collect();
    let n = report.rows.len() as f64;
    series.push(Series::line("claim edge lhs = rhs", vec![-0.5, n - 0.5], vec![1.0, 1.0]).dashed());
    let fig = Figure {
        title: "Worst lhs/rhs found per inequality of docs/derivations.md (1 = edge)".into(),
        x_label: "claim index (see legend)".into(),
        y_label: "worst lhs / rhs".into(),
        x_log: false,
        y_log: true,
        size: FigureSize::DoubleColumn,
        series,
    };
    let written = fig.write(out_dir, "proofs_check_tightness")?;
    if !written.warnings.is_empty() {
        return Err(Error::Violation {
            claim: "proofs_check_tightness".into(),
            detail: format!("figure dropped or clamped data: {:?}", written.warnings),
        });
    }
    Ok(vec![GalleryEntry {
        stem: "proofs_check_tightness".into(),
        description: "Worst ratio lhs/rhs found by random search and adversarial ascent for every \
                      numbered inequality; points at 1 are tight claims, none may lie above 1."
            .into(),
        command: "cargo run -p proofs-check --release".into(),
    }])
}

/// Runs every claim and writes the outputs: the hook for a `figures` job. Fails if a claim is
/// violated.
pub fn figures(out_dir: &Path, quick: bool) -> Result<Vec<GalleryEntry>> {
    let report = run_all(quick, crate::DEFAULT_SEED);
    let entries = write_outputs(&report, out_dir)?;
    let bad: Vec<String> = report.violations().iter().map(|r| r.id.clone()).collect();
    if !bad.is_empty() {
        return Err(Error::Violation {
            claim: bad.join(", "),
            detail: "worst lhs/rhs above 1; see proofs_check.json".into(),
        });
    }
    Ok(entries)
}
