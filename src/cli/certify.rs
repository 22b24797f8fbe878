//! `attnbounds certify`: every certificate of trained models (docs/certificates.md) on a
//! preset (trials through the resumable results store, experiment `certificates`), beside the
//! measured test error with its Clopper-Pearson interval and the best norm bound at the same
//! weights. Each value says what it certifies: the junta certificate bounds the TRAINED
//! model's test error, the PAC-Bayes certificate the STOCHASTIC predictor Q. A certificate
//! below the measured error's lower limit is a loud finding and the command fails.

use super::{RunArgs, print_written};
use attnbounds::experiments::certificates::{self as cert, CertPlan, TrialRow};
use attnbounds::{Error, Result};
use clap::{Args, ValueEnum};

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// Arguments of `attnbounds certify`.
#[derive(Args, Debug)]
pub struct CertifyArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Output format of the per-model listing.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn model_name(r: &TrialRow) -> &'static str {
    match r.model {
        attnbounds::config::ModelKind::ClsHead => "cls_head",
        attnbounds::config::ModelKind::Transformer => "transformer",
        attnbounds::config::ModelKind::PaperProtocol => "paper_protocol",
    }
}

fn csv(rows: &[TrialRow]) -> String {
    let mut out = String::from(
        "model,context_len,num_samples,trial,train_error,test_error,test_lower,test_upper,junta_certificate,junta_certifies,junta_route,junta_bits,junta_hidden_set,pac_bayes_certificate,pac_bayes_certifies,pac_bayes_kl,pac_bayes_sigma,norm_bound,delta\n",
    );
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},trained model,{},{},{},{},stochastic predictor Q,{},{},{},{}\n",
            model_name(r),
            r.context_len,
            r.num_samples,
            r.trial,
            r.train_error,
            r.test_error,
            r.test_lower,
            r.test_upper,
            r.junta,
            if r.junta_verified { "verified" } else { "sampled" },
            r.junta_bits,
            u8::from(r.junta_hidden_set),
            r.pac_bayes,
            r.pac_bayes_kl,
            r.pac_bayes_sigma,
            r.norm_bound.map_or(String::new(), |b| b.to_string()),
            cert::DELTA
        ));
    }
    out
}

fn json(rows: &[TrialRow]) -> Result<String> {
    let items: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "model": model_name(r),
                "context_len": r.context_len,
                "num_samples": r.num_samples,
                "trial": r.trial,
                "train_error": r.train_error,
                "test_error": {"estimate": r.test_error, "lower": r.test_lower, "upper": r.test_upper,
                               "interval": "Clopper-Pearson 95%"},
                "certificates": [
                    {"name": "junta", "certifies": attnbounds::certify::CERTIFIES,
                     "route": if r.junta_verified { "verified" } else { "sampled" },
                     "bits": r.junta_bits, "found_hidden_set": r.junta_hidden_set,
                     "delta": cert::DELTA,
                     "delta_split": "occam 0.5 delta, sampled route 0.5 delta",
                     "value": r.junta},
                    {"name": "pac_bayes", "certifies": attnbounds::certify::pac_bayes::CERTIFIES_Q,
                     "kl_nats": r.pac_bayes_kl, "sigma": r.pac_bayes_sigma, "delta": cert::DELTA,
                     "delta_split": "Maurer 0.5 delta, Monte Carlo 0.5 delta, each over the sigma grid",
                     "value": r.pac_bayes},
                    {"name": "norm_bound", "certifies": "the trained model's test error (training ramp loss + explicit post-hoc gap bound)",
                     "value": r.norm_bound},
                ],
            })
        })
        .collect();
    serde_json::to_string_pretty(&items).map_err(|e| Error::parse("certify json", e))
}

pub fn run(args: &CertifyArgs) -> Result<()> {
    let a = &args.run;
    let (preset, mut db) = a.open()?;
    let plan = CertPlan::preset(preset);
    let rows = a.in_pool(|| cert::run(&plan, &mut db, a.quiet))?;
    match args.format {
        Format::Table => print!("{}", cert::table(&rows)),
        Format::Csv => print!("{}", csv(&rows)),
        Format::Json => println!("{}", json(&rows)?),
    }
    if db.shard().is_whole() {
        let entries = cert::write_figures(&plan, &rows, preset, a.out_dir()?, a.quiet)?;
        if args.format == Format::Table {
            print_written(&a.out, &entries);
        }
    }
    let found = cert::findings(&rows);
    if !found.is_empty() {
        for f in &found {
            eprintln!("{f}");
        }
        return Err(Error::Violation {
            claim: "every certificate >= the measured test error's lower Clopper-Pearson limit"
                .into(),
            detail: found.join("; "),
        });
    }
    Ok(())
}
