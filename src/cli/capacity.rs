//! `attnbounds experiment capacity`: empirical capacity of the head class against the bounds
//! (docs/experiments.md section 5).
//!
//! Thin layer over `experiments::capacity_sweep`: runs the preset into the results store, prints a
//! table, writes the figures. A lower estimate above a rigorous bound is printed loudly and the
//! command fails.

use super::{RunArgs, print_written};
use attnbounds::experiments::capacity_sweep as capacity;
use attnbounds::metrics::{AtEps, Metric};
use attnbounds::{Error, Result};

pub fn run(args: &RunArgs) -> Result<()> {
    let (preset, mut db) = args.open()?;
    let clock = std::time::Instant::now();
    let entries = match capacity::figures(preset, &mut db, &args.out, args.quiet) {
        Err(e @ Error::Violation { .. }) => {
            eprintln!("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
            eprintln!("!!! {e}");
            eprintln!("!!! A lower estimate exceeds a rigorous upper bound: a bug or a disproof.");
            eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
            return Err(e);
        }
        other => other?,
    };
    let rows = capacity::rows(preset, &db)?;
    print_table(&rows)?;
    for w in capacity::check_rows(&rows)? {
        println!("warning: {}: {}", w.claim, w.detail);
    }
    println!(
        "\nRademacher columns: 'head (lower est.)' is a LOWER ESTIMATE (projected ascent, best of the \
         restarts, mean over sign draws, 95% t interval); 'flat linear' is EXACT; 'explicit' is our \
         rigorous bound (capped at the range b = B_w B_V B_X); 'paper' is the paper shape with c0 = 1 \
         (a warning only if exceeded); 'BFT flat' is the spectral baseline on the flattened input."
    );
    print_written(&args.out, &entries);
    println!(
        "results in {} (experiment '{}'); {:.1} s",
        args.db.display(),
        capacity::EXPERIMENT,
        clock.elapsed().as_secs_f64()
    );
    Ok(())
}

fn print_table(rows: &[capacity::Row]) -> Result<()> {
    println!(
        "{:<12} {:>6} {:>5} {:>5} | {:>26} {:>9} {:>9} {:>9} {:>11} | {:>12} {:>12}",
        "axis",
        "T",
        "m",
        "B_QK",
        "head (lower est.) [95% CI]",
        "explicit",
        "paper",
        "BFT flat",
        "flat linear",
        "ln M(2eps)",
        "ln N bound"
    );
    for r in rows {
        let (pack, cover) = match &r.cell.packing {
            Some(p) => {
                // The middle of the eps grid, labelled.
                let eps = p.eps[p.eps.len() / 2];
                (
                    format!("{:.2}@{eps}", r.at_eps(AtEps::PackingLn2Eps, eps)?),
                    format!("{:.3e}", r.at_eps(AtEps::CoverExplicitLnEps, eps)?),
                )
            }
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<12} {:>6} {:>5} {:>5} | {:>8.4} [{:>7.4},{:>7.4}] {:>9.4} {:>9.4} {:>9.4} {:>11.4} | {:>12} {:>12}",
            r.cell.axis,
            r.cell.context_len,
            r.cell.num_samples,
            r.cell.ball.b_qk,
            r.get(Metric::RademacherLowerMean)?,
            r.get(Metric::RademacherLowerCiLower)?,
            r.get(Metric::RademacherLowerCiUpper)?,
            r.get(Metric::RademacherBoundExplicit)?,
            r.get(Metric::RademacherBoundPaperShape)?,
            r.get(Metric::RademacherBoundBftFlat)?,
            r.get(Metric::LinearFlatExactMean)?,
            pack,
            cover
        );
    }
    Ok(())
}
