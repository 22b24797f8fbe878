//! Certificates of a model whose training sample is unknown (imported weights), on a FRESH
//! labelled sample drawn after the weights are fixed (docs/certificates.md#6-imported-weights).
//!
//! With imported weights there is no honest training sample: whatever data trained them is not
//! ours to count. So we draw m labelled examples of the task from a seed, after the weights are
//! read, and use them as S. S is then independent of the model, which makes two statements
//! available, each with probability >= 1 - delta over S (and the extraction's and the sampled
//! route's own fresh inputs):
//! - the junta certificate ([`super::certify_junta`], unchanged: its Occam bound holds for S
//!   independent of the model as well), and
//! - the plain one-sided Clopper-Pearson bound on err(model) from its errors on S (F1), which
//!   needs the independence and is printed beside it.
//!
//! Both at once hold with probability >= 1 - 2 delta.

use super::{ClsModel, JuntaCertificate, JuntaParams, certify_junta, sampled};
use crate::error::{Error, Result, check};
use crate::model::TokenBatch;
use crate::tasks::Task;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What [`FreshCertificate::test_upper`] bounds.
pub const CERTIFIES_TEST: &str = "the model's test error P(y f(x) <= 0), from its errors on a fresh sample drawn after the weights were fixed (one-sided Clopper-Pearson)";

/// Parameters of [`certify_fresh`], fixed before the sample is drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct FreshParams {
    /// m, the fresh labelled sample's size.
    pub num_samples: usize,
    /// Confidence of each statement.
    pub delta: f64,
    /// Fresh unlabeled inputs of the junta certificate's sampled route.
    pub fresh_samples: usize,
    /// Seed of the labelled sample (ChaCha8 stream 4) and of the certificate's own draws.
    pub seed: u64,
}

/// The certificates of a model on a fresh labelled sample.
#[derive(Clone, Debug, PartialEq)]
pub struct FreshCertificate {
    pub junta: JuntaCertificate,
    /// m.
    pub num_samples: usize,
    /// Errors y f(x) <= 0 of the model on the fresh sample.
    pub sample_errors: usize,
    /// err(model) <= this with probability >= 1 - delta (F1).
    pub test_upper: f64,
    pub delta: f64,
    /// The task's hidden set (sorted).
    pub hidden_set: Vec<usize>,
}

/// Draws m labelled examples of `task` (after the weights are fixed), then certifies `model`
/// on them (module doc). Errors: m = 0, delta outside (0, 1), fresh_samples = 0, a task of
/// another context length, and the errors of [`certify_junta`].
pub fn certify_fresh(
    model: &ClsModel,
    task: &Task,
    params: &FreshParams,
) -> Result<FreshCertificate> {
    check::at_least("num_samples", params.num_samples, 1)?;
    check::open_unit("delta", params.delta)?;
    check::at_least("fresh_samples", params.fresh_samples, 1)?;
    let t = model.context_len();
    if task.context_len() != t {
        return Err(Error::shape("task.context_len", t, task.context_len()));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    rng.set_stream(4);
    let sample = task.sample(params.num_samples, &mut rng)?;
    let junta = certify_junta(
        model,
        &sample,
        &JuntaParams {
            sparsity: task.sparsity(),
            delta: params.delta,
            fresh_samples: params.fresh_samples,
            seed: params.seed,
            bit_prob: task.bit_prob(),
        },
    )?;
    let f = model.predict(&TokenBatch::new(t, sample.bits().to_vec())?)?;
    let mut errors = 0;
    for (fi, &y) in f.iter().zip(sample.labels()) {
        check::finite("model output", *fi)?;
        errors += usize::from(f64::from(y) * fi <= 0.0);
    }
    Ok(FreshCertificate {
        junta,
        num_samples: params.num_samples,
        sample_errors: errors,
        test_upper: sampled::upper_limit(errors, params.num_samples, params.delta)?,
        delta: params.delta,
        hidden_set: task.support().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::construct::{Code, Spec, Target, build};
    use crate::tasks::TaskKind;

    fn and_head(t: usize, support: Vec<usize>) -> ClsModel {
        let c = build(&Spec {
            target: Target::And,
            sparsity: support.len(),
            context_len: t,
            eta0: crate::construct::standard::eta0_for(&Target::And, support.len()),
            code: Code::OneHot,
            support: Some(support),
        })
        .unwrap();
        ClsModel::head(&c.head, &c.embedding().unwrap()).unwrap()
    }

    #[test]
    fn construction_on_a_fresh_sample() {
        // The AND construction on its own hidden set: verified, no error on the sample, so
        // the Clopper-Pearson bound is 1 - delta^(1/m) (closed form of the k = 0 limit) and the
        // junta certificate is the Occam bound at err_S(g) = 0.
        let t = 40;
        let model = and_head(t, vec![3, 17, 30]);
        let task = Task::with_support(TaskKind::And, t, vec![3, 17, 30]).unwrap();
        let p = FreshParams {
            num_samples: 500,
            delta: 0.05,
            fresh_samples: 1000,
            seed: 2,
        };
        let c = certify_fresh(&model, &task, &p).unwrap();
        assert_eq!(c.sample_errors, 0);
        let want = 1.0 - 0.05f64.powf(1.0 / 500.0);
        assert!(c.test_upper >= want && c.test_upper < want * (1.0 + 1e-8));
        assert_eq!(c.junta.route, super::super::Route::Verified);
        assert_eq!(c.junta.positions, vec![3, 17, 30]);
        assert_eq!(c.junta.train_error_g, 0.0);
        // A task on another hidden set: the model errs on the fresh sample.
        let other = Task::with_support(TaskKind::And, t, vec![0, 1, 2]).unwrap();
        let c = certify_fresh(&model, &other, &p).unwrap();
        assert!(c.sample_errors > 0 && c.test_upper > 0.1, "{c:?}");
        assert!(c.junta.certified_error_model > 0.1);
    }

    #[test]
    fn bad_inputs_name_the_field() {
        let t = 10;
        let model = and_head(t, vec![1, 2]);
        let task = Task::with_support(TaskKind::And, t, vec![1, 2]).unwrap();
        let ok = FreshParams {
            num_samples: 50,
            delta: 0.05,
            fresh_samples: 100,
            seed: 0,
        };
        let err = |p: FreshParams, task: &Task| certify_fresh(&model, task, &p).unwrap_err();
        let name = |e: Error| match e {
            Error::InvalidValue { field, .. } | Error::ShapeMismatch { field, .. } => field,
            other => format!("{other:?}"),
        };
        let bad = [
            (
                FreshParams {
                    num_samples: 0,
                    ..ok.clone()
                },
                "num_samples",
            ),
            (
                FreshParams {
                    delta: 1.0,
                    ..ok.clone()
                },
                "delta",
            ),
            (
                FreshParams {
                    delta: 0.0,
                    ..ok.clone()
                },
                "delta",
            ),
            (
                FreshParams {
                    fresh_samples: 0,
                    ..ok.clone()
                },
                "fresh_samples",
            ),
        ];
        for (p, field) in bad {
            assert_eq!(name(err(p, &task)), field);
        }
        let longer = Task::with_support(TaskKind::And, t + 1, vec![1, 2]).unwrap();
        assert_eq!(name(err(ok.clone(), &longer)), "task.context_len");
    }
}
