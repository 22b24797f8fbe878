//! Checking a construction and turning its norms into predicted sample sizes.

use super::{Construction, ConstructionNorms};
use crate::bounds::{BoundParams, HeadRadii, Radii, Setting, all_bounds, explicit_gap};
use crate::error::Result;
use crate::model::TokenBatch;
use rand::{Rng, RngExt, SeedableRng};

/// Worst margin y * f over each kind of check.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Verification {
    /// Inputs checked through the reduced path (`output_from_sum`, exact S).
    pub reduced_inputs: u64,
    /// True when `reduced_inputs` = 2^T (every input).
    pub exhaustive: bool,
    pub reduced_margin: f64,
    /// Inputs checked through the real `ClsHead::forward_tokens` on the embedding.
    pub forward_inputs: usize,
    pub forward_margin: f64,
    /// max |forward - reduced| on those inputs.
    pub forward_vs_reduced: f64,
    /// Margin at both ends of every attainable interval of S (covers all 2^T inputs).
    pub certified_margin: f64,
}

impl Construction {
    fn sum_bits(&self, bits: &[u8]) -> f64 {
        bits.iter()
            .zip(&self.attention)
            .map(|(&b, a)| b as f64 * a)
            .sum()
    }

    /// Interval certificate: every input's S lies in [lo, hi] of its group, the output is
    /// piecewise linear in S with breakpoints outside those intervals, so checking both ends
    /// of every group checks all inputs.
    pub fn certify(&self) -> f64 {
        let s = self.spec.sparsity;
        let t = self.spec.context_len;
        let leak: f64 = (0..t)
            .filter(|x| self.support.binary_search(x).is_err())
            .map(|x| self.attention[x])
            .sum();
        let mut worst = f64::INFINITY;
        for p in 0..1usize << s {
            let x: f64 = (0..s)
                .filter(|j| p >> j & 1 == 1)
                .map(|j| self.attention[self.support[j]])
                .sum();
            let y = if self.spec.target.value(p, s) {
                1.0
            } else {
                -1.0
            };
            for end in [x, x + leak] {
                worst = worst.min(y * self.output_from_sum(end));
            }
        }
        worst
    }

    /// All 2^T inputs through the reduced path (T <= 20), and through the real forward for
    /// up to `forward_cap` of them (all if T <= 10).
    pub fn verify_exhaustive(&self, forward_cap: usize) -> Result<Verification> {
        let t = self.spec.context_len;
        if t > 20 {
            return Err(crate::Error::invalid(
                "context_len",
                t,
                "<= 20 for exhaustive checks",
            ));
        }
        let n = 1u64 << t;
        let mut bits = vec![0u8; t];
        let mut worst = f64::INFINITY;
        for x in 0..n {
            for (j, b) in bits.iter_mut().enumerate() {
                *b = (x >> j & 1) as u8;
            }
            worst = worst.min(self.label(&bits) * self.output_from_sum(self.sum_bits(&bits)));
        }
        let stride = (n / forward_cap.max(1) as u64).max(1);
        let inputs: Vec<Vec<u8>> = (0..n)
            .step_by(stride as usize)
            .map(|x| (0..t).map(|j| (x >> j & 1) as u8).collect())
            .collect();
        let (fi, fm, diff) = self.forward_check(&inputs)?;
        Ok(Verification {
            reduced_inputs: n,
            exhaustive: true,
            reduced_margin: worst,
            forward_inputs: fi,
            forward_margin: fm,
            forward_vs_reduced: diff,
            certified_margin: self.certify(),
        })
    }

    /// `n` random inputs: hidden pattern uniform over 2^s, other bits fair coins. S is summed
    /// with per-byte lookup tables (exact up to rounding) so T = 10^5 stays fast. The real
    /// forward runs on `forward_n` of them when the embedding fits in memory.
    pub fn verify_random(&self, n: u64, forward_n: usize, seed: u64) -> Result<Verification> {
        use rayon::prelude::*;
        let t = self.spec.context_len;
        let blocks = t.div_ceil(8);
        let mut table = vec![0.0f64; blocks * 256];
        for blk in 0..blocks {
            for v in 0..256usize {
                table[blk * 256 + v] = (0..8)
                    .filter(|j| v >> j & 1 == 1 && blk * 8 + j < t)
                    .map(|j| self.attention[blk * 8 + j])
                    .sum();
            }
        }
        let chunks = 64u64;
        let worst = (0..chunks)
            .into_par_iter()
            .map(|c| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
                    seed ^ (c + 1).wrapping_mul(0x9E37_79B9),
                );
                let mut bytes = vec![0u8; blocks];
                let mut worst = f64::INFINITY;
                let count = n / chunks + u64::from(c < n % chunks);
                for _ in 0..count {
                    rng.fill_bytes(&mut bytes);
                    if t % 8 != 0 {
                        bytes[blocks - 1] &= (1u8 << (t % 8)) - 1;
                    }
                    let p = rng.random_range(0..1usize << self.spec.sparsity);
                    for (j, &i) in self.support.iter().enumerate() {
                        let bit = 1u8 << (i % 8);
                        if p >> j & 1 == 1 {
                            bytes[i / 8] |= bit
                        } else {
                            bytes[i / 8] &= !bit
                        }
                    }
                    let sum: f64 = bytes
                        .iter()
                        .enumerate()
                        .map(|(b, &v)| table[b * 256 + v as usize])
                        .sum();
                    let y = if self.spec.target.value(p, self.spec.sparsity) {
                        1.0
                    } else {
                        -1.0
                    };
                    worst = worst.min(y * self.output_from_sum(sum));
                }
                worst
            })
            .reduce(|| f64::INFINITY, f64::min);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let inputs: Vec<Vec<u8>> = (0..forward_n)
            .map(|_| (0..t).map(|_| rng.random_range(0..2u8)).collect())
            .collect();
        let (fi, fm, diff) = self.forward_check(&inputs)?;
        Ok(Verification {
            reduced_inputs: n,
            exhaustive: false,
            reduced_margin: worst,
            forward_inputs: fi,
            forward_margin: fm,
            forward_vs_reduced: diff,
            certified_margin: self.certify(),
        })
    }

    /// Real `forward_tokens` on the embedding, when (T+1) * d * 2 fits in 2e7 entries.
    fn forward_check(&self, inputs: &[Vec<u8>]) -> Result<(usize, f64, f64)> {
        let t = self.spec.context_len;
        let d = self.head.width();
        if inputs.is_empty() || (2 * t + 1) * d > 20_000_000 {
            return Ok((0, f64::NAN, f64::NAN));
        }
        let emb = self.embedding()?;
        let batch = TokenBatch::new(t, inputs.concat())?;
        let cache = self.head.forward_tokens(&emb, &batch)?;
        let (mut worst, mut diff) = (f64::INFINITY, 0.0f64);
        for (x, &f) in inputs.iter().zip(&cache.predictions) {
            worst = worst.min(self.label(x) * f);
            diff = diff.max((f - self.output_from_sum(self.sum_bits(x))).abs());
        }
        Ok((inputs.len(), worst, diff))
    }
}

/// Radii for the bounds from measured norms (Frobenius norm of Theta as B_QK).
pub fn radii(n: &ConstructionNorms) -> HeadRadii {
    HeadRadii {
        b_x: n.b_x,
        b_qk: n.theta_frobenius,
        b_v: n.w_v_spectral,
        b_v21: n.w_v_21,
        b_w: n.w_2,
    }
}

/// Smallest m (on a bisection over ln m, up to `cap`) with gap(m) <= `target`, where gap is
/// the explicit bound (`paper = false`) or the paper shape with c0 = 1 (`paper = true`).
/// `None` means the bound is still above target at m = cap.
pub fn predicted_sample_size(
    norms: &ConstructionNorms,
    context_len: usize,
    gamma: f64,
    target: f64,
    paper: bool,
    cap: f64,
) -> Result<Option<f64>> {
    let params = BoundParams {
        gamma,
        delta: 0.05,
        ..BoundParams::default()
    };
    let gap = |m: f64| -> Result<f64> {
        let setting = Setting {
            num_samples: m.round().max(1.0) as usize,
            context_len,
            width: norms.width,
            value_dim: norms.value_dim,
            heads: 1,
            layers: 1,
        };
        if !paper {
            return explicit_gap(&setting, &radii(norms), &params);
        }
        let rows = all_bounds(
            &setting,
            &Radii {
                head: radii(norms),
                b_c: None,
                b_c21: None,
            },
            &params,
        )?;
        Ok(rows
            .iter()
            .find(|r| r.name.starts_with("paper"))
            .and_then(|r| r.gap)
            .unwrap_or(f64::INFINITY))
    };
    if gap(cap)? > target {
        return Ok(None);
    }
    let (mut lo, mut hi) = (0.0f64, cap.ln());
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        if gap(mid.exp())? > target {
            lo = mid
        } else {
            hi = mid
        }
    }
    Ok(Some(hi.exp().ceil()))
}
