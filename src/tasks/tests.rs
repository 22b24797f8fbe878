use super::population::enumerate_inputs;
use super::*;
use crate::stats::clopper_pearson;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

#[test]
fn and_bit_prob_balances_labels_in_closed_form() {
    // P(AND) = (2^(-1/s))^s = 2^(-1) = 1/2 exactly in real arithmetic; f64 rounding only.
    for s in 1..=10 {
        let task = Task::and(12, s, &mut rng(s as u64)).unwrap();
        let p_and = task.bit_prob().powi(s as i32);
        assert!((p_and - 0.5).abs() < 1e-15, "s = {s}: {p_and}");
    }
}

#[test]
fn and_label_rate_is_half_within_binomial_interval() {
    let task = Task::and(50, 3, &mut rng(1)).unwrap();
    let data = task.sample(20_000, &mut rng(2)).unwrap();
    let positives = data.labels().iter().filter(|&&y| y == 1).count() as u64;
    // A 99.9% Clopper-Pearson interval must contain the true rate 1/2 (fails w.p. <= 1e-3).
    let (lo, hi) = clopper_pearson(positives, 20_000, 1e-3).unwrap();
    assert!(
        lo < 0.5 && 0.5 < hi,
        "rate {positives}/20000 gives [{lo}, {hi}]"
    );
    // The labels are the task's function of the stored rows.
    for (x, y) in data.iter() {
        assert_eq!(task.label(x), y);
    }
}

#[test]
fn enumeration_weights_sum_to_one() {
    // Binomial theorem: sum_k C(T,k) p^k (1-p)^(T-k) = 1; tolerance is f64 summation of 2^T terms.
    let task = Task::and(12, 3, &mut rng(3)).unwrap();
    let (mut total, mut count) = (0.0, 0usize);
    enumerate_inputs(&task, 1000, |chunk, w| {
        for (i, (x, y)) in chunk.iter().enumerate() {
            assert_eq!((w[i], y), (task.probability(x).unwrap(), task.label(x)));
        }
        total += w.iter().sum::<f64>();
        count += chunk.len();
        Ok(())
    })
    .unwrap();
    assert_eq!(count, 1 << 12);
    assert!((total - 1.0).abs() < 1e-12, "{total}");
    // All-ones sequence: p^T with p = 2^(-1/3), i.e. 2^(-12/3) = 1/16 (closed form).
    assert!((task.probability(&[1; 12]).unwrap() - 1.0 / 16.0).abs() < 1e-15);
    assert!(task.probability(&[1; 11]).is_err());
}

#[test]
fn bayes_optimal_predictor_has_error_exactly_zero() {
    let table = vec![true, false, false, true, true, true, false, false];
    let tasks = [
        Task::and(10, 3, &mut rng(4)).unwrap(),
        Task::parity(10, 4, &mut rng(5)).unwrap(),
        Task::majority(10, 5, &mut rng(6)).unwrap(),
        Task::truth_table(10, table, &mut rng(7)).unwrap(),
    ];
    for task in &tasks {
        let f = per_example(|x: &[u8]| f64::from(task.label(x)));
        let e = population_error(task, f, &PopulationOptions::default(), &mut rng(0)).unwrap();
        assert!(e.exact);
        assert_eq!(e.n, 1 << 10);
        assert_eq!(
            (e.estimate, e.lower, e.upper),
            (0.0, 0.0, 0.0),
            "{:?}",
            task.kind()
        );
    }
}

#[test]
fn constant_predictor_on_balanced_tasks_has_error_one_half() {
    // Constant +1 errs exactly when the label is -1: 1 - p^s = 1/2 for AND (closed form),
    // and 1/2 for parity of uniform bits (half the assignments of s >= 1 bits are odd).
    let and = Task::and(11, 3, &mut rng(8)).unwrap();
    let parity = Task::parity(11, 2, &mut rng(9)).unwrap();
    let opts = PopulationOptions::default();
    for task in [&and, &parity] {
        let e =
            population_error(task, |d: &Dataset| vec![1.0; d.len()], &opts, &mut rng(0)).unwrap();
        assert!(e.exact && (e.estimate - 0.5).abs() < 1e-12, "{e:?}");
    }
    // A zero score counts as an error on every input (y f(x) <= 0).
    let e = population_error(&and, |d: &Dataset| vec![0.0; d.len()], &opts, &mut rng(0)).unwrap();
    assert!((e.estimate - 1.0).abs() < 1e-12);
}

#[test]
fn sampled_population_error_interval_contains_known_value() {
    // Predictor = AND of the first two hidden bits only: it errs exactly when those are 1 and
    // the third is 0, so the error is p^2 (1 - p) with p = 2^(-1/3) (closed form) = 0.12996...
    let task = Task::and(40, 3, &mut rng(10)).unwrap();
    let (i0, i1) = (task.support()[0], task.support()[1]);
    let f = per_example(move |x: &[u8]| if x[i0] == 1 && x[i1] == 1 { 1.0 } else { -1.0 });
    let opts = PopulationOptions {
        num_samples: 40_000,
        delta: 1e-3,
        ..PopulationOptions::default()
    };
    let e = population_error(&task, f, &opts, &mut rng(11)).unwrap();
    let p = task.bit_prob();
    let exact = p * p * (1.0 - p);
    assert!(!e.exact && e.n == 40_000);
    assert!(e.lower < exact && exact < e.upper, "{exact} not in {e:?}");
    // Normal approximation of the width: 2 z_{0.9995} sqrt(e (1-e) / n) = 2 * 3.29 * 0.00168 = 0.011.
    assert!(e.upper - e.lower < 0.013, "interval too wide: {e:?}");
}

#[test]
fn labels_follow_the_documented_conventions() {
    let x = |bits: &[u8]| bits.to_vec();
    let parity = Task::with_support(TaskKind::Parity, 6, vec![0, 2, 5]).unwrap();
    assert_eq!(parity.label(&x(&[1, 1, 0, 0, 0, 0])), 1); // one hidden 1: odd
    assert_eq!(parity.label(&x(&[1, 0, 1, 0, 0, 0])), -1); // two hidden 1s: even
    let maj = Task::with_support(TaskKind::Majority, 6, vec![0, 2, 5]).unwrap();
    assert_eq!(maj.label(&x(&[1, 0, 0, 0, 0, 1])), 1);
    assert_eq!(maj.label(&x(&[1, 1, 0, 1, 1, 0])), -1);
    // Table index = b_1 + 2 b_4 for support [1, 4]: only (b_1, b_4) = (0, 1) is true.
    let tt = Task::with_support(
        TaskKind::TruthTable(vec![false, false, true, false]),
        6,
        vec![1, 4],
    )
    .unwrap();
    assert_eq!(tt.label(&x(&[0, 0, 0, 0, 1, 0])), 1);
    assert_eq!(tt.label(&x(&[0, 1, 0, 0, 0, 0])), -1);
    assert_eq!(tt.label(&x(&[0, 1, 0, 0, 1, 0])), -1);
}

#[test]
fn hidden_set_is_seeded_sorted_and_distinct() {
    let a = Task::parity(100, 5, &mut rng(12)).unwrap();
    let b = Task::parity(100, 5, &mut rng(12)).unwrap();
    let c = Task::parity(100, 5, &mut rng(13)).unwrap();
    assert_eq!(a.support(), b.support());
    assert_ne!(a.support(), c.support());
    assert!(a.support().windows(2).all(|w| w[0] < w[1]) && a.support()[4] < 100);
}

#[test]
fn invalid_inputs_give_typed_errors_naming_the_field() {
    let r = &mut rng(0);
    let field = |e: Error| match e {
        Error::InvalidValue { field, .. } => field,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(field(Task::and(3, 4, r).unwrap_err()), "sparsity");
    assert_eq!(field(Task::and(3, 0, r).unwrap_err()), "sparsity");
    assert_eq!(field(Task::parity(0, 1, r).unwrap_err()), "context_len");
    assert_eq!(field(Task::majority(9, 4, r).unwrap_err()), "sparsity");
    assert_eq!(
        field(Task::truth_table(9, vec![true; 6], r).unwrap_err()),
        "truth_table"
    );
    assert_eq!(
        field(Task::truth_table(9, vec![], r).unwrap_err()),
        "truth_table"
    );
    let kind = TaskKind::TruthTable(vec![true; 8]);
    assert_eq!(
        field(Task::with_support(kind, 9, vec![0, 1]).unwrap_err()),
        "truth_table"
    );
    assert_eq!(
        field(Task::with_support(TaskKind::And, 9, vec![3, 3]).unwrap_err()),
        "support[1]"
    );
    assert!(Dataset::new(3, vec![0, 1], vec![1]).is_err());
    assert!(Dataset::new(2, vec![0, 2], vec![1]).is_err());
    assert!(Dataset::new(2, vec![0, 1], vec![0]).is_err());
    let task = Task::and(5, 2, r).unwrap();
    let nan = population_error(
        &task,
        |d: &Dataset| vec![f64::NAN; d.len()],
        &PopulationOptions::default(),
        r,
    );
    assert!(nan.is_err());
    let short = population_error(
        &task,
        |_: &Dataset| vec![1.0],
        &PopulationOptions::default(),
        r,
    );
    assert!(short.is_err());
    assert!(task.sample(0, r).is_err());
}

/// The fallible form agrees with `population_error` for a predictor that never fails, and a
/// failing predictor's own error comes back (not a score computed from placeholders).
#[test]
fn try_population_error_passes_results_and_errors_through() {
    let task = Task::and(8, 3, &mut rng(1)).unwrap();
    let opts = PopulationOptions::default();
    // Predict +1 everywhere: exact error = P(label = -1) over the 2^8 weighted inputs.
    let ok = try_population_error(&task, |d| Ok(vec![1.0; d.len()]), &opts, &mut rng(2)).unwrap();
    let plain = population_error(&task, |d| vec![1.0; d.len()], &opts, &mut rng(2)).unwrap();
    assert_eq!(ok, plain);
    let err = try_population_error(
        &task,
        |_| Err(Error::invalid("model", "broken", "a working model")),
        &opts,
        &mut rng(2),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidValue { ref field, .. } if field == "model"),
        "{err}"
    );
}

#[test]
fn or_labels_are_balanced_exactly() {
    // P(OR = false) = (1 - bit_prob)^s = (2^(-1/s))^s = 1/2 (closed form); checked by exact
    // enumeration of all 2^T inputs, so the population rate of +1 labels is 1/2 up to rounding.
    for s in 1..=4 {
        let task = Task::new(TaskKind::Or, 8, s, &mut rng(s as u64)).unwrap();
        let mut positive = 0.0;
        enumerate_inputs(&task, 64, |chunk, w| {
            positive += (chunk.labels().iter().zip(w))
                .filter(|(y, _)| **y == 1)
                .map(|(_, w)| w)
                .sum::<f64>();
            Ok(())
        })
        .unwrap();
        assert!((positive - 0.5).abs() < 1e-12, "s = {s}: {positive}");
    }
}

#[test]
fn task_names_round_trip_and_pair_with_the_table() {
    for (name, spelled) in TaskName::ALL.iter().zip(TaskName::NAMES) {
        assert_eq!(name.name(), *spelled);
        assert_eq!(TaskName::try_from(spelled.to_string()).unwrap(), *name);
        assert_eq!(
            serde_json::to_string(name).unwrap(),
            format!("\"{spelled}\"")
        );
    }
    let e = TaskName::try_from("xor".to_string()).unwrap_err();
    assert!(
        e.to_string().contains("xor") && e.to_string().contains("truth_table"),
        "{e}"
    );
    let table = [true, false];
    assert_eq!(
        TaskKind::from_name(TaskName::TruthTable, Some(&table)).unwrap(),
        TaskKind::TruthTable(table.to_vec())
    );
    assert_eq!(
        TaskKind::from_name(TaskName::Or, None).unwrap().name(),
        "or"
    );
    assert!(TaskKind::from_name(TaskName::TruthTable, None).is_err());
    assert!(TaskKind::from_name(TaskName::And, Some(&table)).is_err());
    // The symmetric functions from the count of true bits, and the truth table by pattern.
    assert!(TaskKind::Majority.value(0b101, 3));
    assert!(!TaskKind::Or.value(0, 3));
    assert!(TaskKind::TruthTable(vec![false, true, true, false]).value(2, 2));
}
