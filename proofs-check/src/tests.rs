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
        claims::composed_error_l2(1.0),
        claims::deep_l2_peeling(1.0),
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

#[test]
fn deep_l2_peeling_holds_where_transposed_scores_broke_it() {
    // The full-budget search (seed 2022) found ratio 251 here while the claim's mixed rows used
    // the scores y_t^T Theta y_s instead of the model's y_s^T Theta y_t (Theta = W_K W_Q^T, not
    // symmetric here): the claim must agree with model::Transformer's attention.
    let p = [
        -2.0211045641153977,
        -1.2245019524830991,
        0.15481533194509678,
        0.8576302720678863,
        -1.1735508160108379,
        -1.1444144066176851,
        0.3542290507000758,
        -1.3310775032410076,
        -0.5843168442805142,
        -1.4451580157586075,
        -0.10386373381137869,
        0.06453857641850655,
        -0.3622859420329472,
        -0.7090589885669975,
        -0.6932798359029242,
        0.6151041042058719,
        0.6028974085372162,
        -0.07526495088625881,
        0.048328408258227706,
        0.6343648515044154,
        0.5495129204592623,
        0.5614332972214927,
        -0.5091572378974304,
        0.34033427774978375,
        0.008579768832228742,
        -0.5637805351063513,
        0.02267999690505577,
        -0.026251002503631198,
        0.0835041519870367,
        -0.6013050666070576,
        -0.4607249176607474,
        -0.3675224580314221,
        -0.9430174706960792,
        -0.07592273556658227,
        1.196728656302417,
        -0.3228535937576633,
        -0.2464118975011434,
        -0.15824210143688158,
        0.5497088447341153,
        -0.13616714845109207,
        -0.015152454147543392,
        0.5851000511284921,
        -0.0926629841410778,
        0.26762080225021856,
        0.016844725600130943,
        0.06749625702278693,
        0.02241394633852734,
        -0.2793525128484588,
        -0.37621670127366946,
        0.7786827251804155,
        0.46845997766474085,
        -0.9700201640329573,
        0.4205873770075247,
        -0.8704909272355196,
        -0.7971312761203843,
        1.1107322409973932,
        0.11682514937507965,
        0.012580584443073927,
        1.5477779120918376,
        0.5412200988801386,
        0.30414775977033237,
        -0.0885103760017095,
        -0.8155359885848222,
        0.8340318738928651,
        0.408191070620939,
        0.25917899467427213,
        0.2985362070211433,
        1.2340251180536335,
        0.15100939187685047,
        -0.2830363861929797,
        -1.0129154807349303,
        -0.5774708719950228,
        -0.041406267921444584,
        0.4853175417096553,
        -0.45961247365525615,
        -0.47960971217833037,
        -0.17783766714266602,
        0.08522809934792847,
        -1.2875574353808779,
        -0.4215690492526798,
        0.8568444970647631,
        -0.23644643362291135,
        -0.9849166599911667,
        -0.6910472185098396,
    ];
    let c = claims::deep_l2_peeling(1.0);
    let (l, r) = (c.eval)(&p).expect("a valid instance");
    assert!(l <= r * (1.0 + RATIO_TOL), "lhs {l} > rhs {r}");
}
