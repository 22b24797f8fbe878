//! Field rules of `model = "paper_protocol"` (docs/experiments.md, "paper protocol") and of
//! the `dropout` field every other model must leave at its default.
//!
//! The protocol model reads `width` (d), `heads` (H), `value_dim` (the head width, which must
//! be d / H as in PyTorch's `nn.MultiheadAttention`), `mlp_width`, `dropout`, and the loop's
//! fields (steps, learning rate, optimiser, batch size, loss, weight decay, stop rule). Its
//! initialisation is fixed (N(0, 0.02^2) weights), so `init_scale` is not read; its GELU is
//! fixed, so `head_activation` is not read; it has no norm ball.

use super::{ModelKind, TrainConfig};
use crate::error::{Error, Result};

/// `skip_serializing_if` for `dropout`: a zero is left out of the canonical JSON, so the hash
/// of every cell written before the field existed is unchanged.
pub(super) fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// The model-dependent rules; `TrainConfig::validate` has checked the ranges of the shared
/// fields before this runs.
pub(super) fn check_model_fields(model: ModelKind, t: &TrainConfig) -> Result<()> {
    if !(0.0..1.0).contains(&t.dropout) {
        return Err(Error::invalid(
            "train.dropout",
            t.dropout,
            "a number in [0, 1)",
        ));
    }
    let d = TrainConfig::default();
    if model != ModelKind::PaperProtocol {
        if t.dropout != d.dropout {
            return Err(Error::invalid(
                "train.dropout",
                t.dropout,
                format!(
                    "the default {} (not read when model = {})",
                    d.dropout,
                    model.name()
                ),
            ));
        }
        return Ok(());
    }
    if !t.width.is_multiple_of(t.heads) || t.value_dim * t.heads != t.width {
        return Err(Error::invalid(
            "train.value_dim",
            t.value_dim,
            format!(
                "width / heads = {} / {} (the head width of model = paper_protocol)",
                t.width, t.heads
            ),
        ));
    }
    let why = "model = paper_protocol";
    if t.init_scale != d.init_scale {
        return Err(Error::invalid(
            "train.init_scale",
            t.init_scale,
            format!(
                "the default {} (not read when {why}: weights are N(0, 0.02^2))",
                d.init_scale
            ),
        ));
    }
    if t.head_activation != d.head_activation {
        return Err(Error::invalid(
            "train.head_activation",
            format!("{:?}", t.head_activation).to_lowercase(),
            format!(
                "the default {} (not read when {why}: its MLP uses GELU)",
                format!("{:?}", d.head_activation).to_lowercase()
            ),
        ));
    }
    if t.norm_ball.is_some() {
        return Err(Error::invalid(
            "train.norm_ball",
            "a ball",
            format!("none (not supported when {why})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{CellConfig, SweepConfig, canonical_hash};
    use super::*;

    const PROTOCOL: &str = r#"
name = "p"
task = "and"
sparsity = 3
context_len = [16]
num_samples = [50]
model = "paper_protocol"
trials = 1
seed = 1
[train]
width = 64
heads = 16
value_dim = 4
mlp_width = 64
dropout = 0.1
weight_decay = 1e-4
"#;

    fn field_of(text: &str) -> String {
        match SweepConfig::from_toml(text, "t.toml").unwrap_err() {
            Error::InvalidValue { field, .. } => field,
            other => panic!("expected InvalidValue, got {other:?}"),
        }
    }

    #[test]
    fn the_protocol_config_validates_and_bad_fields_are_named() {
        SweepConfig::from_toml(PROTOCOL, "t.toml").unwrap();
        let cases = [
            ("value_dim = 4", "value_dim = 8", "train.value_dim"),
            ("dropout = 0.1", "dropout = 1.0", "train.dropout"),
            ("dropout = 0.1", "dropout = -0.5", "train.dropout"),
            (
                "mlp_width = 64",
                "mlp_width = 64\ninit_scale = 2.0",
                "train.init_scale",
            ),
            (
                "mlp_width = 64",
                "mlp_width = 64\nhead_activation = \"relu\"",
                "train.head_activation",
            ),
            (
                "mlp_width = 64",
                "mlp_width = 64\nnorm_ball = { b_qk = 1.0, b_v = 1.0, b_v21 = 1.0, b_w = 1.0 }",
                "train.norm_ball",
            ),
            (
                "model = \"paper_protocol\"",
                "model = \"transformer\"",
                "train.dropout",
            ),
        ];
        for (from, to, field) in cases {
            assert!(PROTOCOL.contains(from), "test setup: {from}");
            assert_eq!(field_of(&PROTOCOL.replace(from, to)), field, "{to}");
        }
    }

    #[test]
    fn dropout_zero_leaves_the_canonical_json_unchanged() {
        // The hash of a cell without dropout is the hash of the JSON without the field: the
        // serialization simply has no "dropout" key (so cells stored before keep matching).
        let cell: CellConfig = SweepConfig::from_toml(
            &PROTOCOL
                .replace("dropout = 0.1\n", "")
                .replace("paper_protocol", "transformer")
                .replace("value_dim = 4\n", ""),
            "t.toml",
        )
        .unwrap()
        .cells()
        .remove(0);
        let json = serde_json::to_string(&cell).unwrap();
        assert!(!json.contains("dropout"), "{json}");
        let mut with = cell.clone();
        with.train.dropout = 0.1;
        assert!(
            serde_json::to_string(&with)
                .unwrap()
                .contains("\"dropout\":0.1")
        );
        assert_ne!(
            canonical_hash(&cell).unwrap(),
            canonical_hash(&with).unwrap()
        );
    }
}
