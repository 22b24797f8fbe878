//! The sampled route (docs/certificates.md#4-the-sampled-route): when the verification fails,
//! bound P(model != g) on fresh unlabeled inputs from the known input distribution.
//!
//! With n fresh inputs x_1..x_n i.i.d. from the task's distribution (independent of S and of
//! the model), k = #{i : g(x_i) f(x_i) <= 0} is Binomial(n, q), q = P(model != g), where a
//! zero output counts as a disagreement. The one-sided Clopper-Pearson limit
//! `q <= Beta^-1(1 - delta; k + 1, n - k)` (1 when k = n) holds with probability >= 1 - delta
//! (S1). Since 1[y f <= 0] <= 1[y g <= 0] + 1[g f <= 0], err(model) <= err(g) + q (S2).

use super::{ClsModel, Junta};
use crate::error::{Result, check};
use crate::model::TokenBatch;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CHUNK_ROWS: usize = 4096;

/// Relative margin on statrs's numerical Beta quantile (its inversion is accurate to ~1e-15
/// relative on our range; 1e-9 keeps the limit an upper bound whatever the last digits).
const QUANTILE_MARGIN: f64 = 1e-9;

/// The outcome of [`disagreement`].
#[derive(Clone, Debug, PartialEq)]
pub struct Disagreement {
    pub samples: usize,
    pub disagreements: usize,
    /// Upper confidence limit of P(model != g) at `delta` (S1).
    pub upper: f64,
    pub delta: f64,
}

/// `samples` fresh inputs (bits i.i.d. Bernoulli(`bit_prob`), ChaCha8 stream 2 of `seed`),
/// the count of g f <= 0 and its upper limit (S1). Errors: samples = 0, delta or bit_prob
/// outside (0, 1), a non-finite model output.
pub fn disagreement(
    model: &ClsModel,
    junta: &Junta,
    bit_prob: f64,
    samples: usize,
    seed: u64,
    delta: f64,
) -> Result<Disagreement> {
    let t_len = model.context_len();
    junta.check(t_len)?;
    check::at_least("fresh_samples", samples, 1)?;
    crate::limits::count(
        "fresh_samples",
        samples,
        crate::limits::MAX_POPULATION_SAMPLES,
    )?;
    check::open_unit("delta", delta)?;
    check::open_unit("bit_prob", bit_prob)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(2);
    let mut k = 0usize;
    let mut done = 0usize;
    while done < samples {
        let n = (samples - done).min(CHUNK_ROWS);
        let tokens: Vec<u8> = (0..n * t_len)
            .map(|_| u8::from(rng.random::<f64>() < bit_prob))
            .collect();
        let batch = TokenBatch::new(t_len, tokens)?;
        let f = model.predict(&batch)?;
        for (i, fi) in f.iter().enumerate() {
            check::finite("model output", *fi)?;
            if f64::from(junta.eval(batch.sample(i))) * fi <= 0.0 {
                k += 1;
            }
        }
        done += n;
    }
    Ok(Disagreement {
        samples,
        disagreements: k,
        upper: upper_limit(k, samples, delta)?,
        delta,
    })
}

/// One-sided Clopper-Pearson upper limit at level delta (S1): the two-sided interval at
/// 2 delta has this upper end (for delta < 1/2); delta >= 1/2 uses the quantile directly.
pub fn upper_limit(k: usize, n: usize, delta: f64) -> Result<f64> {
    check::open_unit("delta", delta)?;
    check::at_least("n", n, 1)?;
    if k >= n {
        return Ok(1.0);
    }
    let (kf, nf) = (k as f64, n as f64);
    let beta = statrs::distribution::Beta::new(kf + 1.0, nf - kf).map_err(|e| {
        crate::error::Error::invalid(
            "beta shape",
            format!("({}, {})", kf + 1.0, nf - kf),
            e.to_string(),
        )
    })?;
    let q = statrs::distribution::ContinuousCDF::inverse_cdf(&beta, 1.0 - delta);
    check::finite("Clopper-Pearson upper limit", q)?;
    Ok((q * (1.0 + QUANTILE_MARGIN)).next_up().min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_limit_matches_closed_forms_and_exact_binomial_tails() {
        // k = 0: the limit solves (1 - q)^n = delta, q = 1 - delta^(1/n) (closed form).
        let got = upper_limit(0, 1000, 0.025).unwrap();
        let want = 1.0 - 0.025f64.powf(1.0 / 1000.0);
        assert!(got >= want && got < want * (1.0 + 1e-8), "{got} vs {want}");
        // k = 3, n = 100: the q with P(Binomial(100, q) <= 3) = 0.025, by bisection on the
        // exact binomial sum in Python (math.comb, 100 halvings): 0.08517605297428005.
        let got = upper_limit(3, 100, 0.025).unwrap();
        assert!((0.085_176_052_97..0.085_176_053_1).contains(&got), "{got}");
        assert_eq!(upper_limit(5, 5, 0.05).unwrap(), 1.0);
        assert!(upper_limit(0, 0, 0.05).is_err());
        assert!(upper_limit(0, 10, 1.0).is_err());
    }
}
