//! `attnbounds construct`: build, verify and report an explicit sparse-function head.

use attnbounds::Result;
use attnbounds::bounds::BoundId;
use attnbounds::construct::standard::bound_params;
use attnbounds::construct::{Code, Spec, Target, build, predicted_sample_size};
use attnbounds::experiments::{Preset, construct_figures as experiment};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ConstructArgs {
    /// and | or | parity | majority | truth-table
    #[arg(long, default_value = "and")]
    pub task: String,
    #[arg(long, default_value_t = 3)]
    pub sparsity: usize,
    #[arg(long, default_value_t = 1000)]
    pub context_len: usize,
    /// Target attention mass outside the hidden set, in (0, 1).
    #[arg(long, default_value_t = 0.05)]
    pub eta0: f64,
    /// onehot | random
    #[arg(long, default_value = "onehot")]
    pub positional: String,
    /// Truth table as 2^s characters 0/1, entry sum_j 2^j b_{i_j} first-to-last.
    #[arg(long)]
    pub truth_table: Option<String>,
    /// Check on all 2^T inputs (T <= 20) or on --inputs random inputs.
    #[arg(long)]
    pub verify: bool,
    #[arg(long, default_value_t = 100_000)]
    pub inputs: u64,
    /// Print norms and predicted sample sizes against T and against s.
    #[arg(long)]
    pub report: bool,
    /// Write the construction figures (norms and predicted sample sizes vs T and vs s) into DIR
    /// and exit; the other options are ignored.
    #[arg(long, value_name = "DIR")]
    pub figures: Option<PathBuf>,
    /// Scale of the figures: smoke | default | paper.
    #[arg(long, default_value = "default")]
    pub preset: String,
}

fn parse_target(a: &ConstructArgs) -> Result<Target> {
    Ok(match a.task.as_str() {
        "and" => Target::And,
        "or" => Target::Or,
        "parity" => Target::Parity,
        "majority" => Target::Majority,
        "truth-table" => {
            let s = a.truth_table.as_deref().unwrap_or("");
            if s.is_empty() || !s.chars().all(|c| c == '0' || c == '1') {
                return Err(attnbounds::Error::invalid(
                    "truth-table",
                    s,
                    "a string of 2^s characters 0/1",
                ));
            }
            Target::TruthTable(s.chars().map(|c| c == '1').collect())
        }
        other => {
            return Err(attnbounds::Error::invalid(
                "task",
                other,
                "and, or, parity, majority, truth-table",
            ));
        }
    })
}

fn code(p: &str) -> Result<Code> {
    match p {
        "onehot" => Ok(Code::OneHot),
        "random" => Ok(Code::Random { dim: None, seed: 0 }),
        other => Err(attnbounds::Error::invalid(
            "positional",
            other,
            "onehot or random",
        )),
    }
}

fn line(sp: &Spec) -> Result<String> {
    let c = build(sp)?;
    let n = c.norms()?;
    let params = bound_params(sp.sparsity);
    let m = |id| -> Result<String> {
        Ok(
            match predicted_sample_size(
                &n,
                sp.context_len,
                id,
                &params,
                0.1,
                1_000_000_000_000_000_000,
            )?
            .reached()
            {
                Some(m) => format!("{m:.3e}"),
                None => "> 1e18".into(),
            },
        )
    };
    Ok(format!(
        "{:>8} {:>3} {:>8.3} {:>8.3} {:>9.3} {:>9.3} {:>8.3} {:>4} {:>10} {:>10}",
        sp.context_len,
        sp.sparsity,
        c.score_scale,
        n.theta_frobenius,
        n.w_v_spectral,
        n.w_v_21,
        n.w_2,
        n.value_dim,
        m(BoundId::Explicit)?,
        m(BoundId::PaperShape)?
    ))
}

pub fn run(a: ConstructArgs) -> Result<()> {
    if let Some(dir) = &a.figures {
        let preset = Preset::parse(&a.preset)?;
        std::fs::create_dir_all(dir).map_err(|e| attnbounds::Error::io(dir.display(), e))?;
        let t0 = std::time::Instant::now();
        for e in experiment::figures(preset, dir)? {
            println!("{}: {}", dir.join(&e.stem).display(), e.description);
        }
        println!("{:.2?}", t0.elapsed());
        return Ok(());
    }
    let target = parse_target(&a)?;
    let sparsity = match &target {
        Target::TruthTable(t) => t.len().trailing_zeros() as usize,
        _ => a.sparsity,
    };
    let sp = Spec {
        target: target.clone(),
        sparsity,
        context_len: a.context_len,
        eta0: a.eta0,
        code: code(&a.positional)?,
        support: None,
    };
    let c = build(&sp)?;
    let n = c.norms()?;
    println!(
        "task {} s = {} T = {} eta0 = {} positional {}: R = {:.4}, eta = {:.3e}, d = {}, k = {}",
        target.name(),
        sparsity,
        a.context_len,
        a.eta0,
        a.positional,
        c.score_scale,
        c.eta,
        n.width,
        n.value_dim
    );
    println!(
        "norms: B_X = {:.4}  ||Theta||_F = {:.4}  ||Theta||_2,1 = {:.4}  ||W_V||_2 = {:.4}  ||W_V||_2,1 = {:.4}  ||w||_2 = {:.4}",
        n.b_x, n.theta_frobenius, n.theta_21, n.w_v_spectral, n.w_v_21, n.w_2
    );
    if a.verify {
        let t0 = std::time::Instant::now();
        let v = if a.context_len <= 20 {
            c.verify_exhaustive(4096)?
        } else {
            c.verify_random(a.inputs, 8, 1)?
        };
        println!(
            "verify: {} inputs ({}) worst margin y*f = {:.6} ({} of them summed bit by bit: max |counted - summed S| = {:.2e}); real forward on {} inputs: worst margin {:.6}, max |forward - reduced| = {:.2e}; interval certificate (all 2^T inputs): {:.6}; {:.2?}",
            v.reduced_inputs,
            if v.exhaustive { "all 2^T" } else { "random" },
            v.reduced_margin,
            v.full_sum_inputs,
            v.counted_vs_full,
            v.forward_inputs,
            v.forward_margin,
            v.forward_vs_reduced,
            v.certified_margin,
            t0.elapsed()
        );
    }
    if a.report {
        println!(
            "\npredicted m: gap bound (delta = 0.05, gamma = 1 = the margin) <= 0.1; 'paper' is the paper shape with c0 = 1"
        );
        let hdr = format!(
            "{:>8} {:>3} {:>8} {:>8} {:>9} {:>9} {:>8} {:>4} {:>10} {:>10}",
            "T", "s", "R", "|Th|_F", "|W_V|_2", "|W_V|_21", "|w|_2", "k", "m explicit", "m paper"
        );
        println!("against context_len (s = {sparsity}):\n{hdr}");
        for t in [10usize, 100, 1000, 10_000, 100_000] {
            if t >= sparsity {
                println!(
                    "{}",
                    line(&Spec {
                        context_len: t,
                        ..sp.clone()
                    })?
                );
            }
        }
        if !matches!(target, Target::TruthTable(_)) {
            println!("against sparsity (T = {}):\n{hdr}", a.context_len);
            for s in 1..=6 {
                let tg = if matches!(target, Target::Majority) && s % 2 == 0 {
                    continue;
                } else {
                    target.clone()
                };
                match line(&Spec {
                    sparsity: s,
                    target: tg,
                    ..sp.clone()
                }) {
                    Ok(l) => println!("{l}"),
                    Err(e) => println!("{:>8} {s:>3} not built: {e}", a.context_len),
                }
            }
        } else {
            println!(
                "against sparsity (T = {}, truth table = parity of s bits):\n{hdr}",
                a.context_len
            );
            for s in 1..=6usize {
                let tab = (0..1usize << s).map(|p| p.count_ones() % 2 == 1).collect();
                let eta = 0.25 / (1u64 << s) as f64;
                match line(&Spec {
                    sparsity: s,
                    target: Target::TruthTable(tab),
                    eta0: eta,
                    ..sp.clone()
                }) {
                    Ok(l) => println!("{l}"),
                    Err(e) => println!("{:>8} {s:>3} not built: {e}", a.context_len),
                }
            }
        }
    }
    Ok(())
}
