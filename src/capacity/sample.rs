//! The sample S on which capacities are estimated: random bit sequences with the fixed
//! embedding of docs/constructions.md, rows scaled so the max row norm is exactly `b_x`.
//!
//! Positional codes are random signs of dimension `pos_dim` (near-orthogonal for
//! `pos_dim = O(log T)`), so the width `d = pos_dim + 3` stays small even at `T = 10^4` and the
//! token-table path of `ClsHead` is cheap.

use crate::error::{Result, check};
use crate::model::{Embedding, Positional, TokenBatch};
use rand::{Rng, RngExt};

/// Embedding, bits, and the measured `B_X` (max l2 norm of any row of any `X~_i`, \[CLS\] included).
#[derive(Clone, Debug)]
pub struct BitSample {
    pub emb: Embedding<f64>,
    pub batch: TokenBatch,
    pub b_x: f64,
}

impl BitSample {
    /// m sequences of `context_len` uniform bits. Rows of the fixed embedding have norm
    /// `sqrt(2)` (one-hot bit plus a unit positional code), \[CLS\] norm 1; every table is scaled
    /// by `b_x / sqrt(2)`.
    pub fn random<R: Rng + ?Sized>(
        context_len: usize,
        num_samples: usize,
        pos_dim: usize,
        b_x: f64,
        rng: &mut R,
    ) -> Result<Self> {
        check::at_least("num_samples", num_samples, 1)?;
        check::positive("b_x", b_x)?;
        let seed = rng.random::<u64>();
        let mut emb = Embedding::<f64>::fixed_bits(
            context_len,
            Positional::RandomSigns { dim: pos_dim, seed },
        )?;
        let c = b_x / std::f64::consts::SQRT_2;
        emb.tok.data.iter_mut().for_each(|x| *x *= c);
        emb.pos.data.iter_mut().for_each(|x| *x *= c);
        emb.cls.iter_mut().for_each(|x| *x *= c);
        let tokens = (0..context_len * num_samples)
            .map(|_| rng.random_range(0..2u8))
            .collect();
        let batch = TokenBatch::new(context_len, tokens)?;
        let b_x = max_row_norm(&emb);
        Ok(BitSample { emb, batch, b_x })
    }

    pub fn num_samples(&self) -> usize {
        self.batch.num_samples()
    }
    pub fn context_len(&self) -> usize {
        self.batch.context_len
    }
    pub fn width(&self) -> usize {
        self.emb.width()
    }
}

/// Max over token b, position t of `||tok[b] + pos[t]||_2`, and `||cls||_2`: every row any
/// sample can contain (an upper bound on the sample's `B_X`, equal to it once both bits occur).
pub fn max_row_norm(emb: &Embedding<f64>) -> f64 {
    let mut best = emb.cls.iter().map(|x| x * x).sum::<f64>();
    for b in 0..emb.tok.rows {
        for t in 0..emb.pos.rows {
            let s: f64 = emb
                .tok
                .row(b)
                .iter()
                .zip(emb.pos.row(t))
                .map(|(a, p)| (a + p) * (a + p))
                .sum();
            best = best.max(s);
        }
    }
    best.sqrt()
}
