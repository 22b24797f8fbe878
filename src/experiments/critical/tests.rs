//! Unit tests of the search and the bootstrap on synthetic oracles (no training).

use super::*;

/// A deterministic monotone oracle: every trial succeeds iff m >= threshold.
fn oracle(threshold: usize, trials: usize) -> impl FnMut(usize) -> Result<Vec<bool>> {
    move |m| Ok(vec![m >= threshold; trials])
}

#[test]
fn search_finds_exact_threshold_when_bisecting_to_neighbours() {
    // ratio 1.0 + tiny: bisection runs until hi = lo + 1, so hi is the threshold exactly.
    for threshold in [1usize, 7, 16, 17, 100, 513, 1000] {
        let probes = adaptive_search(4, 4096, 1.000_001, oracle(threshold, 3)).unwrap();
        let rates: Vec<(usize, f64)> = probes.iter().map(|p| (p.num_samples, p.rate())).collect();
        let expected = threshold.max(4); // m0 = 4 already succeeds for threshold <= 4
        assert_eq!(critical_of(&rates), Some(expected), "threshold {threshold}");
        // Each probe is new (a rerun would otherwise train the same cell twice).
        let mut ms: Vec<usize> = probes.iter().map(|p| p.num_samples).collect();
        ms.sort();
        ms.dedup();
        assert_eq!(ms.len(), probes.len());
    }
}

#[test]
fn search_stops_at_bracket_ratio_and_censors() {
    // Threshold 300 from m0 = 16: doubling 16..512 (6 probes), then bracket [256, 512] shrinks
    // until hi / lo < 1.15; the answer is within 15% above the threshold.
    let probes = adaptive_search(16, 4096, 1.15, oracle(300, 2)).unwrap();
    let rates: Vec<(usize, f64)> = probes.iter().map(|p| (p.num_samples, p.rate())).collect();
    let c = critical_of(&rates).unwrap();
    assert!((300..345).contains(&c), "{c}");
    // Never reached: censored, probes 16..4096 by doubling only (9 probes).
    let probes = adaptive_search(16, 4096, 1.15, oracle(10_000, 2)).unwrap();
    assert_eq!(probes.len(), 9);
    assert_eq!(critical_of(&[(16, 0.0), (32, 0.4)]), None);
}

#[test]
fn success_rate_rule_is_at_least_one_half() {
    // 2 of 4 successes is exactly 1/2: counts as sufficient.
    assert_eq!(critical_of(&[(10, 0.25), (20, 0.5), (40, 1.0)]), Some(20));
}

#[test]
fn bootstrap_is_deterministic_and_brackets_the_estimate() {
    let probes = vec![
        Probe {
            num_samples: 16,
            successes: vec![false; 8],
        },
        Probe {
            num_samples: 32,
            successes: vec![true, false, true, true, false, true, true, false],
        },
        Probe {
            num_samples: 24,
            successes: vec![true, false, false, false, true, false, true, false],
        },
    ];
    let a = bootstrap_interval(&probes, 500, 0.05, 7).unwrap();
    let b = bootstrap_interval(&probes, 500, 0.05, 7).unwrap();
    assert_eq!(a, b);
    // Point estimate 32 (rate 5/8); 24 has rate 3/8, so resamples give 24 or 32 or, when 32's
    // resample drops below 1/2 (probability ~ 0.36 for Binomial(8, 5/8) <= 3) and 24's too,
    // infinity. The interval must contain 32 and only take these values.
    assert!(a.0 <= 32.0 && a.1 >= 32.0, "{a:?}");
    for v in [a.0, a.1] {
        assert!(v == 24.0 || v == 32.0 || v.is_infinite(), "{v}");
    }
    // All-success / all-failure probes give a degenerate interval.
    let sure = vec![
        Probe {
            num_samples: 8,
            successes: vec![false; 5],
        },
        Probe {
            num_samples: 16,
            successes: vec![true; 5],
        },
    ];
    assert_eq!(
        bootstrap_interval(&sure, 100, 0.05, 1).unwrap(),
        (16.0, 16.0)
    );
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
