//! `attnbounds norms`: norms per head and layer of a model trained elsewhere (safetensors), and
//! the bounds they give. Library calls: `weights::read_file_mapped`, `weights::model_norms`,
//! `weights::radii_for_bounds` (max over heads), `bounds::all_bounds`; this file only parses and
//! prints.

use attnbounds::bounds::{BoundParams, all_bounds};
use attnbounds::weights::{
    HfCheckpoint, HfOptions, HfTable, b_x_for_model, bound_setting, export_augmented,
    head_capacities, hf_table, layout_from_arg, model_norms, radii_for_bounds, read_file_mapped,
};
use attnbounds::{Error, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct NormsArgs {
    /// safetensors file with the model (layout: docs/pytorch.md), or a Hugging Face checkpoint
    /// directory (config.json + model.safetensors or a sharded index; BERT family or GPT-2).
    #[arg(long)]
    pub weights: PathBuf,
    /// Tensor-name layout: torch-mha, separate-qkv, or a TOML mapping file (docs/pytorch.md).
    #[arg(long, default_value = "torch-mha")]
    pub layout: String,
    /// Heads per layer (required unless the file's metadata says).
    #[arg(long)]
    pub heads: Option<usize>,
    /// Sample size m (required for a safetensors file).
    #[arg(long)]
    pub num_samples: Option<usize>,
    /// Context length T (tokens, without \[CLS\]; for a checkpoint directory: the sequence
    /// length fed to the model, special tokens included). Required for a safetensors file.
    #[arg(long)]
    pub context_len: Option<usize>,
    /// Failure probability delta in (0, 1).
    #[arg(long, default_value_t = 0.05)]
    pub delta: f64,
    /// Margin gamma of the ramp loss.
    #[arg(long, default_value_t = 1.0)]
    pub gamma: f64,
    /// B_X given directly: max l2 norm of an input row (tokens and \[CLS\]).
    #[arg(long, conflicts_with = "data")]
    pub b_x: Option<f64>,
    /// Inputs for B_X (largest row norm): safetensors with one tensor (or `x`) of shape
    /// (n, T, d) or (n T, d), or a .csv of numeric rows. Rows are embedded inputs, \[CLS\] included.
    #[arg(long, visible_alias = "inputs")]
    pub data: Option<PathBuf>,
    /// Print JSON instead of tables (same as --format json).
    #[arg(long)]
    pub json: bool,
    /// Output format: table, csv (checkpoint directories: one row per layer and head) or json.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Checkpoint directories: a read-out tensor name (shape (d) or (1, d)); without it each
    /// head is measured with a unit read-out and no whole-model bound is claimed.
    #[arg(long)]
    pub readout: Option<String>,
    /// Checkpoint directories: user-given lower bound on the variance of every row entering a
    /// LayerNorm (else LayerNorm's Lipschitz constant is reported as unbounded).
    #[arg(long)]
    pub variance_floor: Option<f64>,
    /// Checkpoint directories: write the bias-augmented per-head matrices to
    /// DIR/layer_{l}.safetensors (docs/pytorch.md#hugging-face-checkpoints).
    #[arg(long)]
    pub export_augmented: Option<PathBuf>,
}

const FORMATS: &str = "table, csv or json";

fn need(v: Option<usize>, field: &str, flag: &str) -> Result<usize> {
    v.ok_or_else(|| {
        Error::invalid(
            field,
            "absent",
            format!("{flag} N (required for a safetensors file)"),
        )
    })
}

pub fn run(a: NormsArgs) -> Result<()> {
    let format = if a.json { "json" } else { a.format.as_str() };
    if !["table", "csv", "json"].contains(&format) {
        return Err(Error::invalid("format", format, FORMATS));
    }
    if a.weights.is_dir() {
        return run_checkpoint(&a, format);
    }
    if format == "csv" {
        return Err(Error::invalid(
            "format",
            "csv",
            "table or json for a safetensors file (csv is for checkpoint directories)",
        ));
    }
    let num_samples = need(a.num_samples, "num_samples", "--num-samples")?;
    let context_len = need(a.context_len, "context_len", "--context-len")?;
    let (layout, mapping) = layout_from_arg(&a.layout)?;
    let model = read_file_mapped(&a.weights, &mapping, &layout, a.heads)?;
    let norms = model_norms(&model)?;
    let b_x = match (a.b_x, &a.data) {
        (Some(b), None) => b,
        (None, Some(p)) => b_x_for_model(p, &model, context_len)?,
        _ => {
            return Err(Error::invalid(
                "b_x",
                "absent",
                "--b-x X or --data/--inputs FILE",
            ));
        }
    };
    let setting = bound_setting(&model, num_samples, context_len);
    let radii = radii_for_bounds(&norms, b_x)?;
    let params = BoundParams {
        delta: a.delta,
        gamma: a.gamma,
        ..BoundParams::default()
    };
    let rows = all_bounds(&setting, &radii, &params)?;
    if format == "json" {
        let v = serde_json::json!({
            "weights": a.weights.display().to_string(), "layout": layout,
            "ignored_tensors": model.ignored, "setting": setting, "radii": radii,
            "norms": norms, "bounds": rows,
        });
        let s = serde_json::to_string_pretty(&v).map_err(|e| Error::parse("json", e))?;
        println!("{s}");
        return Ok(());
    }
    println!(
        "model: {} ({}), layers {}, heads {}, width {}",
        a.weights.display(),
        layout,
        setting.layers,
        setting.heads,
        setting.width
    );
    if !model.ignored.is_empty() {
        println!(
            "ignored (the theory's class has no biases): {}",
            model.ignored.join(", ")
        );
    }
    println!(
        "{:>5} {:>4} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}",
        "layer",
        "head",
        "Theta_F",
        "Theta_21",
        "ThetaT_21",
        "Theta_2",
        "W_V_2",
        "W_V_21",
        "W_C_2",
        "W_C_21"
    );
    let heads = (norms.layers.iter().enumerate())
        .flat_map(|(l, layer)| layer.heads.iter().enumerate().map(move |(i, h)| (l, i, h)));
    for (layer, head, h) in heads {
        let c = |x: Option<f64>| x.unwrap_or(f64::NAN);
        println!(
            "{:>5} {:>4} {:>11.4e} {:>11.4e} {:>11.4e} {:>11.4e} {:>11.4e} {:>11.4e} {:>11.4e} {:>11.4e}",
            layer,
            head,
            h.theta_fro,
            h.theta_21,
            h.theta_21_transposed,
            h.theta_spectral,
            h.w_v_spectral,
            h.w_v_21,
            c(h.w_c_spectral),
            c(h.w_c_21)
        );
    }
    println!("read-out ||w||_2 = {:.4e}; B_X = {:.4e}", norms.w_l2, b_x);
    println!(
        "bounds (radii = max over heads; m = {}, T = {}, delta = {}, gamma = {}):",
        num_samples, context_len, a.delta, a.gamma
    );
    let opt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4e}"));
    println!(
        "{:<46} {:>11} {:>11} {:>11}  status",
        "bound", "ln N(eps)", "Rad_S", "gap"
    );
    for r in &rows {
        println!(
            "{:<46} {:>11} {:>11} {:>11}  {}",
            r.name,
            opt(r.log_covering),
            opt(r.rademacher),
            opt(r.gap),
            r.status
        );
    }
    println!(
        "note: rows other than `post-hoc` treat the trained norms as radii fixed before training; \
         only the post-hoc row (a union bound over a radius grid) is valid for weights chosen \
         after seeing the data (docs/derivations.md#8)."
    );
    Ok(())
}

/// A Hugging Face checkpoint directory: the per-layer, per-head table (`weights::hf_table`).
fn run_checkpoint(a: &NormsArgs, format: &str) -> Result<()> {
    if a.data.is_some() {
        return Err(Error::invalid(
            "data",
            "given with a checkpoint directory",
            "absent: B_X of every layer is bounded from the checkpoint's LayerNorms; give --b-x \
             to be warned where those bounds exceed it",
        ));
    }
    let ck = HfCheckpoint::read_dir(&a.weights)?;
    let opts = HfOptions {
        heads: a.heads,
        context_len: a.context_len,
        b_x: a.b_x,
        variance_floor: a.variance_floor,
        readout: a.readout.clone(),
    };
    let t = hf_table(&ck, &opts)?;
    if let Some(dir) = &a.export_augmented {
        let files = export_augmented(&ck, dir)?;
        eprintln!(
            "wrote {} files of augmented heads to {}",
            files.len(),
            dir.display()
        );
    }
    for w in &t.warnings {
        eprintln!("warning: {w}");
    }
    let caps = match (a.num_samples, a.context_len) {
        (Some(m), Some(tl)) => {
            let params = BoundParams {
                delta: a.delta,
                gamma: a.gamma,
                ..BoundParams::default()
            };
            Some(head_capacities(&t, m, tl, &params)?)
        }
        (Some(_), None) => {
            return Err(Error::invalid(
                "context_len",
                "absent",
                "--context-len T with --num-samples (per-head capacities)",
            ));
        }
        _ => None,
    };
    match format {
        "json" => match &caps {
            None => println!("{}", t.to_json()?),
            Some(c) => {
                let v = serde_json::json!({"table": t, "head_capacities": c});
                let s = serde_json::to_string_pretty(&v).map_err(|e| Error::parse("json", e))?;
                println!("{s}");
            }
        },
        "csv" => print!("{}", t.to_csv()),
        _ => {
            print_table(&t);
            if let Some(c) = &caps {
                print_capacities(c);
            }
        }
    }
    Ok(())
}

fn print_table(t: &HfTable) {
    println!(
        "model: {} ({}{}, {}), layers {}, heads {}, width {}, head dim {}",
        t.dir,
        t.model_type,
        t.architecture
            .as_deref()
            .map_or(String::new(), |a| format!(" {a}")),
        if t.causal { "causal" } else { "bidirectional" },
        t.layers,
        t.heads,
        t.width,
        t.head_dim
    );
    println!(
        "orientation: x W, W in R^(d_in x d_out); Theta = W_K W_Q^T (1/sqrt(dh) folded into W_Q); \
         W_C = head's rows of W_O; aug = biases appended as a last row (x~ = [x; 1])"
    );
    println!(
        "{:>3} {:>3} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "L",
        "h",
        "Theta_F",
        "Theta_2",
        "Theta_21",
        "W_V_2",
        "W_V_F",
        "W_C_2",
        "W_C_F",
        "b_Q_2",
        "b_K_2",
        "ThAug_F",
        "W_VAug_2"
    );
    for h in &t.heads_table {
        println!(
            "{:>3} {:>3} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e}",
            h.layer,
            h.head,
            h.theta_fro,
            h.theta_spectral,
            h.theta_21,
            h.w_v_spectral,
            h.w_v_fro,
            h.w_c_spectral,
            h.w_c_fro,
            h.b_q_l2,
            h.b_k_l2,
            h.theta_aug_fro,
            h.w_v_aug_spectral
        );
    }
    println!(
        "{:>3} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "L", "rho_l", "rho_aug", "B_X_in", "B_X_aug", "W_O_2", "b_O_2", "MLP_in_2", "MLP_out_2"
    );
    for l in &t.layers_table {
        println!(
            "{:>3} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e}  B_X from {}",
            l.layer,
            l.rho,
            l.rho_aug,
            l.b_x_in,
            l.b_x_in_aug,
            l.w_o_spectral,
            l.b_o_l2,
            l.mlp_in_spectral,
            l.mlp_out_spectral,
            l.b_x_in_source
        );
    }
    println!("LayerNorms (||LN(x)||_2 <= ||g||_inf sqrt(d) + ||beta||_2):");
    for n in &t.layer_norms {
        println!(
            "  {:<55} {:<22} ||g||_inf {:.3e} ||beta||_2 {:.3e} bound {:.3e} lipschitz {}",
            n.tensor,
            n.site,
            n.gamma_inf,
            n.beta_l2,
            n.output_norm_bound,
            n.lipschitz
                .map_or("unbounded (no --variance-floor)".into(), |x| format!(
                    "{x:.3e}"
                ))
        );
    }
    if let Some(e) = &t.embeddings {
        println!(
            "raw embeddings: token rows <= {:.3e}, position rows <= {:.3e} ({} of {} used), type rows <= {:.3e}, sum <= {:.3e}",
            e.token_max_row,
            e.position_max_row,
            e.positions_used,
            e.position_rows,
            e.token_type_max_row,
            e.sum_bound
        );
    }
    if let Some(r) = &t.readout {
        println!("read-out {}: ||w||_2 = {:.4e}", r.tensor, r.w_l2);
    }
    println!("tensors ({}):", t.tensors.len());
    for x in &t.tensors {
        println!(
            "  {} {:?} {} {}: {}",
            if x.used { "used    " } else { "NOT USED" },
            x.shape,
            x.dtype,
            x.name,
            x.role
        );
    }
    for s in &t.statements {
        println!("note: {s}");
    }
}

fn print_capacities(caps: &[attnbounds::weights::HeadCapacity]) {
    println!(
        "per-head capacities (each head alone, unit read-out, augmented radii; not a whole-model \
         bound): gap of each single-head bound row"
    );
    let Some(first) = caps.first() else {
        return;
    };
    let names: Vec<&str> = first.bounds.iter().map(|r| r.name).collect();
    println!("{:>3} {:>3}  {}", "L", "h", names.join(" | "));
    for c in caps {
        let gaps: Vec<String> = c
            .bounds
            .iter()
            .map(|r| r.gap.map_or("-".into(), |g| format!("{g:.3e}")))
            .collect();
        println!("{:>3} {:>3}  {}", c.layer, c.head, gaps.join(" | "));
    }
}
