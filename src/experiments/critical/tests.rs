//! Unit tests of the probe schedule and the crossing on synthetic oracles (no training).

use super::*;

/// A noiseless oracle whose rate is a step at `threshold` (probabilistic oracles below).
fn step(threshold: usize, trials: usize) -> impl FnMut(usize) -> Result<Vec<bool>> {
    move |m| Ok(vec![m >= threshold; trials])
}

fn ms(probes: &[Probe]) -> Vec<usize> {
    probes.iter().map(|p| p.num_samples).collect()
}

#[test]
fn schedule_doubles_then_fills_the_bracket() {
    // Threshold 300 from m0 = 16: doubling 16, 32, ..., 512 (first success), then 3 geometric
    // points inside [256, 512]: 256 * 2^(j/4) = 304.4, 362.0, 430.5 -> 304, 362, 431; then 1024.
    let p = probe_schedule(16, 4096, 3, true, step(300, 2)).unwrap();
    assert_eq!(ms(&p), vec![16, 32, 64, 128, 256, 512, 304, 362, 431, 1024]);
    // Censored: doubling only, up to m_max, nothing else.
    let p = probe_schedule(16, 4096, 3, true, step(10_000, 2)).unwrap();
    assert_eq!(ms(&p), vec![16, 32, 64, 128, 256, 512, 1024, 2048, 4096]);
    // m0 already succeeds: halve until failure, then fill [lo, 2 lo].
    let p = probe_schedule(64, 4096, 1, false, step(20, 2)).unwrap();
    assert_eq!(ms(&p), vec![64, 32, 16, 23]);
    // Succeeds down to m = 2: no failing lower end, no inner points.
    let p = probe_schedule(8, 64, 2, false, step(1, 2)).unwrap();
    assert_eq!(ms(&p), vec![8, 4, 2]);
    // No m is probed twice (a rerun would otherwise train the same cell twice).
    for t in [2usize, 5, 17, 100, 333, 4000] {
        let p = probe_schedule(4, 4096, 4, true, step(t, 1)).unwrap();
        let mut v = ms(&p);
        v.sort();
        v.dedup();
        assert_eq!(v.len(), p.len(), "threshold {t}");
    }
}

#[test]
fn step_oracle_gives_a_separated_crossing_inside_the_last_gap() {
    // A noiseless step at 300: every probe below fails, every probe at or above succeeds, so the
    // data are separated; the reported point is the middle (in ln m) of the gap between the
    // largest failing probe (256) and the smallest succeeding one (304).
    let p = probe_schedule(16, 4096, 3, false, step(300, 4)).unwrap();
    let c = crossing_of(&p).unwrap();
    assert_eq!(c.status, crate::stats::logistic::CrossingStatus::Separated);
    let mid = (256f64.ln() + 304f64.ln()) / 2.0;
    assert!((c.estimate.unwrap() - mid).abs() < 1e-12);
    // The reported interval is the closed gap [ln 256, ln 304] (stats::logistic's rule).
    assert_eq!(c.interval, (256f64.ln(), 304f64.ln()));
}

#[test]
fn logistic_oracle_is_recovered_within_its_interval() {
    // Trials drawn from a known curve p(m) = sigma(4 (ln m - ln 150)) (critical m = 150) with a
    // seeded generator; with 40 trials per probe the profile interval must cover 150 and be
    // a fraction of the value.
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let truth = 150f64;
    let p = probe_schedule(16, 4096, 3, true, |m| {
        let pr = 1.0 / (1.0 + (-4.0 * ((m as f64).ln() - truth.ln())).exp());
        Ok((0..40).map(|_| rng.random::<f64>() < pr).collect())
    })
    .unwrap();
    let c = crossing_of(&p).unwrap();
    let (lo, hi) = (c.interval.0.exp(), c.interval.1.exp());
    assert!(lo < truth && truth < hi, "{lo} {hi} {c:?}");
    assert!(hi / lo < 1.6, "{lo} {hi}");
}

#[test]
fn success_rate_rule_is_at_least_one_half() {
    // 2 of 4 successes is exactly 1/2: counts as sufficient.
    assert_eq!(critical_of(&[(10, 0.25), (20, 0.5), (40, 1.0)]), Some(20));
}

#[test]
fn every_preset_validates_and_uses_a_fixed_budget() {
    for preset in [Preset::Smoke, Preset::Default, Preset::Paper] {
        let plan = CriticalPlan::preset(preset);
        plan.validate().unwrap();
        for s in &plan.series {
            assert_eq!(s.train.stop, StopRule::MaxSteps, "{preset:?} {}", s.name);
            for &t in &plan.context_lens {
                plan.cell(s, t, plan.m0).validate().unwrap();
            }
        }
    }
    let paper = CriticalPlan::preset(Preset::Paper);
    assert!(paper.context_lens.len() >= 15);
    assert_eq!(paper.context_lens.first(), Some(&100));
    assert_eq!(paper.context_lens.last(), Some(&1100));
    let ext = CriticalPlan::extended(Preset::Paper);
    ext.validate().unwrap();
    assert_eq!(ext.context_lens.last(), Some(&10_000));
    // The ablation's first-fit twin validates too.
    let s = &paper.series[0];
    let mut c = paper.cell(s, 100, 64);
    c.train = first_fit_of(&c.train);
    c.validate().unwrap();
    // The paper-protocol series (behind INCLUDE_PROTOCOL_SERIES) is a valid cell.
    paper.cell(&paper_protocol(), 100, 64).validate().unwrap();
}

#[test]
fn constructed_qk_norm_matches_spec_formula() {
    // docs/constructions.md: R = ln((T-s+1)(1-eta0)/(s eta0)); T = 100, s = 3, eta0 = 0.1/3:
    // ln(98 * (1 - 1/30) / (3 * 1/30)) = ln(947.33...) = 6.8536...
    let r = report::constructed_radii(100, 3);
    let expected = (98.0f64 * (29.0 / 30.0) / 0.1).ln();
    assert!((r.b_qk - expected).abs() < 1e-12);
    assert!((expected - 6.8536).abs() < 1e-3);
}

#[test]
fn bound_sample_size_grows_with_context_len() {
    let r1 = report::constructed_radii(100, 3);
    let r2 = report::constructed_radii(1000, 3);
    let m1 = report::bound_sample_size(100, 103, &r1, 0.1)
        .unwrap()
        .unwrap();
    let m2 = report::bound_sample_size(1000, 1003, &r2, 0.1)
        .unwrap()
        .unwrap();
    assert!(m2 > m1, "{m1} {m2}");
    // Definition: the gap at m is <= target and at m - 1 it is not.
    let gap = |m: usize| {
        let s = crate::bounds::Setting {
            num_samples: m,
            context_len: 100,
            width: 103,
            value_dim: 1,
            heads: 1,
            layers: 1,
        };
        crate::bounds::explicit_gap(&s, &r1, &crate::bounds::BoundParams::default()).unwrap()
    };
    assert!(gap(m1) <= 0.1 && gap(m1 - 1) > 0.1);
}

#[test]
fn a_series_probing_is_a_subset_of_the_plans_context_lens() {
    let plan = CriticalPlan::preset(Preset::Paper);
    let i = (plan.series.iter())
        .position(|s| s.model == ModelKind::PaperProtocol)
        .expect("the paper preset has the protocol series");
    let own = plan.probing_of(&plan.series[i]);
    assert_eq!(own.context_lens, vec![100, 162, 261, 422, 681, 1100]);
    assert_eq!(own.trials, PROTOCOL_TRIALS);
    // A series without its own probing gets the plan's.
    let other = plan.probing_of(&plan.series[0]);
    assert_eq!(other.context_lens, plan.context_lens);
    assert_eq!((other.trials, other.m_max), (plan.trials, plan.m_max));
    // Not in the plan, out of the plan's order, repeated, or empty: refused, by field.
    for bad in [vec![], vec![100, 101], vec![1100, 100], vec![100, 100]] {
        let mut p = plan.clone();
        p.series[i].probing.as_mut().unwrap().context_lens = bad.clone();
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("series.probing.context_lens"), "{bad:?}: {e}");
    }
    let mut p = plan.clone();
    p.series[i].probing.as_mut().unwrap().trials = 0;
    let e = p.validate().unwrap_err().to_string();
    assert!(e.contains("series.probing.trials"), "{e}");
    // The extended plan's protocol T are in its grid too.
    CriticalPlan::extended(Preset::Paper).validate().unwrap();
}

#[test]
fn the_protocol_series_leaves_the_other_series_cells_unchanged() {
    // Cell hashes of the paper preset's first two series at T = 100, m = 32, computed with the
    // cell code of commit 37c7d06 (before the protocol series was switched on; this change
    // leaves CellConfig and its hash alone): a series' own probing never reaches a cell (trial
    // counts are not part of a cell), so the stored cells of the other series are reused.
    let plan = CriticalPlan::preset(Preset::Paper);
    let hash = |s: &ModelSeries| Cell::new(plan.cell(s, 100, 32)).unwrap().hash;
    assert_eq!(
        hash(&plan.series[0]),
        "0a694fdf29118d5e5b3a2f027acba9ade4670b8584fe064a9411c4b8a5aebedc"
    );
    assert_eq!(
        hash(&plan.series[1]),
        "ac2d562198abdd8282334f721e0046a69ccee7f42e2f49b89fdaf5e12b5fead8"
    );
}
