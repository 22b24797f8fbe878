//! Reading a safetensors file into per-head weights in our (in, out) convention.

use super::dtype::to_f64;
use super::mapping::{Attention, Mapping, Orientation, resolve};
use super::{Layout, META_ATTN_ACTIVATION, META_HEADS, META_MLP_ACTIVATION};
use crate::error::{Error, Result};
use crate::model::{Activation, Block, Embedding, HeadParams, Mlp, Transformer};
use crate::tensor::Mat;
use safetensors::SafeTensors;
use std::path::Path;

/// A model read from a file: blocks and read-out always, embeddings when all three are present.
#[derive(Debug, Clone)]
pub struct ImportedModel {
    /// Preset name or mapping file it was read with.
    pub layout: String,
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

    /// Tensor `template` resolved at layer `l` (the error names the mapping field and template
    /// when it is missing).
    fn named(&self, field: &str, template: &str, l: usize) -> Result<String> {
        let name = resolve(template, l);
        if self.has(&name) {
            return Ok(name);
        }
        Err(Error::invalid(
            format!("tensor `{name}` (layout field `{field}` = \"{template}\")"),
            "missing",
            "a name present in the file (see docs/pytorch.md for the layout)",
        ))
    }

    /// A weight matrix as PyTorch's row-major (out, in), transposed from the file when its
    /// orientation is (in, out); shapes are checked in the file's orientation.
    fn weight(
        &mut self,
        name: &str,
        o: Orientation,
        out: Option<usize>,
        inp: Option<usize>,
    ) -> Result<(Vec<f64>, usize, usize)> {
        match o {
            Orientation::OutIn => {
                let (v, s) = self.get(name, &[out, inp])?;
                Ok((v, s[0], s[1]))
            }
            Orientation::InOut => {
                let (v, s) = self.get(name, &[inp, out])?;
                let (ni, no) = (s[0], s[1]);
                let t = (0..no * ni).map(|k| v[(k % ni) * no + k / ni]).collect();
                Ok((t, no, ni))
            }
        }
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

/// Imports a model from safetensors bytes in a preset layout. `heads` overrides the file's
/// `heads` metadata; one of the two is required (the head count cannot be read from the shapes).
pub fn import_bytes(bytes: &[u8], layout: Layout, heads: Option<usize>) -> Result<ImportedModel> {
    import_mapped(bytes, &layout.mapping(), layout.name(), heads)
}

/// Imports a model with a tensor-name mapping (`name` is reported back, e.g. the TOML path).
/// Heads: `heads`, the mapping's `heads` and the file's metadata must agree where given.
pub fn import_mapped(
    bytes: &[u8],
    mapping: &Mapping,
    name: &str,
    heads: Option<usize>,
) -> Result<ImportedModel> {
    mapping.validate()?;
    let heads = match (heads, mapping.heads) {
        (Some(h), Some(m)) if h != m => {
            return Err(Error::invalid(
                "heads",
                h,
                format!("the layout mapping's value {m}"),
            ));
        }
        (h, m) => h.or(m),
    };
    let (_, meta) =
        SafeTensors::read_metadata(bytes).map_err(|e| Error::parse("safetensors header", e))?;
    check_unique_names(bytes)?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| Error::parse("safetensors file", e))?;
    let meta = meta.metadata().clone().unwrap_or_default();
    let meta_heads = match meta.get(META_HEADS) {
        Some(s) => Some(
            s.parse::<usize>()
                .ok()
                .filter(|h| (1..=crate::limits::MAX_HEADS).contains(h))
                .ok_or_else(|| {
                    Error::invalid(
                        "metadata heads",
                        s,
                        format!("an integer in [1, {}]", crate::limits::MAX_HEADS),
                    )
                })?,
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
                "given with --heads or `heads` in the layout mapping (the file has no `heads` metadata)",
            ));
        }
    };
    crate::limits::count_in("heads", heads, 1, crate::limits::MAX_HEADS)?;
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
    let o = mapping.orientation()?;
    let n_w = r.named("readout", &mapping.readout, 0)?;
    let (w, _, e) = r.weight(&n_w, o, Some(1), None)?;
    let probe = match mapping.attention()? {
        Attention::Separate { q, .. } => ("q", q),
        Attention::Fused(f) => ("qkv", f),
    };
    let mut blocks = Vec::new();
    for l in 0.. {
        if l > 0 && (!mapping.layered() || !r.has(&resolve(probe.1, l))) {
            break;
        }
        blocks.push(read_block(&mut r, mapping, o, l, e, heads)?);
    }
    let emb = match (&mapping.tok_emb, &mapping.pos_emb, &mapping.cls) {
        (Some(t), Some(p), Some(c))
            if ["tok_emb", "pos_emb", "cls"]
                .iter()
                .any(|f| !mapping.is_optional(f))
                || r.has(t)
                || r.has(p)
                || r.has(c) =>
        {
            Some((t, p, c))
        }
        _ => None,
    };
    let embedding = match emb {
        Some((t, p, c)) => {
            // Embedding tables are (rows, E) in either orientation (nn.Embedding.weight).
            let (t, p, c) = (
                r.named("tok_emb", t, 0)?,
                r.named("pos_emb", p, 0)?,
                r.named("cls", c, 0)?,
            );
            let (tok, ts) = r.get(&t, &[None, Some(e)])?;
            let (pos, ps) = r.get(&p, &[None, Some(e)])?;
            let (cls, _) = r.get(&c, &[Some(e)])?;
            Some(Embedding::new(
                Mat::new(&t, ts[0], e, tok)?,
                Mat::new(&p, ps[0], e, pos)?,
                cls,
            )?)
        }
        None => None,
    };
    let mut ignored: Vec<String> =
        r.st.names()
            .into_iter()
            .filter(|n| !r.used.iter().any(|u| u == n))
            .map(String::from)
            .collect();
    ignored.sort();
    Ok(ImportedModel {
        layout: name.to_string(),
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
    m: &Mapping,
    o: Orientation,
    l: usize,
    e: usize,
    heads: usize,
) -> Result<Block<f64>> {
    let mut hs = Vec::with_capacity(heads);
    let multiple = |n: &str, rows: usize| {
        if !rows.is_multiple_of(heads) {
            return Err(Error::shape(
                format!("tensor `{n}` output dimension"),
                format!("a multiple of heads = {heads}"),
                rows,
            ));
        }
        Ok(rows / heads)
    };
    // (name, out-in weight, offset) of each projection, and the head widths r (q, k) and k (v).
    let (q, k, v, dr, dk) = match m.attention()? {
        Attention::Fused(f) => {
            let n = r.named("qkv", f, l)?;
            let (w, rows, _) = r.weight(&n, o, None, Some(e))?;
            if !rows.is_multiple_of(3) {
                return Err(Error::shape(
                    format!("tensor `{n}` output dimension"),
                    "a multiple of 3 (blocks q | k | v)",
                    rows,
                ));
            }
            let d = multiple(&n, rows / 3)?;
            let w = std::rc::Rc::new(w);
            (
                (n.clone(), w.clone(), 0),
                (n.clone(), w.clone(), rows / 3),
                (n, w, 2 * rows / 3),
                d,
                d,
            )
        }
        Attention::Separate { q, k, v } => {
            let (nq, nk, nv) = (
                r.named("q", q, l)?,
                r.named("k", k, l)?,
                r.named("v", v, l)?,
            );
            let (wq, rq, _) = r.weight(&nq, o, None, Some(e))?;
            let (wk, _, _) = r.weight(&nk, o, Some(rq), Some(e))?;
            let (wv, rv, _) = r.weight(&nv, o, None, Some(e))?;
            let (dr, dk) = (multiple(&nq, rq)?, multiple(&nv, rv)?);
            (
                (nq, std::rc::Rc::new(wq), 0),
                (nk, std::rc::Rc::new(wk), 0),
                (nv, std::rc::Rc::new(wv), 0),
                dr,
                dk,
            )
        }
    };
    let n_out = r.named("out", &m.out, l)?;
    let (w_out, _, vcols) = r.weight(&n_out, o, Some(e), Some(heads * dk))?;
    // PyTorch: softmax((x Wq^T / sqrt(dh)) (x Wk^T)^T); fold 1/sqrt(dh) into W_Q.
    let scale = if m.scaled()? {
        1.0 / (dr as f64).sqrt()
    } else {
        1.0
    };
    for h in 0..heads {
        hs.push(HeadParams {
            w_q: rows_transposed(&q.0, &q.1, e, q.2 + h * dr, dr, scale)?,
            w_k: rows_transposed(&k.0, &k.1, e, k.2 + h * dr, dr, 1.0)?,
            w_v: rows_transposed(&v.0, &v.1, e, v.2 + h * dk, dk, 1.0)?,
            w_c: cols_block(&n_out, &w_out, e, vcols, h * dk, dk)?,
        });
    }
    let mlp = match (&m.mlp_in, &m.mlp_out) {
        (Some(t1), Some(t2))
            if !m.is_optional("mlp_in") || r.has(&resolve(t1, l)) || !m.is_optional("mlp_out") =>
        {
            let n1 = r.named("mlp_in", t1, l)?;
            let (w1, p, _) = r.weight(&n1, o, None, Some(e))?;
            let n2 = r.named("mlp_out", t2, l)?;
            let (w2, _, _) = r.weight(&n2, o, Some(e), Some(p))?;
            Some(Mlp {
                w1: rows_transposed(&n1, &w1, e, 0, p, 1.0)?,
                w2: rows_transposed(&n2, &w2, p, 0, e, 1.0)?,
            })
        }
        _ => None,
    };
    Ok(Block { heads: hs, mlp })
}

/// The JSON header of a safetensors file names every tensor once: a repeated name (which the
/// `safetensors` crate would silently resolve to the last entry) is an error naming it.
/// Call after `SafeTensors::read_metadata` has checked the header's length and JSON.
fn check_unique_names(bytes: &[u8]) -> Result<()> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Names;
    impl<'de> Visitor<'de> for Names {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object of tensors")
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut seen = std::collections::HashSet::new();
            let mut repeated = None;
            while let Some(k) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                if !seen.insert(k.clone()) && repeated.is_none() {
                    repeated = Some(k);
                }
            }
            Ok(repeated)
        }
    }
    let header = bytes
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .and_then(|n| bytes.get(8..8usize.checked_add(n)?));
    let Some(header) = header else {
        return Err(Error::parse("safetensors header", "truncated"));
    };
    let mut de = serde_json::Deserializer::from_slice(header);
    match de.deserialize_map(Names) {
        Ok(None) => Ok(()),
        Ok(Some(name)) => Err(Error::invalid(
            "safetensors header tensor name",
            format!("`{name}` (repeated)"),
            "each tensor name once",
        )),
        Err(e) => Err(Error::parse("safetensors header", e)),
    }
}

/// A file is read whole and its tensors converted to f64 (up to 4 bytes per byte for F16 and
/// BF16, plus the bytes themselves): refuse it before reading when that exceeds the memory
/// limit (`crate::limits`).
fn check_file_size(field: &str, path: &Path) -> Result<()> {
    check_memory_per_byte(field, path, 5.0)
}

/// Refuses `path` before it is read when `bytes_per_byte` times its length exceeds the memory
/// limit (`crate::limits`); the estimate is the caller's (what it keeps per byte of the file).
pub(crate) fn check_memory_per_byte(field: &str, path: &Path, bytes_per_byte: f64) -> Result<()> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path.display(), e))?
        .len();
    crate::limits::memory(
        field,
        format!("{} ({len} bytes)", path.display()),
        bytes_per_byte * len as f64,
    )
}

/// Reads and imports a file.
pub fn read_file(path: &Path, layout: Layout, heads: Option<usize>) -> Result<ImportedModel> {
    read_file_mapped(path, &layout.mapping(), layout.name(), heads)
}

/// Reads and imports a file with a mapping (see [`import_mapped`]).
pub fn read_file_mapped(
    path: &Path,
    mapping: &Mapping,
    name: &str,
    heads: Option<usize>,
) -> Result<ImportedModel> {
    check_file_size("weights", path)?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    import_mapped(&bytes, mapping, name, heads)
}

/// B_X from a data file: the largest l2 norm of any input row (`norms::max_row_norm`).
/// Accepted: a `.csv` file of numeric rows (one input row per line, `#` comments and a
/// non-numeric header line allowed), or a safetensors file with one tensor (or a tensor `x`
/// among several) of shape (n, T, d) or (n T, d). Returns B_X and the shape as stored.
pub fn b_x_from_file(path: &Path) -> Result<(f64, Vec<usize>)> {
    let src = path.display().to_string();
    check_file_size("data", path)?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(&src, e))?;
    let csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    b_x_from_bytes(&src, &bytes, csv)
}

/// [`b_x_from_file`] on bytes already read: `csv` selects the CSV reader, else safetensors;
/// `src` names the input in errors.
pub fn b_x_from_bytes(src: &str, bytes: &[u8], csv: bool) -> Result<(f64, Vec<usize>)> {
    let (x, shape) = if csv {
        let text = std::str::from_utf8(bytes).map_err(|e| Error::parse(src, e))?;
        parse_csv_rows(src, text)?
    } else {
        let st = SafeTensors::deserialize(bytes).map_err(|e| {
            Error::parse(src, format!("{e} (expected safetensors, or a .csv file)"))
        })?;
        check_unique_names(bytes)?;
        let names = st.names();
        let name = match names.as_slice() {
            [one] => one.to_string(),
            _ if names.contains(&"x") => "x".to_string(),
            _ => {
                return Err(Error::invalid(
                    format!("tensors of {src}"),
                    format!("{names:?}"),
                    "exactly one tensor, or one named `x`",
                ));
            }
        };
        let mut r = Reader {
            st,
            used: Vec::new(),
        };
        let rank = r.st.tensor(&name).map(|t| t.shape().len()).unwrap_or(0);
        let pattern: &[Option<usize>] = if rank == 3 {
            &[None, None, None]
        } else {
            &[None, None]
        };
        r.get(&name, pattern).map_err(|e| match e {
            Error::ShapeMismatch { field, found, .. } => {
                Error::shape(format!("{field} in {src}"), "(n, T, d) or (n T, d)", found)
            }
            e => e,
        })?
    };
    let d = *shape.last().unwrap_or(&0);
    let rows = x.len().checked_div(d).unwrap_or(0);
    if rows == 0 || d == 0 {
        return Err(Error::shape(
            format!("inputs in {src}"),
            "at least one row of width d >= 1",
            format!("{shape:?}"),
        ));
    }
    let b = crate::norms::max_row_norm(&nalgebra::DMatrix::from_row_slice(rows, d, &x))?;
    Ok((b, shape))
}

/// Numeric CSV rows (comma separated), all of one width; a first non-numeric line is a header.
/// Returns the entries row-major and the shape `[rows, width]`; `src` names the input in errors.
pub fn parse_csv_rows(src: &str, text: &str) -> Result<(Vec<f64>, Vec<usize>)> {
    let mut x = Vec::new();
    let mut width = None;
    let mut rows = 0;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let row: std::result::Result<Vec<f64>, _> =
            line.split(',').map(|c| c.trim().parse::<f64>()).collect();
        let row = match row {
            Ok(r) => r,
            Err(_) if rows == 0 && width.is_none() => {
                width = Some(line.split(',').count());
                continue;
            }
            Err(e) => {
                return Err(Error::parse(
                    format!("{src} line {}", i + 1),
                    format!("{e} in \"{line}\" (expected comma-separated numbers)"),
                ));
            }
        };
        match width {
            Some(w) if w != row.len() => {
                return Err(Error::shape(
                    format!("{src} line {}", i + 1),
                    format!("{w} columns"),
                    row.len(),
                ));
            }
            _ => width = Some(row.len()),
        }
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(
                format!("{src} line {} column {}", i + 1, j + 1),
                row[j],
                "finite numbers",
            ));
        }
        x.extend(row);
        rows += 1;
    }
    Ok((x, vec![rows, width.unwrap_or(0)]))
}
