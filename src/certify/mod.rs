//! The sparse-variable-creation certificate of a trained one-block model read at \[CLS\]
//! (docs/certificates.md §1-§4).
//!
//! From the model alone we extract an s-junta g (positions I by \[CLS\] attention mass and
//! score/value gaps, the table from the model's own outputs; [`extract`]), then either
//! - **verify** exactly that the model equals g on all 2^T inputs ([`verify()`]: a fractional
//!   0-1 program per head and coordinate, then sound interval arithmetic), so
//!   err(model) = err(g); or
//! - **sample** fresh unlabeled inputs from the task's input distribution and bound
//!   P(model != g) by Clopper-Pearson at its own delta ([`sampled`]), so
//!   err(model) <= err(g) + that.
//!
//! err(g) is bounded by the Occam bound of a prefix-free code fixed before the data
//! (`bounds::occam_kl`, [`occam`]). [`certify_junta`] does all of it and returns a
//! [`JuntaCertificate`] that states which route was taken, the delta split and what it
//! certifies. This module never trains, stores or draws labelled data; it reads the model,
//! the training sample S (labels only to count err_S(g)) and the input distribution.

pub mod fresh;
mod interval;
mod junta;
pub mod occam;
pub mod pac_bayes;
pub mod sampled;
pub mod verify;

#[cfg(test)]
mod tests;

pub use interval::Interval;
pub use junta::{FILLS, INFLUENCE_INPUTS, extract};
pub use sampled::{Disagreement, disagreement};
pub use verify::{Choice, Verdict, dinkelbach_max, fractional_max, fractional_min, verify};

use crate::error::{Error, Result, check};
use crate::model::{Activation, ClsHead, Embedding, TokenBatch, Transformer};
use crate::tasks::Dataset;
use crate::tensor::{Mat, Real};
use verify::{ClsView, IMat, Post, enclose_product, head_view};

/// Largest sparsity a junta may have here: 2^s settings are enumerated, each with a fractional
/// program over T positions per head coordinate.
pub const MAX_JUNTA_SPARSITY: usize = 16;

/// Share of delta given to the Occam bound; the rest goes to the sampled route. Fixed before
/// the route is known (the route depends on the trained model, hence on S), so the union bound
/// of docs/certificates.md (C6) holds whichever route is taken.
pub const OCCAM_DELTA_SHARE: f64 = 0.5;

/// What [`JuntaCertificate::certified_error_model`] bounds, printed beside it.
pub const CERTIFIES: &str = "the trained model's test error P(y f(x) <= 0) on the task's input distribution (Occam bound on the extracted junta g, plus P(model != g) on the sampled route)";

/// A one-block model read at \[CLS\], in f64 (an f32 model is converted exactly).
#[derive(Clone, Debug, PartialEq)]
pub enum ClsModel {
    /// The theory's head on its embedding (the fixed bit embedding, or any 2-token one).
    Head {
        head: ClsHead<f64>,
        embedding: Embedding<f64>,
    },
    /// A one-block Transformer, read out at \[CLS\].
    Block(Transformer<f64>),
}

fn cast_mat<S: Real>(m: &Mat<S>) -> Mat<f64> {
    m.cast()
}

fn cast_embedding<S: Real>(e: &Embedding<S>) -> Result<Embedding<f64>> {
    Embedding::new(
        cast_mat(&e.tok),
        cast_mat(&e.pos),
        e.cls.iter().map(|x| x.as_f64()).collect(),
    )
}

fn check_bits(vocab: usize) -> Result<()> {
    if vocab != 2 {
        return Err(Error::invalid(
            "vocab",
            vocab,
            "2 (the junta certificate is for bit sequences)",
        ));
    }
    Ok(())
}

impl ClsModel {
    /// The theory's head on `embedding`; shapes and finiteness re-checked (NaN weights are an
    /// error naming the tensor).
    pub fn head<S: Real>(head: &ClsHead<S>, embedding: &Embedding<S>) -> Result<ClsModel> {
        let head = ClsHead::new(
            cast_mat(&head.w_q),
            cast_mat(&head.w_k),
            cast_mat(&head.w_v),
            head.w.iter().map(|x| x.as_f64()).collect(),
            head.activation,
        )?;
        let embedding = cast_embedding(embedding)?;
        check_bits(embedding.vocab())?;
        if embedding.width() != head.width() {
            return Err(Error::shape(
                "embedding width",
                head.width(),
                embedding.width(),
            ));
        }
        Ok(ClsModel::Head { head, embedding })
    }

    /// A one-block Transformer. More blocks are refused: the verification needs the
    /// \[CLS\] query to be input-independent, which holds only in the first block.
    pub fn transformer<S: Real>(model: &Transformer<S>) -> Result<ClsModel> {
        if model.blocks.len() != 1 {
            return Err(Error::invalid(
                "layers",
                model.blocks.len(),
                "1 (the junta verification needs an input-independent [CLS] query, true only in a one-block model read at [CLS])",
            ));
        }
        let m = model.cast::<f64>();
        let m = Transformer::new(
            m.embedding,
            m.blocks,
            m.w,
            m.attn_activation,
            m.mlp_activation,
        )?;
        check_bits(m.embedding.vocab())?;
        Ok(ClsModel::Block(m))
    }

    /// A one-block model imported from safetensors with its embeddings (a file without
    /// `tok_emb`/`pos_emb`/`cls` is an error naming them).
    #[cfg(feature = "weights")]
    pub fn imported(model: &crate::weights::ImportedModel) -> Result<ClsModel> {
        ClsModel::transformer(&model.to_transformer()?)
    }

    /// T.
    pub fn context_len(&self) -> usize {
        match self {
            ClsModel::Head { embedding, .. } => embedding.context_len(),
            ClsModel::Block(m) => m.embedding.context_len(),
        }
    }

    /// f on every row of `batch`, through the model's own forward pass (f64).
    pub fn predict(&self, batch: &TokenBatch) -> Result<Vec<f64>> {
        match self {
            ClsModel::Head { head, embedding } => {
                Ok(head.forward_tokens(embedding, batch)?.predictions)
            }
            ClsModel::Block(m) => Ok(m.forward_cls(batch)?.predictions),
        }
    }

    /// The \[CLS\] view the extraction and the verification read (docs/certificates.md §3).
    pub(crate) fn view(&self) -> Result<ClsView> {
        crate::limits::memory("context_len", self.context_len(), self.view_bytes())?;
        Ok(match self {
            ClsModel::Head { head, embedding } => {
                let e = embedding;
                let (w_out, post) = if head.activation == Activation::Identity {
                    // f = w^T W_V^T X~^T a: one coordinate, the value projected on w.
                    let w = Mat {
                        rows: head.w.len(),
                        cols: 1,
                        data: head.w.clone(),
                    };
                    (enclose_product(&head.w_v, &IMat::exact(&w)), Post::Scalar)
                } else {
                    let post = Post::HeadSigma {
                        activation: head.activation,
                        w: head.w.clone(),
                    };
                    (IMat::exact(&head.w_v), post)
                };
                ClsView {
                    context_len: e.context_len(),
                    heads: vec![head_view(
                        &e.pos, &e.tok, &e.cls, &head.w_q, &head.w_k, &w_out,
                    )],
                    post,
                }
            }
            ClsModel::Block(m) => {
                let e = &m.embedding;
                let block = &m.blocks[0];
                let identity = m.attn_activation == Activation::Identity;
                let mut heads = Vec::new();
                let mut w_c = Vec::new();
                for hp in &block.heads {
                    let w_out = if identity {
                        w_c.push(None);
                        enclose_product(&hp.w_v, &IMat::exact(&hp.w_c))
                    } else {
                        w_c.push(Some(hp.w_c.clone()));
                        IMat::exact(&hp.w_v)
                    };
                    heads.push(head_view(&e.pos, &e.tok, &e.cls, &hp.w_q, &hp.w_k, &w_out));
                }
                ClsView {
                    context_len: e.context_len(),
                    heads,
                    post: Post::Block {
                        attn_activation: m.attn_activation,
                        w_c,
                        x_cls: e.cls.clone(),
                        mlp: block.mlp.clone(),
                        mlp_activation: m.mlp_activation,
                        w: m.w.clone(),
                    },
                }
            }
        })
    }

    /// Bytes of the view: per head, (2T + 1) rows of midpoints and radii of width d.
    fn view_bytes(&self) -> f64 {
        let (t, heads, d) = match self {
            ClsModel::Head { embedding, .. } => (embedding.context_len(), 1, embedding.width()),
            ClsModel::Block(m) => (
                m.embedding.context_len(),
                m.blocks[0].heads.len(),
                m.width(),
            ),
        };
        8.0 * 6.0 * (2.0 * t as f64 + 1.0) * (heads as f64) * (d as f64 + 2.0)
    }
}

/// An s-junta g: sorted positions I and the table of 2^s signs in {-1, +1}, entry
/// `sum_j 2^j x_{i_j}` (the convention of `tasks::TaskKind::TruthTable`).
#[derive(Clone, Debug, PartialEq)]
pub struct Junta {
    pub positions: Vec<usize>,
    pub table: Vec<i8>,
}

impl Junta {
    /// Positions strictly increasing and < T, a table of 2^s entries in {-1, +1}.
    pub fn check(&self, context_len: usize) -> Result<()> {
        let s = self.positions.len();
        check::at_least("sparsity", s, 1)?;
        if s > MAX_JUNTA_SPARSITY {
            return Err(Error::invalid(
                "sparsity",
                s,
                format!("at most {MAX_JUNTA_SPARSITY}"),
            ));
        }
        let sorted = self.positions.windows(2).all(|w| w[0] < w[1]);
        if !sorted || self.positions[s - 1] >= context_len {
            return Err(Error::invalid(
                "positions",
                format!("{:?}", self.positions),
                format!("strictly increasing indices < context_len = {context_len}"),
            ));
        }
        if self.table.len() != 1 << s {
            return Err(Error::shape("table", 1usize << s, self.table.len()));
        }
        if let Some(i) = self.table.iter().position(|&v| v != 1 && v != -1) {
            return Err(Error::invalid(
                format!("table[{i}]"),
                self.table[i],
                "-1 or +1",
            ));
        }
        Ok(())
    }

    /// Index of x_I in the table.
    pub fn pattern(&self, bits: &[u8]) -> usize {
        (self.positions.iter().enumerate())
            .map(|(j, &t)| usize::from(bits[t] != 0) << j)
            .sum()
    }

    /// g(x) in {-1, +1}.
    pub fn eval(&self, bits: &[u8]) -> i8 {
        self.table[self.pattern(bits)]
    }
}

/// Parameters of [`certify_junta`], all fixed before the data.
#[derive(Clone, Debug, PartialEq)]
pub struct JuntaParams {
    /// s, the number of positions of g.
    pub sparsity: usize,
    /// Total failure probability, split [`OCCAM_DELTA_SHARE`] : rest.
    pub delta: f64,
    /// Fresh unlabeled inputs for the sampled route.
    pub fresh_samples: usize,
    /// Seed of the extraction fills and of the fresh inputs (ChaCha8).
    pub seed: u64,
    /// The input distribution: i.i.d. bits with P(bit = 1) = `bit_prob`
    /// (`tasks::Task::bit_prob`: 2^(-1/s) for AND, 1/2 for parity, ...).
    pub bit_prob: f64,
}

/// Which route bounds err(model) from err(g).
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    /// The model equals g on all 2^T inputs: err(model) = err(g).
    Verified,
    /// `disagreements` of `samples` fresh inputs had sign(f) != g; `upper` is the one-sided
    /// Clopper-Pearson upper limit of P(model != g) at the sampled share of delta.
    Sampled {
        samples: usize,
        disagreements: usize,
        upper: f64,
    },
}

impl Route {
    pub fn name(&self) -> &'static str {
        match self {
            Route::Verified => "verified",
            Route::Sampled { .. } => "sampled",
        }
    }
}

/// The certificate (docs/certificates.md (C7)).
#[derive(Clone, Debug, PartialEq)]
pub struct JuntaCertificate {
    /// I, sorted.
    pub positions: Vec<usize>,
    /// g's 2^s signs.
    pub table: Vec<i8>,
    pub route: Route,
    /// err_S(g) on the training sample.
    pub train_error_g: f64,
    /// K, the code length of g (C1).
    pub bits: f64,
    /// (delta for the Occam bound, delta for the sampled route); they sum to delta.
    pub delta_split: (f64, f64),
    /// err(g) <= this: kl form (C3).
    pub occam_kl: f64,
    /// err(g) <= this: Hoeffding form (C4), never below `occam_kl`.
    pub occam_hoeffding: f64,
    /// err(model) <= this with probability >= 1 - delta (C7).
    pub certified_error_model: f64,
    /// In words: [`CERTIFIES`].
    pub certifies: &'static str,
    /// The verification's worst margin (> 0 iff verified); see [`Verdict`].
    pub worst_margin: f64,
    /// m.
    pub num_samples: usize,
}

impl JuntaParams {
    fn validate(&self, context_len: usize) -> Result<()> {
        check::at_least("sparsity", self.sparsity, 1)?;
        if self.sparsity > context_len {
            return Err(Error::invalid(
                "sparsity",
                self.sparsity,
                format!("1 <= sparsity <= context_len = {context_len}"),
            ));
        }
        if self.sparsity > MAX_JUNTA_SPARSITY {
            return Err(Error::invalid(
                "sparsity",
                self.sparsity,
                format!("at most {MAX_JUNTA_SPARSITY} (2^sparsity settings are enumerated)"),
            ));
        }
        check::open_unit("delta", self.delta)?;
        check::at_least("fresh_samples", self.fresh_samples, 1)?;
        crate::limits::count(
            "fresh_samples",
            self.fresh_samples,
            crate::limits::MAX_POPULATION_SAMPLES,
        )?;
        check::open_unit("bit_prob", self.bit_prob)?;
        Ok(())
    }
}

/// The junta certificate of `model` trained on `train` (docs/certificates.md (C7)): extract
/// g from the model, verify or sample, Occam-bound err(g) on S at delta * share, and combine.
/// With probability >= 1 - delta over S and the fresh inputs,
/// err(model) <= `certified_error_model`. Errors: delta outside (0, 1), m = 0, s = 0 or
/// s > T, `train` of another context length, bit_prob outside (0, 1), and the model errors of
/// [`ClsModel`].
pub fn certify_junta(
    model: &ClsModel,
    train: &Dataset,
    params: &JuntaParams,
) -> Result<JuntaCertificate> {
    let t = model.context_len();
    params.validate(t)?;
    check::at_least("num_samples", train.len(), 1)?;
    if train.context_len() != t {
        return Err(Error::shape("train.context_len", t, train.context_len()));
    }
    let view = model.view()?;
    let junta = junta::extract_from(model, &view, params.sparsity, params.bit_prob, params.seed)?;
    let verdict = verify::verify_view(&view, &junta);
    let delta_occam = params.delta * OCCAM_DELTA_SHARE;
    let delta_sampled = params.delta - delta_occam;
    let train_error_g = occam::train_error(&junta, train);
    let bits = crate::bounds::junta_code_bits(t, params.sparsity)?;
    let m = train.len();
    let occam_kl = crate::bounds::occam_kl(train_error_g, bits, delta_occam, m)?;
    let occam_hoeffding = crate::bounds::occam_hoeffding(train_error_g, bits, delta_occam, m)?;
    let (route, certified) = if verdict.verified {
        (Route::Verified, occam_kl)
    } else {
        let d = disagreement(
            model,
            &junta,
            params.bit_prob,
            params.fresh_samples,
            params.seed,
            delta_sampled,
        )?;
        let total = (occam_kl + d.upper).next_up().min(1.0);
        (
            Route::Sampled {
                samples: d.samples,
                disagreements: d.disagreements,
                upper: d.upper,
            },
            total,
        )
    };
    Ok(JuntaCertificate {
        positions: junta.positions,
        table: junta.table,
        route,
        train_error_g,
        bits,
        delta_split: (delta_occam, delta_sampled),
        occam_kl,
        occam_hoeffding,
        certified_error_model: certified,
        certifies: CERTIFIES,
        worst_margin: verdict.worst_margin,
        num_samples: m,
    })
}
