//! Tensor-name mappings: the two presets and user files (`--layout FILE.toml`, format in
//! `docs/pytorch.md`). A mapping names each weight by a template, `{l}` standing for the layer.

use super::Layout;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A layout as tensor-name templates. Presets come from [`Layout::mapping`]; user files from
/// [`Mapping::from_toml`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Heads per layer (else `--heads` or the file's `heads` metadata).
    #[serde(default)]
    pub heads: Option<usize>,
    /// `out_in` (PyTorch `Linear.weight`, (out, in)) or `in_out` (`x W` convention).
    pub orientation: String,
    /// `none` or `inv_sqrt_head_dim` (scores divided by sqrt(dh), folded into W_Q).
    #[serde(default = "default_scale")]
    pub score_scale: String,
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub k: Option<String>,
    #[serde(default)]
    pub v: Option<String>,
    /// Fused projection, blocks q | k | v along the output axis (instead of q, k, v).
    #[serde(default)]
    pub qkv: Option<String>,
    /// Output projection W_C (all heads).
    pub out: String,
    #[serde(default)]
    pub mlp_in: Option<String>,
    #[serde(default)]
    pub mlp_out: Option<String>,
    pub readout: String,
    #[serde(default)]
    pub tok_emb: Option<String>,
    #[serde(default)]
    pub pos_emb: Option<String>,
    #[serde(default)]
    pub cls: Option<String>,
    /// Fields among `mlp_in`, `mlp_out`, `tok_emb`, `pos_emb`, `cls` whose template may match
    /// no tensor (the part is then absent); every other given template must match.
    #[serde(default)]
    pub optional: Vec<String>,
}

fn default_scale() -> String {
    "none".into()
}

pub(crate) const OPTIONAL_FIELDS: [&str; 5] = ["mlp_in", "mlp_out", "tok_emb", "pos_emb", "cls"];
pub(crate) const ORIENTATIONS: &str = "out_in (PyTorch Linear.weight, shape (out, in)) or in_out";
pub(crate) const SCALES: &str = "none or inv_sqrt_head_dim";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Orientation {
    OutIn,
    InOut,
}

/// Attention projections, validated: separate q/k/v or one fused tensor.
pub(crate) enum Attention<'a> {
    Separate { q: &'a str, k: &'a str, v: &'a str },
    Fused(&'a str),
}

/// Substitutes the layer index for `{l}`.
pub(crate) fn resolve(template: &str, l: usize) -> String {
    template.replace("{l}", &l.to_string())
}

impl Mapping {
    /// Reads a TOML mapping file (format: `docs/pytorch.md`), validated.
    pub fn from_file(path: &Path) -> Result<Self> {
        let s = crate::fsio::read_text("layout", path, crate::limits::MAX_TEXT_FILE_BYTES)?;
        Self::from_toml(&s).map_err(|e| match e {
            Error::Parse { message, .. } => Error::parse(path.display(), message),
            e => e,
        })
    }

    /// Parses and validates a TOML mapping.
    pub fn from_toml(s: &str) -> Result<Self> {
        let m: Mapping = toml::from_str(s).map_err(|e| Error::parse("layout mapping", e))?;
        m.validate()?;
        Ok(m)
    }

    /// Whether `field`'s template may match no tensor.
    pub(crate) fn is_optional(&self, field: &str) -> bool {
        self.optional.iter().any(|f| f == field)
    }

    pub(crate) fn orientation(&self) -> Result<Orientation> {
        match self.orientation.as_str() {
            "out_in" => Ok(Orientation::OutIn),
            "in_out" => Ok(Orientation::InOut),
            o => Err(Error::invalid(
                "layout field `orientation`",
                o,
                ORIENTATIONS,
            )),
        }
    }

    /// Whether W_Q is multiplied by 1/sqrt(dh).
    pub(crate) fn scaled(&self) -> Result<bool> {
        match self.score_scale.as_str() {
            "none" => Ok(false),
            "inv_sqrt_head_dim" => Ok(true),
            s => Err(Error::invalid("layout field `score_scale`", s, SCALES)),
        }
    }

    pub(crate) fn attention(&self) -> Result<Attention<'_>> {
        match (&self.q, &self.k, &self.v, &self.qkv) {
            (Some(q), Some(k), Some(v), None) => Ok(Attention::Separate { q, k, v }),
            (None, None, None, Some(f)) => Ok(Attention::Fused(f)),
            _ => Err(Error::invalid(
                "layout fields `q`, `k`, `v`, `qkv`",
                format!(
                    "q {}, k {}, v {}, qkv {}",
                    given(&self.q),
                    given(&self.k),
                    given(&self.v),
                    given(&self.qkv)
                ),
                "either all of q, k, v (separate projections) or qkv alone (fused)",
            )),
        }
    }

    /// Per-layer templates (field name, template) that are given.
    fn per_layer(&self) -> Vec<(&'static str, &str)> {
        let mut v = vec![("out", self.out.as_str())];
        for (f, t) in [
            ("q", &self.q),
            ("k", &self.k),
            ("v", &self.v),
            ("qkv", &self.qkv),
            ("mlp_in", &self.mlp_in),
            ("mlp_out", &self.mlp_out),
        ] {
            if let Some(t) = t {
                v.push((f, t.as_str()));
            }
        }
        v
    }

    /// Whether the per-layer templates hold `{l}` (else the model has exactly one layer).
    pub(crate) fn layered(&self) -> bool {
        self.out.contains("{l}")
    }

    pub(crate) fn validate(&self) -> Result<()> {
        self.orientation()?;
        self.scaled()?;
        self.attention()?;
        for f in &self.optional {
            if !OPTIONAL_FIELDS.contains(&f.as_str()) {
                return Err(Error::invalid(
                    "layout field `optional` entry",
                    format!("\"{f}\""),
                    OPTIONAL_FIELDS.join(", "),
                ));
            }
        }
        if let Some(h) = self.heads {
            crate::error::check::at_least("layout field `heads`", h, 1)?;
        }
        let layered = self.layered();
        for (f, t) in self.per_layer() {
            check_placeholders(f, t)?;
            if t.contains("{l}") != layered {
                return Err(Error::invalid(
                    format!("layout field `{f}`"),
                    format!("\"{t}\""),
                    format!(
                        "per-layer templates all with `{{l}}` or all without (`out` is \"{}\")",
                        self.out
                    ),
                ));
            }
        }
        let global = [
            ("readout", Some(&self.readout)),
            ("tok_emb", self.tok_emb.as_ref()),
            ("pos_emb", self.pos_emb.as_ref()),
            ("cls", self.cls.as_ref()),
        ];
        for (f, t) in global {
            if let Some(t) = t {
                check_placeholders(f, t)?;
                if t.contains("{l}") {
                    return Err(Error::invalid(
                        format!("layout field `{f}`"),
                        format!("\"{t}\""),
                        "a tensor name without `{l}` (one tensor for the whole model)",
                    ));
                }
            }
        }
        if self.mlp_in.is_some() != self.mlp_out.is_some() {
            return Err(Error::invalid(
                "layout fields `mlp_in`, `mlp_out`",
                format!(
                    "mlp_in {}, mlp_out {}",
                    given(&self.mlp_in),
                    given(&self.mlp_out)
                ),
                "both or neither",
            ));
        }
        let emb = [&self.tok_emb, &self.pos_emb, &self.cls];
        if emb.iter().any(|t| t.is_some()) && !emb.iter().all(|t| t.is_some()) {
            return Err(Error::invalid(
                "layout fields `tok_emb`, `pos_emb`, `cls`",
                format!(
                    "tok_emb {}, pos_emb {}, cls {}",
                    given(&self.tok_emb),
                    given(&self.pos_emb),
                    given(&self.cls)
                ),
                "all three or none",
            ));
        }
        Ok(())
    }
}

fn given(t: &Option<String>) -> &'static str {
    if t.is_some() { "given" } else { "absent" }
}

fn check_placeholders(field: &str, t: &str) -> Result<()> {
    let rest = t.replace("{l}", "");
    if t.is_empty() || rest.contains(['{', '}']) {
        return Err(Error::invalid(
            format!("layout field `{field}`"),
            format!("\"{t}\""),
            "a non-empty tensor name, `{l}` the only placeholder (the layer index)",
        ));
    }
    Ok(())
}

impl Layout {
    /// The preset as a mapping (MLP and embeddings optional).
    pub fn mapping(self) -> Mapping {
        let s = |x: &str| Some(x.to_string());
        let (q, k, v, qkv, out, scale) = match self {
            Layout::TorchMha => (
                None,
                None,
                None,
                s("layers.{l}.attn.in_proj_weight"),
                "layers.{l}.attn.out_proj.weight",
                "inv_sqrt_head_dim",
            ),
            Layout::SeparateQkv => (
                s("layers.{l}.q.weight"),
                s("layers.{l}.k.weight"),
                s("layers.{l}.v.weight"),
                None,
                "layers.{l}.o.weight",
                "none",
            ),
        };
        Mapping {
            heads: None,
            orientation: "out_in".into(),
            score_scale: scale.into(),
            q,
            k,
            v,
            qkv,
            out: out.into(),
            mlp_in: s("layers.{l}.mlp.0.weight"),
            mlp_out: s("layers.{l}.mlp.2.weight"),
            readout: "readout.weight".into(),
            tok_emb: s("tok_emb.weight"),
            pos_emb: s("pos_emb.weight"),
            cls: s("cls"),
            optional: OPTIONAL_FIELDS.iter().map(|f| f.to_string()).collect(),
        }
    }
}

/// `--layout` value: a preset name, or a path ending in `.toml`.
pub fn layout_from_arg(arg: &str) -> Result<(String, Mapping)> {
    if arg.ends_with(".toml") {
        Ok((arg.to_string(), Mapping::from_file(Path::new(arg))?))
    } else {
        let l = Layout::parse(arg)?;
        Ok((l.name().to_string(), l.mapping()))
    }
}
