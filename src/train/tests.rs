use super::*;
use crate::config::{LossName, NormBall, OptimizerName, StopRule, TaskName, TrainConfig};
use crate::error::Error;

fn and_cell(context_len: usize, num_samples: usize, train: TrainConfig) -> CellConfig {
    CellConfig {
        task: TaskName::And,
        truth_table: None,
        sparsity: 2,
        context_len,
        num_samples,
        model: ModelKind::ClsHead,
        train,
        seed: 0,
    }
}

fn head_config() -> TrainConfig {
    TrainConfig {
        steps: 400,
        learning_rate: 0.03,
        batch_size: 256,
        value_dim: 4,
        ..TrainConfig::default()
    }
}

/// Why this should hold: a 2-sparse AND at T = 8 is computed exactly by a head that attends to
/// the two hidden positions (docs/constructions.md construction, norms O(log T)), and m = 256 samples of a
/// 256-input distribution (bit probability 2^{-1/2}) pin down the hidden pair: a wrong pair
/// disagrees with the label on a constant fraction of inputs. Full-batch Adam on the logistic
/// loss reaches zero training error, and then the population error (exact, 2^8 inputs) is small.
/// A constant predictor has population error min(p, 1-p) = 0.5 (balanced labels), so 0.05 is
/// a real threshold.
#[test]
fn cls_head_learns_two_sparse_and_at_t8() {
    let cell = and_cell(8, 256, head_config());
    let t = train_cell(&cell, 11).unwrap();
    let r = &t.report;
    assert!(r.population.exact && r.population.n == 256);
    assert_eq!(r.train_error, 0.0, "{r:?}");
    assert!(r.population.estimate < 0.05, "{r:?}");
    // gap = population - train (definition), and norms are the ones measured on the weights.
    assert!((r.gap - (r.population.estimate - r.train_error)).abs() < 1e-15);
    assert!((r.norms.b_x - 2f64.sqrt()).abs() < 1e-6);
    assert!(r.steps <= 400 && r.steps > 0);
}

#[test]
fn projection_keeps_trained_norms_within_the_radii() {
    let ball = NormBall {
        b_qk: 2.0,
        b_v: 1.5,
        b_v21: 2.0,
        b_w: 1.0,
    };
    let cfg = TrainConfig {
        steps: 60,
        norm_ball: Some(ball),
        ..head_config()
    };
    let r = train_cell(&and_cell(6, 64, cfg), 5).unwrap().report;
    let h = &r.norms.heads[0];
    assert!(
        h.theta_fro <= 2.0 && h.w_v_spectral <= 1.5 && h.w_v_21 <= 2.0,
        "{h:?}"
    );
    assert!(r.norms.w_l2 <= 1.0, "{:?}", r.norms);
    // The constraint binds: with these radii |f| <= b_w b_v B_X = 1.5 sqrt(2) (head range).
    assert!(r.margins.min.abs() <= 1.5 * 2f64.sqrt() + 1e-6);
    // Transformer heads and read-out are constrained too.
    let mut cell = and_cell(
        6,
        64,
        TrainConfig {
            steps: 30,
            width: 8,
            mlp_width: 8,
            heads: 2,
            norm_ball: Some(ball),
            ..head_config()
        },
    );
    cell.model = ModelKind::Transformer;
    let r = train_cell(&cell, 5).unwrap().report;
    for h in &r.norms.heads {
        assert!(
            h.theta_fro <= 2.0 && h.w_v_spectral <= 1.5 && h.w_v_21 <= 2.0,
            "{h:?}"
        );
    }
    assert!(r.norms.w_l2 <= 1.0);
}

#[test]
fn same_seed_same_results_for_both_models_and_optimisers() {
    let mut cfg = TrainConfig {
        steps: 40,
        batch_size: 16,
        optimizer: OptimizerName::Sgd,
        momentum: 0.9,
        weight_decay: 1e-3,
        ..head_config()
    };
    let cell = and_cell(6, 48, cfg.clone());
    // Timing is not a metric (it lives in the store row), so the metrics compare whole.
    let a = train_cell(&cell, 9).unwrap();
    let b = train_cell(&cell, 9).unwrap();
    assert_eq!(a.model, b.model);
    assert_eq!(a.report.metrics(), b.report.metrics());
    let c = train_cell(&cell, 10).unwrap();
    assert_ne!(a.model, c.model, "a different seed must change the trial");
    cfg.optimizer = OptimizerName::Adam;
    cfg.momentum = 0.0; // not read by Adam, so it must keep its default
    cfg.loss = LossName::Ramp;
    cfg.width = 8;
    cfg.mlp_width = 8;
    let mut cell = and_cell(25, 40, cfg);
    cell.model = ModelKind::Transformer;
    let a = train_cell(&cell, 1).unwrap();
    let b = train_cell(&cell, 1).unwrap();
    assert!(
        !a.report.population.exact,
        "T = 25 > 20 uses a fresh sample"
    );
    assert_eq!(a.report.metrics(), b.report.metrics());
}

#[test]
fn stopping_rules() {
    // Target: a huge target loss is met as soon as the training error is 0.
    let cfg = TrainConfig {
        target_loss: 1e9,
        ..head_config()
    };
    let r = train_cell(&and_cell(8, 256, cfg), 11).unwrap().report;
    assert_eq!(r.stop, StopReason::TargetReached);
    assert_eq!(r.train_error, 0.0);
    assert!(r.steps < 400);
    // No progress: a tiny learning rate cannot improve the loss by 0.1% per step.
    let cfg = TrainConfig {
        learning_rate: 1e-9,
        patience: 3,
        eval_every: 1,
        ..head_config()
    };
    let r = train_cell(&and_cell(8, 64, cfg), 11).unwrap().report;
    assert_eq!(r.stop, StopReason::NoProgress);
    // The first evaluation sets the best value, then 3 stale ones.
    assert_eq!(r.steps, 4);
}

#[test]
fn bad_configs_are_typed_errors() {
    let bad = |cfg: TrainConfig, field: &str| {
        let e = train_cell(&and_cell(8, 32, cfg), 0).unwrap_err();
        match &e {
            Error::InvalidValue { field: f, .. } => assert_eq!(f, field, "{e}"),
            other => panic!("expected InvalidValue for {field}, got {other:?}"),
        }
    };
    bad(
        TrainConfig {
            learning_rate: -1.0,
            ..head_config()
        },
        "train.learning_rate",
    );
    bad(
        TrainConfig {
            momentum: 1.0,
            ..head_config()
        },
        "train.momentum",
    );
    bad(
        TrainConfig {
            gamma: f64::NAN,
            ..head_config()
        },
        "train.gamma",
    );
    let ball = NormBall {
        b_qk: 0.0,
        b_v: 1.0,
        b_v21: 1.0,
        b_w: 1.0,
    };
    bad(
        TrainConfig {
            norm_ball: Some(ball),
            ..head_config()
        },
        "train.norm_ball.b_qk",
    );
    let e = train_cell(&and_cell(1, 32, head_config()), 0).unwrap_err();
    assert!(
        matches!(e, Error::InvalidValue { .. }),
        "sparsity 2 > context_len 1: {e}"
    );
}

fn first_fit_config(steps: usize) -> TrainConfig {
    TrainConfig {
        steps,
        eval_every: 1,
        stop: StopRule::FirstFit,
        ..head_config()
    }
}

/// First fit stops at the first step after which the training error is 0: the same trial with
/// one step fewer has not fit yet (same seed, so the same trajectory up to there).
#[test]
fn first_fit_stops_at_the_first_fit() {
    let r = train_cell(&and_cell(8, 256, first_fit_config(400)), 11)
        .unwrap()
        .report;
    assert_eq!(r.stop, StopReason::SampleFit, "{r:?}");
    assert_eq!(r.train_error, 0.0);
    assert!(r.steps > 1, "a random head does not fit 256 samples: {r:?}");
    let earlier = train_cell(&and_cell(8, 256, first_fit_config(r.steps - 1)), 11)
        .unwrap()
        .report;
    assert_eq!(earlier.stop, StopReason::MaxSteps);
    assert!(earlier.train_error > 0.0, "{earlier:?}");
}

/// `max_steps` runs every step, and each recorded loss is the objective before its update: the
/// first one is the mean logistic loss of the initial model on the full batch (fit_on sums in
/// another order, hence the 1e-12).
#[test]
fn max_steps_records_every_step_loss_before_the_update() {
    let cfg = TrainConfig {
        steps: 25,
        stop: StopRule::MaxSteps,
        ..head_config()
    };
    let cell = and_cell(8, 64, cfg.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let task = Task::new(cell.task_kind().unwrap(), 8, 2, &mut rng).unwrap();
    let data = task.sample(64, &mut rng).unwrap();
    let mut model = init_model(&cell, &mut rng).unwrap();
    let TrainedModel::ClsHead(head) = &model else {
        panic!("a cls_head cell")
    };
    let (initial, _) = fit_on(head, &data, Loss::Logistic).unwrap();
    let batches = Batches::Sample {
        data: &data,
        order_rng: rng.clone(),
    };
    let run = model.train(batches, &cfg).unwrap();
    assert_eq!((run.steps, run.stop), (25, StopReason::MaxSteps));
    assert_eq!(run.step_losses.len(), 25);
    assert!((run.step_losses[0] - initial.loss).abs() < 1e-12);
    assert!(
        run.step_losses[24] < run.step_losses[0],
        "{:?}",
        run.step_losses
    );
}

/// Fresh samples: every step draws from the generator it is given; no training sample, so
/// any rule but max_steps is a typed error naming `train.stop`.
#[test]
fn fresh_batches_draw_from_the_stream_and_need_max_steps() {
    let cfg = TrainConfig {
        steps: 5,
        batch_size: 8,
        stop: StopRule::MaxSteps,
        ..head_config()
    };
    let cell = and_cell(8, 8, cfg.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let task = Task::new(cell.task_kind().unwrap(), 8, 2, &mut rng).unwrap();
    let mut model = init_model(&cell, &mut rng).unwrap();
    let (mut a, mut b) = (rng.clone(), rng.clone());
    let run = (model.clone())
        .train(
            Batches::Fresh {
                task: &task,
                rng: &mut a,
            },
            &cfg,
        )
        .unwrap();
    assert_eq!(run.step_losses.len(), 5);
    for _ in 0..5 {
        task.sample(8, &mut b).unwrap();
    }
    assert_eq!(a, b, "five batches of 8 drawn from the given stream");
    let target = TrainConfig {
        stop: StopRule::Target,
        ..cfg
    };
    let e = model
        .train(
            Batches::Fresh {
                task: &task,
                rng: &mut a,
            },
            &target,
        )
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidValue { field, .. } if field == "train.stop"),
        "{e}"
    );
}

/// A field the configured trainer does not read must keep its default (so the cell hash is a
/// function of the fields the trial reads); the error names the field.
#[test]
fn unread_fields_must_keep_their_defaults() {
    let cases = [
        (
            TrainConfig {
                momentum: 0.5,
                ..head_config()
            },
            "train.momentum",
        ),
        (
            TrainConfig {
                patience: 3,
                ..first_fit_config(10)
            },
            "train.patience",
        ),
        (
            TrainConfig {
                target_loss: 0.5,
                stop: StopRule::MaxSteps,
                eval_every: 0,
                ..first_fit_config(10)
            },
            "train.target_loss",
        ),
        (
            TrainConfig {
                stop: StopRule::MaxSteps,
                ..first_fit_config(10)
            },
            "train.eval_every",
        ),
    ];
    for (cfg, field) in cases {
        match cfg.validate() {
            Err(Error::InvalidValue { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: expected InvalidValue, got {other:?}"),
        }
    }
    assert!(first_fit_config(10).validate().is_ok());
}
