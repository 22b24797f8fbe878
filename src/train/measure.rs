//! Everything measured on a trained model: margins on the training sample and every norm the
//! bounds need (SPEC 2 conventions: `||A||_{2,1}` sums column l2 norms, `W in R^{d_in x d_out}`).

use super::projection::{l2, norm_21, spectral};
use crate::error::Result;
use crate::model::{ClsHead, Embedding, HeadParams, Transformer};
use crate::tensor::{Mat, Real};

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

/// Norms of one head. `w_c` ones are `None` for the [CLS] head class (it has no `W_C`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadNorms {
    /// `||Theta||_F`, `Theta = W_K W_Q^T` (d x d).
    pub theta_fro: f64,
    /// `||Theta||_{2,1}` (column convention).
    pub theta_21: f64,
    /// `||Theta||_2`.
    pub theta_spectral: f64,
    /// `||W_V||_2`, `W_V in R^{d x k}`.
    pub w_v_spectral: f64,
    /// `||W_V||_{2,1}`.
    pub w_v_21: f64,
    /// `||W_C||_2`, `W_C in R^{k x d}`.
    pub w_c_spectral: Option<f64>,
    pub w_c_21: Option<f64>,
}

/// Every norm of a trained model. For the Transformer `heads` lists block 0's heads.
#[derive(Debug, Clone, PartialEq)]
pub struct Norms {
    /// `B_X`: max l2 norm of any possible row of `X~` (every token at every position, and
    /// [CLS]); an upper bound on the max over the sample.
    pub b_x: f64,
    pub heads: Vec<HeadNorms>,
    /// `||W_1||_2`, `||W_2||_2` of the MLP, if any.
    pub mlp_spectral: Option<(f64, f64)>,
    /// `||w||_2` of the read-out.
    pub w_l2: f64,
}

impl Norms {
    /// Largest value of one head norm over the heads (the per-layer radius the bounds take).
    pub fn max_over_heads(&self, f: impl Fn(&HeadNorms) -> f64) -> f64 {
        self.heads.iter().map(f).fold(0.0, f64::max)
    }
}

/// `max ||tok[b] + pos[t]||_2` over b, t, and `||cls||_2`.
pub fn embedding_b_x<S: Real>(emb: &Embedding<S>) -> f64 {
    let mut best = l2(&emb.cls);
    for b in 0..emb.tok.rows {
        for t in 0..emb.pos.rows {
            let row: Vec<f64> = (emb.tok.row(b).iter().zip(emb.pos.row(t)))
                .map(|(x, p)| x.as_f64() + p.as_f64())
                .collect();
            best = best.max(l2(&row));
        }
    }
    best
}

fn head_norms<S: Real>(
    w_q: &Mat<S>,
    w_k: &Mat<S>,
    w_v: &Mat<S>,
    w_c: Option<&Mat<S>>,
) -> Result<HeadNorms> {
    let t = crate::norms::theta_norms(&w_q.to_dmatrix(), &w_k.to_dmatrix())?;
    Ok(HeadNorms {
        theta_fro: t.frobenius,
        theta_21: t.two_one,
        theta_spectral: t.spectral,
        w_v_spectral: spectral(w_v),
        w_v_21: norm_21(w_v),
        w_c_spectral: w_c.map(spectral),
        w_c_21: w_c.map(norm_21),
    })
}

pub fn cls_head_norms<S: Real>(head: &ClsHead<S>, emb: &Embedding<S>) -> Result<Norms> {
    Ok(Norms {
        b_x: embedding_b_x(emb),
        heads: vec![head_norms(&head.w_q, &head.w_k, &head.w_v, None)?],
        mlp_spectral: None,
        w_l2: l2(&head.w),
    })
}

pub fn transformer_norms<S: Real>(model: &Transformer<S>) -> Result<Norms> {
    let block = &model.blocks[0];
    let heads = (block.heads.iter())
        .map(|h: &HeadParams<S>| head_norms(&h.w_q, &h.w_k, &h.w_v, Some(&h.w_c)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Norms {
        b_x: embedding_b_x(&model.embedding),
        heads,
        mlp_spectral: block
            .mlp
            .as_ref()
            .map(|m| (spectral(&m.w1), spectral(&m.w2))),
        w_l2: l2(&model.w),
    })
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
        // SPEC 4 layout: token rows [onehot(b); e_t; 0] have norm sqrt(1 + 1); [CLS] has norm 1.
        let emb = Embedding::<f64>::fixed_bits(5, crate::model::Positional::OneHot).unwrap();
        assert!((embedding_b_x(&emb) - 2f64.sqrt()).abs() < 1e-15);
    }
}
