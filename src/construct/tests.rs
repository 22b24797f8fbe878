use super::*;

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
    // SPEC 4: with R = ln((T-s+1)(1-eta0)/(s eta0)), eta = (T-s+1)/(s e^R + T-s+1) = eta0.
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
        predicted_sample_size(&c.norms().unwrap(), t, 1.0, 0.1, false, 1e18).unwrap()
    };
    let (a, b) = (m(10), m(1000));
    assert!(
        a.is_some() && b.is_some() && b.unwrap() > a.unwrap(),
        "{a:?} {b:?}"
    );
}
