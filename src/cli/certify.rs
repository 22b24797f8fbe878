//! `attnbounds certify`: every certificate of trained models (docs/certificates.md) on a
//! preset (trials through the resumable results store, experiment `certificates`), beside the
//! measured test error with its Clopper-Pearson interval and the best norm bound at the same
//! weights. Each value says what it certifies: the junta certificate bounds the TRAINED
//! model's test error, the PAC-Bayes certificate the STOCHASTIC predictor Q. A certificate
//! below the measured error's lower limit is a loud finding and the command fails.
//!
//! With `--weights FILE` (safetensors, a layout as for `norms --weights`): a one-block model
//! read at \[CLS\] with its embeddings, certified on a FRESH labelled sample of the task given
//! on the command line, drawn after the weights are read (`certify::fresh`); the plain
//! Clopper-Pearson bound from that sample is printed beside the junta certificate.

use super::{RunArgs, print_written};
use attnbounds::experiments::certificates::{self as cert, CertPlan, TrialRow};
use attnbounds::{Error, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

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
    /// Certify a one-block model from this safetensors file (with tok_emb/pos_emb/cls) on a
    /// fresh labelled sample instead of a preset's trained models.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// --weights: tensor-name layout (torch-mha, separate-qkv, or a TOML mapping file).
    #[arg(long, default_value = "torch-mha")]
    pub layout: String,
    /// --weights: heads per layer (unless the file's metadata says).
    #[arg(long)]
    pub heads: Option<usize>,
    /// --weights: the task of the fresh sample (and, or, parity, majority).
    #[arg(long, default_value = "and")]
    pub task: String,
    /// --weights: s, the task's sparsity.
    #[arg(long, default_value_t = 3)]
    pub sparsity: usize,
    /// --weights: the task's hidden set, comma-separated increasing positions (else drawn from
    /// --seed).
    #[arg(long, value_delimiter = ',')]
    pub hidden_set: Option<Vec<usize>>,
    /// --weights: m, the size of the fresh labelled sample.
    #[arg(long, default_value_t = 1000)]
    pub num_samples: usize,
    /// --weights: fresh unlabeled inputs of the junta certificate's sampled route.
    #[arg(long, default_value_t = 10_000)]
    pub fresh_samples: usize,
    /// --weights: failure probability of each certificate, in (0, 1).
    #[arg(long, default_value_t = 0.05)]
    pub delta: f64,
    /// --weights: seed of the hidden set, the fresh sample and the certificate's draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

fn model_name(r: &TrialRow) -> &'static str {
    match r.model {
        attnbounds::config::ModelKind::ClsHead => "cls_head",
        attnbounds::config::ModelKind::Transformer => "transformer",
        attnbounds::config::ModelKind::PaperProtocol => "paper_protocol",
    }
}

/// `name=kl;name=kl` (nats at the certificate's sigma), one CSV field without commas.
fn kl_by_tensor(r: &TrialRow) -> String {
    let parts: Vec<String> = (r.kl_by_tensor().iter())
        .map(|(n, kl)| format!("{n}={kl}"))
        .collect();
    parts.join(";")
}

fn csv(rows: &[TrialRow]) -> String {
    let mut out = String::from(
        "model,context_len,num_samples,trial,train_error,test_error,test_lower,test_upper,junta_certificate,junta_certifies,junta_route,junta_bits,junta_hidden_set,pac_bayes_certificate,pac_bayes_certifies,pac_bayes_kl,pac_bayes_sigma,pac_bayes_kl_by_tensor,norm_bound,delta\n",
    );
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},trained model,{},{},{},{},stochastic predictor Q,{},{},{},{},{}\n",
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
            kl_by_tensor(r),
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
                     "kl_nats": r.pac_bayes_kl, "sigma": r.pac_bayes_sigma,
                     "kl_nats_by_tensor": r.kl_by_tensor().into_iter().map(|(n, kl)| (n, serde_json::json!(kl))).collect::<serde_json::Map<_, _>>(), "delta": cert::DELTA,
                     "delta_split": "Maurer 0.5 delta, Monte Carlo 0.5 delta, each over the sigma grid",
                     "value": r.pac_bayes},
                    {"name": "norm_bound", "certifies": "the trained model's test error (training ramp loss + explicit post-hoc gap bound)",
                     "value": r.norm_bound,
                     "note": cert::no_norm_bound_reason(r.model).filter(|_| r.norm_bound.is_none())},
                ],
            })
        })
        .collect();
    serde_json::to_string_pretty(&items).map_err(|e| Error::parse("certify json", e))
}

/// `--weights`: read, draw the fresh sample, certify, print.
fn run_weights(args: &CertifyArgs, path: &std::path::Path) -> Result<()> {
    use attnbounds::certify::fresh::{CERTIFIES_TEST, FreshParams, certify_fresh};
    use attnbounds::tasks::{Task, TaskKind, TaskName};
    use rand::SeedableRng;
    let (layout, mapping) = attnbounds::weights::layout_from_arg(&args.layout)?;
    let imported = attnbounds::weights::read_file_mapped(path, &mapping, &layout, args.heads)?;
    let model = attnbounds::certify::ClsModel::imported(&imported)?;
    let t = model.context_len();
    let name = (TaskName::ALL.into_iter())
        .find(|n| n.name() == args.task && *n != TaskName::TruthTable)
        .ok_or_else(|| Error::invalid("task", &args.task, "and, or, parity or majority"))?;
    let kind = TaskKind::from_name(name, None)?;
    let task = match &args.hidden_set {
        Some(h) => {
            if h.len() != args.sparsity {
                return Err(Error::invalid(
                    "hidden_set",
                    format!("{h:?}"),
                    format!("sparsity = {} increasing positions < {t}", args.sparsity),
                ));
            }
            Task::with_support(kind, t, h.clone())?
        }
        None => {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
            Task::new(kind, t, args.sparsity, &mut rng)?
        }
    };
    let p = FreshParams {
        num_samples: args.num_samples,
        delta: args.delta,
        fresh_samples: args.fresh_samples,
        seed: args.seed,
    };
    let c = certify_fresh(&model, &task, &p)?;
    let j = &c.junta;
    let route = match &j.route {
        attnbounds::certify::Route::Verified => "verified".to_string(),
        attnbounds::certify::Route::Sampled {
            samples,
            disagreements,
            upper,
        } => format!(
            "sampled ({disagreements} of {samples} fresh inputs disagree; P(model != g) <= {upper:.4})"
        ),
    };
    let independent = "the sample S was drawn after the weights were fixed, so it is independent of training: the junta certificate uses it as S, and the plain Clopper-Pearson bound from it holds too (each at 1 - delta, both at once at 1 - 2 delta)";
    let sample_error = c.sample_errors as f64 / c.num_samples as f64;
    match args.format {
        Format::Table => {
            println!(
                "model: {} ({layout}), T = {t}, task {} s = {} hidden set {:?}, fresh sample m = {}, delta = {}",
                path.display(),
                args.task,
                args.sparsity,
                c.hidden_set,
                c.num_samples,
                c.delta
            );
            println!("note: {independent}");
            println!(
                "fresh-sample error {sample_error:.4} ({} of {}); Clopper-Pearson test bound {:.4}: {CERTIFIES_TEST}",
                c.sample_errors, c.num_samples, c.test_upper
            );
            println!(
                "junta certificate {:.4}: {}\n  g: I = {:?}, table {:?}, route {route}, err_S(g) {:.4}, K = {} bits, delta split (occam {}, sampled {}), occam kl {:.4}, hoeffding {:.4}",
                j.certified_error_model,
                j.certifies,
                j.positions,
                j.table,
                j.train_error_g,
                j.bits,
                j.delta_split.0,
                j.delta_split.1,
                j.occam_kl,
                j.occam_hoeffding
            );
            println!(
                "PAC-Bayes: not applicable (no initialisation is known for imported weights, so no prior fixed before the data)"
            );
        }
        Format::Csv => {
            println!(
                "weights,layout,context_len,task,sparsity,hidden_set,num_samples,delta,sample_errors,test_bound,junta_certificate,junta_route,junta_positions,junta_bits,junta_train_error,occam_kl,occam_hoeffding,sample_independent_of_training"
            );
            println!(
                "{},{layout},{t},{},{},{},{},{},{},{},{},{},{},{},{},{},{},1",
                path.display(),
                args.task,
                args.sparsity,
                (c.hidden_set.iter().map(|x| x.to_string()))
                    .collect::<Vec<_>>()
                    .join(";"),
                c.num_samples,
                c.delta,
                c.sample_errors,
                c.test_upper,
                j.certified_error_model,
                j.route.name(),
                (j.positions.iter().map(|x| x.to_string()))
                    .collect::<Vec<_>>()
                    .join(";"),
                j.bits,
                j.train_error_g,
                j.occam_kl,
                j.occam_hoeffding
            );
        }
        Format::Json => {
            let v = serde_json::json!({
                "weights": path.display().to_string(), "layout": layout, "context_len": t,
                "task": args.task, "sparsity": args.sparsity, "hidden_set": c.hidden_set,
                "num_samples": c.num_samples, "delta": c.delta, "note": independent,
                "test_bound": {"value": c.test_upper, "sample_errors": c.sample_errors,
                               "certifies": CERTIFIES_TEST},
                "junta": {"value": j.certified_error_model, "certifies": j.certifies,
                          "route": route, "positions": j.positions, "table": j.table,
                          "train_error_g": j.train_error_g, "bits": j.bits,
                          "delta_split": [j.delta_split.0, j.delta_split.1],
                          "occam_kl": j.occam_kl, "occam_hoeffding": j.occam_hoeffding},
                "pac_bayes": null,
            });
            let s = serde_json::to_string_pretty(&v).map_err(|e| Error::parse("json", e))?;
            println!("{s}");
        }
    }
    Ok(())
}

pub fn run(args: &CertifyArgs) -> Result<()> {
    if let Some(path) = &args.weights {
        return run_weights(args, path);
    }
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
    for f in cert::findings(&rows) {
        eprintln!("{f}");
    }
    cert::fail_on_findings(&rows)
}
