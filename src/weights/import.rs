//! Reading a safetensors file into per-head weights in our (in, out) convention.

use super::dtype::to_f64;
use super::{Layout, META_ATTN_ACTIVATION, META_HEADS, META_MLP_ACTIVATION};
use crate::error::{Error, Result};
use crate::model::{Activation, Block, Embedding, HeadParams, Mlp, Transformer};
use crate::tensor::Mat;
use safetensors::SafeTensors;
use std::path::Path;

/// A model read from a file: blocks and read-out always, embeddings when all three are present.
#[derive(Debug, Clone)]
pub struct ImportedModel {
    pub layout: Layout,
    pub blocks: Vec<Block<f64>>,
    /// Read-out w (d).
    pub w: Vec<f64>,
    pub embedding: Option<Embedding<f64>>,
    /// Activations from the file's metadata, if it names them.
    pub attn_activation: Option<Activation>,
    pub mlp_activation: Option<Activation>,
    /// Tensors present but not used (biases, unknown names), to be reported to the user.
    pub ignored: Vec<String>,
}

impl ImportedModel {
    pub fn width(&self) -> usize {
        self.w.len()
    }
    pub fn heads(&self) -> usize {
        self.blocks[0].heads.len()
    }
    /// A runnable model (needs embeddings in the file); activations default to the metadata's,
    /// else identity for attention (PyTorch MHA) and ReLU for the MLP.
    pub fn to_transformer(&self) -> Result<Transformer<f64>> {
        let emb = self.embedding.clone().ok_or_else(|| {
            Error::invalid(
                "embedding",
                "absent",
                "tensors tok_emb.weight, pos_emb.weight and cls",
            )
        })?;
        Transformer::new(
            emb,
            self.blocks.clone(),
            self.w.clone(),
            self.attn_activation.unwrap_or(Activation::Identity),
            self.mlp_activation.unwrap_or(Activation::Relu),
        )
    }
}

fn parse_activation(s: &str) -> Result<Activation> {
    match s {
        "relu" => Ok(Activation::Relu),
        "gelu" => Ok(Activation::Gelu),
        "tanh" => Ok(Activation::Tanh),
        "identity" => Ok(Activation::Identity),
        _ => Err(Error::invalid(
            "activation",
            s,
            "relu, gelu, tanh, identity",
        )),
    }
}

pub(crate) fn activation_name(a: Activation) -> &'static str {
    match a {
        Activation::Relu => "relu",
        Activation::Gelu => "gelu",
        Activation::Tanh => "tanh",
        Activation::Identity => "identity",
    }
}

struct Reader<'a> {
    st: SafeTensors<'a>,
    used: Vec<String>,
}

impl Reader<'_> {
    fn has(&self, name: &str) -> bool {
        self.st.tensor(name).is_ok()
    }
    /// Row-major entries and shape, with the expected shape checked (`None` = any).
    fn get(&mut self, name: &str, shape: &[Option<usize>]) -> Result<(Vec<f64>, Vec<usize>)> {
        let t = self.st.tensor(name).map_err(|_| {
            Error::invalid(
                format!("tensor `{name}`"),
                "missing",
                "present in the file (see docs/pytorch.md for the layout)",
            )
        })?;
        let found = t.shape().to_vec();
        let ok = found.len() == shape.len()
            && found
                .iter()
                .zip(shape)
                .all(|(f, e)| e.is_none_or(|e| e == *f));
        if !ok {
            let exp: Vec<String> = shape
                .iter()
                .map(|e| e.map_or("*".into(), |e| e.to_string()))
                .collect();
            return Err(Error::shape(
                format!("tensor `{name}`"),
                format!("[{}]", exp.join(", ")),
                format!("{found:?}"),
            ));
        }
        let v = to_f64(name, &t)?;
        self.used.push(name.to_string());
        Ok((v, found))
    }
}

/// Rows `r0..r0+n` of a row-major (rows x cols) torch weight, transposed to (cols x n), times `s`.
fn rows_transposed(
    name: &str,
    w: &[f64],
    cols: usize,
    r0: usize,
    n: usize,
    s: f64,
) -> Result<Mat<f64>> {
    Mat::from_fn(name, cols, n, |i, j| s * w[(r0 + j) * cols + i])
}

/// Columns `c0..c0+n` of a row-major (rows x cols) torch weight, as (n x rows): W_C^h.
fn cols_block(
    name: &str,
    w: &[f64],
    rows: usize,
    cols: usize,
    c0: usize,
    n: usize,
) -> Result<Mat<f64>> {
    Mat::from_fn(name, n, rows, |i, j| w[j * cols + c0 + i])
}

/// Imports a model from safetensors bytes. `heads` overrides the file's `heads` metadata; one
/// of the two is required (the head count cannot be read from the shapes).
pub fn import_bytes(bytes: &[u8], layout: Layout, heads: Option<usize>) -> Result<ImportedModel> {
    let (_, meta) =
        SafeTensors::read_metadata(bytes).map_err(|e| Error::parse("safetensors header", e))?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| Error::parse("safetensors file", e))?;
    let meta = meta.metadata().clone().unwrap_or_default();
    let meta_heads = match meta.get(META_HEADS) {
        Some(s) => Some(
            s.parse::<usize>()
                .map_err(|_| Error::invalid("metadata heads", s, "a positive integer"))?,
        ),
        None => None,
    };
    let heads = match (heads, meta_heads) {
        (Some(h), Some(m)) if h != m => {
            return Err(Error::invalid(
                "heads",
                h,
                format!("the file's metadata value {m}"),
            ));
        }
        (Some(h), _) | (None, Some(h)) => h,
        (None, None) => {
            return Err(Error::invalid(
                "heads",
                "unknown",
                "given with --heads (the file has no `heads` metadata)",
            ));
        }
    };
    crate::error::check::at_least("heads", heads, 1)?;
    let attn_activation = meta
        .get(META_ATTN_ACTIVATION)
        .map(|s| parse_activation(s))
        .transpose()?;
    let mlp_activation = meta
        .get(META_MLP_ACTIVATION)
        .map(|s| parse_activation(s))
        .transpose()?;

    let mut r = Reader {
        st,
        used: Vec::new(),
    };
    let (w, wshape) = r.get("readout.weight", &[Some(1), None])?;
    let e = wshape[1];
    let mut blocks = Vec::new();
    for l in 0.. {
        let probe = match layout {
            Layout::TorchMha => format!("layers.{l}.attn.in_proj_weight"),
            Layout::SeparateQkv => format!("layers.{l}.q.weight"),
        };
        if !r.has(&probe) {
            if l == 0 {
                // Reports the missing tensor by name.
                r.get(&probe, &[None, None])?;
            }
            break;
        }
        blocks.push(read_block(&mut r, layout, l, e, heads)?);
    }
    let embedding = if r.has("tok_emb.weight") || r.has("pos_emb.weight") || r.has("cls") {
        let (tok, ts) = r.get("tok_emb.weight", &[None, Some(e)])?;
        let (pos, ps) = r.get("pos_emb.weight", &[None, Some(e)])?;
        let (cls, _) = r.get("cls", &[Some(e)])?;
        Some(Embedding::new(
            Mat::new("tok_emb.weight", ts[0], e, tok)?,
            Mat::new("pos_emb.weight", ps[0], e, pos)?,
            cls,
        )?)
    } else {
        None
    };
    let mut ignored: Vec<String> =
        r.st.names()
            .into_iter()
            .filter(|n| !r.used.iter().any(|u| u == n))
            .map(String::from)
            .collect();
    ignored.sort();
    Ok(ImportedModel {
        layout,
        blocks,
        w,
        embedding,
        attn_activation,
        mlp_activation,
        ignored,
    })
}

fn read_block(
    r: &mut Reader<'_>,
    layout: Layout,
    l: usize,
    e: usize,
    heads: usize,
) -> Result<Block<f64>> {
    let mut hs = Vec::with_capacity(heads);
    match layout {
        Layout::TorchMha => {
            if !e.is_multiple_of(heads) {
                return Err(Error::invalid(
                    "heads",
                    heads,
                    format!("a divisor of the embedding width E = {e} (nn.MultiheadAttention)"),
                ));
            }
            let dh = e / heads;
            let n_in = format!("layers.{l}.attn.in_proj_weight");
            let (w_in, _) = r.get(&n_in, &[Some(3 * e), Some(e)])?;
            let n_out = format!("layers.{l}.attn.out_proj.weight");
            let (w_out, _) = r.get(&n_out, &[Some(e), Some(e)])?;
            // PyTorch: softmax((x Wq^T / sqrt(dh)) (x Wk^T)^T); fold 1/sqrt(dh) into W_Q.
            let scale = 1.0 / (dh as f64).sqrt();
            for h in 0..heads {
                hs.push(HeadParams {
                    w_q: rows_transposed(&n_in, &w_in, e, h * dh, dh, scale)?,
                    w_k: rows_transposed(&n_in, &w_in, e, e + h * dh, dh, 1.0)?,
                    w_v: rows_transposed(&n_in, &w_in, e, 2 * e + h * dh, dh, 1.0)?,
                    w_c: cols_block(&n_out, &w_out, e, e, h * dh, dh)?,
                });
            }
        }
        Layout::SeparateQkv => {
            let name = |x: &str| format!("layers.{l}.{x}.weight");
            let (q, qs) = r.get(&name("q"), &[None, Some(e)])?;
            let (k, _) = r.get(&name("k"), &[Some(qs[0]), Some(e)])?;
            let (v, vs) = r.get(&name("v"), &[None, Some(e)])?;
            let (o, _) = r.get(&name("o"), &[Some(e), Some(vs[0])])?;
            for (n, rows) in [(name("q"), qs[0]), (name("v"), vs[0])] {
                if rows % heads != 0 {
                    return Err(Error::shape(
                        format!("tensor `{n}` rows"),
                        format!("a multiple of heads = {heads}"),
                        rows,
                    ));
                }
            }
            let (dr, dk) = (qs[0] / heads, vs[0] / heads);
            for h in 0..heads {
                hs.push(HeadParams {
                    w_q: rows_transposed(&name("q"), &q, e, h * dr, dr, 1.0)?,
                    w_k: rows_transposed(&name("k"), &k, e, h * dr, dr, 1.0)?,
                    w_v: rows_transposed(&name("v"), &v, e, h * dk, dk, 1.0)?,
                    w_c: cols_block(&name("o"), &o, e, vs[0], h * dk, dk)?,
                });
            }
        }
    }
    let n1 = format!("layers.{l}.mlp.0.weight");
    let mlp = if r.has(&n1) {
        let (w1, s1) = r.get(&n1, &[None, Some(e)])?;
        let p = s1[0];
        let n2 = format!("layers.{l}.mlp.2.weight");
        let (w2, _) = r.get(&n2, &[Some(e), Some(p)])?;
        Some(Mlp {
            w1: rows_transposed(&n1, &w1, e, 0, p, 1.0)?,
            w2: rows_transposed(&n2, &w2, p, 0, e, 1.0)?,
        })
    } else {
        None
    };
    Ok(Block { heads: hs, mlp })
}

/// Reads and imports a file.
pub fn read_file(path: &Path, layout: Layout, heads: Option<usize>) -> Result<ImportedModel> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    import_bytes(&bytes, layout, heads)
}

/// B_X from a data file: a safetensors file with one tensor `x` of shape (m, T+1, d) holding the
/// embedded inputs X~ ([CLS] row included); B_X is the largest l2 norm of any row.
pub fn b_x_from_file(path: &Path) -> Result<(f64, [usize; 3])> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| Error::parse(path.display(), e))?;
    let mut r = Reader {
        st,
        used: Vec::new(),
    };
    let (x, s) = r.get("x", &[None, None, None])?;
    let d = s[2].max(1);
    let b = x
        .chunks(d)
        .map(|row| crate::norms::vector_norm(&nalgebra::DVector::from_column_slice(row), 2.0))
        .try_fold(0.0f64, |acc, n| n.map(|n| acc.max(n)))?;
    Ok((b, [s[0], s[1], s[2]]))
}
