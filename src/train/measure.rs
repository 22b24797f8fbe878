//! Everything measured on a trained model: margins on the training sample and every norm the
//! bounds need (conventions of docs/derivations.md §1: `||A||_{2,1}` sums column l2 norms, `W in R^{d_in x d_out}`).

use crate::error::Result;
use crate::model::{ClsHead, Embedding, Transformer};
use crate::norms::model::ModelNorms;
use crate::tensor::Real;

/// Margins `y_i f(x_i)` on the training sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Margins {
    pub min: f64,
    pub median: f64,
    pub mean: f64,
    /// Fraction of samples with `y f < gamma` (those the gamma-ramp loss charges).
    pub below_gamma: f64,
    /// Mean gamma-ramp loss, the empirical term of the bound (I22).
    pub ramp_loss: f64,
}

pub fn margins(predictions: &[f64], labels: &[i8], gamma: f64) -> Margins {
    let mut z: Vec<f64> = predictions
        .iter()
        .zip(labels)
        .map(|(&f, &y)| f * f64::from(y))
        .collect();
    z.sort_by(f64::total_cmp);
    let n = z.len();
    let median = if n % 2 == 1 {
        z[n / 2]
    } else {
        0.5 * (z[n / 2 - 1] + z[n / 2])
    };
    let ramp = super::loss::Loss::Ramp { gamma };
    Margins {
        min: z[0],
        median,
        mean: z.iter().sum::<f64>() / n as f64,
        below_gamma: z.iter().filter(|&&v| v < gamma).count() as f64 / n as f64,
        ramp_loss: z.iter().map(|&v| ramp.value(v, 1.0)).sum::<f64>() / n as f64,
    }
}

pub use crate::norms::model::{HeadNorms, embedding_b_x};

/// Every norm of a trained model as the trainer's metrics read them: a flat view of
/// [`ModelNorms`] (the one measurement, in `norms::model`). `heads` lists every head of every
/// layer, layer by layer; `mlp_spectral` is the largest MLP norm pair over the layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Norms {
    /// `B_X`: max l2 norm of any possible row of `X~` (every token at every position, and
    /// `[CLS]`); an upper bound on the max over the sample.
    pub b_x: f64,
    pub heads: Vec<HeadNorms>,
    /// `||W_1||_2`, `||W_2||_2` of the MLP, if any.
    pub mlp_spectral: Option<(f64, f64)>,
    /// `||w||_2` of the read-out.
    pub w_l2: f64,
}

impl Norms {
    /// The flat view of a measurement that has a `B_X` (a model with an embedding).
    pub fn from_model(m: &ModelNorms, b_x: f64) -> Norms {
        let mlp = m.layers.iter().filter_map(|l| l.mlp_spectral);
        Norms {
            b_x,
            heads: m.heads().copied().collect(),
            mlp_spectral: mlp.reduce(|(a, b), (c, d)| (a.max(c), b.max(d))),
            w_l2: m.w_l2,
        }
    }

    /// Largest value of one head norm over the heads (the per-layer radius the bounds take).
    pub fn max_over_heads(&self, f: impl Fn(&HeadNorms) -> f64) -> f64 {
        crate::norms::model::max_over(&self.heads, f)
    }
}

/// [`ModelNorms::of_cls_head`], flattened.
pub fn cls_head_norms<S: Real>(head: &ClsHead<S>, emb: &Embedding<S>) -> Result<Norms> {
    let m = ModelNorms::of_cls_head(head, Some(emb))?;
    Ok(Norms::from_model(&m, embedding_b_x(emb)))
}

/// [`ModelNorms::of_transformer`] (every block, not only the first), flattened.
pub fn transformer_norms<S: Real>(model: &Transformer<S>) -> Result<Norms> {
    let m = ModelNorms::of_transformer(model)?;
    Ok(Norms::from_model(&m, embedding_b_x(&model.embedding)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_by_hand() {
        // z = y f = (2, -1, 0.5, 3); sorted (-1, 0.5, 2, 3): median 1.25, mean 1.125;
        // gamma = 1: below = {-1, 0.5} -> 0.5; ramp = (1 + 0.5 + 0 + 0) / 4 = 0.375.
        let m = margins(&[2.0, 1.0, 0.5, -3.0], &[1, -1, 1, -1], 1.0);
        assert_eq!((m.min, m.median, m.mean), (-1.0, 1.25, 1.125));
        assert_eq!((m.below_gamma, m.ramp_loss), (0.5, 0.375));
    }

    #[test]
    fn fixed_embedding_b_x_is_sqrt_two() {
        // fixed-embedding layout, docs/experiments.md §1: token rows [onehot(b); e_t; 0] have norm sqrt(1 + 1); [CLS] has norm 1.
        let emb = Embedding::<f64>::fixed_bits(5, crate::model::Positional::OneHot).unwrap();
        assert!((embedding_b_x(&emb) - 2f64.sqrt()).abs() < 1e-15);
    }
}
