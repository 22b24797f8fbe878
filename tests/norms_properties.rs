//! Property tests for `attnbounds::norms`: the standard norm inequalities on random matrices,
//! and power iteration against the SVD.

use attnbounds::norms::{PowerIteration, frobenius, norm_21, spectral_power, spectral_svd};
use nalgebra::DMatrix;
use proptest::prelude::*;

/// Random matrices of size 1..=8 x 1..=8 with entries in [-1, 1] times 10^e, e in [-150, 150],
/// so the properties are also checked far from unit scale.
fn matrix() -> impl Strategy<Value = DMatrix<f64>> {
    (1usize..=8, 1usize..=8, -150i32..=150).prop_flat_map(|(r, c, e)| {
        proptest::collection::vec(-1.0f64..=1.0, r * c)
            .prop_map(move |v| DMatrix::from_vec(r, c, v) * 10f64.powi(e))
    })
}

/// A pair (A, B) with A r x k and B k x c, unit scale.
fn product_pair() -> impl Strategy<Value = (DMatrix<f64>, DMatrix<f64>)> {
    (1usize..=6, 1usize..=6, 1usize..=6).prop_flat_map(|(r, k, c)| {
        (
            proptest::collection::vec(-1.0f64..=1.0, r * k)
                .prop_map(move |v| DMatrix::from_vec(r, k, v)),
            proptest::collection::vec(-1.0f64..=1.0, k * c)
                .prop_map(move |v| DMatrix::from_vec(k, c, v)),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// ||A||_2 <= ||A||_F <= ||A||_{2,1} (the second by the triangle inequality over columns:
    /// sqrt(sum_j c_j^2) <= sum_j c_j). Also ||A||_F <= sqrt(rank) ||A||_2 <= sqrt(min dim) ||A||_2.
    #[test]
    fn spectral_le_frobenius_le_21(a in matrix()) {
        let s = spectral_svd(&a).unwrap();
        let f = frobenius(&a).unwrap();
        let n21 = norm_21(&a).unwrap();
        let slack = 1.0 + 1e-12;
        prop_assert!(s <= f * slack, "spectral {s} > frobenius {f}");
        prop_assert!(f <= n21 * slack, "frobenius {f} > (2,1) {n21}");
        let k = a.nrows().min(a.ncols()) as f64;
        prop_assert!(f <= k.sqrt() * s * slack, "frobenius {f} > sqrt({k}) spectral {s}");
    }

    /// Submultiplicativity ||AB||_2 <= ||A||_2 ||B||_2.
    #[test]
    fn spectral_submultiplicative((a, b) in product_pair()) {
        let ab = spectral_svd(&(&a * &b)).unwrap();
        let bound = spectral_svd(&a).unwrap() * spectral_svd(&b).unwrap();
        prop_assert!(ab <= bound * (1.0 + 1e-12) + 1e-300, "||AB|| = {ab} > {bound}");
    }

    /// Power iteration with tol = 1e-12 is within 1e-5 (relative) of the SVD value and never
    /// above it; 1e-5 covers the worst case sqrt(tol)/2 = 5e-7 for tiny singular gaps, with room
    /// for hitting the iteration cap on near-degenerate gaps.
    #[test]
    fn power_iteration_matches_svd(a in matrix()) {
        let exact = spectral_svd(&a).unwrap();
        let est = spectral_power(&a, PowerIteration { tol: 1e-12, max_iter: 20_000 }).unwrap();
        prop_assert!((est.value - exact).abs() <= 1e-5 * exact, "power {:?} vs svd {exact}", est);
        prop_assert!(est.value <= exact * (1.0 + 1e-12), "power {:?} above svd {exact}", est);
    }
}
