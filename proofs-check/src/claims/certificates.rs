//! Claims of `docs/certificates.md`: the kl inverse, Chernoff's bound (C5), the code's index
//! length (C1) and Kraft sum (C2), the Occam union bound (C3), Dinkelbach's exactness (V2),
//! the soundness of the fractional-program bound (V3) and of the interval propagation (V4, for
//! theory heads and for one-block Transformers with an MLP) against brute force. Each carries a mutant: the same instance with one deliberate error.

use super::unit;
use crate::Claim;
use attnbounds::bounds;
use attnbounds::certify::{
    Choice, ClsModel, Interval, dinkelbach_max, extract, fractional_max, sampled, verify,
};
use attnbounds::model::{
    Activation, Block, ClsHead, Embedding, HeadParams, Mlp, Positional, TokenBatch, Transformer,
};
use attnbounds::tensor::Mat;

fn claim(
    id: &str,
    section: &str,
    statement: &str,
    dim: usize,
    eval: impl Fn(&[f64]) -> Option<(f64, f64)> + Send + Sync + 'static,
) -> Claim {
    Claim {
        section: format!("docs/certificates.md#{section}"),
        ..Claim::new(id, statement, dim, eval)
    }
}

const OCCAM: &str = "2-the-code-and-the-occam-bound";
const VERIFY: &str = "3-exact-verification";

/// q in [0, 1) and c in [1e-6, 1e2] from two parameters (q = 0 reachable through the clamp).
fn q_and_c(p: &[f64]) -> (f64, f64) {
    let q = (1.1 * unit(p[0]) - 0.05).clamp(0.0, 0.999);
    (q, 10f64.powf(-6.0 + 8.0 * unit(p[1])))
}

/// The kl inverse is an upper bound: at p = kl^-1(q, c) < 1, kl(q || p) >= c, i.e. c <= kl.
/// `shrink < 1` is the mutant: the inverse moved towards q by that factor is below the true
/// supremum, where kl < c.
pub fn kl_inverse(shrink: f64) -> Claim {
    let id = if shrink < 1.0 {
        "C3-kl-mutant"
    } else {
        "C3-kl"
    };
    claim(
        id,
        OCCAM,
        "c <= kl(q || kl^-1_upper(q, c)) whenever the inverse is < 1 (it is never below the supremum)",
        2,
        move |p| {
            let (q, c) = q_and_c(p);
            let inv = bounds::kl_inverse_upper(q, c).ok()?;
            if inv >= 1.0 {
                return None;
            }
            // q + 1 (inv - q) is not inv in f64 near 1: use inv itself for the claim.
            let at = if shrink < 1.0 {
                q + shrink * (inv - q)
            } else {
                inv
            };
            Some((c, bounds::binary_kl(q, at).ok()?))
        },
    )
}

/// (C5) Chernoff: for X ~ Bin(m, p) and k <= m p, P(X <= k) <= exp(-m kl(k/m || p)), the tail
/// summed exactly (m <= 200). `factor` scales the right-hand side (the mutant uses 0.9; the
/// bound is an equality at m = 1, k = 0).
pub fn chernoff(factor: f64) -> Claim {
    let id = if factor < 1.0 { "C5-mutant" } else { "C5" };
    let c = claim(
        id,
        OCCAM,
        "P(Bin(m, p) <= k) <= exp(-m kl(k/m || p)) for k <= m p (exact binomial tail)",
        3,
        move |v| {
            let m = (1.0 + 199.0 * unit(v[0])).round() as usize;
            let pr = 0.001 + 0.998 * unit(v[1]);
            let k = ((m as f64 * pr) * unit(v[2])).floor() as usize;
            if k as f64 > m as f64 * pr {
                return None;
            }
            // pmf(i + 1) = pmf(i) (m - i) / (i + 1) p / (1 - p), in logs.
            let mut log_pmf = m as f64 * (-pr).ln_1p();
            let mut tail = log_pmf.exp();
            for i in 0..k {
                log_pmf += ((m - i) as f64 / (i + 1) as f64).ln() + (pr / (1.0 - pr)).ln();
                tail += log_pmf.exp();
            }
            let kl = bounds::binary_kl(k as f64 / m as f64, pr).ok()?;
            Some((tail, factor * (-(m as f64) * kl).exp()))
        },
    );
    c.with_seeds(vec![vec![-30.0, 0.0, -30.0], vec![-30.0, 2.0, -30.0]])
}

/// (C4) Pinsker: the Hoeffding form is never below the kl form,
/// `occam_kl(q, K, delta, m) <= occam_hoeffding(q, K, delta, m)`. The mutant replaces
/// sqrt(c / 2) by sqrt(c / 8), a Hoeffding constant that Pinsker does not give.
pub fn pinsker(wrong: bool) -> Claim {
    let id = if wrong { "C4-mutant" } else { "C4" };
    claim(
        id,
        OCCAM,
        "occam_kl <= occam_hoeffding (Pinsker: kl(q || p) >= 2 (p - q)^2)",
        4,
        move |p| {
            let q = (1.1 * unit(p[0]) - 0.05).clamp(0.0, 1.0);
            let bits = 200.0 * unit(p[1]);
            let delta = 1e-6 + (1.0 - 2e-6) * unit(p[2]);
            let m = 10f64.powf(6.0 * unit(p[3])).round().max(1.0) as usize;
            let kl = bounds::occam_kl(q, bits, delta, m).ok()?;
            let h = if wrong {
                let c = bounds::occam_rhs(bits, delta, m).ok()?;
                (q + (c / 8.0).sqrt()).min(1.0)
            } else {
                bounds::occam_hoeffding(q, bits, delta, m).ok()?
            };
            Some((kl, h))
        },
    )
}

/// Exact C(n, k) for n <= 50 (fits in u64 and in f64's 53 bits).
fn binom(n: usize, k: usize) -> u64 {
    (0..k).fold(1u64, |acc, i| acc * (n - i) as u64 / (i + 1) as u64)
}

fn t_and_s(p: &[f64], t_max: f64) -> (usize, usize) {
    let t = (1.0 + (t_max - 1.0) * unit(p[0])).round() as usize;
    let s = (1.0 + (t - 1) as f64 * unit(p[1])).round() as usize;
    (t, s.clamp(1, t))
}

/// (C1) the index field is long enough: C(T, s) <= 2^index_bits(T, s), T <= 50, against the
/// exact binomial. The mutant drops one bit (the floor instead of the ceiling of log2).
pub fn index_length(drop_bit: bool) -> Claim {
    let id = if drop_bit { "C1-mutant" } else { "C1" };
    claim(
        id,
        OCCAM,
        "C(T, s) <= 2^ceil(log2 C(T, s)) (the index of I fits its field), exact binomials, T <= 50",
        2,
        move |p| {
            let (t, s) = t_and_s(p, 50.0);
            let bits = bounds::index_bits(t, s).ok()?;
            let bits = if drop_bit {
                bits.saturating_sub(1)
            } else {
                bits
            };
            Some((binom(t, s) as f64, (bits as f64).exp2()))
        },
    )
}

/// Code length without the Elias-gamma field, for the mutants of (C2) and (C3).
fn bits_without_gamma(t: usize, s: usize) -> Option<f64> {
    let gamma = bounds::elias_gamma_bits(s).ok()? as f64;
    Some(bounds::junta_code_bits(t, s).ok()? - gamma)
}

fn code_bits(t: usize, s: usize, drop_gamma: bool) -> Option<f64> {
    if drop_gamma {
        bits_without_gamma(t, s)
    } else {
        bounds::junta_code_bits(t, s).ok()
    }
}

/// (C2) Kraft: sum over all juntas over T <= 50 bits of 2^-K = sum_s C(T, s) 2^(2^s) 2^-K(s)
/// <= 1 (in logs, exact binomials). The mutant drops the Elias-gamma field of s, after which
/// the code is no longer prefix-free across sparsities.
pub fn kraft(drop_gamma: bool) -> Claim {
    let id = if drop_gamma { "C2-mutant" } else { "C2" };
    claim(
        id,
        OCCAM,
        "sum over juntas of 2^-K(g) <= 1 (Kraft; the code is prefix-free), T <= 50",
        1,
        move |p| {
            let t = (1.0 + 49.0 * unit(p[0])).round() as usize;
            let mut sum = 0.0;
            for s in 1..=t {
                let k = code_bits(t, s, drop_gamma)?;
                let ln = (binom(t, s) as f64).ln()
                    + ((1u64 << s.min(52)) as f64 - k) * std::f64::consts::LN_2;
                sum += ln.exp();
            }
            Some((sum, 1.0))
        },
    )
}

/// (C3) the union bound: sum over every junta g over T <= 20 bits of its share
/// exp(-m c_g), c_g = `bounds::occam_rhs(K(g), delta, m)`, is at most delta. The mutant drops
/// the Elias-gamma field from K.
pub fn occam_union(drop_gamma: bool) -> Claim {
    let id = if drop_gamma {
        "C3-union-mutant"
    } else {
        "C3-union"
    };
    claim(
        id,
        OCCAM,
        "sum_g exp(-m (K(g) ln 2 + ln(1/delta)) / m) <= delta over all juntas (T <= 20)",
        3,
        move |p| {
            let t = (1.0 + 19.0 * unit(p[0])).round() as usize;
            let delta = 1e-6 + (1.0 - 2e-6) * unit(p[1]);
            let m = 10f64.powf(6.0 * unit(p[2])).round().max(1.0) as usize;
            let mut sum = 0.0;
            for s in 1..=t {
                let k = code_bits(t, s, drop_gamma)?;
                let c = bounds::occam_rhs(k, delta, m).ok()?;
                let count_ln =
                    (binom(t, s) as f64).ln() + (1u64 << s) as f64 * std::f64::consts::LN_2;
                sum += (count_ln - m as f64 * c).exp();
            }
            Some((sum, delta))
        },
    )
}

/// A fractional program with n = 1..8 free positions from the parameters: weights e^p in
/// [e^-3, e^3], positive values e^p (so ratios are positive), one fixed item.
fn program(p: &[f64]) -> (Vec<Choice>, Vec<[Choice; 2]>) {
    let n = 1 + (7.0 * unit(p[0])).round() as usize;
    let ch = |i: usize| Choice {
        weight: Interval::point((3.0 * p[i].tanh()).exp()),
        value: Interval::point((2.0 * p[i + 1].tanh()).exp()),
    };
    let fixed = vec![ch(1)];
    let free = (0..n).map(|t| [ch(3 + 4 * t), ch(5 + 4 * t)]).collect();
    (fixed, free)
}

fn brute_max(fixed: &[Choice], free: &[[Choice; 2]]) -> f64 {
    let mut best = f64::NEG_INFINITY;
    for mask in 0..1usize << free.len() {
        let pick = free.iter().enumerate().map(|(t, o)| &o[(mask >> t) & 1]);
        let (n, d) = fixed.iter().chain(pick).fold((0.0, 0.0), |(n, d), x| {
            (n + x.weight.lo * x.value.lo, d + x.weight.lo)
        });
        best = best.max(n / d);
    }
    best
}

const PROGRAM_DIM: usize = 3 + 4 * 8;

/// (V2) Dinkelbach is exact: its value is at least the brute-force maximum over all 2^n
/// choice vectors (so equal to it; the other direction is (V3) below). The mutant is the
/// greedy choice of the larger value per position, Dinkelbach's starting point.
pub fn dinkelbach(greedy: bool) -> Claim {
    let id = if greedy { "V2-mutant" } else { "V2" };
    claim(
        id,
        VERIFY,
        "brute-force max over 2^n choices <= Dinkelbach's value (exactness of the fractional program)",
        PROGRAM_DIM,
        move |p| {
            let (fixed, free) = program(p);
            let value = if greedy {
                let pick = free.iter().map(|o| {
                    if o[1].value.lo > o[0].value.lo {
                        &o[1]
                    } else {
                        &o[0]
                    }
                });
                let (n, d) = fixed.iter().chain(pick).fold((0.0, 0.0), |(n, d), x| {
                    (n + x.weight.lo * x.value.lo, d + x.weight.lo)
                });
                n / d
            } else {
                dinkelbach_max(&fixed, &free)
            };
            Some((brute_max(&fixed, &free), value))
        },
    )
}

/// (V3) the certified upper end is sound and tight: fractional_max <= brute max (1 + 1e-9),
/// while brute <= fractional_max is (V2) plus the certificate. Here lhs = fractional_max and
/// rhs = (1 + 1e-9) brute; the mutant is the trivial bound (the largest value), which is
/// sound but not the maximum.
pub fn certified_max(trivial: bool) -> Claim {
    let id = if trivial { "V3-mutant" } else { "V3" };
    claim(
        id,
        VERIFY,
        "fractional_max <= (1 + 1e-9) brute-force max, and fractional_max >= brute (checked in the same instance: None otherwise would hide it)",
        PROGRAM_DIM,
        move |p| {
            let (fixed, free) = program(p);
            let brute = brute_max(&fixed, &free);
            let up = if trivial {
                fixed
                    .iter()
                    .chain(free.iter().flatten())
                    .map(|x| x.value.hi)
                    .fold(f64::NEG_INFINITY, f64::max)
            } else {
                fractional_max(&fixed, &free)
            };
            // A certified bound below the brute force would be unsound: report it as a
            // violation of this claim (lhs huge) rather than skip it.
            // (brute's own n / d may round an ulp above a common value: allow 1e-12.)
            if up < brute * (1.0 - 1e-12) {
                return Some((f64::MAX, 1.0));
            }
            Some((up, (1.0 + 1e-9) * brute))
        },
    )
}

/// A theory head on the fixed one-hot embedding of T = 4 bits (d = 7, r = k = 2) from 44
/// parameters, sigma ReLU or identity by the sign of the last one.
fn small_head(p: &[f64]) -> Option<ClsModel> {
    let (t, d, r) = (4, 7, 2);
    let m = |off: usize, rows: usize, cols: usize, scale: f64| Mat {
        rows,
        cols,
        data: p[off..off + rows * cols]
            .iter()
            .map(|x| scale * x.tanh())
            .collect(),
    };
    let act = if p[44] > 0.0 {
        Activation::Relu
    } else {
        Activation::Identity
    };
    let head = ClsHead::new(
        m(0, d, r, 3.0),
        m(14, d, r, 3.0),
        m(28, d, r, 2.0),
        m(42, r, 1, 2.0).data,
        act,
    )
    .ok()?;
    let emb = Embedding::fixed_bits(t, Positional::OneHot).ok()?;
    ClsModel::head(&head, &emb).ok()
}

/// The largest excursion of f(x) outside its setting's verified interval over all 2^T inputs
/// (T = 4), relative to the output scale; `shrink` halves every interval's radius first (the
/// mutant of (V4)).
fn excursion(model: &ClsModel, shrink: bool) -> Option<f64> {
    let junta = extract(model, 1, 0.5, 0).ok()?;
    let v = verify(model, &junta).ok()?;
    let mut tokens = Vec::new();
    for x in 0..16usize {
        tokens.extend((0..4).map(|j| ((x >> j) & 1) as u8));
    }
    let batch = TokenBatch::new(4, tokens).ok()?;
    let f = model.predict(&batch).ok()?;
    let scale = f.iter().fold(1e-300f64, |a, x| a.max(x.abs()));
    let mut worst = 0.0f64;
    for (i, fi) in f.iter().enumerate() {
        let mut iv = v.outputs[junta.pattern(batch.sample(i))];
        if shrink {
            let (mid, rad) = (iv.mid(), 0.5 * (iv.hi - iv.lo));
            iv = Interval {
                lo: mid - 0.5 * rad,
                hi: mid + 0.5 * rad,
            };
        }
        worst = worst.max((fi - iv.hi) / scale).max((iv.lo - fi) / scale);
    }
    Some(worst)
}

/// (V4) the interval propagation is sound: every output f(x) of every one of the 2^T inputs
/// lies in its setting's interval. lhs = 1 + the largest excursion outside (relative to the
/// output scale), rhs = 1. The mutant shrinks every interval to half its radius around its
/// midpoint, which the exact enclosures of identity heads make visible.
pub fn propagation(shrink: bool) -> Claim {
    let id = if shrink { "V4-mutant" } else { "V4" };
    let mut c = claim(
        id,
        VERIFY,
        "f(x) in the verified interval of x_I's setting for all 2^T inputs (T = 4, brute force)",
        45,
        move |p| Some((1.0 + excursion(&small_head(p)?, shrink)?, 1.0)),
    );
    c.cost = 4;
    c
}

/// A one-block Transformer read at \[CLS\] on T = 4 bits from 121 parameters: learned
/// embeddings (tok 2 x 4, pos 4 x 4, cls 4), width d = 4, two heads of width 2
/// (W_Q, W_K, W_V 4 x 2, W_C 2 x 4), residual, Pi, an MLP 4 -> 3 -> 4 (ReLU), Pi again,
/// read-out w; the heads' sigma identity, ReLU, tanh or GELU by the last parameter.
fn small_block(p: &[f64]) -> Option<ClsModel> {
    let mut at = 0;
    let mut m = |rows: usize, cols: usize, scale: f64| {
        let data = p[at..at + rows * cols]
            .iter()
            .map(|x| scale * x.tanh())
            .collect();
        at += rows * cols;
        Mat { rows, cols, data }
    };
    let heads = (0..2)
        .map(|_| HeadParams {
            w_q: m(4, 2, 3.0),
            w_k: m(4, 2, 3.0),
            w_v: m(4, 2, 2.0),
            w_c: m(2, 4, 2.0),
        })
        .collect();
    let mlp = Some(Mlp {
        w1: m(4, 3, 2.0),
        w2: m(3, 4, 2.0),
    });
    let embedding = Embedding::new(m(2, 4, 1.5), m(4, 4, 1.5), m(1, 4, 1.5).data).ok()?;
    let w = m(1, 4, 2.0).data;
    let act = [
        Activation::Identity,
        Activation::Relu,
        Activation::Tanh,
        Activation::Gelu,
    ][(4.0 * unit(p[BLOCK_DIM - 1])).min(3.0) as usize];
    let block = Block { heads, mlp };
    let model = Transformer::new(embedding, vec![block], w, act, Activation::Relu).ok()?;
    ClsModel::transformer(&model).ok()
}

const BLOCK_DIM: usize = 2 * 32 + 24 + 28 + 4 + 1;

/// (V4) through a whole block: the propagation of the head boxes through sigma, W_C, the
/// residual x_cls + sum_h, Pi, the MLP and Pi again, and the read-out is sound: every f(x) of
/// the 2^4 inputs lies in its setting's interval (lhs = 1 + the largest relative excursion,
/// rhs = 1). The mutant halves every interval's radius.
pub fn block_propagation(shrink: bool) -> Claim {
    let id = if shrink {
        "V4-block-mutant"
    } else {
        "V4-block"
    };
    let mut c = claim(
        id,
        VERIFY,
        "f(x) in the verified interval of x_I's setting for all 2^T inputs of a one-block Transformer with MLP (T = 4, brute force)",
        BLOCK_DIM,
        move |p| Some((1.0 + excursion(&small_block(p)?, shrink)?, 1.0)),
    );
    c.cost = 4;
    c
}

const PAC_BAYES: &str = "5-pac-bayes";
const SAMPLED: &str = "4-the-sampled-route";

/// (P1) The Gaussian KL of `bounds::gaussian_kl` is at least the KL of N(d, sigma^2) from
/// N(0, sigma^2) computed independently, by Simpson quadrature of q ln(q/p) over +-14 sigma
/// (4000 panels; lhs lowered by a relative 1e-7 for the quadrature's error). `factor < 1` is
/// the mutant (a KL too small by that factor, e.g. the 1/(4 sigma^2) slip).
pub fn gaussian_kl(factor: f64) -> Claim {
    let id = if factor < 1.0 { "P1-mutant" } else { "P1" };
    claim(
        id,
        PAC_BAYES,
        "KL(N(d, s^2) || N(0, s^2)) (quadrature) <= gaussian_kl(d^2, s)",
        2,
        move |v| {
            let d = 5.0 * unit(v[0]) + 1e-3;
            let s = 0.1 + 1.9 * unit(v[1]);
            let (lo, hi) = (d - 14.0 * s, d + 14.0 * s);
            let n = 4000;
            let h = (hi - lo) / n as f64;
            let f = |x: f64| {
                let lq = -0.5 * ((x - d) / s).powi(2);
                let lp = -0.5 * (x / s).powi(2);
                let q = lq.exp() / (s * (std::f64::consts::TAU).sqrt());
                q * (lq - lp)
            };
            let mut sum = f(lo) + f(hi);
            for i in 1..n {
                sum += f(lo + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
            }
            let quad = sum * h / 3.0;
            let kl = bounds::gaussian_kl(d * d, s).ok()?;
            Some((quad * (1.0 - 1e-7), factor * kl))
        },
    )
}

/// (P4) The Monte Carlo confidence, for Bernoulli(p) draws (the worst case of [0, 1] variables
/// with that mean for the Chernoff bound): the exact probability over n draws that
/// `mc_train_error_upper(mean, n, delta)` falls below p is at most delta / 2 (the bound is
/// one-sided at ln(2/delta)). Exact binomial sum, n <= 200. The mutant is the bound at a
/// quarter of the right-hand side (ln(2/delta) / (4n)), which fails more often than delta / 2.
pub fn mc_confidence(mutant: bool) -> Claim {
    let id = if mutant { "P4-mutant" } else { "P4" };
    claim(
        id,
        PAC_BAYES,
        "P_{k ~ Bin(n, p)}(kl^-1_upper(k/n, ln(2/delta)/n) < p) <= delta / 2",
        3,
        move |v| {
            let n = (1.0 + 199.0 * unit(v[0])).round() as usize;
            let p = 0.001 + 0.998 * unit(v[1]);
            let delta = 10f64.powf(-3.0 + 2.9 * unit(v[2]));
            let fail = binomial_mass(n, p, |k| {
                let mean = k as f64 / n as f64;
                let upper = if mutant {
                    bounds::kl_inverse_upper(mean, (2.0 / delta).ln() / (4.0 * n as f64)).ok()?
                } else {
                    bounds::mc_train_error_upper(mean, n, delta).ok()?
                };
                Some(upper < p)
            })?;
            Some((fail, delta / 2.0))
        },
    )
}

/// (S1), and (F1) which is (S1) on a fresh labelled sample: the exact probability over
/// k ~ Bin(n, p) that the one-sided Clopper-Pearson limit `certify::sampled::upper_limit(k, n,
/// delta)` falls below p is at most delta. Exact binomial sum, n <= 200. The mutant is the limit
/// at level 4 delta, which fails up to 4 delta (caught where the discrete coverage is tight).
pub fn clopper_pearson(mutant: bool) -> Claim {
    let id = if mutant { "S1-mutant" } else { "S1" };
    claim(
        id,
        SAMPLED,
        "P_{k ~ Bin(n, p)}(clopper_pearson_upper(k, n, delta) < p) <= delta",
        3,
        move |v| {
            let n = (1.0 + 199.0 * unit(v[0])).round() as usize;
            let p = 0.001 + 0.998 * unit(v[1]);
            let delta = 10f64.powf(-3.0 + 2.0 * unit(v[2]));
            let level = if mutant {
                (4.0 * delta).min(0.99)
            } else {
                delta
            };
            let fail = binomial_mass(n, p, |k| Some(sampled::upper_limit(k, n, level).ok()? < p))?;
            Some((fail, delta))
        },
    )
}

/// P(K in A) for K ~ Bin(n, p), A = {k : in_set(k)}, summing the pmf exactly (by its ratio
/// recursion in log space); `None` when `in_set` is undefined somewhere.
fn binomial_mass(n: usize, p: f64, in_set: impl Fn(usize) -> Option<bool>) -> Option<f64> {
    let mut mass = 0.0;
    let mut log_pmf = n as f64 * (-p).ln_1p();
    for k in 0..=n {
        if k > 0 {
            log_pmf += ((n - k + 1) as f64 / k as f64).ln() + (p / (1.0 - p)).ln();
        }
        if in_set(k)? {
            mass += log_pmf.exp();
        }
    }
    Some(mass)
}

/// Every claim of this file with its mutant and note.
pub fn all() -> Vec<Claim> {
    vec![
        kl_inverse(1.0).with_mutant(kl_inverse(0.99)).with_note(
            "outward rounding means c <= kl(q || inverse) always; an inverse 1% short of the supremum is caught",
        ),
        chernoff(1.0).with_mutant(chernoff(0.9)).with_note(
            "equality at m = 1, k = 0 (seeded); a Chernoff bound 10% too small is caught",
        ),
        pinsker(false).with_mutant(pinsker(true)).with_note(
            "tight where kl is nearly quadratic (q near 1/2, small c); sqrt(c/8) is caught",
        ),
        index_length(false).with_mutant(index_length(true)).with_note(
            "exact integers; equality when C(T, s) is a power of two; the floor of log2 is caught",
        ),
        kraft(false).with_mutant(kraft(true)).with_note(
            "the sum approaches 1 from below as T grows; without the gamma field it exceeds 1 (caught)",
        ),
        occam_union(false).with_mutant(occam_union(true)).with_note(
            "the shares sum to delta times the Kraft sum; without the gamma field they exceed delta (caught)",
        ),
        dinkelbach(false).with_mutant(dinkelbach(true)).with_note(
            "brute force over <= 2^8 choice vectors; ratio 1 at every instance; the greedy start is caught",
        ),
        certified_max(false).with_mutant(certified_max(true)).with_note(
            "the certified end is within 1e-9 of the exact maximum and never below it; the trivial bound is caught",
        ),
        propagation(false).with_mutant(propagation(true)).with_note(
            "T = 4 theory heads (ReLU or identity), all 16 inputs; half-radius intervals are caught",
        ),
        block_propagation(false).with_mutant(block_propagation(true)).with_note(
            "T = 4 one-block Transformers (learned embeddings, two heads, residual, Pi, MLP), all 16 inputs; half-radius intervals are caught",
        ),
        gaussian_kl(1.0).with_mutant(gaussian_kl(0.5)).with_note(
            "equal up to the quadrature's 1e-7; the 1/(4 sigma^2) slip is caught",
        ),
        mc_confidence(false).with_mutant(mc_confidence(true)).with_note(
            "exact binomial failure probability of the Monte Carlo bound; a quarter right-hand side is caught",
        ),
        clopper_pearson(false).with_mutant(clopper_pearson(true)).with_note(
            "exact binomial failure probability of the sampled route's limit (and of the fresh-sample test bound F1); the limit at 4 delta is caught",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use crate::{Budget, DEFAULT_SEED, search};

    #[test]
    fn certificate_claims_hold_and_their_mutants_are_caught() {
        for c in super::all() {
            let o = search(&c, Budget::QUICK, DEFAULT_SEED);
            assert!(!o.violated(), "{}: {o:?}", c.id);
            eprintln!("{}: worst ratio {:.6}", c.id, o.worst_ratio);
            let m = c
                .mutant
                .as_ref()
                .expect("every certificate claim has a mutant");
            let om = search(m, Budget::QUICK, DEFAULT_SEED);
            assert!(om.violated(), "{}: mutant not caught: {om:?}", m.id);
            eprintln!("{}: worst ratio {:.6}", m.id, om.worst_ratio);
        }
    }
}
