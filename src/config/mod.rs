//! Experiment configurations: a sweep in TOML, its cells, presets and a stable cell hash.
//!
//! A [`SweepConfig`] names a task, a sparsity, lists of `context_len` and `num_samples`, a model
//! kind, training hyper-parameters, a number of trials and a base seed. It expands into
//! [`CellConfig`]s, one per (`context_len`, `num_samples`) pair. A cell is identified by
//! [`canonical_hash`]: SHA-256 of its canonical JSON, which is serde_json's serialization with the
//! fields in **declaration order** (that order is the canonical one: reordering, renaming or
//! adding a field of [`CellConfig`] or [`TrainConfig`] changes every hash, so results stored
//! under old hashes are no longer matched). The experiment name and the number of trials are not
//! part of a cell, so raising `trials` reuses the trials already stored.
//!
//! Everything is validated before any work starts, with errors naming the field and value.
//! This module never runs anything.

use crate::error::{Error, Result, check};
use crate::model::Activation;
use crate::tasks::{Task, TaskKind};
use serde::{Deserialize, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The Boolean task of a sweep: its name is [`crate::tasks::TaskName`] (the spelling is defined
/// there, once), the data of a truth table sits in the separate `truth_table` field.
pub use crate::tasks::TaskName;

/// The model trained in a sweep: the theory's single head read at `[CLS]`, or a 1-block
/// Transformer (docs/experiments.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum ModelKind {
    ClsHead,
    Transformer,
    /// The one-block pre-LN encoder of the public protocol (docs/experiments.md, "paper
    /// protocol"; `protocol` below holds its field rules).
    PaperProtocol,
}

macro_rules! string_enum {
    ($ty:ty, $field:literal, $($variant:path => $name:literal),+) => {
        impl $ty {
            pub const NAMES: &'static [&'static str] = &[$($name),+];
            pub fn name(self) -> &'static str {
                match self { $($variant => $name),+ }
            }
        }
        impl TryFrom<String> for $ty {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> {
                match s.as_str() {
                    $($name => Ok($variant),)+
                    _ => Err(Error::invalid($field, &s, format!("one of {}", Self::NAMES.join(", ")))),
                }
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }
    };
}
string_enum!(ModelKind, "model", ModelKind::ClsHead => "cls_head", ModelKind::Transformer => "transformer",
    ModelKind::PaperProtocol => "paper_protocol");

/// First-order optimiser of a training run (see [`crate::optim`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum OptimizerName {
    Adam,
    Sgd,
}

/// Training loss: logistic `ln(1 + e^{-y f})`, or the `gamma`-ramp `clamp(1 - y f / gamma, 0, 1)`
/// (the loss the generalization bounds are stated for; its gradient vanishes outside
/// `0 < y f < gamma`, so it is a fine-tuning loss, not one to start from).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum LossName {
    Logistic,
    Ramp,
}

/// When training stops before `steps` (every rule is evaluated on the training sample only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum StopRule {
    /// Training error 0 and mean training loss `<= target_loss`, or `patience` evaluations
    /// without progress, checked every `eval_every` steps.
    #[default]
    Target,
    /// As soon as the training sample is fit (training error 0), checked before the first step
    /// and every `eval_every` steps; `target_loss` and `patience` are not read.
    FirstFit,
    /// Exactly `steps` steps, no evaluation; `target_loss`, `patience` and `eval_every` are not
    /// read. The only rule for training on fresh samples.
    MaxSteps,
}

impl StopRule {
    /// The default is left out of the canonical JSON, so cells hashed before this field existed
    /// keep their hashes.
    pub fn is_default(&self) -> bool {
        *self == StopRule::default()
    }
}

string_enum!(StopRule, "train.stop", StopRule::Target => "target",
    StopRule::FirstFit => "first_fit", StopRule::MaxSteps => "max_steps");
string_enum!(OptimizerName, "train.optimizer", OptimizerName::Adam => "adam", OptimizerName::Sgd => "sgd");
string_enum!(LossName, "train.loss", LossName::Logistic => "logistic", LossName::Ramp => "ramp");

/// Radii of the bounded-norm class (docs/experiments.md §2(a)); after every step the weights are scaled back
/// into this ball (see `train::projection` for exactly how).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormBall {
    /// Bound on `||Theta||_F`, `Theta = W_K W_Q^T` (per head).
    pub b_qk: f64,
    /// Bound on the spectral norm `||W_V||_2` (per head).
    pub b_v: f64,
    /// Bound on `||W_V||_{2,1}` (sum of column l2 norms, per head).
    pub b_v21: f64,
    /// Bound on `||w||_2` of the read-out.
    pub b_w: f64,
}

impl NormBall {
    pub fn validate(&self) -> Result<()> {
        check::positive("train.norm_ball.b_qk", self.b_qk)?;
        check::positive("train.norm_ball.b_v", self.b_v)?;
        check::positive("train.norm_ball.b_v21", self.b_v21)?;
        check::positive("train.norm_ball.b_w", self.b_w)?;
        Ok(())
    }
}

/// How the radii of the norm ball are set before training (docs/experiments.md, "Radius rule").
/// Written as a string: `"fixed"` (the default) or `"construction:<multiple>"`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum RadiusRule {
    /// `norm_ball` as written (`None`: unconstrained). Left out of the canonical JSON, so cells
    /// hashed before this field existed keep their hashes.
    #[default]
    Fixed,
    /// Every radius is `multiple` times the corresponding norm of the explicit one-hot head
    /// for the cell's task, sparsity and context length (`construct::standard::construction`:
    /// `||Theta||_F`, `||W_V||_2`, `||W_V||_{2,1}`, `||w||_2`). Model `cls_head` only;
    /// `norm_ball` must then be unset.
    Construction { multiple: f64 },
}

impl RadiusRule {
    pub fn is_default(&self) -> bool {
        *self == RadiusRule::default()
    }
    const ALLOWED: &'static str =
        "\"fixed\" or \"construction:<multiple>\" with a finite multiple > 0";
}

impl std::str::FromStr for RadiusRule {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::invalid("train.radius_rule", s, RadiusRule::ALLOWED);
        if s == "fixed" {
            return Ok(RadiusRule::Fixed);
        }
        let multiple: f64 = s
            .strip_prefix("construction:")
            .and_then(|m| m.trim().parse().ok())
            .ok_or_else(bad)?;
        if !(multiple.is_finite() && multiple > 0.0) {
            return Err(bad());
        }
        Ok(RadiusRule::Construction { multiple })
    }
}

impl TryFrom<String> for RadiusRule {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl std::fmt::Display for RadiusRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RadiusRule::Fixed => f.write_str("fixed"),
            RadiusRule::Construction { multiple } => write!(f, "construction:{multiple}"),
        }
    }
}

impl Serialize for RadiusRule {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Training hyper-parameters; every field has a default so a config may omit `[train]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Maximum number of optimiser steps.
    pub steps: usize,
    pub learning_rate: f64,
    pub optimizer: OptimizerName,
    /// Heavy-ball momentum in [0, 1), used by `sgd` only.
    pub momentum: f64,
    /// Minibatch size; `>= num_samples` means full batch.
    pub batch_size: usize,
    pub loss: LossName,
    /// Margin `gamma` of the ramp loss: the training loss when `loss = "ramp"`, and always the
    /// margin of the measured empirical ramp loss and of the generalization bound.
    pub gamma: f64,
    /// Initial weights uniform in `[-init_scale, init_scale] / sqrt(fan_in)`.
    pub init_scale: f64,
    /// sigma of the \[CLS\] head class (`relu`, `gelu`, `tanh`, `identity`); the Transformer's
    /// heads are always linear (identity) with a ReLU MLP.
    pub head_activation: Activation,
    /// d, the embedding width (Transformer; the \[CLS\] head's width is fixed by its embedding).
    pub width: usize,
    /// k, the value dimension of each head (also the rank r of `W_Q`, `W_K`).
    pub value_dim: usize,
    pub heads: usize,
    pub mlp_width: usize,
    /// L2 penalty `weight_decay / 2 * ||params||^2` added to the training objective.
    pub weight_decay: f64,
    /// Bounded-norm training: project onto this ball after every step; `None` trains
    /// unconstrained.
    pub norm_ball: Option<NormBall>,
    /// Stop once the training error is 0 and the mean training loss is `<= target_loss`.
    pub target_loss: f64,
    /// Stop after this many evaluations in a row without the full training loss improving by
    /// a relative 1e-3 on its best value; 0 disables the rule.
    pub patience: usize,
    /// Steps between evaluations of the stopping rules on the full training sample; 0 means
    /// once per epoch (`ceil(num_samples / batch_size)` steps).
    pub eval_every: usize,
    /// Fresh sample size for the population error when `context_len > 20` (exact
    /// enumeration otherwise).
    pub population_samples: usize,
    /// Which early-stopping rule applies (see [`StopRule`]); omitted from the hash when default.
    #[serde(skip_serializing_if = "StopRule::is_default")]
    pub stop: StopRule,
    /// Dropout probability, read by `model = "paper_protocol"` only (0 elsewhere); omitted from
    /// the hash when 0.
    #[serde(skip_serializing_if = "protocol::is_zero")]
    pub dropout: f64,
    /// How the norm ball's radii are set before training ([`RadiusRule`]); omitted from the
    /// hash when default (`fixed`: `norm_ball` as written).
    #[serde(skip_serializing_if = "RadiusRule::is_default")]
    pub radius_rule: RadiusRule,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 2000,
            learning_rate: 1e-3,
            optimizer: OptimizerName::Adam,
            momentum: 0.0,
            batch_size: 64,
            loss: LossName::Logistic,
            gamma: 1.0,
            init_scale: 1.0,
            head_activation: Activation::Tanh,
            width: 16,
            value_dim: 8,
            heads: 1,
            mlp_width: 32,
            weight_decay: 0.0,
            norm_ball: None,
            target_loss: 0.01,
            patience: 0,
            eval_every: 0,
            population_samples: 20_000,
            stop: StopRule::Target,
            dropout: 0.0,
            radius_rule: RadiusRule::Fixed,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        check::at_least("train.steps", self.steps, 1)?;
        check::positive("train.learning_rate", self.learning_rate)?;
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(Error::invalid(
                "train.momentum",
                self.momentum,
                "a number in [0, 1)",
            ));
        }
        check::at_least("train.batch_size", self.batch_size, 1)?;
        check::positive("train.gamma", self.gamma)?;
        check::positive("train.init_scale", self.init_scale)?;
        check::at_least("train.width", self.width, 1)?;
        check::at_least("train.value_dim", self.value_dim, 1)?;
        check::at_least("train.heads", self.heads, 1)?;
        check::at_least("train.mlp_width", self.mlp_width, 1)?;
        check::non_negative("train.weight_decay", self.weight_decay)?;
        if let Some(ball) = &self.norm_ball {
            ball.validate()?;
        }
        if let RadiusRule::Construction { multiple } = self.radius_rule {
            check::positive("train.radius_rule multiple", multiple)?;
            if self.norm_ball.is_some() {
                return Err(Error::invalid(
                    "train.norm_ball",
                    "a ball",
                    format!(
                        "unset when train.radius_rule = {} sets the radii",
                        self.radius_rule
                    ),
                ));
            }
        }
        check::non_negative("train.target_loss", self.target_loss)?;
        check::at_least("train.population_samples", self.population_samples, 1)?;
        self.check_sizes()?;
        self.check_unread_are_default()
    }

    /// Every count at most its documented maximum (`crate::limits`).
    fn check_sizes(&self) -> Result<()> {
        use crate::limits::{self, count};
        count("train.steps", self.steps, limits::MAX_STEPS)?;
        count("train.batch_size", self.batch_size, limits::MAX_NUM_SAMPLES)?;
        count("train.width", self.width, limits::MAX_WIDTH)?;
        count("train.value_dim", self.value_dim, limits::MAX_VALUE_DIM)?;
        count("train.heads", self.heads, limits::MAX_HEADS)?;
        count("train.mlp_width", self.mlp_width, limits::MAX_WIDTH)?;
        count("train.patience", self.patience, limits::MAX_PATIENCE)?;
        count("train.eval_every", self.eval_every, limits::MAX_EVAL_EVERY)?;
        count(
            "train.population_samples",
            self.population_samples,
            limits::MAX_POPULATION_SAMPLES,
        )?;
        Ok(())
    }

    /// A field the configured trainer never reads must keep its default: the cell hash then
    /// depends on exactly the fields the trial reads, and a set-but-ignored value is a mistake.
    fn check_unread_are_default(&self) -> Result<()> {
        let d = TrainConfig::default();
        let mut unread: Vec<(&str, String, String, &str)> = Vec::new();
        if self.optimizer == OptimizerName::Adam && self.momentum != d.momentum {
            unread.push((
                "train.momentum",
                self.momentum.to_string(),
                d.momentum.to_string(),
                "optimizer = adam",
            ));
        }
        if self.stop != StopRule::Target {
            let why = if self.stop == StopRule::FirstFit {
                "stop = first_fit"
            } else {
                "stop = max_steps"
            };
            if self.target_loss != d.target_loss {
                unread.push((
                    "train.target_loss",
                    self.target_loss.to_string(),
                    d.target_loss.to_string(),
                    why,
                ));
            }
            if self.patience != d.patience {
                unread.push((
                    "train.patience",
                    self.patience.to_string(),
                    d.patience.to_string(),
                    why,
                ));
            }
        }
        if self.stop == StopRule::MaxSteps && self.eval_every != d.eval_every {
            unread.push((
                "train.eval_every",
                self.eval_every.to_string(),
                d.eval_every.to_string(),
                "stop = max_steps",
            ));
        }
        match unread.first() {
            Some((field, value, default, why)) => Err(Error::invalid(
                *field,
                value,
                format!("the default {default} (not read when {why})"),
            )),
            None => Ok(()),
        }
    }
}

/// A sweep over `context_len` x `num_samples`, as written in a TOML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Experiment name stored with every trial.
    pub name: String,
    pub task: TaskName,
    /// Required exactly when `task = "truth_table"`: 2^sparsity entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth_table: Option<Vec<bool>>,
    pub sparsity: usize,
    pub context_len: Vec<usize>,
    pub num_samples: Vec<usize>,
    pub model: ModelKind,
    #[serde(default)]
    pub train: TrainConfig,
    pub trials: usize,
    /// Base seed; each trial's seed is derived from it, the cell hash and the trial index.
    pub seed: u64,
}

/// One cell of a sweep: everything that determines a trial's distribution of results.
/// Field order is the canonical serialization order (see the module doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellConfig {
    pub task: TaskName,
    pub truth_table: Option<Vec<bool>>,
    pub sparsity: usize,
    pub context_len: usize,
    pub num_samples: usize,
    pub model: ModelKind,
    pub train: TrainConfig,
    pub seed: u64,
}

impl CellConfig {
    /// The task kind, validated against `sparsity` and `context_len`.
    pub fn task_kind(&self) -> Result<TaskKind> {
        let kind = TaskKind::from_name(self.task, self.truth_table.as_deref())?;
        // The task constructor owns the rules (s <= T, odd s for majority, table length).
        Task::with_support(kind.clone(), self.context_len, (0..self.sparsity).collect())?;
        Ok(kind)
    }

    pub fn validate(&self) -> Result<()> {
        use crate::limits::{self, count};
        count("context_len", self.context_len, limits::MAX_CONTEXT_LEN)?;
        count("num_samples", self.num_samples, limits::MAX_NUM_SAMPLES)?;
        count("sparsity", self.sparsity, limits::MAX_SPARSITY)?;
        self.task_kind()?;
        check::at_least("num_samples", self.num_samples, 1)?;
        self.train.validate()?;
        protocol::check_model_fields(self.model, &self.train)?;
        if !self.train.radius_rule.is_default() && self.model != ModelKind::ClsHead {
            return Err(Error::invalid(
                "train.radius_rule",
                self.train.radius_rule,
                format!(
                    "fixed (the construction rule is for model = cls_head, not {})",
                    self.model.name()
                ),
            ));
        }
        let shape = self.train_shape();
        let what = format!(
            "{} (context_len = {}, {} model)",
            self.num_samples,
            self.context_len,
            self.model.name()
        );
        limits::memory("num_samples", &what, shape.memory_bytes())?;
        limits::work("num_samples", &what, shape.work())
    }

    /// The sizes the memory and work estimates of one trial read (`crate::limits`).
    pub fn train_shape(&self) -> crate::limits::TrainShape {
        let t = &self.train;
        let (width, mlp_width) = match self.model {
            // The fixed one-hot embedding: d = T + 3, no MLP.
            ModelKind::ClsHead => (self.context_len.saturating_add(3), 0),
            ModelKind::Transformer | ModelKind::PaperProtocol => (t.width, t.mlp_width),
        };
        crate::limits::TrainShape {
            context_len: self.context_len,
            num_samples: self.num_samples,
            batch_size: t.batch_size,
            width,
            value_dim: t.value_dim,
            heads: t.heads,
            mlp_width,
            steps: t.steps,
            eval_every: t.eval_every,
            population_samples: if self.context_len > 20 {
                t.population_samples
            } else {
                0
            },
        }
    }
}

impl SweepConfig {
    /// Parses and validates TOML text; `source` names it in errors (a path or a preset name).
    pub fn from_toml(text: &str, source: &str) -> Result<SweepConfig> {
        let config: SweepConfig = toml::from_str(text).map_err(|e| Error::parse(source, e))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates a TOML file.
    pub fn load(path: impl AsRef<Path>) -> Result<SweepConfig> {
        let path = path.as_ref();
        let text = crate::fsio::read_text("config", path, crate::limits::MAX_TEXT_FILE_BYTES)?;
        SweepConfig::from_toml(&text, &path.display().to_string())
    }

    /// Checks every field and every cell before any work starts.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::invalid(
                "name",
                "\"\"",
                "a non-empty experiment name",
            ));
        }
        use crate::limits::{self, count};
        check::at_least("trials", self.trials, 1)?;
        count("trials", self.trials, limits::MAX_TRIALS)?;
        count("sparsity", self.sparsity, limits::MAX_SPARSITY)?;
        if let Some(t) = &self.truth_table {
            count("truth_table length", t.len(), 1 << limits::MAX_SPARSITY)?;
        }
        for (field, list, max) in [
            ("context_len", &self.context_len, limits::MAX_CONTEXT_LEN),
            ("num_samples", &self.num_samples, limits::MAX_NUM_SAMPLES),
        ] {
            if list.is_empty() {
                return Err(Error::invalid(field, "[]", "a non-empty list"));
            }
            for (i, &v) in list.iter().enumerate() {
                check::at_least(&format!("{field}[{i}]"), v, 1)?;
                count(&format!("{field}[{i}]"), v, max)?;
            }
        }
        let cells = self
            .context_len
            .len()
            .saturating_mul(self.num_samples.len());
        count(
            "cells (context_len x num_samples entries)",
            cells,
            limits::MAX_CELLS,
        )?;
        let cells = self.cells();
        cells.iter().try_for_each(CellConfig::validate)?;
        let total: f64 = cells.iter().map(|c| c.train_shape().work()).sum();
        limits::work(
            "trials",
            format!("{} over {} cells", self.trials, cells.len()),
            total * self.trials as f64,
        )
    }

    /// The cells, `context_len` outer and `num_samples` inner, in file order.
    pub fn cells(&self) -> Vec<CellConfig> {
        let mut cells = Vec::with_capacity(self.context_len.len() * self.num_samples.len());
        for &context_len in &self.context_len {
            for &num_samples in &self.num_samples {
                cells.push(CellConfig {
                    task: self.task,
                    truth_table: self.truth_table.clone(),
                    sparsity: self.sparsity,
                    context_len,
                    num_samples,
                    model: self.model,
                    train: self.train.clone(),
                    seed: self.seed,
                });
            }
        }
        cells
    }
}

/// The presets embedded in the binary: `smoke` (seconds, tests), `default` (minutes),
/// `paper` (the paper's scale, hours).
pub const PRESETS: [(&str, &str); 3] = [
    ("smoke", include_str!("../../presets/smoke.toml")),
    ("default", include_str!("../../presets/default.toml")),
    ("paper", include_str!("../../presets/paper.toml")),
];

/// A validated preset by name.
pub fn preset(name: &str) -> Result<SweepConfig> {
    match PRESETS.iter().find(|(n, _)| *n == name) {
        Some((n, text)) => SweepConfig::from_toml(text, &format!("preset {n}")),
        None => {
            let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
            Err(Error::invalid(
                "preset",
                name,
                format!("one of {}", names.join(", ")),
            ))
        }
    }
}

/// Canonical JSON of a config (serde_json, fields in declaration order, no whitespace) and the
/// lower-case hex SHA-256 of that text. Validate first: serde_json writes a NaN float as `null`.
pub fn canonical_hash<C: Serialize>(config: &C) -> Result<(String, String)> {
    let json = serde_json::to_string(config).map_err(|e| Error::parse("config", e))?;
    let digest = Sha256::digest(json.as_bytes());
    let hex = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok((json, hex))
}

mod protocol;
#[cfg(test)]
mod tests;
