//! The general models: multi-head self-attention blocks with residuals, row-wise projection
//! onto the unit l2 ball (Pi) and an optional MLP, L layers, scalar read-out at \[CLS\].
//!
//! Block (docs/derivations.md §1): Y <- Pi(Y + sum_h sigma(A_h Y W_V^h) W_C^h), A_h = row-softmax of
//! (Y W_Q^h)(Y W_K^h)^T (row t is the attention of query t, z = y_t); then, with an MLP,
//! Y <- Pi(Y + sigma(Y W1) W2). Output f = w^T y_cls, y_cls the last row after the last block.

use crate::error::{Error, Result};
use crate::model::activation::Activation;
use crate::model::block::{self, Block, BlockCache, HeadParams, Mlp};
use crate::model::embedding::{Embedding, TokenBatch};
use crate::optim::Parameters;
use crate::tensor::{Mat, Real, check_finite, dot};
use rand::{Rng, RngExt};

/// Embedding, L blocks and the read-out w (d).
#[derive(Clone, Debug, PartialEq)]
pub struct Transformer<S> {
    pub embedding: Embedding<S>,
    pub blocks: Vec<Block<S>>,
    pub w: Vec<S>,
    /// sigma of every head (identity gives the usual Transformer head).
    pub attn_activation: Activation,
    /// sigma of the MLP.
    pub mlp_activation: Activation,
}

/// Shape of a randomly initialised [`Transformer`].
#[derive(Clone, Debug, PartialEq)]
pub struct TransformerConfig {
    pub context_len: usize,
    pub vocab: usize,
    pub width: usize,
    pub heads: usize,
    /// r = k per head.
    pub head_dim: usize,
    /// p; 0 means no MLP.
    pub mlp_width: usize,
    pub layers: usize,
    pub attn_activation: Activation,
    pub mlp_activation: Activation,
    /// Weights uniform in [-init_scale, init_scale] / sqrt(fan_in).
    pub init_scale: f64,
}

fn check_mat<S: Real>(field: &str, m: &Mat<S>, rows: usize, cols: usize) -> Result<()> {
    if m.rows != rows || m.cols != cols || m.data.len() != rows * cols {
        return Err(Error::shape(
            field,
            format!("{rows} x {cols}"),
            format!("{} x {}", m.rows, m.cols),
        ));
    }
    check_finite(field, &m.data)
}

impl<S: Real> Transformer<S> {
    /// The same model in another scalar type (f64 -> f32 rounds each weight).
    pub fn cast<T: Real>(&self) -> Transformer<T> {
        let v = |xs: &[S]| xs.iter().map(|x| T::from_f64(x.as_f64())).collect();
        let e = &self.embedding;
        Transformer {
            embedding: Embedding {
                tok: e.tok.cast(),
                pos: e.pos.cast(),
                cls: v(&e.cls),
            },
            blocks: self
                .blocks
                .iter()
                .map(|b| b.map_weights(Mat::cast))
                .collect(),
            w: v(&self.w),
            attn_activation: self.attn_activation,
            mlp_activation: self.mlp_activation,
        }
    }

    /// Validates every shape against the embedding width d and every entry for finiteness.
    pub fn new(
        embedding: Embedding<S>,
        blocks: Vec<Block<S>>,
        w: Vec<S>,
        attn_activation: Activation,
        mlp_activation: Activation,
    ) -> Result<Self> {
        let d = embedding.width();
        let model = Transformer {
            embedding: embedding.clone(),
            blocks,
            w,
            attn_activation,
            mlp_activation,
        };
        // Re-validate the embedding (fields are public) and every block.
        Embedding::new(embedding.tok, embedding.pos, embedding.cls)?;
        crate::error::check::at_least("layers", model.blocks.len(), 1)?;
        for (l, b) in model.blocks.iter().enumerate() {
            crate::error::check::at_least(&format!("blocks[{l}].heads"), b.heads.len(), 1)?;
            for (h, hp) in b.heads.iter().enumerate() {
                let (r, k) = (hp.w_q.cols, hp.w_v.cols);
                let name = |x: &str| format!("blocks[{l}].heads[{h}].{x}");
                check_mat(&name("w_q"), &hp.w_q, d, r)?;
                check_mat(&name("w_k"), &hp.w_k, d, r)?;
                check_mat(&name("w_v"), &hp.w_v, d, k)?;
                check_mat(&name("w_c"), &hp.w_c, k, d)?;
            }
            if let Some(m) = &b.mlp {
                let p = m.w1.cols;
                check_mat(&format!("blocks[{l}].mlp.w1"), &m.w1, d, p)?;
                check_mat(&format!("blocks[{l}].mlp.w2"), &m.w2, p, d)?;
            }
        }
        if model.w.len() != d {
            return Err(Error::shape("w", d, model.w.len()));
        }
        check_finite("w", &model.w)?;
        Ok(model)
    }

    /// Learned embeddings and weights, uniform initialisation from `rng`.
    pub fn random<R: Rng + ?Sized>(cfg: &TransformerConfig, rng: &mut R) -> Result<Self> {
        crate::error::check::positive("init_scale", cfg.init_scale)?;
        crate::error::check::at_least("width", cfg.width, 1)?;
        crate::error::check::at_least("head_dim", cfg.head_dim, 1)?;
        let s = cfg.init_scale;
        let mut u = |rows: usize, cols: usize| -> Mat<S> {
            let a = s / (rows as f64).sqrt();
            Mat {
                rows,
                cols,
                data: (0..rows * cols)
                    .map(|_| S::from_f64(a * (2.0 * rng.random::<f64>() - 1.0)))
                    .collect(),
            }
        };
        let (d, r) = (cfg.width, cfg.head_dim);
        let embedding = Embedding::new(u(cfg.vocab, d), u(cfg.context_len, d), u(1, d).data)?;
        let blocks = (0..cfg.layers)
            .map(|_| Block {
                heads: (0..cfg.heads)
                    .map(|_| HeadParams {
                        w_q: u(d, r),
                        w_k: u(d, r),
                        w_v: u(d, r),
                        w_c: u(r, d),
                    })
                    .collect(),
                mlp: (cfg.mlp_width > 0).then(|| Mlp {
                    w1: u(d, cfg.mlp_width),
                    w2: u(cfg.mlp_width, d),
                }),
            })
            .collect();
        let w = u(d, 1).data;
        Self::new(
            embedding,
            blocks,
            w,
            cfg.attn_activation,
            cfg.mlp_activation,
        )
    }

    /// d.
    pub fn width(&self) -> usize {
        self.embedding.width()
    }
    pub fn layers(&self) -> usize {
        self.blocks.len()
    }

    /// All T+1 output rows after the last block, for a raw X~ ((T+1) x d, \[CLS\] last).
    pub fn forward_rows(&self, x_tilde: &Mat<S>) -> Result<Mat<S>> {
        if x_tilde.cols != self.width() {
            return Err(Error::shape("x_tilde.cols", self.width(), x_tilde.cols));
        }
        check_finite("x_tilde", &x_tilde.data)?;
        let mut caches: Vec<BlockCache<S>> =
            self.blocks.iter().map(|_| BlockCache::default()).collect();
        let mut y = x_tilde.clone();
        for (b, c) in self.blocks.iter().zip(&mut caches) {
            block::forward(b, self.attn_activation, self.mlp_activation, &y, c);
            y = c.y_out.clone();
        }
        Ok(y)
    }

    /// f_i = w^T y_cls for every sequence, computing all T+1 query rows in every block.
    pub fn forward_full(&self, batch: &TokenBatch) -> Result<Vec<S>> {
        self.embedding.check_batch(batch)?;
        (0..batch.num_samples())
            .map(|i| {
                let y = self.forward_rows(&self.embedding.embed(batch.sample(i)))?;
                Ok(dot(&self.w, y.row(y.rows - 1)))
            })
            .collect()
    }

    /// Predictions and the gradient of sum_i L_i(f_i) through the full computation, any depth.
    /// `dloss(i, f_i)` returns dL_i/df_i; samples are processed one at a time so memory is
    /// O(L H T^2) for one sequence, not the batch.
    pub fn value_and_grad_full(
        &self,
        batch: &TokenBatch,
        mut dloss: impl FnMut(usize, S) -> S,
    ) -> Result<(Vec<S>, Self)> {
        self.embedding.check_batch(batch)?;
        let mut grad = self.zeros_like();
        let mut caches: Vec<BlockCache<S>> =
            self.blocks.iter().map(|_| BlockCache::default()).collect();
        let mut preds = Vec::with_capacity(batch.num_samples());
        let n = batch.context_len + 1;
        for i in 0..batch.num_samples() {
            let x = self.embedding.embed(batch.sample(i));
            for l in 0..self.blocks.len() {
                let (done, rest) = caches.split_at_mut(l);
                let y_in = if l == 0 { &x } else { &done[l - 1].y_out };
                block::forward(
                    &self.blocks[l],
                    self.attn_activation,
                    self.mlp_activation,
                    y_in,
                    &mut rest[0],
                );
            }
            let y = &caches[self.blocks.len() - 1].y_out;
            let f = dot(&self.w, y.row(n - 1));
            let g = dloss(i, f);
            crate::error::check::finite("dloss", g.as_f64())?;
            preds.push(f);
            crate::tensor::axpy(g, y.row(n - 1), &mut grad.w);
            let mut dy = Mat::zeros(n, self.width());
            crate::tensor::axpy(g, &self.w, dy.row_mut(n - 1));
            for l in (0..self.blocks.len()).rev() {
                let (done, rest) = caches.split_at_mut(l);
                let y_in = if l == 0 { &x } else { &done[l - 1].y_out };
                dy = block::backward(
                    &self.blocks[l],
                    self.attn_activation,
                    self.mlp_activation,
                    y_in,
                    &mut rest[0],
                    &dy,
                    &mut grad.blocks[l],
                );
            }
            for (t, &b) in batch.sample(i).iter().enumerate() {
                crate::tensor::axpy(S::one(), dy.row(t), grad.embedding.tok.row_mut(b as usize));
                crate::tensor::axpy(S::one(), dy.row(t), grad.embedding.pos.row_mut(t));
            }
            crate::tensor::axpy(S::one(), dy.row(n - 1), &mut grad.embedding.cls);
        }
        Ok((preds, grad))
    }
}

impl<S: Real> Parameters<S> for Transformer<S> {
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = ["embedding.tok", "embedding.pos", "embedding.cls"]
            .map(String::from)
            .into();
        for (l, b) in self.blocks.iter().enumerate() {
            for h in 0..b.heads.len() {
                for x in ["w_q", "w_k", "w_v", "w_c"] {
                    v.push(format!("blocks[{l}].heads[{h}].{x}"));
                }
            }
            if b.mlp.is_some() {
                v.push(format!("blocks[{l}].mlp.w1"));
                v.push(format!("blocks[{l}].mlp.w2"));
            }
        }
        v.push("w".into());
        v
    }
    fn tensors(&self) -> Vec<&[S]> {
        let e = &self.embedding;
        let mut v: Vec<&[S]> = vec![&e.tok.data, &e.pos.data, &e.cls];
        for b in &self.blocks {
            for h in &b.heads {
                v.extend([&h.w_q.data[..], &h.w_k.data, &h.w_v.data, &h.w_c.data]);
            }
            if let Some(m) = &b.mlp {
                v.extend([&m.w1.data[..], &m.w2.data]);
            }
        }
        v.push(&self.w);
        v
    }
    fn tensors_mut(&mut self) -> Vec<&mut [S]> {
        let e = &mut self.embedding;
        let mut v: Vec<&mut [S]> = vec![&mut e.tok.data, &mut e.pos.data, &mut e.cls];
        for b in &mut self.blocks {
            for h in &mut b.heads {
                v.extend([
                    &mut h.w_q.data[..],
                    &mut h.w_k.data,
                    &mut h.w_v.data,
                    &mut h.w_c.data,
                ]);
            }
            if let Some(m) = &mut b.mlp {
                v.extend([&mut m.w1.data[..], &mut m.w2.data]);
            }
        }
        v.push(&mut self.w);
        v
    }
    fn zeros_like(&self) -> Self {
        Transformer {
            embedding: self.embedding.zeros_like(),
            blocks: (self.blocks.iter())
                .map(|b| b.map_weights(|m| Mat::zeros(m.rows, m.cols)))
                .collect(),
            w: vec![S::zero(); self.w.len()],
            attn_activation: self.attn_activation,
            mlp_activation: self.mlp_activation,
        }
    }
}
