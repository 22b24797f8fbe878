//! Checking a construction and turning its norms into predicted sample sizes.

use super::{Construction, ConstructionNorms};
use crate::bounds::{self, BoundId, BoundParams, HeadRadii, Radii, SampleSize, Setting};
use crate::error::{Error, Result};
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
    /// Random inputs drawn bit by bit with S summed position by position (all of them when
    /// exhaustive); their margins are part of `reduced_margin`.
    pub full_sum_inputs: u64,
    /// max |S by counting set bits per attention group - S summed position by position| on
    /// those inputs (0 when S is never counted: exhaustive checks, random codes).
    pub counted_vs_full: f64,
    /// Inputs checked through the real `ClsHead::forward_tokens` on the embedding.
    pub forward_inputs: usize,
    pub forward_margin: f64,
    /// max |forward - reduced| on those inputs.
    pub forward_vs_reduced: f64,
    /// Margin at both ends of every attainable interval of S (covers all 2^T inputs).
    pub certified_margin: f64,
}

/// Largest context length [`Construction::verify`] checks on all 2^T inputs.
pub const EXHAUSTIVE_MAX_CONTEXT_LEN: usize = 20;
/// Inputs [`Construction::verify`] also runs through the real forward pass: at most this many of
/// the 2^T when exhaustive, ...
pub const EXHAUSTIVE_FORWARD_INPUTS: usize = 4096;
/// ... and this many of the random inputs otherwise (each forward pass costs O(T d)).
pub const RANDOM_FORWARD_INPUTS: usize = 8;
/// Seed of [`Construction::verify`]'s random inputs, fixed so a report is reproducible.
pub const RANDOM_SEED: u64 = 1;

/// `(a_g, n_g)` per distinct outside attention weight, and each position's group.
type OutsideGroups = (Vec<(f64, usize)>, Vec<usize>);

impl Construction {
    /// The standard check: every input through the reduced path when
    /// T <= [`EXHAUSTIVE_MAX_CONTEXT_LEN`] (and up to [`EXHAUSTIVE_FORWARD_INPUTS`] through the
    /// real forward), else `random_inputs` random inputs ([`RANDOM_FORWARD_INPUTS`] of them
    /// through the forward, seed [`RANDOM_SEED`]).
    pub fn verify(&self, random_inputs: u64) -> Result<Verification> {
        if self.spec.context_len <= EXHAUSTIVE_MAX_CONTEXT_LEN {
            self.verify_exhaustive(EXHAUSTIVE_FORWARD_INPUTS)
        } else {
            self.verify_random(random_inputs, RANDOM_FORWARD_INPUTS, RANDOM_SEED)
        }
    }

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
        if t > EXHAUSTIVE_MAX_CONTEXT_LEN {
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
            full_sum_inputs: n,
            counted_vs_full: 0.0,
            forward_inputs: fi,
            forward_margin: fm,
            forward_vs_reduced: diff,
            certified_margin: self.certify(),
        })
    }

    /// Outside positions grouped by their (bitwise equal) attention weight: `(a_g, n_g)` and the
    /// group of every position (`usize::MAX` on I). `None` when there are more than
    /// [`MAX_GROUPS`] distinct weights (random codes), where counting does not help.
    fn outside_groups(&self) -> Option<OutsideGroups> {
        let t = self.spec.context_len;
        let mut groups: Vec<(f64, usize)> = Vec::new();
        let mut of = vec![usize::MAX; t];
        for (x, g) in of.iter_mut().enumerate() {
            if self.support.binary_search(&x).is_ok() {
                continue;
            }
            let a = self.attention[x];
            *g = match groups.iter().position(|(b, _)| b.to_bits() == a.to_bits()) {
                Some(i) => i,
                None if groups.len() < MAX_GROUPS => {
                    groups.push((a, 0));
                    groups.len() - 1
                }
                None => return None,
            };
            groups[*g].1 += 1;
        }
        Some((groups, of))
    }

    /// Hidden pattern index of `bits` and S from its parts: the hidden bits' weights plus
    /// a_g times the number of set bits of each outside group.
    fn sum_from_counts(&self, p: usize, groups: &[(f64, usize)], counts: &[usize]) -> f64 {
        let hidden: f64 = (0..self.spec.sparsity)
            .filter(|j| p >> j & 1 == 1)
            .map(|j| self.attention[self.support[j]])
            .sum();
        hidden
            + groups
                .iter()
                .zip(counts)
                .map(|((a, _), &c)| a * c as f64)
                .sum::<f64>()
    }

    fn y_of(&self, p: usize) -> f64 {
        if self.spec.target.value(p, self.spec.sparsity) {
            1.0
        } else {
            -1.0
        }
    }

    /// `n` random inputs: hidden pattern uniform over 2^s, other bits fair coins.
    ///
    /// The attention does not depend on the input, so S(b) = sum_{i in I} a_i b_i +
    /// sum_g a_g c_g where g runs over the distinct attention weights outside I and c_g is the
    /// number of set bits among the n_g positions of weight a_g. For fair coins c_g ~
    /// Binomial(n_g, 1/2), drawn by inverting its CDF: O(s + log T) per input, so T = 10^5 costs
    /// no more than T = 100 (one-hot codes have one group). With more than `MAX_GROUPS`
    /// weights (random codes) S is summed with per-byte lookup tables instead.
    /// Cross-checks: `FULL_SUM_INPUTS` of the inputs are drawn bit by bit, their S summed
    /// position by position and compared with the counting formula (`counted_vs_full`), and
    /// the real forward runs on `forward_n` inputs when the embedding fits in memory.
    pub fn verify_random(&self, n: u64, forward_n: usize, seed: u64) -> Result<Verification> {
        use rayon::prelude::*;
        if n == 0 {
            // No input gives no margin (the minimum over none would be +infinity).
            return Err(Error::invalid("inputs", n, "an integer >= 1"));
        }
        let t = self.spec.context_len;
        let s = self.spec.sparsity;
        let chunks = 64u64;
        let per_chunk = |c: u64| n / chunks + u64::from(c < n % chunks);
        let chunk_rng = |c: u64| {
            rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ (c + 1).wrapping_mul(0x9E37_79B9))
        };
        let groups = self.outside_groups();
        let worst = match &groups {
            Some((groups, _)) => {
                let samplers: Vec<BinomialHalf> = groups
                    .iter()
                    .map(|&(_, n_g)| BinomialHalf::new(n_g))
                    .collect();
                (0..chunks)
                    .into_par_iter()
                    .map(|c| {
                        let mut rng = chunk_rng(c);
                        let mut counts = vec![0usize; groups.len()];
                        let mut worst = f64::INFINITY;
                        for _ in 0..per_chunk(c) {
                            let p = rng.random_range(0..1usize << s);
                            for (k, b) in counts.iter_mut().zip(&samplers) {
                                *k = b.sample(&mut rng);
                            }
                            let f = self.output_from_sum(self.sum_from_counts(p, groups, &counts));
                            worst = worst.min(self.y_of(p) * f);
                        }
                        worst
                    })
                    .reduce(|| f64::INFINITY, f64::min)
            }
            None => self.worst_by_byte_tables(n, chunks, &chunk_rng),
        };

        // Cross-check: explicit bits, S summed position by position and by counting.
        let full_n = n.min(FULL_SUM_INPUTS);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed.wrapping_add(1));
        let mut bytes = vec![0u8; t.div_ceil(8)];
        let mut bits = vec![0u8; t];
        let (mut full_worst, mut counted_vs_full) = (f64::INFINITY, 0.0f64);
        for _ in 0..full_n {
            rng.fill_bytes(&mut bytes);
            for (x, b) in bits.iter_mut().enumerate() {
                *b = bytes[x / 8] >> (x % 8) & 1;
            }
            let p = rng.random_range(0..1usize << s);
            for (j, &i) in self.support.iter().enumerate() {
                bits[i] = (p >> j & 1) as u8;
            }
            let full = self.sum_bits(&bits);
            full_worst = full_worst.min(self.label(&bits) * self.output_from_sum(full));
            if let Some((groups, of)) = &groups {
                let mut counts = vec![0usize; groups.len()];
                for (&b, &g) in bits.iter().zip(of) {
                    if g != usize::MAX {
                        counts[g] += b as usize;
                    }
                }
                let counted = self.sum_from_counts(p, groups, &counts);
                counted_vs_full = counted_vs_full.max((counted - full).abs());
            }
        }

        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let inputs: Vec<Vec<u8>> = (0..forward_n)
            .map(|_| (0..t).map(|_| rng.random_range(0..2u8)).collect())
            .collect();
        let (fi, fm, diff) = self.forward_check(&inputs)?;
        Ok(Verification {
            reduced_inputs: n,
            exhaustive: false,
            reduced_margin: worst.min(full_worst),
            full_sum_inputs: full_n,
            counted_vs_full: if groups.is_some() {
                counted_vs_full
            } else {
                0.0
            },
            forward_inputs: fi,
            forward_margin: fm,
            forward_vs_reduced: diff,
            certified_margin: self.certify(),
        })
    }

    /// Worst margin over `n` random inputs with S summed through per-byte lookup tables
    /// (any attention; O(T/8) per input).
    fn worst_by_byte_tables(
        &self,
        n: u64,
        chunks: u64,
        chunk_rng: &(dyn Fn(u64) -> rand_chacha::ChaCha8Rng + Sync),
    ) -> f64 {
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
        (0..chunks)
            .into_par_iter()
            .map(|c| {
                let mut rng = chunk_rng(c);
                let mut bytes = vec![0u8; blocks];
                let mut worst = f64::INFINITY;
                let count = n / chunks + u64::from(c < n % chunks);
                for _ in 0..count {
                    rng.fill_bytes(&mut bytes);
                    if !t.is_multiple_of(8) {
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
                    worst = worst.min(self.y_of(p) * self.output_from_sum(sum));
                }
                worst
            })
            .reduce(|| f64::INFINITY, f64::min)
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

/// Most distinct outside attention weights for which [`Construction::verify_random`] counts
/// set bits per weight (one-hot codes have exactly one).
pub const MAX_GROUPS: usize = 64;
/// Random inputs [`Construction::verify_random`] also draws bit by bit as a cross-check.
pub const FULL_SUM_INPUTS: u64 = 256;

/// Exact sampler of Binomial(n, 1/2) by inverting its CDF (binary search, O(log n)).
#[derive(Debug, Clone)]
pub(crate) struct BinomialHalf {
    /// cdf[k] = P(X <= k); the last entry is exactly 1.
    cdf: Vec<f64>,
}

impl BinomialHalf {
    pub(crate) fn new(n: usize) -> Self {
        // ln pmf(k+1) = ln pmf(k) + ln((n-k)/(k+1)), ln pmf(0) = -n ln 2: no overflow at n = 1e5
        // (terms below e^-745 underflow to 0 and are never drawn).
        let mut ln_pmf = -(n as f64) * std::f64::consts::LN_2;
        let mut acc = 0.0;
        let mut cdf = Vec::with_capacity(n + 1);
        for k in 0..=n {
            acc += ln_pmf.exp();
            cdf.push(acc);
            if k < n {
                ln_pmf += ((n - k) as f64 / (k + 1) as f64).ln();
            }
        }
        let total = acc;
        for c in cdf.iter_mut() {
            *c /= total;
        }
        cdf[n] = 1.0;
        BinomialHalf { cdf }
    }

    #[cfg(test)]
    pub(crate) fn cdf(&self) -> &[f64] {
        &self.cdf
    }

    /// Smallest k with cdf[k] > u for u uniform on [0, 1).
    pub(crate) fn sample(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.random();
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
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

/// Sample size at which bound `id`'s gap, at the construction's norms `norms` and context
/// length `context_len`, reaches `target` (one head, one layer; [`bounds::sample_size_of`]:
/// its search rule, and `cap` the largest m tried).
pub fn predicted_sample_size(
    norms: &ConstructionNorms,
    context_len: usize,
    id: BoundId,
    params: &BoundParams,
    target: f64,
    cap: usize,
) -> Result<SampleSize> {
    let setting = Setting {
        num_samples: 1,
        context_len,
        width: norms.width,
        value_dim: norms.value_dim,
        heads: 1,
        layers: 1,
    };
    let radii = Radii::single_head(radii(norms));
    bounds::sample_size_of(id, &setting, &radii, params, target, cap)
}
