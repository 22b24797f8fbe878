//! `attnbounds bound`: print every applicable bound for one parameter set, or over a sweep.
//!
//! Parameters come from flags, a TOML file (`--config`, same names in snake_case), or both (flags
//! win). The library call is `bounds::all_bounds`; this file only parses, merges and prints.

use attnbounds::bounds::{
    BoundParams, BoundRow, HeadRadii, LedgerStep, Radii, SampleSize, Setting, all_bounds,
    slack_ledger,
};
use attnbounds::{Error, Result};
use clap::Args;
use serde::Deserialize;

/// Arguments of `attnbounds bound`.
#[derive(Args, Debug, Default)]
#[command(allow_negative_numbers = true)]
pub struct BoundArgs {
    /// TOML file with any of the fields below (snake_case, e.g. `context_len = 100`).
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// Sample size m.
    #[arg(long)]
    pub num_samples: Option<usize>,
    /// Context length T (tokens, without \[CLS\]).
    #[arg(long)]
    pub context_len: Option<usize>,
    /// Width d of token representations.
    #[arg(long)]
    pub width: Option<usize>,
    /// Value dimension k.
    #[arg(long)]
    pub value_dim: Option<usize>,
    /// Heads per layer [default: 1].
    #[arg(long)]
    pub heads: Option<usize>,
    /// Layers [default: 1].
    #[arg(long)]
    pub layers: Option<usize>,
    /// B_X: max l2 norm of a row of the input (tokens and \[CLS\]).
    #[arg(long)]
    pub b_x: Option<f64>,
    /// B_QK: bound on ||Theta||_F, Theta = W_K W_Q^T (a (2,1) bound also works).
    #[arg(long)]
    pub b_qk: Option<f64>,
    /// B_V: bound on the spectral norm ||W_V||_2.
    #[arg(long)]
    pub b_v: Option<f64>,
    /// B_V^{2,1}: bound on ||W_V||_{2,1} (sum of column norms).
    #[arg(long)]
    pub b_v21: Option<f64>,
    /// B_w: bound on ||w||_2 of the read-out.
    #[arg(long)]
    pub b_w: Option<f64>,
    /// B_C: bound on ||W_C||_2 (deep model; needed when heads or layers > 1).
    #[arg(long)]
    pub b_c: Option<f64>,
    /// B_C^{2,1}: bound on ||W_C||_{2,1} (deep model).
    #[arg(long)]
    pub b_c21: Option<f64>,
    /// Lipschitz constant of the activation [default: 1].
    #[arg(long)]
    pub l_sigma: Option<f64>,
    /// Failure probability delta in (0, 1) [default: 0.05].
    #[arg(long)]
    pub delta: Option<f64>,
    /// Ramp-loss margin gamma [default: 1].
    #[arg(long)]
    pub gamma: Option<f64>,
    /// Scale eps of the reported log covering number [default: 0.1].
    #[arg(long)]
    pub eps: Option<f64>,
    /// Softmax constant of our bounds [default: 1].
    #[arg(long)]
    pub kappa: Option<f64>,
    /// Softmax constant of the paper's shape [default: 2].
    #[arg(long)]
    pub kappa_paper: Option<f64>,
    /// Unconfirmed constant c0 of the paper's shape [default: 1].
    #[arg(long)]
    pub c0: Option<f64>,
    /// Sparsity s of the target (lower bound) [default: 3].
    #[arg(long)]
    pub sparsity: Option<usize>,
    /// Smallest radius of the post-hoc grid [default: 2^-20].
    #[arg(long)]
    pub r_min: Option<f64>,
    /// Sweep one count over a log grid: `context-len=10..100000` or `num-samples=100..1e6`.
    #[arg(long)]
    pub sweep: Option<String>,
    /// Grid points per decade of the sweep.
    #[arg(long, default_value_t = 9)]
    pub points: usize,
    /// Print JSON (an array of rows).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV with a header.
    #[arg(long)]
    pub csv: bool,
    /// B_X bounds every possible input (a fixed embedding), fixed before the data: one-sided
    /// confidence term, no B_X grid (docs/derivations.md section 12, (I32)).
    #[arg(long)]
    pub b_x_fixed: bool,
    /// Print the slack ledger instead of the rows: the smallest m with explicit single-head gap
    /// <= --target, before the tightenings and after each one in turn (ignores --num-samples
    /// and --sweep).
    #[arg(long, conflicts_with = "sweep")]
    pub explain: bool,
    /// Target gap of --explain [default: 0.5].
    #[arg(long)]
    pub target: Option<f64>,
}

/// The TOML file: every field optional, unknown keys rejected.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    num_samples: Option<usize>,
    context_len: Option<usize>,
    width: Option<usize>,
    value_dim: Option<usize>,
    heads: Option<usize>,
    layers: Option<usize>,
    b_x: Option<f64>,
    b_qk: Option<f64>,
    b_v: Option<f64>,
    b_v21: Option<f64>,
    b_w: Option<f64>,
    b_c: Option<f64>,
    b_c21: Option<f64>,
    l_sigma: Option<f64>,
    delta: Option<f64>,
    gamma: Option<f64>,
    eps: Option<f64>,
    kappa: Option<f64>,
    kappa_paper: Option<f64>,
    c0: Option<f64>,
    sparsity: Option<usize>,
    r_min: Option<f64>,
    b_x_fixed: Option<bool>,
}

fn required<T>(field: &str, v: Option<T>) -> Result<T> {
    v.ok_or_else(|| {
        Error::invalid(
            field,
            "(missing)",
            "a value, by flag or in the --config file",
        )
    })
}

/// Merge flags over the file over defaults, into the library's input structs.
fn resolve(a: &BoundArgs) -> Result<(Setting, Radii, BoundParams)> {
    let f: FileConfig = match &a.config {
        None => FileConfig::default(),
        Some(path) => {
            let max = attnbounds::limits::MAX_TEXT_FILE_BYTES;
            let text = attnbounds::fsio::read_text("config", path, max)?;
            toml::from_str(&text).map_err(|e| Error::parse(path.display(), e))?
        }
    };
    let d = BoundParams::default();
    let setting = Setting {
        num_samples: required("num_samples", a.num_samples.or(f.num_samples))?,
        context_len: required("context_len", a.context_len.or(f.context_len))?,
        width: required("width", a.width.or(f.width))?,
        value_dim: required("value_dim", a.value_dim.or(f.value_dim))?,
        heads: a.heads.or(f.heads).unwrap_or(1),
        layers: a.layers.or(f.layers).unwrap_or(1),
    };
    let head = HeadRadii {
        b_x: required("b_x", a.b_x.or(f.b_x))?,
        b_qk: required("b_qk", a.b_qk.or(f.b_qk))?,
        b_v: required("b_v", a.b_v.or(f.b_v))?,
        b_v21: required("b_v21", a.b_v21.or(f.b_v21))?,
        b_w: required("b_w", a.b_w.or(f.b_w))?,
    };
    let radii = Radii::with_optional_c(head, a.b_c.or(f.b_c), a.b_c21.or(f.b_c21))?;
    let params = BoundParams {
        delta: a.delta.or(f.delta).unwrap_or(d.delta),
        gamma: a.gamma.or(f.gamma).unwrap_or(d.gamma),
        eps: a.eps.or(f.eps).unwrap_or(d.eps),
        l_sigma: a.l_sigma.or(f.l_sigma).unwrap_or(d.l_sigma),
        kappa: a.kappa.or(f.kappa).unwrap_or(d.kappa),
        kappa_paper: a.kappa_paper.or(f.kappa_paper).unwrap_or(d.kappa_paper),
        c0: a.c0.or(f.c0).unwrap_or(d.c0),
        sparsity: a.sparsity.or(f.sparsity).unwrap_or(d.sparsity),
        r_min: a.r_min.or(f.r_min).unwrap_or(d.r_min),
        b_x_fixed: a.b_x_fixed || f.b_x_fixed.unwrap_or(d.b_x_fixed),
        ..d
    };
    Ok((setting, radii, params))
}

/// Which count a sweep varies.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SweepVar {
    ContextLen,
    NumSamples,
}

/// Parse `context-len=10..100000` into the variable and a log grid with `points` per decade
/// (`stats::log_grid`: both ends included, rounded to integers, deduplicated).
fn parse_sweep(spec: &str, points: usize) -> Result<(SweepVar, Vec<usize>)> {
    let bad = |why: &str| Error::invalid("sweep", spec, why.to_string());
    let (name, range) = spec
        .split_once('=')
        .ok_or_else(|| bad("NAME=LO..HI, e.g. context-len=10..100000"))?;
    let var = match name.trim().replace('_', "-").as_str() {
        "context-len" => SweepVar::ContextLen,
        "num-samples" => SweepVar::NumSamples,
        _ => return Err(bad("NAME one of context-len, num-samples")),
    };
    let (lo, hi) = range
        .split_once("..")
        .ok_or_else(|| bad("a range LO..HI"))?;
    let parse = |s: &str| -> Result<usize> {
        let x: f64 = s
            .trim()
            .parse()
            .map_err(|_| bad("LO and HI numbers (1e5 allowed)"))?;
        if x.is_finite() && x >= 1.0 && x.fract() == 0.0 && x < 1e15 {
            Ok(x as usize)
        } else {
            Err(bad("LO and HI integers in 1..1e15"))
        }
    };
    let (lo, hi) = (parse(lo)?, parse(hi)?);
    if lo > hi {
        return Err(bad("LO <= HI"));
    }
    use attnbounds::limits::{MAX_POINTS, MAX_SWEEP_POINTS, count_in};
    count_in("points", points, 1, MAX_POINTS)?;
    let total = ((hi as f64).log10() - (lo as f64).log10()) * points as f64 + 1.0;
    if total > MAX_SWEEP_POINTS as f64 {
        return Err(Error::invalid(
            "points",
            points,
            format!(
                "at most {MAX_SWEEP_POINTS} grid points in all (this sweep would evaluate about \
                 {total:.0}; docs/limits.md)"
            ),
        ));
    }
    let grid = attnbounds::stats::log_grid(lo, hi, points);
    Ok((var, grid))
}

/// One printed line: the swept counts plus a row.
struct Line {
    context_len: usize,
    num_samples: usize,
    eps: f64,
    row: BoundRow,
}

fn compute(a: &BoundArgs) -> Result<Vec<Line>> {
    let (setting, radii, params) = resolve(a)?;
    let settings = match &a.sweep {
        None => vec![setting],
        Some(spec) => {
            let (var, grid) = parse_sweep(spec, a.points)?;
            grid.into_iter()
                .map(|v| match var {
                    SweepVar::ContextLen => Setting {
                        context_len: v,
                        ..setting
                    },
                    SweepVar::NumSamples => Setting {
                        num_samples: v,
                        ..setting
                    },
                })
                .collect()
        }
    };
    let mut lines = Vec::new();
    let swept = a.sweep.is_some();
    for s in settings {
        let rows = all_bounds(&s, &radii, &params).map_err(|e| match e {
            // Name the failing point of a sweep (its field keeps the library's name).
            Error::InvalidValue {
                field,
                value,
                allowed,
            } if swept => Error::InvalidValue {
                field: format!(
                    "{field} (at sweep point context_len = {}, num_samples = {})",
                    s.context_len, s.num_samples
                ),
                value,
                allowed,
            },
            e => e,
        })?;
        for row in rows {
            lines.push(Line {
                context_len: s.context_len,
                num_samples: s.num_samples,
                eps: params.eps,
                row,
            });
        }
    }
    Ok(lines)
}

fn sci(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.3e}"))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn print_table(lines: &[Line]) {
    let header = [
        "context_len",
        "num_samples",
        "bound",
        "ln N(eps)",
        "rademacher",
        "gap",
        "vc_dim",
        "status",
        "source",
    ];
    let cells: Vec<[String; 9]> = lines
        .iter()
        .map(|l| {
            let sat = if l.row.saturated { ">=" } else { "" };
            [
                l.context_len.to_string(),
                l.num_samples.to_string(),
                l.row.name.to_string(),
                format!("{sat}{}", sci(l.row.log_covering)),
                sci(l.row.rademacher),
                sci(l.row.gap),
                sci(l.row.vc_dimension),
                l.row.status.to_string(),
                l.row.source.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for c in &cells {
        for (w, s) in widths.iter_mut().zip(c) {
            *w = (*w).max(s.len());
        }
    }
    let fmt = |c: &[String]| {
        c.iter()
            .enumerate()
            .map(|(i, s)| {
                if (3..7).contains(&i) {
                    format!("{s:>w$}", w = widths[i])
                } else {
                    format!("{s:<w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let head: Vec<String> = header.iter().map(|s| s.to_string()).collect();
    println!("{}", fmt(&head));
    let mut last = None;
    for (l, c) in lines.iter().zip(&cells) {
        let key = (l.context_len, l.num_samples);
        if last.is_some_and(|k| k != key) {
            println!();
        }
        last = Some(key);
        println!("{}", fmt(c));
    }
    if let Some(l) = lines.first() {
        println!(
            "\nln N at eps = {}; gap: ramp loss, probability >= 1 - delta; \">=\" marks a saturated value.",
            l.eps
        );
    }
}

fn print_csv(lines: &[Line]) {
    println!(
        "context_len,num_samples,eps,bound,log_covering,rademacher,gap,vc_dimension,status,source,saturated"
    );
    let opt = |x: Option<f64>| x.map_or_else(String::new, |v| format!("{v:e}"));
    for l in lines {
        println!(
            "{},{},{:e},{},{},{},{},{},{},{},{}",
            l.context_len,
            l.num_samples,
            l.eps,
            csv_field(l.row.name),
            opt(l.row.log_covering),
            opt(l.row.rademacher),
            opt(l.row.gap),
            opt(l.row.vc_dimension),
            csv_field(&l.row.status.to_string()),
            csv_field(l.row.source),
            l.row.saturated
        );
    }
}

fn print_json(lines: &[Line]) -> Result<()> {
    let values: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| {
            let mut v = serde_json::to_value(&l.row).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("context_len".into(), l.context_len.into());
                o.insert("num_samples".into(), l.num_samples.into());
                o.insert("eps".into(), l.eps.into());
            }
            v
        })
        .collect();
    let s = serde_json::to_string_pretty(&values).map_err(|e| Error::parse("bound rows", e))?;
    println!("{s}");
    Ok(())
}

/// Cap of the ledger's sample-size search.
const LEDGER_CAP: usize = 1_000_000_000_000_000;

/// `--explain`: the slack ledger (`bounds::slack_ledger`) as a table or CSV.
fn explain(a: &BoundArgs) -> Result<()> {
    let (setting, radii, params) = resolve(a)?;
    if !setting.is_single_head() {
        return Err(Error::invalid(
            "explain",
            format!("heads = {}, layers = {}", setting.heads, setting.layers),
            "heads = layers = 1 (the ledger is of the explicit single-head bound)",
        ));
    }
    let target = a.target.unwrap_or(0.5);
    let (steps, remainder) = slack_ledger(&setting, &radii.head, &params, target, LEDGER_CAP)?;
    let m = |s: SampleSize| match s {
        SampleSize::Reached(m) => format!("{m:.3e}", m = m as f64),
        SampleSize::NotReachedBelowCap { cap } => format!("> {:.0e}", cap as f64),
    };
    let factor = |s: &LedgerStep| s.factor.map_or_else(|| "-".into(), |f| format!("{f:.3}"));
    let fixed_note = if params.b_x_fixed {
        ""
    } else {
        " (no effect: --b-x-fixed not given)"
    };
    if a.csv {
        println!("step,inequality,sample_size,factor");
        for s in &steps {
            let ss = s
                .sample_size
                .reached()
                .map_or_else(String::new, |v| format!("{v:e}"));
            let f = s.factor.map_or_else(String::new, |v| format!("{v:e}"));
            println!("{},{},{ss},{f}", csv_field(s.step), s.inequality);
        }
        let r = remainder
            .reached()
            .map_or_else(String::new, |v| format!("{v:e}"));
        println!("remainder: score stage free (not a bound),,{r},");
        return Ok(());
    }
    println!(
        "Slack ledger: smallest m with explicit single-head gap <= {target} (context_len = {}, \
         width = {}, value_dim = {}, delta = {}, gamma = {}), each step applied on top of the \
         previous ones (docs/derivations.md section 12.5).",
        setting.context_len, setting.width, setting.value_dim, params.delta, params.gamma
    );
    let w = steps.iter().map(|s| s.step.len()).max().unwrap_or(0).max(4);
    println!(
        "{:<w$}  {:>5}  {:>12}  {:>10}",
        "step", "(In)", "m", "factor"
    );
    for s in &steps {
        let note = if s.inequality == "I32" {
            fixed_note
        } else {
            ""
        };
        println!(
            "{:<w$}  {:>5}  {:>12}  {:>10}{note}",
            s.step,
            s.inequality,
            m(s.sample_size),
            factor(s)
        );
    }
    if let (Some(first), Some(last)) = (
        steps.first().and_then(|s| s.sample_size.reached()),
        steps.last().and_then(|s| s.sample_size.reached()),
    ) {
        println!("total factor: {:.3}", first / last);
    }
    println!(
        "remainder (not a bound): with the score stage free (Zhang's 36 and ln(m (T+1)), or the \
         volumetric d^2 log) the same target needs m = {}; the tightened bound is {} that.",
        m(remainder),
        match (
            steps.last().and_then(|s| s.sample_size.reached()),
            remainder.reached()
        ) {
            (Some(a), Some(b)) => format!("{:.3}x", a / b),
            _ => "-".into(),
        }
    );
    Ok(())
}

/// Run `attnbounds bound`.
pub fn run(a: BoundArgs) -> Result<()> {
    if a.explain {
        return explain(&a);
    }
    let lines = compute(&a)?;
    if a.json {
        print_json(&lines)
    } else if a.csv {
        print_csv(&lines);
        Ok(())
    } else {
        print_table(&lines);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_grid() {
        // 10..1000 with 1 point per decade: 10, 100, 1000.
        let (v, g) = parse_sweep("context-len=10..1000", 1).unwrap();
        assert_eq!(v, SweepVar::ContextLen);
        assert_eq!(g, vec![10, 100, 1000]);
        // 100..1000, 3 per decade: 10^(2 + i/3) rounded: 100, 215, 464, 1000.
        let (_, g) = parse_sweep("num-samples=100..1e3", 3).unwrap();
        assert_eq!(g, vec![100, 215, 464, 1000]);
        assert!(parse_sweep("context-len=0..10", 3).is_err());
        assert!(parse_sweep("width=1..10", 3).is_err());
        assert!(parse_sweep("context-len=10..1", 3).is_err());
    }
}
