//! The example's suite: the correct bound passes every checker, the wrong one fails with a
//! report, and that failure is expected and asserted (so the suite passes).
//!
//! `cargo test --manifest-path examples/check-your-bound/Cargo.toml -- --nocapture
//! --test-threads=1` prints each checker's time at its default budget and the report of the
//! wrong bound.

use attnbounds::check::{Kit, Ranges, claim_at, run_claim};
use check_your_bound::{
    C0, explicit_rademacher, maurey, maurey_without_log, paper_shape, two_centres,
};
use std::time::Instant;

/// The default kit, with regression files beside this file (`tests/check_your_bound.proptest-regressions`).
fn kit() -> Kit {
    Kit::persisted(file!())
}

/// Runs a checker and prints how long it took (informational, never asserted).
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    println!("{what}: {:.3} s", start.elapsed().as_secs_f64());
    out
}

#[test]
fn paper_shape_is_monotone() {
    timed("monotone (64 cases)", || kit().monotone(&paper_shape(C0))).unwrap();
}

#[test]
fn paper_shape_is_invariant_under_query_key_rescaling() {
    timed("qk_invariance (64 cases)", || {
        kit().qk_invariance(&paper_shape(C0))
    })
    .unwrap();
}

#[test]
fn paper_shape_is_finite_and_validates_its_domain() {
    timed("domain (64 + 64 cases)", || kit().domain(&paper_shape(C0))).unwrap();
}

#[test]
fn paper_shape_is_above_the_empirical_packings() {
    timed("above_estimates (16 cases)", || {
        kit().above_estimates(&paper_shape(C0))
    })
    .unwrap();
}

#[test]
fn explicit_rademacher_is_above_the_projected_ascent() {
    timed("above_estimates, Rademacher (16 cases)", || {
        kit().above_estimates(&explicit_rademacher())
    })
    .unwrap();
}

#[test]
fn paper_shape_is_above_the_two_centres_lower_bound_for_m_t_at_least_2() {
    // The shape's factor ln(m T) is 0 at m = T = 1, where it would claim ln N = 0 < ln 2: it is
    // only checked (and only meant) for m T >= 2, so the ranges start at m = 2.
    let kit = Kit {
        ranges: Ranges {
            num_samples: (2, 1_000_000_000),
            ..Ranges::wide()
        },
        ..kit()
    };
    timed("above_lower_bound (64 cases)", || {
        kit.above_lower_bound(&paper_shape(C0), two_centres)
    })
    .unwrap();
}

/// A finding, expected and asserted: over the full range of `m` the kit finds `m = T = 1`,
/// where `ln(m T) = 0` makes the shape claim `ln N = 0 < ln 2`.
#[test]
fn paper_shape_at_m_t_1_is_below_the_two_centres_lower_bound() {
    // Kit::default(): an expected failure must not write a regression file into the checkout.
    let failure = Kit::default()
        .above_lower_bound(&paper_shape(C0), two_centres)
        .unwrap_err();
    println!("{failure}");
    assert!(
        failure.reason.contains("stated rigorous lower bound"),
        "{failure}"
    );
    assert!(
        failure
            .test_case
            .contains("num_samples: 1, context_len: 1,"),
        "{failure}"
    );
}

#[test]
fn maurey_holds_and_its_missing_log_mutant_is_caught() {
    let run = timed("search (Budget::QUICK, claim + mutant)", || {
        kit().search(&maurey())
    });
    let passed = run.unwrap();
    assert!(passed.cases > 1000, "{passed:?}");
}

/// The wrong bound: expected to fail. Remove the `should_panic` line and this test fails,
/// printing the report.
#[test]
#[should_panic(expected = "claim VIOLATED: ln M(2 eps) <= ceil(B^2 X^2 / eps^2)")]
fn maurey_without_its_log_factor_fails() {
    Kit::default().search(&maurey_without_log()).unwrap();
}

#[test]
fn the_report_for_the_missing_log_factor_names_a_replayable_instance() {
    let failure = Kit::default().search(&maurey_without_log()).unwrap_err();
    println!("{failure}");
    assert_eq!(failure.check, "search");
    assert!(failure.reason.contains("worst lhs/rhs"), "{failure}");
    assert!(
        failure
            .test_case
            .contains("check::claim_at(&your_claim(), &["),
        "{failure}"
    );
    // The printed instance replays: claim_at fails at the worst parameters, and the correct
    // lemma holds there.
    let kit = Kit::default();
    let worst = run_claim(&maurey_without_log(), kit.search_budget, kit.search_seed)
        .outcome
        .worst_params;
    assert!(failure.reason.contains(&format!("{worst:?}")), "{failure}");
    assert!(claim_at(&maurey_without_log(), &worst).is_err());
    assert!(claim_at(&maurey(), &worst).is_ok());
}

/// The claim the pasted regression test below replays.
fn your_claim() -> attnbounds::check::Claim {
    maurey_without_log()
}

// Pasted verbatim from the report above (only `should_panic` added, since the claim is wrong):
// the printed test case compiles and replays the violation.
#[test]
#[should_panic(expected = "maurey-without-log VIOLATED")]
fn maurey_without_log_search_regression() {
    #[allow(unused_imports)]
    use attnbounds::bounds::{HeadRadii, Setting};
    #[allow(unused_imports)]
    use attnbounds::check::{self, Axis, EstimateBudget, Field, Point};
    // `your_claim()` returns the `Claim` named "maurey-without-log".
    check::claim_at(
        &your_claim(),
        &[
            -2.3170421304376023,
            0.8844553380052543,
            0.44488339288711287,
            3.4723563246727243,
        ],
    )
    .unwrap();
}
