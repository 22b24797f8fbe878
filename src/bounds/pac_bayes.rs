//! The PAC-Bayes certificate as pure formulas (docs/certificates.md#5-pac-bayes): the KL of two
//! isotropic Gaussians, Maurer's kl bound inverted exactly, the union bound over a sigma grid
//! fixed in advance, and the Monte Carlo confidence of the stochastic training error.
//!
//! Everything certified here is the **stochastic** predictor Q (draw weights from Q, then
//! predict), never one deterministic network.

use super::kl::kl_inverse_upper;
use crate::error::{Error, Result, check};

/// `x` moved up by `ulps` units in the last place (outward rounding of a computed upper bound).
fn up(x: f64, ulps: usize) -> f64 {
    (0..ulps).fold(x, |v, _| v.next_up())
}

fn unit_error(field: &str, e: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&e) {
        Ok(e)
    } else {
        Err(Error::invalid(field, e, "a fraction in [0, 1]"))
    }
}

/// (P1) `KL(N(theta_hat, sigma^2 I) || N(theta_0, sigma^2 I)) = ||theta_hat - theta_0||^2 /
/// (2 sigma^2)` in nats, from the squared distance. Source: the Gaussian KL with equal
/// covariances (docs/certificates.md (P1)). Status: exact formula, rounded up.
/// Errors: a negative or non-finite squared distance, sigma not positive and finite.
pub fn gaussian_kl(sq_distance: f64, sigma: f64) -> Result<f64> {
    check::non_negative("sq_distance", sq_distance)?;
    check::positive("sigma", sigma)?;
    let kl = sq_distance / (2.0 * sigma * sigma);
    if !kl.is_finite() {
        return Err(Error::invalid(
            "sigma",
            sigma,
            format!(
                "large enough that ||theta - theta_0||^2 / (2 sigma^2) is finite (||.||^2 = {sq_distance})"
            ),
        ));
    }
    // 0 / x is exact; anything else carries three roundings.
    Ok(if kl == 0.0 { 0.0 } else { up(kl, 4) })
}

/// The share of delta each sigma of a grid of `grid_len` values gets: `delta / grid_len`
/// (the union bound (P3) over a grid fixed before the data). Errors: delta outside (0, 1),
/// an empty grid.
pub fn grid_delta(delta: f64, grid_len: usize) -> Result<f64> {
    check::open_unit("delta", delta)?;
    check::at_least("sigma_grid", grid_len, 1)?;
    // Rounded down: a smaller delta per sigma only makes each bound more conservative.
    Ok((delta / grid_len as f64).next_down())
}

/// The right-hand side of Maurer's bound (P2), `(KL + ln(2 sqrt(m) / delta)) / m`, rounded
/// up. Errors: KL negative or not finite, delta outside (0, 1), m = 0.
pub fn maurer_rhs(kl: f64, delta: f64, num_samples: usize) -> Result<f64> {
    check::non_negative("kl", kl)?;
    check::open_unit("delta", delta)?;
    check::at_least("num_samples", num_samples, 1)?;
    let m = num_samples as f64;
    let ln_term = std::f64::consts::LN_2 + 0.5 * m.ln() - delta.ln();
    Ok(up((kl + ln_term) / m, 8))
}

/// Maurer's PAC-Bayes-kl bound (P2): with probability >= 1 - delta over S (m >= 8 for the
/// constant 2 sqrt(m); m >= 1 is accepted, the bound is then looser than needed), for every
/// posterior Q, `kl(err_S(Q) || err(Q)) <= (KL(Q||P) + ln(2 sqrt(m)/delta)) / m`, so
/// `err(Q) <= kl^-1_upper(err_S(Q), rhs)`. `train_error_q` must itself be an upper bound on
/// err_S(Q) (kl^-1_upper is increasing in its first argument): see [`mc_train_error_upper`].
/// Source: Maurer (2004), "A note on the PAC Bayesian theorem", Thm 5; Seeger (2002).
/// Status: rigorous (rhs rounded up, inverse rounded outward).
pub fn maurer_bound(train_error_q: f64, kl: f64, delta: f64, num_samples: usize) -> Result<f64> {
    unit_error("train_error_q", train_error_q)?;
    kl_inverse_upper(train_error_q, maurer_rhs(kl, delta, num_samples)?)
}

/// (P4) The Monte Carlo confidence of the stochastic training error: `n_draws` weight draws
/// from Q, `mean_error` the average over draws of each draw's training error. Each draw's
/// error is in [0, 1] and its mean is err_S(Q), so with probability >= 1 - delta_mc over the
/// draws, `err_S(Q) <= kl^-1_upper(mean_error, ln(2/delta_mc) / n_draws)` (Langford and Caruana
/// 2001, Thm 2.5; Perez-Ortiz et al. 2021, eq. 8: the kl Chernoff bound holds for `[0, 1]`-valued
/// i.i.d. variables, not only Bernoulli ones). Status: rigorous (rounded outward).
/// Errors: mean_error outside [0, 1], n_draws = 0, delta_mc outside (0, 1).
pub fn mc_train_error_upper(mean_error: f64, n_draws: usize, delta_mc: f64) -> Result<f64> {
    unit_error("mean_error", mean_error)?;
    check::at_least("n_draws", n_draws, 1)?;
    check::open_unit("delta_mc", delta_mc)?;
    let rhs = up((2.0 / delta_mc).ln() / n_draws as f64, 4);
    kl_inverse_upper(mean_error, rhs)
}

/// The certificate at one sigma of the grid (docs/certificates.md (P5)): err(Q) <= this with
/// probability >= 1 - delta_pb - delta_mc, where `delta_pb` and `delta_mc` are already the
/// per-sigma shares ([`grid_delta`]). Returns (the upper bound on err_S(Q), the bound on err(Q)).
pub fn pac_bayes_at_sigma(
    mean_error: f64,
    n_draws: usize,
    kl: f64,
    num_samples: usize,
    delta_pb: f64,
    delta_mc: f64,
) -> Result<(f64, f64)> {
    let train_upper = mc_train_error_upper(mean_error, n_draws, delta_mc)?;
    Ok((
        train_upper,
        maurer_bound(train_upper, kl, delta_pb, num_samples)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::binary_kl;

    #[test]
    fn gaussian_kl_is_half_sq_distance_over_variance() {
        // ||d||^2 = 8, sigma = 2: 8 / (2 * 4) = 1 (by hand); rounded up by at most 4 ulps.
        let kl = gaussian_kl(8.0, 2.0).unwrap();
        assert!((1.0..=1.0 + 1e-15).contains(&kl), "{kl}");
        assert_eq!(gaussian_kl(0.0, 0.1).unwrap(), 0.0);
        assert!(gaussian_kl(-1.0, 1.0).is_err());
        assert!(gaussian_kl(1.0, 0.0).is_err());
        assert!(gaussian_kl(f64::NAN, 1.0).is_err());
        assert!(gaussian_kl(1e300, 1e-200).is_err());
    }

    #[test]
    fn maurer_rhs_by_hand_and_bound_inverts_it() {
        // KL = 10, m = 100, delta = 0.05: (10 + ln(2 * 10 / 0.05)) / 100 = (10 + ln 400) / 100
        // = 0.15991464547107982 (ln 400 = 5.991464547107982).
        let r = maurer_rhs(10.0, 0.05, 100).unwrap();
        assert!((r - 0.159_914_645_471_079_8).abs() < 1e-14, "{r}");
        let b = maurer_bound(0.0, 10.0, 0.05, 100).unwrap();
        // At q = 0, kl(0 || p) = -ln(1 - p), so the exact inverse is 1 - exp(-r).
        let exact = 1.0 - (-r).exp();
        assert!(b >= exact && b - exact < 1e-12, "{b} vs {exact}");
        // The returned value is outside the kl ball (outward rounding).
        assert!(binary_kl(0.0, b).unwrap() >= r);
        // Monotone: more KL, larger bound; larger m, smaller bound.
        assert!(maurer_bound(0.0, 20.0, 0.05, 100).unwrap() > b);
        assert!(maurer_bound(0.0, 10.0, 0.05, 1000).unwrap() < b);
        // Huge KL: vacuous, exactly 1.
        assert_eq!(maurer_bound(0.1, 1e6, 0.05, 100).unwrap(), 1.0);
    }

    #[test]
    fn mc_upper_holds_and_shrinks_with_draws() {
        // 0 errors in 100 draws, delta_mc = 0.01: 1 - exp(-ln(200)/100) = 0.051600... (by hand:
        // ln 200 = 5.298317366548036, exp(-0.05298317366548036) = 0.948396...).
        let u = mc_train_error_upper(0.0, 100, 0.01).unwrap();
        let exact = 1.0 - (-(200f64).ln() / 100.0).exp();
        assert!(u >= exact && u - exact < 1e-12, "{u} vs {exact}");
        assert!(mc_train_error_upper(0.2, 1000, 0.01).unwrap() > 0.2);
        assert!(
            mc_train_error_upper(0.2, 1000, 0.01).unwrap()
                < mc_train_error_upper(0.2, 100, 0.01).unwrap()
        );
        assert_eq!(mc_train_error_upper(1.0, 10, 0.01).unwrap(), 1.0);
    }

    #[test]
    fn grid_delta_splits_and_bad_inputs_name_the_field() {
        let d = grid_delta(0.05, 5).unwrap();
        assert!(d <= 0.01 && d > 0.01 - 1e-17);
        for (r, field) in [
            (grid_delta(0.0, 5), "delta"),
            (grid_delta(1.0, 5), "delta"),
            (grid_delta(0.05, 0), "sigma_grid"),
            (maurer_rhs(1.0, 0.05, 0), "num_samples"),
            (maurer_rhs(-1.0, 0.05, 10), "kl"),
            (maurer_bound(1.5, 1.0, 0.05, 10), "train_error_q"),
            (mc_train_error_upper(0.1, 0, 0.05), "n_draws"),
            (mc_train_error_upper(0.1, 10, 1.5), "delta_mc"),
        ] {
            let e = r.unwrap_err().to_string();
            assert!(e.contains(field), "{e} should name {field}");
        }
    }

    #[test]
    fn at_sigma_composes_the_two_inequalities() {
        let (tu, b) = pac_bayes_at_sigma(0.01, 200, 5.0, 300, 0.005, 0.005).unwrap();
        assert_eq!(tu, mc_train_error_upper(0.01, 200, 0.005).unwrap());
        assert_eq!(b, maurer_bound(tu, 5.0, 0.005, 300).unwrap());
        assert!(b > tu);
    }
}
