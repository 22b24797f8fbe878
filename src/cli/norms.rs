//! `attnbounds norms`: norms per head and layer of a model trained elsewhere (safetensors), and
//! the bounds they give. Library calls: `weights::read_file_mapped`, `weights::model_norms`,
//! `weights::radii_for_bounds` (max over heads), `bounds::all_bounds`; this file only parses and
//! prints.

use attnbounds::bounds::{BoundParams, all_bounds};
use attnbounds::weights::{
    b_x_for_model, bound_setting, layout_from_arg, model_norms, radii_for_bounds, read_file_mapped,
};
use attnbounds::{Error, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct NormsArgs {
    /// safetensors file with the model (layout: docs/pytorch.md).
    #[arg(long)]
    pub weights: PathBuf,
    /// Tensor-name layout: torch-mha, separate-qkv, or a TOML mapping file (docs/pytorch.md).
    #[arg(long, default_value = "torch-mha")]
    pub layout: String,
    /// Heads per layer (required unless the file's metadata says).
    #[arg(long)]
    pub heads: Option<usize>,
    /// Sample size m.
    #[arg(long)]
    pub num_samples: usize,
    /// Context length T (tokens, without \[CLS\]).
    #[arg(long)]
    pub context_len: usize,
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
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: NormsArgs) -> Result<()> {
    let (layout, mapping) = layout_from_arg(&a.layout)?;
    let model = read_file_mapped(&a.weights, &mapping, &layout, a.heads)?;
    let norms = model_norms(&model)?;
    let b_x = match (a.b_x, &a.data) {
        (Some(b), None) => b,
        (None, Some(p)) => b_x_for_model(p, &model, a.context_len)?,
        _ => {
            return Err(Error::invalid(
                "b_x",
                "absent",
                "--b-x X or --data/--inputs FILE",
            ));
        }
    };
    let setting = bound_setting(&model, a.num_samples, a.context_len);
    let radii = radii_for_bounds(&norms, b_x)?;
    let params = BoundParams {
        delta: a.delta,
        gamma: a.gamma,
        ..BoundParams::default()
    };
    let rows = all_bounds(&setting, &radii, &params)?;
    if a.json {
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
        a.num_samples, a.context_len, a.delta, a.gamma
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
