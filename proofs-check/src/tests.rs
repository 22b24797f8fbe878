//! Reduced-budget runs of the cheap claims, and proof that the checker can fail: deliberately
//! wrong claims must be reported as violated.

use crate::claims::{self, shattered_size};
use crate::{Budget, Claim, RATIO_TOL, search};
use attnbounds::model::Activation;
use proptest::prelude::*;

const SEED: u64 = 1;

fn holds(c: &Claim, p: &[f64]) -> bool {
    match (c.eval)(p) {
        Some((l, r)) => l <= r * (1.0 + RATIO_TOL) + 1e-300,
        None => true,
    }
}

fn cheap() -> Vec<Claim> {
    let mut v = vec![
        claims::softmax_lipschitz(1.0),
        claims::mixing(),
        claims::value_map(),
        claims::activation_lipschitz(Activation::Gelu),
        claims::lifting(),
        claims::projection(),
        claims::composed_error(1.0),
        claims::lagrange_split(),
        claims::layer_lipschitz(1.0),
        claims::range(),
    ];
    v.extend(claims::norm_inequalities());
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn cheap_claims_hold_on_random_instances(seed in any::<u64>(), scale in -3.0f64..3.0) {
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(seed);
        for c in cheap() {
            let p: Vec<f64> = (0..c.dim)
                .map(|_| scale.exp() * (2.0 * rand::RngExt::random::<f64>(&mut rng) - 1.0))
                .collect();
            prop_assert!(holds(&c, &p), "{} violated at {:?}", c.id, p);
        }
    }
}

#[test]
fn cheap_claims_survive_the_quick_search() {
    for c in cheap() {
        let o = search(&c, Budget::QUICK, SEED);
        assert!(!o.violated(), "{}: {:?}", c.id, o);
        assert!(
            o.trials > 100,
            "{} evaluated only {} instances",
            c.id,
            o.trials
        );
    }
}

#[test]
fn softmax_kappa_one_is_tight_and_paper_two_is_loose() {
    // Tightness from the derivation (I5): uniform p on two positions, delta = (1, -1) gives 1.
    let o = search(&claims::softmax_lipschitz(1.0), Budget::QUICK, SEED);
    assert!(o.worst_ratio > 0.99 && !o.violated(), "{o:?}");
    let o = search(&claims::softmax_lipschitz(2.0), Budget::QUICK, SEED);
    assert!(
        o.worst_ratio > 0.495 && o.worst_ratio <= 0.5 + 1e-9,
        "{o:?}"
    );
}

#[test]
fn wrong_softmax_constant_is_flagged() {
    let o = search(&claims::softmax_lipschitz(0.5), Budget::QUICK, SEED);
    assert!(o.violated() && o.worst_ratio > 1.9, "{o:?}");
}

#[test]
fn wrong_composed_error_constant_is_flagged() {
    // kappa = 0.25 under-counts the score stage by 4x: the ascent must find it.
    let o = search(&claims::composed_error(0.25), Budget::QUICK, SEED);
    assert!(o.violated(), "{o:?}");
}

#[test]
fn wrong_layer_constant_is_flagged() {
    // kappa = 0 drops the attention-score term of rho (I17).
    let o = search(&claims::layer_lipschitz(1e-9), Budget::QUICK, SEED);
    assert!(o.violated(), "{o:?}");
}

#[test]
fn wrong_covering_bound_is_flagged_by_the_packing() {
    // A "bound" claiming N_inf(eps) <= 2 at every eps must be caught by the greedy packing.
    let c = claims::zhang_packing("wrong", 100, |_, _, _, _| Some(2f64.ln()));
    let o = search(&c, Budget::QUICK.scaled(20), SEED);
    assert!(o.violated(), "{o:?}");
}

#[test]
fn wrong_norm_inequality_is_flagged() {
    // ||A||_F <= ||A||_2 is false for every matrix of rank >= 2.
    let c = crate::claims::norm_inequalities().remove(0);
    let reversed = Claim {
        eval: Box::new(move |p| (c.eval)(p).map(|(l, r)| (r, l))),
        id: "reversed".into(),
        section: String::new(),
        statement: String::new(),
        dim: c.dim,
        cost: 1,
        seeds: Vec::new(),
        mutant: None,
        note: String::new(),
    };
    assert!(search(&reversed, Budget::QUICK, SEED).violated());
}

#[test]
fn lagrange_split_is_found_by_the_ascent() {
    // (I14) is an equality at the Lagrange split, so the search must approach ratio 1.
    let o = search(&claims::lagrange_split(), Budget::QUICK, SEED);
    assert!(o.worst_ratio > 0.999 && !o.violated(), "{o:?}");
}

#[test]
fn shattered_sets_by_hand() {
    // T = 8, s = 2: blocks of 4 positions, floor(log2 4) = 2 points per block -> 4.
    assert_eq!(shattered_size(8, 2), 4);
    // T = 12, s = 3: blocks of 4 -> 2 per block -> 6.
    assert_eq!(shattered_size(12, 3), 6);
    // T = 7, s = 1: one block of 7 -> floor(log2 7) = 2.
    assert_eq!(shattered_size(7, 1), 2);
}

#[test]
fn deterministic_claims_hold() {
    for c in [claims::vc_lower()]
        .into_iter()
        .chain(claims::post_hoc_radius())
    {
        let o = search(
            &c,
            Budget {
                random: 1,
                restarts: 0,
                steps: 0,
            },
            SEED,
        );
        assert!(!o.violated(), "{}: {o:?}", c.id);
    }
}

#[test]
fn wrong_peeling_constant_is_flagged() {
    // (I18) over two layers with rho_l missing its score term (kappa -> 0).
    let o = search(&claims::peeling(1e-9), Budget::QUICK, SEED);
    assert!(o.violated(), "{o:?}");
}

/// Inequality numbers `I1..=I36` of docs/derivations.md.
fn numbers() -> Vec<String> {
    (1..=36).map(|i| format!("I{i}")).collect()
}

#[test]
fn tightened_claims_hold_and_their_mutants_are_caught() {
    // docs/derivations.md section 12: every claim holds under the quick search and its
    // deliberately wrong constant is caught by the same search.
    for c in claims::tightened_claims(200) {
        let o = attnbounds::check::search::run_claim(&c, Budget::QUICK, SEED);
        assert!(!o.outcome.violated(), "{}: {:?}", c.id, o.outcome);
        let (stmt, m) = o.mutant.expect("every section-12 claim has a mutant");
        assert!(m.violated(), "{}: mutant not caught: {stmt}: {m:?}", c.id);
        eprintln!(
            "{}: worst {:.4}, mutant worst {:.4}",
            c.id, o.outcome.worst_ratio, m.worst_ratio
        );
    }
}

#[test]
fn quick_run_holds_catches_every_mutant_and_accounts_for_every_number() {
    let report = crate::run_all(true, crate::DEFAULT_SEED);
    assert!(report.violations().is_empty(), "{}", report.table());
    for r in &report.rows {
        if let Some(m) = &r.mutant {
            assert!(m.caught, "{}: mutant missed: {m:?}", r.id);
        }
        assert!(!r.note.is_empty(), "{} has no sensitivity note", r.id);
    }
    // Every number is checked (a row whose id is the number or starts with it and a letter or
    // '-') or listed as unchecked with a reason.
    for n in numbers() {
        let checked = report.rows.iter().any(|r| {
            r.id == n
                || r.id
                    .strip_prefix(&n)
                    .is_some_and(|rest| rest.starts_with(|c: char| !c.is_ascii_digit()))
        });
        let listed = claims::UNCHECKED.iter().any(|(id, _)| *id == n);
        assert!(checked || listed, "{n} neither checked nor listed");
    }
    let table = report.table();
    for col in ["holds?", "worst lhs/rhs", "sensitivity"] {
        assert!(table.contains(col), "{col} missing from the table");
    }
}

#[test]
fn tightness_figure_has_every_claim_unclipped() {
    // A report with an infinite and a zero ratio besides ordinary ones: all must be drawn
    // (write_outputs fails on any figure warning) and named in the CSV.
    let mut report = crate::run_claims(
        &[claims::lifting(), claims::mixing()],
        Budget {
            random: 50,
            restarts: 1,
            steps: 50,
        },
        SEED,
        true,
    );
    let mut inf = report.rows[0].clone();
    inf.id = "Iinf".into();
    inf.outcome.worst_ratio = f64::INFINITY;
    let mut zero = report.rows[1].clone();
    zero.id = "Izero".into();
    zero.outcome.worst_ratio = 0.0;
    report.rows.extend([inf, zero]);
    let dir = tempfile::tempdir().unwrap();
    crate::write_outputs(&report, dir.path()).unwrap();
    let csv = std::fs::read_to_string(dir.path().join("proofs_check_tightness.csv")).unwrap();
    for r in &report.rows {
        assert!(csv.contains(&r.id), "{} missing from the CSV", r.id);
    }
    assert!(
        csv.contains("VIOLATED"),
        "the infinite ratio must be flagged"
    );
}
