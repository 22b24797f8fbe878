use super::*;
use crate::bounds::BoundId;

fn spec(target: Target, s: usize, t: usize, eta0: f64, code: Code) -> Spec {
    Spec {
        target,
        sparsity: s,
        context_len: t,
        eta0,
        code,
        support: None,
    }
}

#[test]
fn one_hot_mass_outside_is_eta0_exactly() {
    // docs/constructions.md: with R = ln((T-s+1)(1-eta0)/(s eta0)), eta = (T-s+1)/(s e^R + T-s+1) = eta0.
    let c = build(&spec(Target::And, 3, 50, 0.1, Code::OneHot)).unwrap();
    assert!((c.eta - 0.1).abs() < 1e-12, "eta = {}", c.eta);
    let r = (48.0 * 0.9 / (3.0 * 0.1f64)).ln();
    assert!((c.score_scale - r).abs() < 1e-12);
}

#[test]
fn every_target_is_exact_on_all_inputs_and_forward_agrees() {
    let targets = [
        Target::And,
        Target::Or,
        Target::Parity,
        Target::Majority,
        Target::TruthTable(vec![true, false, false, true, true, true, false, true]),
    ];
    for code in [
        Code::OneHot,
        Code::Random {
            dim: Some(24),
            seed: 3,
        },
    ] {
        for tg in &targets {
            let mut sp = spec(tg.clone(), 3, 10, 0.02, code);
            sp.support = Some(vec![1, 4, 8]);
            let c = build(&sp).unwrap();
            let v = c.verify_exhaustive(1 << 10).unwrap();
            // The ramps sit in the gaps of S, so f = +-1 exactly: margin 1 up to rounding.
            assert!(
                (v.reduced_margin - 1.0).abs() < 1e-9,
                "{tg:?} {code:?} {v:?}"
            );
            assert!((v.certified_margin - 1.0).abs() < 1e-9, "{v:?}");
            assert_eq!(v.forward_inputs, 1024);
            assert!(v.forward_vs_reduced < 1e-9, "{v:?}");
        }
    }
}

#[test]
fn random_codes_are_those_of_the_embedding() {
    let c = build(&spec(
        Target::Parity,
        2,
        9,
        0.05,
        Code::Random {
            dim: Some(16),
            seed: 7,
        },
    ))
    .unwrap();
    let e = c.embedding().unwrap();
    let p = c.codes.as_ref().unwrap();
    for t in 0..9 {
        assert_eq!(&e.pos.row(t)[2..18], p.row(t));
    }
}

#[test]
fn norms_match_dense_norms_and_closed_forms() {
    let c = build(&spec(Target::And, 3, 20, 0.05, Code::OneHot)).unwrap();
    let n = c.norms().unwrap();
    // Dense reference: the full d x d Theta and d x k W_V through `norms`.
    let to = |m: &Mat<f64>| DMatrix::from_fn(m.rows, m.cols, |i, j| m.data[i * m.cols + j]);
    let tn = crate::norms::theta_norms(&to(&c.head.w_q), &to(&c.head.w_k)).unwrap();
    assert!((tn.frobenius - n.theta_frobenius).abs() < 1e-12);
    assert!((tn.two_one - n.theta_21).abs() < 1e-12);
    assert!((crate::norms::spectral_svd(&to(&c.head.w_v)).unwrap() - n.w_v_spectral).abs() < 1e-9);
    // Closed form (docs/constructions.md): ||Theta||_F = R sqrt(s); AND has one boundary so
    // w = (-1, 2, -2), ||w|| = 3; B_X = sqrt(2).
    assert!((n.theta_frobenius - c.score_scale * 3f64.sqrt()).abs() < 1e-12);
    assert!((n.w_2 - 3.0).abs() < 1e-12);
    assert!((n.b_x - 2f64.sqrt()).abs() < 1e-15);
    assert_eq!(n.value_dim, 3);
}

#[test]
fn bad_input_is_a_named_error() {
    let msg = |sp: Spec| build(&sp).unwrap_err().to_string();
    assert!(msg(spec(Target::And, 0, 5, 0.1, Code::OneHot)).contains("sparsity"));
    assert!(msg(spec(Target::And, 6, 5, 0.1, Code::OneHot)).contains("sparsity"));
    assert!(msg(spec(Target::And, 2, 5, 1.0, Code::OneHot)).contains("eta0"));
    assert!(msg(spec(Target::And, 2, 5, 0.0, Code::OneHot)).contains("eta0"));
    assert!(
        msg(spec(
            Target::TruthTable(vec![true; 3]),
            2,
            5,
            0.1,
            Code::OneHot
        ))
        .contains("truth table")
    );
    // eta0 = 0.5 with s = 3: leakage up to s eta0/(1-eta0) = 3 counts, levels overlap.
    assert!(msg(spec(Target::Parity, 3, 9, 0.5, Code::OneHot)).contains("eta0"));
}

#[test]
fn sample_size_is_monotone_in_context_len() {
    // The predicted m must grow with T at fixed s (R grows like ln T). The explicit gap at
    // these norms is still 0.155 at m = 1e15 (measured), hence the large cap.
    let m = |t: usize| {
        let c = build(&spec(Target::And, 3, t, 0.05, Code::OneHot)).unwrap();
        let p = crate::construct::standard::bound_params(3);
        predicted_sample_size(&c.norms().unwrap(), t, BoundId::Explicit, &p, 0.1, 1 << 60)
            .unwrap()
            .reached()
    };
    let (a, b) = (m(10), m(1000));
    assert!(
        a.is_some() && b.is_some() && b.unwrap() > a.unwrap(),
        "{a:?} {b:?}"
    );
}

#[test]
fn binomial_half_cdf_is_the_closed_form_and_samples_have_its_moments() {
    // Binomial(4, 1/2): P(X <= k) = (1, 5, 11, 15, 16) / 16 (Pascal's row 1 4 6 4 1).
    let b = verify::BinomialHalf::new(4);
    for (c, want) in b.cdf().iter().zip([1.0, 5.0, 11.0, 15.0, 16.0]) {
        assert!((c - want / 16.0).abs() < 1e-15, "{:?}", b.cdf());
    }
    assert_eq!(verify::BinomialHalf::new(0).cdf(), &[1.0]);
    // Binomial(1000, 1/2): mean 500, variance 250; over 20000 draws the sample mean has
    // standard error sqrt(250 / 20000) = 0.112, so 0.6 is more than 5 standard errors.
    let b = verify::BinomialHalf::new(1000);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let xs: Vec<f64> = (0..20_000).map(|_| b.sample(&mut rng) as f64).collect();
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
    assert!((mean - 500.0).abs() < 0.6, "mean {mean}");
    // Variance of the sample variance ~ 2 sigma^4 / n: standard error 250 sqrt(2/20000) = 2.5.
    assert!((var - 250.0).abs() < 15.0, "variance {var}");
}

#[test]
fn verify_random_counts_at_large_context_len_and_agrees_with_bitwise_sums() {
    let c = build(&spec(Target::And, 3, 20_000, 0.05, Code::OneHot)).unwrap();
    let v = c.verify_random(20_000, 0, 3).unwrap();
    assert!(!v.exhaustive);
    assert_eq!(v.full_sum_inputs, verify::FULL_SUM_INPUTS);
    // Outputs are exactly +-1 (margin 1); counting and summing differ only by rounding.
    assert!(
        v.reduced_margin > 0.999 && v.certified_margin > 0.999,
        "{v:?}"
    );
    assert!(v.counted_vs_full < 1e-9, "{v:?}");
    // Random codes: weights differ outside I, so S is summed through byte tables instead.
    let code = Code::Random { dim: None, seed: 5 };
    let c = build(&spec(Target::Parity, 2, 300, 0.05, code)).unwrap();
    let v = c.verify_random(5_000, 4, 3).unwrap();
    assert!(
        v.reduced_margin > 0.999 && v.forward_margin > 0.999,
        "{v:?}"
    );
    assert!(v.forward_vs_reduced < 1e-9, "{v:?}");
}

#[test]
fn verify_random_catches_a_wrong_head() {
    // The AND head outputs w_0 = -1 below the step and w_0 + 2 = +1 above it (one ramp pair).
    // Flipping the constant unit's sign gives +1 / +3: every label -1 input has margin -1.
    let mut c = build(&spec(Target::And, 3, 5_000, 0.05, Code::OneHot)).unwrap();
    c.head.w[0] = -c.head.w[0];
    let v = c.verify_random(2_000, 0, 1).unwrap();
    assert!(v.reduced_margin < -0.5, "{v:?}");
}
