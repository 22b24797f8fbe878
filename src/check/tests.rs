//! The checkers pass on the library's own bounds and fail, with a replayable case, on wrong ones.

use super::*;
use crate::bounds::{self, BoundParams, Setting};
use proptest::strategy::Strategy;
use proptest::test_runner::TestRunner;

fn paper() -> Bound {
    let params = BoundParams::default();
    Bound::log_covering("paper shape, c0 = 1", move |p| {
        bounds::paper_log_covering(&p.setting, &p.radii, &params, p.eps)
    })
}

fn explicit() -> Bound {
    let params = BoundParams::default();
    Bound::log_covering("explicit", move |p| {
        bounds::explicit_log_covering(&p.setting, &p.radii, &params, p.eps)
    })
}

fn explicit_rademacher() -> Bound {
    let params = BoundParams::default();
    Bound::rademacher("explicit Rademacher", move |p| {
        bounds::explicit_rademacher(&p.setting, &p.radii, &params)
    })
}

fn kit() -> Kit {
    Kit::default().with_cases(24)
}

#[test]
fn library_bounds_pass_every_checker() {
    let k = kit();
    for b in [paper(), explicit()] {
        k.monotone(&b).unwrap();
        k.qk_invariance(&b).unwrap();
        k.domain(&b).unwrap();
        k.above_estimates(&b).unwrap();
    }
    let r = explicit_rademacher();
    k.monotone(&r).unwrap();
    k.domain(&r).unwrap();
    k.above_estimates(&r).unwrap();
    // The explicit bound is rigorous, so it is above the paper's shape? No: only above the
    // packing; against a stated lower bound we use ln 2 for eps below the range on m >= 1
    // (two members at distance 2 range exist: f and -f), see `stated_lower_bound`.
    k.above_lower_bound(&explicit(), stated_lower_bound)
        .unwrap();
}

/// A rigorous lower bound on `ln N_inf(F_head, eps, S)` for a sample chosen adversarially:
/// the class contains `X -> w v^T xbar(X)` (Theta = 0, W_V = v e_1^T, identity sigma) with
/// `|w| ||v|| <= R = b_w min(b_v, b_v21) b_x`; on `n <= min(m, d)` samples whose rows all equal
/// `b_x e_i` these are an l2 ball of radius R in R^n, which holds the 2^n cube vertices
/// `+-R/sqrt(n)`, pairwise `2R/sqrt(n)` apart in the max metric. So `ln N >= n ln 2` for the
/// largest `n <= min(m, d)` with `n < (R/eps)^2`.
fn stated_lower_bound(p: &Point) -> f64 {
    let r = p.radii.b_w * p.radii.b_v.min(p.radii.b_v21) * p.radii.b_x;
    let ratio2 = (r / p.eps).powi(2);
    let n_max = p.setting.num_samples.min(p.setting.width) as f64;
    let n = (ratio2.ceil() - 1.0).clamp(0.0, n_max);
    n * std::f64::consts::LN_2
}

#[test]
fn monotone_catches_a_decreasing_bound_and_the_case_replays() {
    let wrong = Bound::log_covering("1/b_w", |p| Ok(1.0 / p.radii.b_w));
    let f = kit().monotone(&wrong).unwrap_err();
    assert_eq!(f.check, "monotone");
    assert!(f.reason.contains("decreases in BW"), "{f}");
    assert!(
        f.test_case
            .contains("check::monotone_at(&your_bound(), &Point {"),
        "{f}"
    );
    assert!(f.to_string().contains("copy-pasteable test case"), "{f}");
    assert!(
        f.test_case.contains("fn bound_1_b_w_monotone_regression()"),
        "{f}"
    );
}

#[test]
fn qk_invariance_catches_a_bound_on_the_factors() {
    // (||W_Q||_F^2 + ||W_K||_F^2) / 2 >= ||W_Q||_F ||W_K||_F >= ||Theta||_F is a valid radius,
    // but it changes under (c W_Q, W_K / c). (The product ||W_Q||_F ||W_K||_F would not.)
    let wrong = paper().with_measure(|head, b_x| {
        let mut r = strategy::measured_radii(head, b_x)?;
        let q = crate::norms::frobenius(&head.w_q.to_dmatrix())?;
        let k = crate::norms::frobenius(&head.w_k.to_dmatrix())?;
        r.b_qk = (q * q + k * k) / 2.0;
        Ok(r)
    });
    let f = kit().qk_invariance(&wrong).unwrap_err();
    assert!(f.reason.contains("not invariant"), "{f}");
}

#[test]
fn domain_catches_missing_validation_and_non_finite_values() {
    let unchecked = Bound::rademacher("unchecked", |p| Ok(p.radii.b_x.abs() + 1.0));
    let f = kit().domain(&unchecked).unwrap_err();
    assert!(
        f.reason.contains("expected Err(Error::InvalidValue)"),
        "{f}"
    );
    // Overflows at the wide extremes: b_x^30 is inf at b_x = 1e12.
    let overflow = Bound::rademacher("b_x^30", |p| {
        p.radii.validate()?;
        Ok(p.radii.b_x.powi(30))
    });
    let f = kit().domain(&overflow).unwrap_err();
    assert!(f.reason.contains("not finite"), "{f}");
    // A panic is a failure too (proptest catches it), not a crash of the test binary.
    let panics = Bound::rademacher("panics", |p| {
        let r = p.radii.to_array();
        assert!(
            r.iter().all(|x| x.is_finite() && *x > 0.0),
            "radii must be positive"
        );
        p.radii.validate()?;
        p.setting.validate()?;
        Ok(1.0)
    });
    let f = kit().domain(&panics).unwrap_err();
    assert!(f.reason.contains("panicked"), "{f}");
}

#[test]
fn above_estimates_catches_bounds_below_the_ascent_and_the_packing() {
    let tiny = Bound::rademacher("1e-6", |_| Ok(1e-6));
    let f = kit().above_estimates(&tiny).unwrap_err();
    assert!(f.reason.contains("projected-ascent Rademacher"), "{f}");
    assert!(f.test_case.contains("EstimateBudget::DEFAULT"), "{f}");
    // ln N(eps) <= 0 says one centre covers the class, false for eps below half the range.
    let zero = Bound::log_covering("0", |_| Ok(0.0));
    let f = kit().above_estimates(&zero).unwrap_err();
    assert!(f.reason.contains("greedy packing"), "{f}");
}

#[test]
fn above_lower_bound_catches_the_paper_shape_at_m_t_1() {
    // At m = T = 1 the factor ln(mT) is 0, so the paper shape says ln N = 0, below the
    // rigorous ln 2 of `stated_lower_bound` (any eps below the range R needs two centres).
    let small = Kit {
        ranges: Ranges {
            radius: (0.5, 2.0),
            eps: (1e-3, 0.1),
            num_samples: (1, 4),
            context_len: (1, 4),
            ..Ranges::wide()
        },
        ..Kit::default()
    };
    let f = small
        .above_lower_bound(&paper(), stated_lower_bound)
        .unwrap_err();
    assert!(f.reason.contains("stated rigorous lower bound"), "{f}");
    assert!(
        f.test_case.contains("num_samples: 1, context_len: 1"),
        "{f}"
    );
}

#[test]
fn printed_points_are_rust_literals() {
    // Written by hand: the Debug output is the struct expression a test case pastes.
    let p = Point {
        setting: Setting {
            num_samples: 2,
            context_len: 3,
            width: 4,
            value_dim: 1,
            heads: 1,
            layers: 1,
        },
        radii: crate::bounds::HeadRadii {
            b_x: 1e-12,
            b_qk: 1e12,
            b_v: 0.5,
            b_v21: 2.0,
            b_w: 1.0,
        },
        eps: 0.1,
        seed: 9,
    };
    assert_eq!(
        format!("{p:?}"),
        "Point { setting: Setting { num_samples: 2, context_len: 3, width: 4, value_dim: 1, \
         heads: 1, layers: 1 }, radii: HeadRadii { b_x: 1e-12, b_qk: 1000000000000.0, b_v: 0.5, \
         b_v21: 2.0, b_w: 1.0 }, eps: 0.1, seed: 9 }"
    );
    assert_eq!(props::f64_literal(f64::NAN), "f64::NAN");
}

#[test]
fn failures_are_written_to_the_regression_file_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let path: &'static str = Box::leak(
        dir.path()
            .join("monotone.txt")
            .display()
            .to_string()
            .into_boxed_str(),
    );
    let mut k = kit();
    k.config.failure_persistence = Some(Box::new(
        proptest::test_runner::FileFailurePersistence::Direct(path),
    ));
    let wrong = Bound::log_covering("1/b_w", |p| Ok(1.0 / p.radii.b_w));
    let first = k.monotone(&wrong).unwrap_err();
    let saved = std::fs::read_to_string(path).unwrap();
    assert!(saved.contains("cc "), "{saved}");
    // The saved seed is replayed first, so the same minimal case comes back.
    let second = k.monotone(&wrong).unwrap_err();
    assert_eq!(first.test_case, second.test_case);
}

#[test]
fn search_reports_violations_and_missed_mutants() {
    let budget = Budget {
        random: 200,
        restarts: 2,
        steps: 200,
    };
    let k = Kit {
        search_budget: budget,
        ..Kit::default()
    };
    // (x - 1)^2 >= 0 as 2x + 9 <= x^2 + 10: holds, tight at x = 1.
    let holds = || {
        Claim::new("square", "2x + 9 <= x^2 + 10", 1, |p| {
            Some((2.0 * p[0] + 9.0, p[0] * p[0] + 10.0))
        })
    };
    let wrong = Claim::new("square-wrong", "2x + 9.1 <= x^2 + 10", 1, |p| {
        Some((2.0 * p[0] + 9.1, p[0] * p[0] + 10.0))
    });
    let f = k.search(&wrong).unwrap_err();
    assert!(f.reason.contains("claim VIOLATED"), "{f}");
    assert!(
        f.test_case.contains("check::claim_at(&your_claim(), &["),
        "{f}"
    );
    // A mutant that is itself true cannot be caught: the report says so.
    let harmless = Claim::new("square-looser", "2x + 8 <= x^2 + 10", 1, |p| {
        Some((2.0 * p[0] + 8.0, p[0] * p[0] + 10.0))
    });
    let f = k.search(&holds().with_mutant(harmless)).unwrap_err();
    assert!(f.reason.contains("mutant MISSED"), "{f}");
    let wrong_mutant = Claim::new("m", "2x + 9.1 <= x^2 + 10", 1, |p| {
        Some((2.0 * p[0] + 9.1, p[0] * p[0] + 10.0))
    });
    assert!(k.search(&holds().with_mutant(wrong_mutant)).is_ok());
}

#[test]
fn checkers_evaluate_the_bound_on_every_case() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = |calls: &Arc<AtomicUsize>| {
        let c = Arc::clone(calls);
        let params = BoundParams::default();
        Bound::log_covering("counted", move |p| {
            c.fetch_add(1, Ordering::Relaxed);
            bounds::paper_log_covering(&p.setting, &p.radii, &params, p.eps)
        })
    };
    let k = Kit::default(); // 64 cases
    k.monotone(&counted(&calls)).unwrap();
    assert_eq!(
        calls.swap(0, Ordering::Relaxed),
        2 * 64,
        "two points per case"
    );
    k.qk_invariance(&counted(&calls)).unwrap();
    assert_eq!(
        calls.swap(0, Ordering::Relaxed),
        2 * 64,
        "a head and its rescaling"
    );
    k.domain(&counted(&calls)).unwrap();
    assert_eq!(
        calls.swap(0, Ordering::Relaxed),
        64 + 64,
        "inside and outside"
    );
    k.above_estimates(&counted(&calls)).unwrap();
    assert_eq!(
        calls.swap(0, Ordering::Relaxed),
        16,
        "a quarter of the cases"
    );
}

#[test]
fn invalid_kit_configuration_is_a_typed_failure_not_a_panic() {
    let k = Kit {
        ranges: Ranges {
            context_len: (10, 2),
            ..Ranges::wide()
        },
        ..Kit::default()
    };
    let f = k.monotone(&paper()).unwrap_err();
    assert!(f.reason.contains("ranges.context_len.1"), "{f}");
    let k = Kit {
        estimates: EstimateBudget {
            draws: 1,
            ..EstimateBudget::DEFAULT
        },
        ..Kit::default()
    };
    let f = k.above_estimates(&paper()).unwrap_err();
    assert!(f.reason.contains("estimates.draws"), "{f}");
}

#[test]
fn strategies_stay_inside_their_radii() {
    use crate::bounds::LayerRadii;
    use crate::model::{Activation, TransformerConfig};
    use proptest::strategy::ValueTree;
    let mut runner = TestRunner::deterministic();
    let tol = 1.0 + 1e-9;
    let radii = crate::bounds::HeadRadii {
        b_x: 1.0,
        b_qk: 0.3,
        b_v: 2.0,
        b_v21: 1.5,
        b_w: 0.7,
    };
    let heads = strategy::heads(radii, 5, 3, Activation::Relu);
    let layer = LayerRadii {
        b_qk: 0.5,
        b_v: 0.8,
        b_v21: 0.9,
        b_c: 0.6,
        b_c21: 1.2,
    };
    let cfg = TransformerConfig {
        context_len: 4,
        vocab: 2,
        width: 6,
        heads: 2,
        head_dim: 3,
        mlp_width: 0,
        layers: 3,
        attn_activation: Activation::Relu,
        mlp_activation: Activation::Relu,
        init_scale: 50.0,
    };
    let blocks = strategy::one_block(layer, 0.4, cfg);
    let rows = strategy::unit_rows(4, 3);
    let frob = |m: &crate::tensor::Mat<f64>| crate::norms::frobenius(&m.to_dmatrix()).unwrap();
    for _ in 0..16 {
        let h = heads.new_tree(&mut runner).unwrap().current();
        let r = strategy::measured_radii(&h, 1.0).unwrap();
        assert!(
            r.b_qk <= 0.3 * tol && r.b_v <= 2.0 * tol && r.b_v21 <= 1.5 * tol,
            "{r:?}"
        );
        assert!(r.b_w <= 0.7 * tol, "{r:?}");
        let model = blocks.new_tree(&mut runner).unwrap().current();
        assert_eq!(model.blocks.len(), 1);
        for hp in &model.blocks[0].heads {
            let theta = crate::norms::theta(&hp.w_q.to_dmatrix(), &hp.w_k.to_dmatrix()).unwrap();
            assert!(crate::norms::frobenius(&theta).unwrap() <= 0.5 * tol);
            assert!(crate::norms::spectral_svd(&hp.w_v.to_dmatrix()).unwrap() <= 0.8 * tol);
            assert!(crate::norms::norm_21(&hp.w_v.to_dmatrix()).unwrap() <= 0.9 * tol);
            assert!(frob(&hp.w_c) <= 0.6 * tol);
            assert!(crate::norms::norm_21(&hp.w_c.to_dmatrix()).unwrap() <= 1.2 * tol);
        }
        assert!(model.w.iter().map(|x| x * x).sum::<f64>().sqrt() <= 0.4 * tol);
        let u = rows.new_tree(&mut runner).unwrap().current();
        for i in 0..4 {
            let n = u.row(i).iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!((n - 1.0).abs() < 1e-12, "row {i} has norm {n}");
        }
    }
    let samples = strategy::bit_samples((3, 5), (2, 4), 6, 2.0);
    let s = samples.new_tree(&mut runner).unwrap().current();
    assert!((3..=5).contains(&s.context_len()) && (2..=4).contains(&s.num_samples()));
    assert!(s.b_x <= 2.0 * tol);
}
