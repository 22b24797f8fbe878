//! Our `Transformer<f32>` to safetensors (F32) in either layout, with `heads`, `layout` and the
//! activations in the metadata, so the import reads it back without flags.

use super::import::activation_name;
use super::{Layout, META_ATTN_ACTIVATION, META_HEADS, META_LAYOUT, META_MLP_ACTIVATION};
use crate::error::{Error, Result};
use crate::model::Transformer;
use crate::tensor::Mat;
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use std::collections::HashMap;
use std::path::Path;

/// (name, shape, row-major f32 entries) of one output tensor.
type Entry = (String, Vec<usize>, Vec<f32>);

/// Stack the heads' (in x out) matrices as a torch (H out x in) weight, times `s`.
fn stack_torch(mats: &[&Mat<f32>], s: f32) -> Vec<f32> {
    let mut v = Vec::new();
    for m in mats {
        for j in 0..m.cols {
            v.extend((0..m.rows).map(|i| s * m.get(i, j)));
        }
    }
    v
}

/// `out` (E x sum k_h): column block h is W_C^h transposed.
fn out_torch(mats: &[&Mat<f32>], e: usize) -> Vec<f32> {
    let total: usize = mats.iter().map(|m| m.rows).sum();
    let mut v = vec![0.0; e * total];
    let mut c0 = 0;
    for m in mats {
        for i in 0..m.rows {
            for j in 0..e {
                v[j * total + c0 + i] = m.get(i, j);
            }
        }
        c0 += m.rows;
    }
    v
}

/// Serialized safetensors bytes of `model` in `layout`. `torch-mha` needs every head to have
/// r = k = dh with H dh = E (what `nn.MultiheadAttention` can hold).
pub fn export_transformer(model: &Transformer<f32>, layout: Layout) -> Result<Vec<u8>> {
    let e = model.width();
    let heads = model.blocks[0].heads.len();
    let mut out: Vec<Entry> = Vec::new();
    for (l, b) in model.blocks.iter().enumerate() {
        if b.heads.len() != heads {
            return Err(Error::invalid(
                format!("blocks[{l}].heads"),
                b.heads.len(),
                format!("the same head count in every layer ({heads})"),
            ));
        }
        let q: Vec<_> = b.heads.iter().map(|h| &h.w_q).collect();
        let k: Vec<_> = b.heads.iter().map(|h| &h.w_k).collect();
        let v: Vec<_> = b.heads.iter().map(|h| &h.w_v).collect();
        let c: Vec<_> = b.heads.iter().map(|h| &h.w_c).collect();
        let (r, kd) = (q[0].cols, v[0].cols);
        if b.heads.iter().any(|h| h.w_q.cols != r || h.w_v.cols != kd) {
            return Err(Error::invalid(
                format!("blocks[{l}]"),
                "heads of different sizes",
                "equal head sizes",
            ));
        }
        match layout {
            Layout::TorchMha => {
                if r != kd || r * heads != e {
                    return Err(Error::invalid(
                        "layout",
                        "torch-mha",
                        format!(
                            "separate-qkv for head_dim {r}, value_dim {kd}, heads {heads}, width {e} (torch-mha needs head_dim = value_dim = width / heads)"
                        ),
                    ));
                }
                // Undo the 1/sqrt(dh) PyTorch applies to q.
                let s = (r as f32).sqrt();
                let mut w_in = stack_torch(&q, s);
                w_in.extend(stack_torch(&k, 1.0));
                w_in.extend(stack_torch(&v, 1.0));
                out.push((
                    format!("layers.{l}.attn.in_proj_weight"),
                    vec![3 * e, e],
                    w_in,
                ));
                out.push((
                    format!("layers.{l}.attn.out_proj.weight"),
                    vec![e, e],
                    out_torch(&c, e),
                ));
            }
            Layout::SeparateQkv => {
                out.push((
                    format!("layers.{l}.q.weight"),
                    vec![heads * r, e],
                    stack_torch(&q, 1.0),
                ));
                out.push((
                    format!("layers.{l}.k.weight"),
                    vec![heads * r, e],
                    stack_torch(&k, 1.0),
                ));
                out.push((
                    format!("layers.{l}.v.weight"),
                    vec![heads * kd, e],
                    stack_torch(&v, 1.0),
                ));
                out.push((
                    format!("layers.{l}.o.weight"),
                    vec![e, heads * kd],
                    out_torch(&c, e),
                ));
            }
        }
        if let Some(m) = &b.mlp {
            let p = m.w1.cols;
            out.push((
                format!("layers.{l}.mlp.0.weight"),
                vec![p, e],
                stack_torch(&[&m.w1], 1.0),
            ));
            out.push((
                format!("layers.{l}.mlp.2.weight"),
                vec![e, p],
                stack_torch(&[&m.w2], 1.0),
            ));
        }
    }
    out.push(("readout.weight".into(), vec![1, e], model.w.clone()));
    let emb = &model.embedding;
    out.push((
        "tok_emb.weight".into(),
        vec![emb.tok.rows, e],
        emb.tok.data.clone(),
    ));
    out.push((
        "pos_emb.weight".into(),
        vec![emb.pos.rows, e],
        emb.pos.data.clone(),
    ));
    out.push(("cls".into(), vec![e], emb.cls.clone()));

    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = out
        .into_iter()
        .map(|(n, s, v)| (n, s, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let views = bytes
        .iter()
        .map(|(n, s, b)| {
            TensorView::new(Dtype::F32, s.clone(), b)
                .map(|t| (n.clone(), t))
                .map_err(|err| Error::invalid(format!("tensor `{n}`"), err, "a consistent shape"))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta = HashMap::from([
        (META_HEADS.to_string(), heads.to_string()),
        (META_LAYOUT.to_string(), layout.name().to_string()),
        (
            META_ATTN_ACTIVATION.to_string(),
            activation_name(model.attn_activation).into(),
        ),
        (
            META_MLP_ACTIVATION.to_string(),
            activation_name(model.mlp_activation).into(),
        ),
    ]);
    safetensors::serialize(views, Some(meta))
        .map_err(|err| Error::invalid("safetensors", err, "serializable tensors"))
}

/// [`export_transformer`] written to `path`.
pub fn write_transformer(model: &Transformer<f32>, layout: Layout, path: &Path) -> Result<()> {
    let bytes = export_transformer(model, layout)?;
    crate::fsio::write_atomic(path, &bytes)
}
