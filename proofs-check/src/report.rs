//! Runs every claim, prints the table, writes JSON and the tightness figure.

use crate::{Budget, Claim, Outcome, search};
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

    /// Fixed-width table: claim, section, trials, worst ratio, verdict.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<3} {:<10} {:>9} {:>14}  {:<9} {}\n",
            "#", "claim", "trials", "worst lhs/rhs", "verdict", "statement [section]"
        );
        for (i, r) in self.rows.iter().enumerate() {
            s += &format!(
                "{:<3} {:<10} {:>9} {:>14.9}  {:<9} {} [{}]\n",
                i,
                r.id,
                r.outcome.trials,
                r.outcome.worst_ratio,
                r.verdict,
                r.statement,
                r.section.trim_start_matches("docs/derivations.md"),
            );
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
            let b = if c.dim == 0 {
                Budget {
                    random: 1,
                    restarts: 0,
                    steps: 0,
                }
            } else {
                budget.scaled(c.cost)
            };
            let outcome = search(c, b, seed.wrapping_add(i as u64));
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
    // One series per claim so the CSV and the legend name each point; ratios are clamped to
    // [1e-6, 1e6] only for drawing (the JSON keeps the exact value).
    let mut series: Vec<Series> = report
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let y = r.outcome.worst_ratio.clamp(1e-6, 1e6);
            Series::points(format!("{} ({})", r.id, i), vec![i as f64], vec![y]).with_color(i)
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
    fig.write(out_dir, "proofs_check_tightness")?;
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
