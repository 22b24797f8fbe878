//! Hugging Face checkpoint directories: `config.json` (architecture, heads, layers, width,
//! positional table), `model.safetensors` or a sharded `model.safetensors.index.json`, and the
//! two layout presets (docs/pytorch.md#hugging-face-checkpoints):
//! - BERT family (`bert`, `roberta`, `xlm-roberta`, MiniLM, which is a BERT):
//!   `encoder.layer.{l}.attention.self.{query,key,value}` (`Linear`, (out, in)),
//!   `attention.output.dense` (W_O), post-LayerNorms `attention.output.LayerNorm` and
//!   `output.LayerNorm`, MLP `intermediate.dense` / `output.dense`, embeddings with their
//!   `embeddings.LayerNorm`. Bidirectional attention.
//! - GPT-2: `h.{l}.attn.c_attn` (fused q | k | v, `Conv1D`, (in, out)), `attn.c_proj` (W_O),
//!   pre-LayerNorms `ln_1`, `ln_2`, MLP `mlp.c_fc` / `mlp.c_proj`, `wte`, `wpe`, `ln_f`.
//!   Causal attention (query t sees keys s <= t); the norms do not depend on the mask.
//!
//! A common prefix (`bert.`, `roberta.`, `transformer.`) is found from the layer-0 query tensor.
//! Reading only: the norms table is `super::hf_table`.

use super::dtype::to_f64;
use crate::error::{Error, Result};
use safetensors::SafeTensors;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Architecture family of a checkpoint (selects the tensor-name preset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// BERT, RoBERTa, XLM-RoBERTa, MiniLM: post-LayerNorm encoder, bidirectional attention.
    Bert,
    /// GPT-2: pre-LayerNorm decoder, causal attention, `Conv1D` weights in (in, out) layout.
    Gpt2,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::Bert => "bert",
            Arch::Gpt2 => "gpt2",
        }
    }
    /// Whether attention is causal (stated in every report).
    pub fn causal(self) -> bool {
        matches!(self, Arch::Gpt2)
    }
}

const MODEL_TYPES: &str = "model_type bert, roberta, xlm-roberta (BERT family) or gpt2";

/// What `config.json` says about the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HfConfig {
    pub arch: Arch,
    /// `model_type` as written.
    pub model_type: String,
    /// `architectures[0]`, when given.
    pub architecture: Option<String>,
    pub layers: usize,
    pub heads: usize,
    pub width: usize,
    /// Rows of the positional table (`max_position_embeddings` / `n_positions`).
    pub max_positions: Option<usize>,
    /// LayerNorm epsilon (`layer_norm_eps` / `layer_norm_epsilon`; 1e-12 resp. 1e-5 if absent).
    pub layer_norm_eps: f64,
}

fn field_usize(v: &serde_json::Value, keys: &[&str], src: &str) -> Result<Option<usize>> {
    for k in keys {
        if let Some(x) = v.get(*k) {
            return x
                .as_u64()
                .and_then(|x| usize::try_from(x).ok())
                .map(Some)
                .ok_or_else(|| {
                    Error::invalid(format!("{src}: `{k}`"), x, "a non-negative integer")
                });
        }
    }
    Ok(None)
}

fn required(v: Option<usize>, key: &str, src: &str, max: usize) -> Result<usize> {
    let x = v.ok_or_else(|| Error::invalid(format!("{src}: `{key}`"), "absent", "present"))?;
    crate::limits::count_in(&format!("{src}: `{key}`"), x, 1, max)
}

impl HfConfig {
    /// Parses `config.json` text (`src` names the file in errors).
    pub fn from_json(src: &str, text: &str) -> Result<Self> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::parse(src, e))?;
        let model_type = v
            .get("model_type")
            .and_then(|x| x.as_str())
            .unwrap_or("")
            .to_string();
        let architecture = v
            .get("architectures")
            .and_then(|a| a.get(0))
            .and_then(|a| a.as_str())
            .map(str::to_string);
        let arch = match model_type.as_str() {
            "bert" | "roberta" | "xlm-roberta" => Arch::Bert,
            "gpt2" => Arch::Gpt2,
            other => {
                return Err(Error::invalid(
                    format!("{src}: `model_type`"),
                    format!("\"{other}\""),
                    MODEL_TYPES,
                ));
            }
        };
        let (l, h, d, p, e) = match arch {
            Arch::Bert => (
                "num_hidden_layers",
                "num_attention_heads",
                "hidden_size",
                "max_position_embeddings",
                "layer_norm_eps",
            ),
            Arch::Gpt2 => (
                "n_layer",
                "n_head",
                "n_embd",
                "n_positions",
                "layer_norm_epsilon",
            ),
        };
        use crate::limits::{MAX_HEADS, MAX_LAYERS, MAX_WIDTH};
        let layers = required(field_usize(&v, &[l], src)?, l, src, MAX_LAYERS)?;
        let heads = required(field_usize(&v, &[h], src)?, h, src, MAX_HEADS)?;
        let width = required(field_usize(&v, &[d], src)?, d, src, MAX_WIDTH)?;
        let max_positions = field_usize(&v, &[p], src)?;
        let default_eps = if arch == Arch::Bert { 1e-12 } else { 1e-5 };
        let layer_norm_eps = match v.get(e) {
            None => default_eps,
            Some(x) => x
                .as_f64()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    Error::invalid(format!("{src}: `{e}`"), x, "a finite number >= 0")
                })?,
        };
        let c = HfConfig {
            arch,
            model_type,
            architecture,
            layers,
            heads,
            width,
            max_positions,
            layer_norm_eps,
        };
        c.check_heads(heads, &format!("{src}: `{h}`"))?;
        Ok(c)
    }

    /// `heads` must divide the width (each head owns `width / heads` columns of W_Q, W_K, W_V).
    pub(crate) fn check_heads(&self, heads: usize, field: &str) -> Result<()> {
        if heads == 0 || !self.width.is_multiple_of(heads) {
            return Err(Error::invalid(
                field,
                heads,
                format!("a divisor of the width {}", self.width),
            ));
        }
        Ok(())
    }
}

/// One tensor of the checkpoint: where it is, its dtype and shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TensorInfo {
    pub name: String,
    /// File (relative to the directory) holding it.
    pub file: String,
    pub dtype: String,
    pub shape: Vec<usize>,
}

/// A checkpoint directory read into memory (the safetensors bytes of every shard).
pub struct HfCheckpoint {
    pub dir: PathBuf,
    pub config: HfConfig,
    /// Every tensor of every shard, by name.
    pub tensors: BTreeMap<String, TensorInfo>,
    /// Common name prefix (`""`, `"bert."`, `"transformer."`, ...).
    pub prefix: String,
    files: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for HfCheckpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HfCheckpoint")
            .field("dir", &self.dir)
            .field("config", &self.config)
            .field("tensors", &self.tensors.len())
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// The conversion one-liner quoted when a directory holds only PyTorch pickles.
pub const CONVERT_HINT: &str = "convert it once with Python: `python -c \"import torch; from \
safetensors.torch import save_file; sd = torch.load('pytorch_model.bin', map_location='cpu'); \
save_file({k: v.contiguous() for k, v in sd.items()}, 'model.safetensors', metadata={'format': \
'pt'})\"` (tied weights may need `.clone()`), or `model.save_pretrained(dir, \
safe_serialization=True)` in transformers";

fn read_bytes(field: &str, path: &Path) -> Result<Vec<u8>> {
    // The bytes, plus f64 copies of the largest tensors while they are measured.
    super::import::check_memory_per_byte(field, path, 3.0)?;
    std::fs::read(path).map_err(|e| Error::io(path.display(), e))
}

impl HfCheckpoint {
    /// Reads a Hugging Face directory: `config.json`, then `model.safetensors` or the shards
    /// listed in `model.safetensors.index.json`. A directory with only `pytorch_model.bin` is
    /// refused with the conversion command.
    pub fn read_dir(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::invalid(
                "weights",
                dir.display(),
                "a Hugging Face checkpoint directory (config.json + model.safetensors), or a \
                 .safetensors file with --layout",
            ));
        }
        let cfg_path = dir.join("config.json");
        if !cfg_path.is_file() {
            return Err(Error::io(
                cfg_path.display(),
                "no such file (a Hugging Face checkpoint directory holds config.json with the \
                 architecture, heads, layers and width; a single safetensors file is given by \
                 its path)",
            ));
        }
        let text =
            crate::fsio::read_text("config.json", &cfg_path, crate::limits::MAX_TEXT_FILE_BYTES)?;
        let config = HfConfig::from_json(&cfg_path.display().to_string(), &text)?;
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        let names: Vec<String> = if single.is_file() {
            vec!["model.safetensors".into()]
        } else if index.is_file() {
            shard_names(&index)?
        } else if dir.join("pytorch_model.bin").is_file() {
            return Err(Error::invalid(
                "weights directory",
                format!("{} (pytorch_model.bin only)", dir.display()),
                format!("model.safetensors (pickled PyTorch files are not read); {CONVERT_HINT}"),
            ));
        } else {
            return Err(Error::invalid(
                "weights directory",
                dir.display(),
                "a directory with model.safetensors or model.safetensors.index.json",
            ));
        };
        let mut files = Vec::new();
        for n in &names {
            let p = dir.join(n);
            files.push((n.clone(), read_bytes("weights", &p)?));
        }
        Self::from_parts(dir, config, files)
    }

    /// A checkpoint from a config and in-memory safetensors files (name, bytes).
    pub fn from_parts(dir: &Path, config: HfConfig, files: Vec<(String, Vec<u8>)>) -> Result<Self> {
        let mut tensors = BTreeMap::new();
        for (file, bytes) in &files {
            let st = SafeTensors::deserialize(bytes).map_err(|e| Error::parse(file, e))?;
            for (name, view) in st.tensors() {
                let info = TensorInfo {
                    name: name.clone(),
                    file: file.clone(),
                    dtype: format!("{:?}", view.dtype()),
                    shape: view.shape().to_vec(),
                };
                if let Some(old) = tensors.insert(name.clone(), info) {
                    return Err(Error::invalid(
                        format!("tensor `{name}`"),
                        format!("in {} and in {file}", old.file),
                        "each tensor in exactly one shard",
                    ));
                }
            }
        }
        let anchor = match config.arch {
            Arch::Bert => "encoder.layer.0.attention.self.query.weight",
            Arch::Gpt2 => "h.0.attn.c_attn.weight",
        };
        let prefix = tensors
            .keys()
            .filter_map(|k| k.strip_suffix(anchor))
            .min_by_key(|p| p.len())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::invalid(
                    format!("tensor `{anchor}` ({} layout)", config.arch.name()),
                    "missing",
                    format!(
                        "present (with any prefix such as `bert.` or `transformer.`): the file does \
                         not follow the {} layout that config.json names",
                        config.arch.name()
                    ),
                )
            })?;
        Ok(HfCheckpoint {
            dir: dir.to_path_buf(),
            config,
            tensors,
            prefix,
            files,
        })
    }

    /// Full name of a tensor (the prefix prepended).
    pub fn full(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Whether a tensor (name without the prefix) exists.
    pub fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(&self.full(name))
    }

    /// A tensor (name without the prefix) as f64, row-major, with its shape checked.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f64>> {
        self.get_full(&self.full(name), shape)
    }

    /// A tensor by its full name (prefix included) as f64, row-major, its shape checked.
    pub fn get_full(&self, full: &str, shape: &[usize]) -> Result<Vec<f64>> {
        let info = self.tensors.get(full).ok_or_else(|| {
            Error::invalid(
                format!("tensor `{full}`"),
                "missing",
                format!(
                    "present in the {} layout (docs/pytorch.md)",
                    self.config.arch.name()
                ),
            )
        })?;
        if info.shape != shape {
            return Err(Error::shape(
                format!("tensor `{full}`"),
                format!("{shape:?} (from config.json)"),
                format!("{:?}", info.shape),
            ));
        }
        let bytes = self
            .files
            .iter()
            .find(|(f, _)| *f == info.file)
            .map(|(_, b)| b)
            .ok_or_else(|| Error::invalid("shard", &info.file, "a file that was read"))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| Error::parse(&info.file, e))?;
        let view = st.tensor(full).map_err(|e| Error::parse(&info.file, e))?;
        to_f64(full, &view)
    }

    /// Shape of a tensor (name without the prefix), if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors
            .get(&self.full(name))
            .map(|t| t.shape.as_slice())
    }
}

/// Shard file names of a `model.safetensors.index.json` (its `weight_map` values), each a plain
/// file name inside the directory.
fn shard_names(index: &Path) -> Result<Vec<String>> {
    let src = index.display().to_string();
    let text = crate::fsio::read_text("index", index, crate::limits::MAX_TEXT_FILE_BYTES)?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::parse(&src, e))?;
    let map = v
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::invalid(format!("{src}: `weight_map`"), "absent", "an object"))?;
    let mut names: Vec<String> = Vec::new();
    for (t, f) in map {
        let f = f.as_str().ok_or_else(|| {
            Error::invalid(format!("{src}: weight_map[\"{t}\"]"), f, "a file name")
        })?;
        let plain = Path::new(f).file_name().is_some_and(|n| n == f) && f.ends_with(".safetensors");
        if !plain {
            return Err(Error::invalid(
                format!("{src}: weight_map[\"{t}\"]"),
                format!("\"{f}\""),
                "a .safetensors file name inside the directory (no path separators)",
            ));
        }
        if !names.iter().any(|n| n == f) {
            names.push(f.to_string());
        }
    }
    if names.is_empty() {
        return Err(Error::invalid(
            format!("{src}: `weight_map`"),
            "empty",
            "at least one tensor",
        ));
    }
    names.sort();
    Ok(names)
}
