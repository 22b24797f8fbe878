//! Full-budget numerical check of docs/derivations.md:
//! `cargo run -p proofs-check --release -- [--budget quick|full] [--out DIR] [--seed N]`.
//! Prints the table, writes `proofs_check.json` and the `proofs_check_tightness` figure, exits
//! non-zero if any claim is violated.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut quick = false;
    let mut out = PathBuf::from("results/proofs-check");
    let mut seed = proofs_check::DEFAULT_SEED;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--budget", Some(b)) if b == "quick" || b == "full" => quick = b == "quick",
            ("--out", Some(d)) => out = PathBuf::from(d),
            ("--seed", Some(s)) if s.parse::<u64>().is_ok() => seed = s.parse().unwrap_or(seed),
            (flag, value) => {
                eprintln!(
                    "error: bad argument {flag} {value:?}; usage: proofs-check [--budget quick|full] [--out DIR] [--seed N]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let start = std::time::Instant::now();
    let report = proofs_check::run_all(quick, seed);
    print!("{}", report.table());
    println!(
        "budget {}, seed {seed}, {:.1} s",
        if quick { "quick" } else { "full" },
        start.elapsed().as_secs_f64()
    );
    match proofs_check::write_outputs(&report, &out) {
        Ok(_) => println!(
            "wrote {}/proofs_check.json and proofs_check_tightness.*",
            out.display()
        ),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let bad = report.violations();
    if bad.is_empty() {
        println!("all {} claims hold", report.rows.len());
        ExitCode::SUCCESS
    } else {
        for r in &bad {
            eprintln!(
                "!!! VIOLATION: {} ({}) lhs = {:e} > rhs = {:e}, ratio {:e}, at params {:?}",
                r.id,
                r.statement,
                r.outcome.worst_lhs,
                r.outcome.worst_rhs,
                r.outcome.worst_ratio,
                r.outcome.worst_params
            );
        }
        ExitCode::FAILURE
    }
}
