//! The Occam certificate of an s-junta: its code length and the two forms of the Occam bound
//! (`docs/certificates.md#2-the-code-and-the-occam-bound`).
//!
//! A junta g over `context_len` (T) bits is written as (s, I, table): s >= 1 its sparsity, I a
//! set of s positions, table its 2^s output signs. The prefix-free code (C1) spends
//! `K(s) = gamma(s) + ceil(log2 C(T, s)) + 2^s` bits on it, where gamma is Elias-gamma. The
//! code is fixed by T alone, before any data, so `2^-K` is a prior and the Occam bound (C3)
//! holds for every junta at once.

use super::kl::kl_inverse_upper;
use crate::error::{Error, Result, check};

/// Largest sparsity the code is evaluated for: the table alone is 2^s bits, and 2^s must be an
/// exact f64 count (and K a useful number) — 2^52 bits is far beyond any certificate.
pub const MAX_CODE_SPARSITY: usize = 52;

/// Elias-gamma code length of `n >= 1` in bits: `2 floor(log2 n) + 1` (Elias 1975). It is a
/// prefix-free code of the positive integers with Kraft sum `sum_n 2^-gamma(n) = 1`.
/// Status: exact (integer).
pub fn elias_gamma_bits(n: usize) -> Result<u64> {
    check::at_least("sparsity", n, 1)?;
    Ok(2 * u64::from(n.ilog2()) + 1)
}

/// `ceil(log2 C(n, k))` in bits, computed exactly with integer arithmetic (0 when C(n, k) = 1).
/// The fixed-length index of a k-subset among C(n, k) has this many bits. Status: exact.
/// Errors: `k > n`.
pub fn index_bits(n: usize, k: usize) -> Result<u64> {
    if k > n {
        return Err(Error::invalid(
            "sparsity",
            k,
            format!("at most context_len = {n}"),
        ));
    }
    // C(n, k) as a little-endian u32 big integer: C(n, i+1) = C(n, i) (n - i) / (i + 1),
    // every intermediate quotient exact.
    let k = k.min(n - k);
    let mut big: Vec<u32> = vec![1];
    for i in 0..k {
        mul_small(&mut big, (n - i) as u64);
        div_small(&mut big, (i + 1) as u64);
    }
    // ceil(log2 N) for N >= 1 is the bit length of N - 1.
    sub_one(&mut big);
    Ok(bit_length(&big))
}

fn mul_small(big: &mut Vec<u32>, f: u64) {
    let mut carry: u128 = 0;
    for limb in big.iter_mut() {
        let v = u128::from(*limb) * u128::from(f) + carry;
        *limb = v as u32;
        carry = v >> 32;
    }
    while carry > 0 {
        big.push(carry as u32);
        carry >>= 32;
    }
}

fn div_small(big: &mut Vec<u32>, f: u64) {
    let mut rem: u128 = 0;
    for limb in big.iter_mut().rev() {
        let v = (rem << 32) | u128::from(*limb);
        *limb = (v / u128::from(f)) as u32;
        rem = v % u128::from(f);
    }
    debug_assert_eq!(rem, 0, "binomial recurrence is exact");
    while big.len() > 1 && big.last() == Some(&0) {
        big.pop();
    }
}

fn sub_one(big: &mut [u32]) {
    for limb in big.iter_mut() {
        if *limb > 0 {
            *limb -= 1;
            return;
        }
        *limb = u32::MAX;
    }
}

fn bit_length(big: &[u32]) -> u64 {
    match big.iter().rposition(|&l| l != 0) {
        None => 0,
        Some(i) => 32 * i as u64 + u64::from(32 - big[i].leading_zeros()),
    }
}

/// Code length K of an s-junta over T bits, (C1): `gamma(s) + ceil(log2 C(T, s)) + 2^s` bits.
/// Source: docs/certificates.md#2-the-code-and-the-occam-bound. Status: exact (an integer,
/// returned as f64 because every consumer multiplies it by ln 2).
/// Errors: s = 0, s > T, s > [`MAX_CODE_SPARSITY`].
pub fn junta_code_bits(context_len: usize, sparsity: usize) -> Result<f64> {
    check::at_least("context_len", context_len, 1)?;
    let gamma = elias_gamma_bits(sparsity)?;
    let index = index_bits(context_len, sparsity)?;
    if sparsity > MAX_CODE_SPARSITY {
        return Err(Error::invalid(
            "sparsity",
            sparsity,
            format!("at most {MAX_CODE_SPARSITY} (the table has 2^sparsity bits)"),
        ));
    }
    Ok((gamma + index) as f64 + (1u64 << sparsity) as f64)
}

/// The complexity term of the Occam bound, `(K ln 2 + ln(1/delta)) / m` in nats per sample,
/// rounded up. Errors: K negative or not finite, delta outside (0, 1), m = 0.
pub fn occam_rhs(bits: f64, delta: f64, num_samples: usize) -> Result<f64> {
    check::non_negative("bits", bits)?;
    check::open_unit("delta", delta)?;
    check::at_least("num_samples", num_samples, 1)?;
    let num = bits * std::f64::consts::LN_2 + (1.0 / delta).ln();
    // Two roundings in the numerator, one in the division, ln within an ulp: 8 ulps cover them.
    Ok(up(num / num_samples as f64, 8))
}

/// Occam bound, kl form, (C3): with probability >= 1 - delta over the m training points, every
/// junta g of code length K satisfies `kl(err_S(g) || err(g)) <= (K ln 2 + ln(1/delta)) / m`,
/// so `err(g) <= kl^-1_upper(err_S(g), that)`. Source: Langford (2005), "Tutorial on practical
/// prediction theory", Thm 4.1 (the Occam's razor bound, kl form), with the prior 2^-K of the
/// code (C1); docs/certificates.md#2-the-code-and-the-occam-bound. Status: rigorous (the
/// right-hand side rounded up, the inverse rounded outward by `bounds::kl_inverse_upper`).
/// Errors: `train_error` outside [0, 1], delta outside (0, 1), m = 0.
pub fn occam_kl(train_error: f64, bits: f64, delta: f64, num_samples: usize) -> Result<f64> {
    check_error(train_error)?;
    kl_inverse_upper(train_error, occam_rhs(bits, delta, num_samples)?)
}

/// Occam bound, Hoeffding form, (C4): `err(g) <= err_S(g) + sqrt((K ln 2 + ln(1/delta)) / (2m))`,
/// capped at 1. It follows from (C3) by Pinsker's inequality `kl(q || p) >= 2 (p - q)^2`, so it
/// is never below the kl form. Source: docs/certificates.md#2-the-code-and-the-occam-bound.
/// Status: rigorous (rounded up).
pub fn occam_hoeffding(train_error: f64, bits: f64, delta: f64, num_samples: usize) -> Result<f64> {
    check_error(train_error)?;
    let rhs = occam_rhs(bits, delta, num_samples)?;
    Ok(up(train_error + up((rhs / 2.0).sqrt(), 2), 2).min(1.0))
}

fn check_error(e: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&e) {
        Ok(e)
    } else {
        Err(Error::invalid("train_error", e, "a fraction in [0, 1]"))
    }
}

/// `x` moved up by `ulps` units in the last place (outward rounding of a computed upper bound).
fn up(x: f64, ulps: usize) -> f64 {
    (0..ulps).fold(x, |v, _| v.next_up())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elias_gamma_lengths_by_hand() {
        // gamma(1) = "1", gamma(2) = "010", gamma(3) = "011", gamma(4) = "00100" (Elias 1975).
        let got: Vec<u64> = [1, 2, 3, 4, 7, 8]
            .map(|n| elias_gamma_bits(n).unwrap())
            .into();
        assert_eq!(got, vec![1, 3, 3, 5, 5, 7]);
        assert!(elias_gamma_bits(0).is_err());
    }

    #[test]
    fn index_bits_match_exact_binomials() {
        // C(1000, 3) = 166_167_000, 2^27 = 134_217_728 < C <= 2^28: 28 bits.
        assert_eq!(index_bits(1000, 3).unwrap(), 28);
        // C(n, 0) = C(n, n) = 1: zero bits. C(4, 2) = 6: 3 bits. C(8, 4) = 70: 7 bits.
        assert_eq!(index_bits(5, 0).unwrap(), 0);
        assert_eq!(index_bits(5, 5).unwrap(), 0);
        assert_eq!(index_bits(4, 2).unwrap(), 3);
        assert_eq!(index_bits(8, 4).unwrap(), 7);
        // Exact powers of two: C(4, 1) = 4 needs exactly 2 bits, C(16, 1) = 16 needs 4.
        assert_eq!(index_bits(4, 1).unwrap(), 2);
        assert_eq!(index_bits(16, 1).unwrap(), 4);
        // Beyond u128: C(100000, 20) = 4.1e81 (Python: math.comb(100000, 20).bit_length()
        // of comb - 1 is 272).
        assert_eq!(index_bits(100_000, 20).unwrap(), 272);
        assert!(index_bits(3, 4).is_err());
    }

    #[test]
    fn code_bits_at_the_documented_example() {
        // T = 1000, s = 3: gamma(3) = 3, ceil(log2 166167000) = 28, 2^3 = 8: K = 39.
        assert_eq!(junta_code_bits(1000, 3).unwrap(), 39.0);
        assert!(junta_code_bits(10, 0).is_err());
        assert!(junta_code_bits(10, 11).is_err());
    }

    #[test]
    fn occam_kl_zero_error_has_a_closed_form() {
        // err_S = 0: kl(0 || p) = -ln(1 - p), so the bound is 1 - exp(-rhs) exactly.
        let (k, delta, m) = (39.0, 0.05, 300);
        let rhs = (k * std::f64::consts::LN_2 + (1.0f64 / delta).ln()) / m as f64;
        let got = occam_kl(0.0, k, delta, m).unwrap();
        let want = 1.0 - (-rhs).exp();
        assert!(
            got >= want && got <= want * (1.0 + 1e-12),
            "{got} vs {want}"
        );
        // About 0.095: the documented "err <= ~0.09" at T = 1000, s = 3, m = 300.
        assert!((0.09..0.1).contains(&got), "{got}");
        // Hoeffding beside it: sqrt(rhs / 2) = 0.221..., never below the kl form.
        let h = occam_hoeffding(0.0, k, delta, m).unwrap();
        assert!(h >= got && (h - (rhs / 2.0).sqrt()).abs() < 1e-12, "{h}");
    }

    #[test]
    fn occam_edges() {
        // err_S = 1: the upper inverse is 1. A huge rhs: 1. A tiny rhs: close to err_S.
        assert_eq!(occam_kl(1.0, 39.0, 0.05, 300).unwrap(), 1.0);
        assert_eq!(occam_kl(0.2, 1e9, 0.05, 1).unwrap(), 1.0);
        let tiny = occam_kl(0.2, 0.0, 0.5, 1 << 40).unwrap();
        assert!(tiny > 0.2 && tiny < 0.2 + 1e-5, "{tiny}");
        assert_eq!(occam_hoeffding(0.9, 1e9, 0.05, 1).unwrap(), 1.0);
        assert!(occam_kl(0.1, 39.0, 0.0, 300).is_err());
        assert!(occam_kl(0.1, 39.0, 1.0, 300).is_err());
        assert!(occam_kl(0.1, 39.0, 0.05, 0).is_err());
        assert!(occam_kl(f64::NAN, 39.0, 0.05, 10).is_err());
        assert!(occam_kl(0.1, f64::NAN, 0.05, 10).is_err());
    }
}
