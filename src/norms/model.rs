//! The one measurement of a model's norms: per layer, per head, for every model the crate
//! knows (the theory's [`ClsHead`] with its embedding, the [`Transformer`], the blocks of an
//! imported model, a construction's head), and the one combining step that turns it into the
//! radii the bounds take ([`ModelNorms::head_radii`]: max over heads and layers;
//! [`ModelNorms::layer_radii`]: per layer, max over the heads of the layer).
//!
//! Conventions as in the parent module: `W in R^{d_in x d_out}`, `||A||_{2,1}` sums column l2
//! norms, Theta = `W_K W_Q^T`. Arithmetic: Theta's norms through [`super::theta_norms`] (scaled,
//! exact SVD); `||W||_2 = sqrt(lambda_max(W^T W))` (symmetric eigenvalues of the Gram matrix in
//! f64), `||W||_{2,1}` and `||w||_2` as plain f64 sums of squares. These are the values the
//! trainer has always stored, so stored metrics are unchanged; the Gram route squares entries,
//! so it is meant for weights of ordinary size (|entries| well below 1e150).
//!
//! Depends on `model`, `tensor` and `bounds` (for the radii types); `model` and `bounds` never
//! depend on it.

use crate::bounds::{HeadRadii, LayerRadii};
use crate::error::{Error, Result};
use crate::model::{Block, ClsHead, Embedding, Transformer};
use crate::tensor::{Mat, Real};
use nalgebra::{DMatrix, SymmetricEigen};
use serde::Serialize;

/// `X^T X` in f64 (cols x cols).
pub fn gram<S: Real>(a: &Mat<S>) -> DMatrix<f64> {
    let d = a.to_dmatrix();
    d.tr_mul(&d)
}

/// `||W||_2 = sqrt(lambda_max(W^T W))`; 0 for an empty matrix.
pub fn spectral<S: Real>(w: &Mat<S>) -> f64 {
    let g = gram(w);
    if g.is_empty() {
        return 0.0;
    }
    SymmetricEigen::new(g).eigenvalues.max().max(0.0).sqrt()
}

/// `||W||_{2,1}`: sum of the column l2 norms.
pub fn norm_21<S: Real>(w: &Mat<S>) -> f64 {
    (0..w.cols)
        .map(|j| {
            (0..w.rows)
                .map(|i| w.get(i, j).as_f64().powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .sum()
}

/// `||v||_2`.
pub fn l2<S: Real>(v: &[S]) -> f64 {
    v.iter().map(|x| x.as_f64().powi(2)).sum::<f64>().sqrt()
}

/// Norms of one attention head. The `w_c` ones are `None` for the `[CLS]` head class (it has no
/// `W_C`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HeadNorms {
    /// `||Theta||_F`, `Theta = W_K W_Q^T` (d x d).
    pub theta_fro: f64,
    /// `||Theta||_{2,1}` (column convention: columns are query coordinates).
    pub theta_21: f64,
    /// `||Theta^T||_{2,1}`.
    pub theta_21_transposed: f64,
    /// `||Theta||_2`.
    pub theta_spectral: f64,
    /// `||W_V||_2`, `W_V in R^{d x k}`.
    pub w_v_spectral: f64,
    /// `||W_V||_{2,1}`.
    pub w_v_21: f64,
    /// `||W_C||_2`, `W_C in R^{k x d}`.
    pub w_c_spectral: Option<f64>,
    /// `||W_C||_{2,1}`.
    pub w_c_21: Option<f64>,
}

/// The measurement of one head from its matrices (any `Real`); the only place a head's norms
/// are computed. Zero rows of `W_Q`, `W_K` or `W_V` change none of these norms, so a caller
/// with a huge sparse head may drop them first ([`drop_zero_rows`]).
pub fn head_norms<S: Real>(
    w_q: &Mat<S>,
    w_k: &Mat<S>,
    w_v: &Mat<S>,
    w_c: Option<&Mat<S>>,
) -> Result<HeadNorms> {
    let t = super::theta_norms(&w_q.to_dmatrix(), &w_k.to_dmatrix())?;
    Ok(HeadNorms {
        theta_fro: t.frobenius,
        theta_21: t.two_one,
        theta_21_transposed: t.two_one_transposed,
        theta_spectral: t.spectral,
        w_v_spectral: spectral(w_v),
        w_v_21: norm_21(w_v),
        w_c_spectral: w_c.map(spectral),
        w_c_21: w_c.map(norm_21),
    })
}

/// The rows of `m` with a nonzero entry (one zero row if there is none, so shapes stay valid).
pub fn drop_zero_rows(m: &Mat<f64>) -> Result<Mat<f64>> {
    let rows: Vec<&[f64]> = (0..m.rows)
        .map(|r| m.row(r))
        .filter(|row| row.iter().any(|&v| v != 0.0))
        .collect();
    let data: Vec<f64> = if rows.is_empty() {
        vec![0.0; m.cols]
    } else {
        rows.concat()
    };
    Mat::new("rows", rows.len().max(1), m.cols, data)
}

/// The combining operator: the largest value of one head norm `f` over `heads` (0 for none;
/// norms are non-negative).
pub fn max_over<'a>(
    heads: impl IntoIterator<Item = &'a HeadNorms>,
    f: impl Fn(&HeadNorms) -> f64,
) -> f64 {
    heads.into_iter().map(f).fold(0.0, f64::max)
}

/// Norms of one layer: its heads and, if it has one, its MLP.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerNorms {
    pub heads: Vec<HeadNorms>,
    /// `(||W_1||_2, ||W_2||_2)` of the MLP, if any.
    pub mlp_spectral: Option<(f64, f64)>,
}

/// Every norm of a model, per layer and per head.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelNorms {
    /// `B_X` when the model fixes its inputs' rows (an embedding is known): the max l2 norm of
    /// any possible row of `X~` ([`embedding_b_x`]); `None` when inputs come from elsewhere.
    pub b_x: Option<f64>,
    pub layers: Vec<LayerNorms>,
    /// `||w||_2` of the read-out.
    pub w_l2: f64,
}

/// `max ||tok[b] + pos[t]||_2` over tokens b and positions t, and `||cls||_2`: an upper bound
/// on the max row norm of any input the embedding can produce.
pub fn embedding_b_x<S: Real>(emb: &Embedding<S>) -> f64 {
    let mut best = l2(&emb.cls);
    for b in 0..emb.tok.rows {
        for t in 0..emb.pos.rows {
            // l2 of the row tok[b] + pos[t], summed in place (no row allocated: at T = 1e4 the
            // 2T rows of d = T + 3 entries were a noticeable part of a trial).
            let sq: f64 = (emb.tok.row(b).iter().zip(emb.pos.row(t)))
                .map(|(x, p)| (x.as_f64() + p.as_f64()).powi(2))
                .sum();
            best = best.max(sq.sqrt());
        }
    }
    best
}

/// Norms of a stack of blocks (every layer, every head).
pub fn blocks_norms<S: Real>(blocks: &[Block<S>]) -> Result<Vec<LayerNorms>> {
    blocks
        .iter()
        .map(|b| {
            Ok(LayerNorms {
                heads: (b.heads.iter())
                    .map(|h| head_norms(&h.w_q, &h.w_k, &h.w_v, Some(&h.w_c)))
                    .collect::<Result<_>>()?,
                mlp_spectral: b.mlp.as_ref().map(|m| (spectral(&m.w1), spectral(&m.w2))),
            })
        })
        .collect()
}

impl ModelNorms {
    /// The `[CLS]` head class: one layer with one head and no `W_C`, on the embedding `emb`.
    pub fn of_cls_head<S: Real>(head: &ClsHead<S>, emb: Option<&Embedding<S>>) -> Result<Self> {
        Ok(ModelNorms {
            b_x: emb.map(embedding_b_x),
            layers: vec![LayerNorms {
                heads: vec![head_norms(&head.w_q, &head.w_k, &head.w_v, None)?],
                mlp_spectral: None,
            }],
            w_l2: l2(&head.w),
        })
    }

    /// A Transformer: every block, every head, and `B_X` of its (learned or fixed) embedding.
    pub fn of_transformer<S: Real>(model: &Transformer<S>) -> Result<Self> {
        Ok(ModelNorms {
            b_x: Some(embedding_b_x(&model.embedding)),
            layers: blocks_norms(&model.blocks)?,
            w_l2: l2(&model.w),
        })
    }

    /// Every head, layer by layer.
    pub fn heads(&self) -> impl Iterator<Item = &HeadNorms> {
        self.layers.iter().flat_map(|l| &l.heads)
    }

    /// Largest value of one head norm over every head of every layer (0 without heads).
    pub fn max_over_heads(&self, f: impl Fn(&HeadNorms) -> f64) -> f64 {
        max_over(self.heads(), f)
    }

    /// The single-head radii the bounds take: each norm maxed over heads and layers, `b_x` from
    /// the model when it has one, else `b_x` (which must then be given).
    pub fn head_radii(&self, b_x: Option<f64>) -> Result<HeadRadii> {
        let b_x = b_x.or(self.b_x).ok_or_else(|| {
            Error::invalid(
                "b_x",
                "absent",
                "a max input row norm (the model has no embedding to measure it from)",
            )
        })?;
        Ok(HeadRadii {
            b_x,
            b_qk: self.max_over_heads(|h| h.theta_fro),
            b_v: self.max_over_heads(|h| h.w_v_spectral),
            b_v21: self.max_over_heads(|h| h.w_v_21),
            b_w: self.w_l2,
        })
    }

    /// Per-layer radii for the deep bound: in each layer, each norm maxed over the layer's heads.
    /// The deep bound composes `W_C`-projected heads, so every head must have a measured `W_C`:
    /// a head without one (the `\[CLS\]` class) is an error naming it, never a silent radius.
    pub fn layer_radii(&self) -> Result<Vec<LayerRadii>> {
        let mut out = Vec::with_capacity(self.layers.len());
        for (layer, l) in self.layers.iter().enumerate() {
            let missing = l
                .heads
                .iter()
                .position(|h| h.w_c_spectral.is_none() || h.w_c_21.is_none());
            if let Some(head) = missing {
                return Err(Error::invalid(
                    format!("layer {layer} head {head} w_c"),
                    "absent",
                    "an output projection W_C per head (the deep bound composes W_C-projected heads)",
                ));
            }
            let max = |f: fn(&HeadNorms) -> f64| max_over(&l.heads, f);
            out.push(LayerRadii {
                b_qk: max(|h| h.theta_fro),
                b_v: max(|h| h.w_v_spectral),
                b_v21: max(|h| h.w_v_21),
                b_c: max(|h| h.w_c_spectral.unwrap_or(f64::NAN)),
                b_c21: max(|h| h.w_c_21.unwrap_or(f64::NAN)),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Activation;

    fn mat(rows: usize, cols: usize, data: &[f64]) -> Mat<f64> {
        Mat::new("m", rows, cols, data.to_vec()).unwrap()
    }

    #[test]
    fn head_norms_by_hand() {
        // W_Q = diag(1, 2), W_K = diag(3, 1): Theta = W_K W_Q^T = diag(3, 2), so ||Theta||_F =
        // sqrt(13), ||Theta||_{2,1} = ||Theta^T||_{2,1} = 5, ||Theta||_2 = 3.
        // W_V = [[3, 0], [4, 0]] (columns (3, 4) and 0): ||W_V||_2 = ||W_V||_{2,1} = 5.
        // W_C = ones(2, 2): ||W_C||_2 = 2, ||W_C||_{2,1} = 2 sqrt 2.
        let (wq, wk) = (
            mat(2, 2, &[1.0, 0.0, 0.0, 2.0]),
            mat(2, 2, &[3.0, 0.0, 0.0, 1.0]),
        );
        let (wv, wc) = (mat(2, 2, &[3.0, 0.0, 4.0, 0.0]), mat(2, 2, &[1.0; 4]));
        let h = head_norms(&wq, &wk, &wv, Some(&wc)).unwrap();
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        close(h.theta_fro, 13f64.sqrt());
        close(h.theta_21, 5.0);
        close(h.theta_21_transposed, 5.0);
        close(h.theta_spectral, 3.0);
        close(h.w_v_spectral, 5.0);
        close(h.w_v_21, 5.0);
        close(h.w_c_spectral.unwrap(), 2.0);
        close(h.w_c_21.unwrap(), 2.0 * 2f64.sqrt());
        assert_eq!(head_norms(&wq, &wk, &wv, None).unwrap().w_c_21, None);
    }

    #[test]
    fn zero_rows_change_no_norm() {
        // The same head padded with zero rows (d = 2 -> 5): every entrywise norm adds only
        // exact zeros, and the Gram matrices are unchanged, so the values agree bit for bit
        // (Theta's spectral norm comes from an SVD of a larger matrix: to rounding).
        let pad = |m: &Mat<f64>| {
            let mut data = m.data.clone();
            data.extend(vec![0.0; 3 * m.cols]);
            Mat::new("m", m.rows + 3, m.cols, data).unwrap()
        };
        let wq = mat(2, 2, &[1.0, -0.5, 0.25, 2.0]);
        let wk = mat(2, 2, &[3.0, 0.1, -0.7, 1.0]);
        let wv = mat(2, 3, &[3.0, 0.0, 1.5, 4.0, -2.0, 0.5]);
        let small = head_norms(&wq, &wk, &wv, None).unwrap();
        let (pq, pk, pv) = (pad(&wq), pad(&wk), pad(&wv));
        let big = head_norms(&pq, &pk, &pv, None).unwrap();
        assert_eq!(
            (
                small.theta_fro,
                small.theta_21,
                small.w_v_spectral,
                small.w_v_21
            ),
            (big.theta_fro, big.theta_21, big.w_v_spectral, big.w_v_21)
        );
        assert!((small.theta_spectral - big.theta_spectral).abs() < 1e-12);
        let trimmed = head_norms(
            &drop_zero_rows(&pq).unwrap(),
            &drop_zero_rows(&pk).unwrap(),
            &drop_zero_rows(&pv).unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(trimmed, small);
        assert_eq!(
            drop_zero_rows(&Mat::zeros(4, 3)).unwrap().data,
            vec![0.0; 3]
        );
    }

    #[test]
    fn every_layer_and_head_is_measured_and_combined() {
        // 3 layers of 2 heads (width 6, head dim 3) with an MLP of width 4.
        let model = crate::model::tests::small_transformer(4, 3, 4, Activation::Identity);
        let n = ModelNorms::of_transformer(&model).unwrap();
        assert_eq!(n.layers.len(), 3);
        assert_eq!(n.b_x, Some(embedding_b_x(&model.embedding)));
        for (l, (layer, block)) in n.layers.iter().zip(&model.blocks).enumerate() {
            assert_eq!(layer.heads.len(), 2);
            for (h, p) in layer.heads.iter().zip(&block.heads) {
                assert_eq!(
                    *h,
                    head_norms(&p.w_q, &p.w_k, &p.w_v, Some(&p.w_c)).unwrap()
                );
            }
            let m = block.mlp.as_ref().unwrap();
            assert_eq!(layer.mlp_spectral, Some((spectral(&m.w1), spectral(&m.w2))));
            // Per layer: the max over that layer's heads, nothing from other layers.
            let r = &n.layer_radii().unwrap()[l];
            let want = layer.heads[0].theta_fro.max(layer.heads[1].theta_fro);
            assert_eq!(r.b_qk, want);
            let want = (layer.heads[0].w_c_21.unwrap()).max(layer.heads[1].w_c_21.unwrap());
            assert_eq!(r.b_c21, want);
        }
        // Over the model: the max over all six heads, and B_X / ||w|| from the model.
        let radii = n.head_radii(None).unwrap();
        let all_v: Vec<f64> = n.heads().map(|h| h.w_v_spectral).collect();
        assert_eq!(all_v.len(), 6);
        assert_eq!(radii.b_v, all_v.iter().copied().fold(0.0, f64::max));
        assert_eq!((radii.b_x, radii.b_w), (n.b_x.unwrap(), l2(&model.w)));
        assert_eq!(n.head_radii(Some(7.0)).unwrap().b_x, 7.0);
        // The layer maxima are never above the model maxima, and one layer reaches each.
        let per_layer = n.layer_radii().unwrap();
        assert_eq!(
            per_layer.iter().map(|r| r.b_v).fold(0.0, f64::max),
            radii.b_v
        );
        let no_bx = ModelNorms { b_x: None, ..n };
        assert!(no_bx.head_radii(None).is_err());
    }
}
