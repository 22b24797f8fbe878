//! `attnbounds construct`: build, verify and report an explicit sparse-function head.
//! (Its figures: `attnbounds experiment constructions`.)

use attnbounds::bounds::BoundId;
use attnbounds::construct::standard::{CAP, DELTA, GAMMA, TARGET_GAP, bound_params};
use attnbounds::construct::{Code, Spec, Target, build, predicted_sample_size};
use attnbounds::{Error, Result};
use clap::{Args, ValueEnum};

/// The Boolean function of the hidden bits.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskArg {
    And,
    Or,
    Parity,
    Majority,
    /// Any function of s bits, given by `--truth-table`.
    TruthTable,
}

/// Positional codes of the fixed embedding.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PositionalArg {
    /// p_t = e_t (width T + 3).
    #[value(name = "onehot")]
    OneHot,
    /// Random +-1/sqrt(dim) signs (width ceil(8 s ln(T + 1)) + 3).
    Random,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct ConstructArgs {
    #[arg(long, value_enum, default_value_t = TaskArg::And)]
    pub task: TaskArg,
    #[arg(long, default_value_t = 3)]
    pub sparsity: usize,
    #[arg(long, default_value_t = 1000)]
    pub context_len: usize,
    /// Target attention mass outside the hidden set, in (0, 1).
    #[arg(long, default_value_t = 0.05)]
    pub eta0: f64,
    #[arg(long, value_enum, default_value_t = PositionalArg::OneHot)]
    pub positional: PositionalArg,
    /// Truth table as 2^s characters 0/1, entry sum_j 2^j b_{i_j} first-to-last.
    #[arg(long)]
    pub truth_table: Option<String>,
    /// Check on all 2^T inputs (small T, see `construct::EXHAUSTIVE_MAX_CONTEXT_LEN`) or on
    /// --inputs random inputs.
    #[arg(long)]
    pub verify: bool,
    #[arg(long, default_value_t = 100_000)]
    pub inputs: u64,
    /// Print norms and predicted sample sizes against T and against s.
    #[arg(long)]
    pub report: bool,
}

fn parse_target(a: &ConstructArgs) -> Result<Target> {
    Ok(match a.task {
        TaskArg::And => Target::And,
        TaskArg::Or => Target::Or,
        TaskArg::Parity => Target::Parity,
        TaskArg::Majority if a.sparsity % 2 == 1 => Target::Majority,
        TaskArg::TruthTable => {
            let s = a.truth_table.as_deref().unwrap_or("");
            if s.is_empty() || !s.chars().all(|c| c == '0' || c == '1') {
                return Err(Error::invalid(
                    "truth-table",
                    s,
                    "a string of 2^s characters 0/1",
                ));
            }
            let n = s.len();
            let max = 1usize << attnbounds::limits::MAX_SPARSITY;
            if n < 2 || !n.is_power_of_two() || n > max {
                return Err(Error::invalid(
                    "truth-table length",
                    n,
                    format!("2^s characters 0/1 for a sparsity s >= 1 (2, 4, 8, ..., {max})"),
                ));
            }
            Target::TruthTable(s.chars().map(|c| c == '1').collect())
        }
        TaskArg::Majority => {
            return Err(Error::invalid(
                "sparsity",
                a.sparsity,
                "an odd integer for --task majority (an even s has ties; gap refuses it too)",
            ));
        }
    })
}

impl PositionalArg {
    fn name(self) -> &'static str {
        match self {
            PositionalArg::OneHot => "onehot",
            PositionalArg::Random => "random",
        }
    }
}

fn code(p: PositionalArg) -> Code {
    match p {
        PositionalArg::OneHot => Code::OneHot,
        PositionalArg::Random => Code::Random { dim: None, seed: 0 },
    }
}

fn line(sp: &Spec) -> Result<String> {
    let c = build(sp)?;
    let n = c.norms()?;
    let params = bound_params(sp.sparsity);
    let m = |id| -> Result<String> {
        Ok(
            match predicted_sample_size(&n, sp.context_len, id, &params, TARGET_GAP, CAP)?.reached()
            {
                Some(m) => format!("{m:.3e}"),
                None => format!("> {:.1e}", CAP as f64),
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

/// `--inputs` of a random verification: at least 1 (0 inputs would report a margin of
/// infinity), at most `limits::MAX_INPUTS`, and within the work limit (each input costs
/// O(s + log T), or O(T) with random codes).
fn check_inputs(a: &ConstructArgs) -> Result<()> {
    use attnbounds::construct::EXHAUSTIVE_MAX_CONTEXT_LEN;
    use attnbounds::limits::{self, MAX_INPUTS};
    if a.context_len <= EXHAUSTIVE_MAX_CONTEXT_LEN {
        return Ok(()); // all 2^T inputs; --inputs is not read
    }
    if a.inputs == 0 || a.inputs > MAX_INPUTS {
        return Err(Error::invalid(
            "inputs",
            a.inputs,
            format!("an integer in [1, {MAX_INPUTS}] (docs/limits.md)"),
        ));
    }
    let per_input = match a.positional {
        PositionalArg::OneHot => a.sparsity as f64 + (a.context_len as f64).log2() + 16.0,
        PositionalArg::Random => a.context_len as f64,
    };
    limits::work("inputs", a.inputs, a.inputs as f64 * per_input)
}

pub fn run(a: ConstructArgs) -> Result<()> {
    let target = parse_target(&a)?;
    if a.verify {
        check_inputs(&a)?;
    }
    let sparsity = match &target {
        Target::TruthTable(t) => t.len().trailing_zeros() as usize,
        _ => a.sparsity,
    };
    let sp = Spec {
        target: target.clone(),
        sparsity,
        context_len: a.context_len,
        eta0: a.eta0,
        code: code(a.positional),
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
        a.positional.name(),
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
        let v = c.verify(a.inputs)?;
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
            "\npredicted m: gap bound (delta = {DELTA}, gamma = {GAMMA} = the margin) <= {TARGET_GAP}; 'paper' is the paper shape with c0 = 1"
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
