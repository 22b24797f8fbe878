//! Unit tests for `norms`. Each expected value names its source: a closed form or a hand
//! computation written next to it.

use super::*;
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs())
}

fn m(rows: usize, cols: usize, row_major: &[f64]) -> DMatrix<f64> {
    DMatrix::from_row_slice(rows, cols, row_major)
}

fn random_matrix(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    use rand::RngExt;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    DMatrix::from_fn(rows, cols, |_, _| rng.random::<f64>() * 2.0 - 1.0)
}

/// A random orthogonal matrix from the QR factorisation of a random matrix.
fn random_orthogonal(n: usize, seed: u64) -> DMatrix<f64> {
    random_matrix(n, n, seed).qr().q()
}

#[test]
fn identity_closed_forms() {
    // ||I_n||_2 = 1, ||I_n||_F = sqrt(n), ||I_n||_{2,1} = n (n unit columns).
    for n in [1usize, 2, 7, 30] {
        let i = DMatrix::<f64>::identity(n, n);
        assert!(close(spectral_svd(&i).unwrap(), 1.0, 1e-14));
        assert!(close(
            spectral_power(&i, PowerIteration::default()).unwrap().value,
            1.0,
            1e-12
        ));
        assert!(close(frobenius(&i).unwrap(), (n as f64).sqrt(), 1e-14));
        assert!(close(norm_21(&i).unwrap(), n as f64, 1e-14));
    }
}

#[test]
fn ones_closed_forms() {
    // ones(a, b) = 1_a 1_b^T: rank one, so ||.||_2 = ||1_a|| ||1_b|| = sqrt(ab) = ||.||_F;
    // each column has l2 norm sqrt(a), so ||.||_{2,1} = b sqrt(a) and ||.||_{2,inf} = sqrt(a);
    // each column has l1 norm a and max norm 1, so ||.||_{1,inf} = a and ||.||_{inf,1} = b.
    let (a, b) = (4usize, 9usize);
    let o = DMatrix::<f64>::from_element(a, b, 1.0);
    let (af, bf) = (a as f64, b as f64);
    assert!(close(spectral_svd(&o).unwrap(), (af * bf).sqrt(), 1e-13));
    assert!(close(
        spectral_power(&o, PowerIteration::default()).unwrap().value,
        (af * bf).sqrt(),
        1e-12
    ));
    assert!(close(frobenius(&o).unwrap(), (af * bf).sqrt(), 1e-14));
    assert!(close(norm_21(&o).unwrap(), bf * af.sqrt(), 1e-14));
    assert!(close(
        norm_pq(&o, 2.0, f64::INFINITY).unwrap(),
        af.sqrt(),
        1e-14
    ));
    assert!(close(norm_pq(&o, 1.0, f64::INFINITY).unwrap(), af, 1e-14));
    assert!(close(norm_pq(&o, f64::INFINITY, 1.0).unwrap(), bf, 1e-14));
}

#[test]
fn pq_is_column_convention() {
    // Hand computation. A = [[3, 0], [4, 0], [0, 1]]: columns (3,4,0), (0,0,1) have l2 norms 5, 1,
    // so ||A||_{2,1} = 6; rows have l2 norms 3, 4, 1, so ||A^T||_{2,1} = 8. A row convention
    // would swap the two.
    let a = m(3, 2, &[3.0, 0.0, 4.0, 0.0, 0.0, 1.0]);
    assert_eq!(norm_21(&a).unwrap(), 6.0);
    assert_eq!(norm_21(&a.transpose()).unwrap(), 8.0);
    // B = [[1, 2], [3, 4]]: column l1 norms 4, 6; column max norms 3, 4;
    // column l3 norms 28^(1/3), 72^(1/3).
    let b = m(2, 2, &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(norm_pq(&b, 1.0, f64::INFINITY).unwrap(), 6.0);
    assert_eq!(norm_pq(&b, f64::INFINITY, 1.0).unwrap(), 7.0);
    assert_eq!(norm_pq(&b, 1.0, 1.0).unwrap(), 10.0);
    let l3 = (28f64.powf(2.0 / 3.0) + 72f64.powf(2.0 / 3.0)).sqrt();
    assert!(close(norm_pq(&b, 3.0, 2.0).unwrap(), l3, 1e-14));
    // ||B||_{2,2} = ||B||_F = sqrt(30).
    assert!(close(norm_pq(&b, 2.0, 2.0).unwrap(), 30f64.sqrt(), 1e-15));
    assert!(close(frobenius(&b).unwrap(), 30f64.sqrt(), 1e-15));
}

#[test]
fn vector_norms_hand_values() {
    // v = (3, -4): l1 = 7, l2 = 5, max = 4.
    let v = DVector::from_vec(vec![3.0, -4.0]);
    assert_eq!(vector_norm(&v, 1.0).unwrap(), 7.0);
    assert_eq!(vector_norm(&v, 2.0).unwrap(), 5.0);
    assert_eq!(vector_norm(&v, f64::INFINITY).unwrap(), 4.0);
}

#[test]
fn extreme_scales_are_finite_and_exact() {
    // Hand values scaled: A = s * [[3, 0], [0, 4]] has ||A||_2 = 4s, ||A||_F = 5s,
    // ||A||_{2,1} = 7s, max row norm 4s. Squaring 1e200 overflows and 1e-200 underflows,
    // so these fail unless the code scales before squaring.
    for s in [1e-200, 1e-12, 1.0, 1e12, 1e200] {
        let a = m(2, 2, &[3.0 * s, 0.0, 0.0, 4.0 * s]);
        assert!(close(spectral_svd(&a).unwrap(), 4.0 * s, 1e-14), "s = {s}");
        let p = spectral_power(&a, PowerIteration::default()).unwrap();
        assert!(close(p.value, 4.0 * s, 1e-10), "s = {s}: {p:?}");
        assert!(close(frobenius(&a).unwrap(), 5.0 * s, 1e-15), "s = {s}");
        assert!(close(norm_21(&a).unwrap(), 7.0 * s, 1e-15), "s = {s}");
        assert!(close(
            norm_pq(&a, 3.0, 4.0).unwrap(),
            (3f64.powi(4) + 4f64.powi(4)).powf(0.25) * s,
            1e-14
        ));
        assert!(close(max_row_norm(&a).unwrap(), 4.0 * s, 1e-15), "s = {s}");
    }
    // Mixed scales within one vector: (3e200, 4e200, 1e-200) has l2 norm 5e200 (the tiny entry
    // is below rounding), and the naive sum of squares would be inf.
    let v = DVector::from_vec(vec![3e200, 4e200, 1e-200]);
    assert!(close(vector_norm(&v, 2.0).unwrap(), 5e200, 1e-15));
}

#[test]
fn overflowing_norm_is_an_error_not_inf() {
    // ||(1e308, 1e308, 1e308, 1e308)||_F = 2e308 > f64::MAX (about 1.8e308).
    let a = DMatrix::from_element(2, 2, 1e308);
    assert!(matches!(frobenius(&a), Err(Error::InvalidValue { .. })));
    // but its max norm is representable.
    assert_eq!(norm_pq(&a, f64::INFINITY, f64::INFINITY).unwrap(), 1e308);
}

#[test]
fn bad_input_is_a_typed_error() {
    let mut a = DMatrix::<f64>::identity(3, 3);
    a[(1, 2)] = f64::NAN;
    let e = frobenius(&a).unwrap_err().to_string();
    assert!(e.contains("a[1, 2]"), "{e}");
    assert!(spectral_svd(&a).is_err());
    assert!(spectral_power(&a, PowerIteration::default()).is_err());
    a[(1, 2)] = f64::INFINITY;
    assert!(norm_21(&a).is_err());
    let i = DMatrix::<f64>::identity(2, 2);
    let e = norm_pq(&i, 0.5, 1.0).unwrap_err().to_string();
    assert!(e.contains("p") && e.contains("0.5"), "{e}");
    assert!(norm_pq(&i, f64::NAN, 1.0).is_err());
    assert!(norm_pq(&i, 2.0, 0.0).is_err());
    assert!(vector_norm(&DVector::from_vec(vec![1.0]), -1.0).is_err());
    let bad = PowerIteration {
        tol: 0.0,
        max_iter: 10,
    };
    assert!(spectral_power(&i, bad).is_err());
    let bad = PowerIteration {
        tol: 1e-8,
        max_iter: 0,
    };
    assert!(spectral_power(&i, bad).is_err());
}

#[test]
fn power_matches_svd_on_adversarial_matrices() {
    let tight = PowerIteration {
        tol: 1e-13,
        max_iter: 5000,
    };
    // Rank one u v^T: ||.||_2 = ||u|| ||v|| (closed form).
    let u = DVector::from_fn(6, |i, _| (i as f64) - 2.5);
    let v = DVector::from_fn(4, |i, _| 1.0 / (1.0 + i as f64));
    let r1 = &u * v.transpose();
    let expect = u.norm() * v.norm();
    assert!(close(spectral_svd(&r1).unwrap(), expect, 1e-13));
    assert!(close(
        spectral_power(&r1, tight).unwrap().value,
        expect,
        1e-12
    ));
    // [1, -1] is orthogonal to an all-ones start; ||.||_2 = sqrt(2).
    let alt = m(1, 2, &[1.0, -1.0]);
    assert!(close(
        spectral_power(&alt, tight).unwrap().value,
        2f64.sqrt(),
        1e-12
    ));
    // Repeated top singular value: Q diag(2, 2, 2, 1, 0.5) P^T has ||.||_2 = 2 exactly
    // (the top singular space is 3-dimensional; the value still converges).
    let q = random_orthogonal(5, 1);
    let p = random_orthogonal(5, 2);
    let d = DMatrix::from_diagonal(&DVector::from_vec(vec![2.0, 2.0, 2.0, 1.0, 0.5]));
    let rep = &q * d * p.transpose();
    assert!(close(spectral_svd(&rep).unwrap(), 2.0, 1e-13));
    assert!(close(
        spectral_power(&rep, tight).unwrap().value,
        2.0,
        1e-12
    ));
    // Tiny gap 1 vs 0.999: power iteration converges slowly; with the relative-change stop its
    // error is at most about sqrt(tol)/2 (see the doc of `spectral_power`), here 5e-7.
    let d = DMatrix::from_diagonal(&DVector::from_vec(vec![1.0, 0.999, 0.5]));
    let gap = &q.view((0, 0), (3, 3)).into_owned().qr().q() * d;
    let est = spectral_power(
        &gap,
        PowerIteration {
            tol: 1e-12,
            max_iter: 100_000,
        },
    )
    .unwrap();
    assert!(est.converged);
    assert!(close(est.value, 1.0, 1e-6), "{est:?}");
    assert!(
        est.value <= 1.0 + 1e-14,
        "power iteration must approach from below: {est:?}"
    );
    // Near-zero: 1e-300 times a random matrix has 1e-300 times its norm.
    let r = random_matrix(7, 5, 3);
    let base = spectral_svd(&r).unwrap();
    assert!(close(
        spectral_svd(&(&r * 1e-300)).unwrap(),
        base * 1e-300,
        1e-13
    ));
    assert!(close(
        spectral_power(&(&r * 1e-300), tight).unwrap().value,
        base * 1e-300,
        1e-9
    ));
    // Zero matrix and empty matrix: norm 0.
    assert_eq!(spectral_svd(&DMatrix::zeros(3, 2)).unwrap(), 0.0);
    assert_eq!(spectral_svd(&DMatrix::zeros(0, 2)).unwrap(), 0.0);
    assert_eq!(
        spectral_power(&DMatrix::zeros(3, 2), tight).unwrap().value,
        0.0
    );
}

#[test]
fn power_reports_non_convergence() {
    // Gap 1 vs 0.9999 cannot converge to 1e-15 in 3 iterations.
    let d = DMatrix::from_diagonal(&DVector::from_vec(vec![1.0, 0.9999]));
    let est = spectral_power(
        &d,
        PowerIteration {
            tol: 1e-15,
            max_iter: 3,
        },
    )
    .unwrap();
    assert!(!est.converged);
    assert_eq!(est.iterations, 3);
}

#[test]
fn max_row_norm_and_batch() {
    // Rows (3, 4) and (1, 0): max l2 row norm 5. Second sample rows (0, 6): 6. So B_X = 6.
    let x1 = m(2, 2, &[3.0, 4.0, 1.0, 0.0]);
    let x2 = m(1, 2, &[0.0, 6.0]);
    assert_eq!(max_row_norm(&x1).unwrap(), 5.0);
    assert_eq!(max_row_norm_batch(&[x1.clone(), x2]).unwrap(), 6.0);
    assert!(max_row_norm_batch(&[]).is_err());
    let mut bad = x1.clone();
    bad[(1, 0)] = f64::NAN;
    let e = max_row_norm_batch(&[x1, bad]).unwrap_err().to_string();
    assert!(e.contains("sample 1") && e.contains("x[1, 0]"), "{e}");
    assert!(max_row_norm(&DMatrix::zeros(0, 3)).is_err());
}

#[test]
fn theta_norms_hand_example_and_orientation() {
    // W_Q rows q_j = (1,0), (0,1), (0,0); W_K rows k_i = (1,0), (1,0), (0,0).
    // Theta[i][j] = <k_i, q_j> = [[1,0,0],[1,0,0],[0,0,0]] (hand computation).
    // Columns: (1,1,0), 0, 0 -> ||Theta||_{2,1} = sqrt 2. Rows: 1, 1, 0 -> ||Theta^T||_{2,1} = 2.
    // Rank one: ||Theta||_2 = ||(1,1,0)|| * ||(1,0,0)|| = sqrt 2 = ||Theta||_F.
    let w_q = m(3, 2, &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    let w_k = m(3, 2, &[1.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    let t = theta(&w_q, &w_k).unwrap();
    assert_eq!(t, m(3, 3, &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]));
    // Score identity: x^T Theta z = <W_K^T x, W_Q^T z>; x = (1,1,0), z = (1,0,0) gives 2.
    let (x, z) = (
        DVector::from_vec(vec![1.0, 1.0, 0.0]),
        DVector::from_vec(vec![1.0, 0.0, 0.0]),
    );
    assert_eq!((x.transpose() * &t * &z)[0], 2.0);
    assert_eq!((w_k.transpose() * &x).dot(&(w_q.transpose() * &z)), 2.0);
    let n = theta_norms(&w_q, &w_k).unwrap();
    let r2 = 2f64.sqrt();
    assert!(close(n.two_one, r2, 1e-15));
    assert!(close(n.two_one_transposed, 2.0, 1e-15));
    assert!(close(n.spectral, r2, 1e-14));
    assert!(close(n.frobenius, r2, 1e-15));
    // Gauge invariance (docs/derivations.md §1): (c W_Q, W_K / c) gives the same Theta and the same norms.
    let c = 1e6;
    let n2 = theta_norms(&(&w_q * c), &(&w_k / c)).unwrap();
    assert!(close(n2.two_one, n.two_one, 1e-14) && close(n2.spectral, n.spectral, 1e-14));
    // Weights of 1e100 give Theta entries of 1e200: Frobenius sqrt 2 * 1e200, finite.
    let n3 = theta_norms(&(&w_q * 1e100), &(&w_k * 1e100)).unwrap();
    assert!(close(n3.frobenius, r2 * 1e200, 1e-14), "{n3:?}");
    assert!(close(n3.two_one_transposed, 2e200, 1e-14), "{n3:?}");
    // Shape mismatch is a typed error.
    assert!(matches!(
        theta_norms(&w_q, &DMatrix::zeros(3, 3)),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        theta_norms(&DMatrix::zeros(3, 2), &DMatrix::zeros(3, 3)),
        Err(Error::ShapeMismatch { .. })
    ));
}

#[test]
fn theta_norms_of_tall_factors_equal_the_dense_theta_norms() {
    // Reference: the norms of the formed Theta = W_K W_Q^T (dense SVD, column sums), against
    // the factored route theta_norms takes when r < d (docs: exact identities via thin QR).
    for (d_q, d_k, r, seed) in [(300, 300, 4, 1), (260, 400, 3, 2), (257, 257, 8, 3)] {
        let (w_q, w_k) = (
            random_matrix(d_q, r, seed),
            random_matrix(d_k, r, seed + 10),
        );
        let t = &w_k * w_q.transpose();
        let n = theta_norms(&w_q, &w_k).unwrap();
        let want = [
            norm_21(&t).unwrap(),
            norm_21(&t.transpose()).unwrap(),
            spectral_svd(&t).unwrap(),
            frobenius(&t).unwrap(),
        ];
        let got = [n.two_one, n.two_one_transposed, n.spectral, n.frobenius];
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= 1e-12 * w,
                "{d_q}x{r}, {d_k}x{r}: {g} vs {w}"
            );
        }
    }
}
