//! The PAC-Bayes certificate of a trained model (docs/certificates.md#5-pac-bayes).
//!
//! Posterior Q_sigma = N(theta_hat, sigma^2 I) around the trained weights, prior
//! P_sigma = N(theta_0, sigma^2 I) at the initial weights reproduced from the trial seed
//! ([`initial_model`]; the prior is fixed before the data because the seed is), sigma on a grid
//! fixed in advance ([`DEFAULT_SIGMA_GRID`]) with a union bound, Maurer's kl bound (P2) and the
//! Monte Carlo confidence (P4) of the stochastic training error. What is certified is the
//! **stochastic predictor Q** (draw weights from Q for each input, then predict), never the
//! trained network itself: [`CERTIFIES_Q`] says so beside every printed value.
//!
//! The weights are handled in f64 (the f32 trained and initial weights convert exactly); the
//! draws are seeded ChaCha8 streams, one per sigma. The formulas are in `bounds::pac_bayes`.

use super::ClsModel;
use crate::bounds::{gaussian_kl, grid_delta, pac_bayes_at_sigma};
use crate::config::CellConfig;
use crate::error::{Error, Result, check};
use crate::model::TokenBatch;
use crate::optim::Parameters;
use crate::tasks::{Dataset, Task};
use crate::train::{TrainedModel, init_model};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What the PAC-Bayes value bounds, printed beside it.
pub const CERTIFIES_Q: &str = "the STOCHASTIC predictor Q = N(theta_hat, sigma^2 I) (weights drawn afresh per input), not the trained network";

/// The sigma grid, fixed before any data (a union bound over it, (P3)).
pub const DEFAULT_SIGMA_GRID: [f64; 7] = [1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0];

/// Share of delta for Maurer's bound; the rest for the Monte Carlo confidence. Each is split
/// evenly over the grid.
pub const PB_DELTA_SHARE: f64 = 0.5;

/// Parameters of [`certify_pac_bayes`], all fixed before the data.
#[derive(Clone, Debug, PartialEq)]
pub struct PacBayesParams {
    pub sigma_grid: Vec<f64>,
    /// Total failure probability (Maurer's bound and the Monte Carlo confidence, every sigma).
    pub delta: f64,
    /// Weight draws per sigma for the Monte Carlo estimate of err_S(Q).
    pub n_draws: usize,
    /// Seed of the weight draws.
    pub seed: u64,
}

impl Default for PacBayesParams {
    fn default() -> Self {
        PacBayesParams {
            sigma_grid: DEFAULT_SIGMA_GRID.to_vec(),
            delta: 0.05,
            n_draws: 100,
            seed: 0,
        }
    }
}

/// One tensor's share of ||theta_hat - theta_0||^2 (its KL at sigma is this / (2 sigma^2)).
#[derive(Clone, Debug, PartialEq)]
pub struct TensorKl {
    pub name: String,
    pub sq_distance: f64,
    pub numel: usize,
}

/// The certificate at one sigma of the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct SigmaRow {
    pub sigma: f64,
    /// KL(Q || P) in nats (P1).
    pub kl: f64,
    /// Mean over the draws of the training error of a draw.
    pub mc_train_error: f64,
    /// err_S(Q) <= this (P4).
    pub train_error_upper: f64,
    /// err(Q) <= this (P2) with the per-sigma deltas.
    pub bound: f64,
}

/// The PAC-Bayes certificate (docs/certificates.md (P5)).
#[derive(Clone, Debug, PartialEq)]
pub struct PacBayesCertificate {
    pub rows: Vec<SigmaRow>,
    /// Index into `rows` of the smallest bound (chosen after the data; the union bound pays).
    pub best: usize,
    /// err(Q_best) <= this with probability >= 1 - delta.
    pub certified_error_q: f64,
    /// ||theta_hat - theta_0||^2 per tensor.
    pub breakdown: Vec<TensorKl>,
    /// (delta for Maurer per sigma, delta for Monte Carlo per sigma).
    pub delta_split: (f64, f64),
    pub n_draws: usize,
    pub num_samples: usize,
    pub certifies: &'static str,
}

impl PacBayesCertificate {
    /// The row of the certified value.
    pub fn best_row(&self) -> &SigmaRow {
        &self.rows[self.best]
    }
}

/// The initial model of trial `seed` of `cell`, exactly as `train::train_cell` draws it: one
/// ChaCha8 stream drawing, in order, the hidden index set, the training sample and the initial
/// weights (the prior's centre theta_0). Also returns the task and the training sample.
pub fn initial_model(cell: &CellConfig, seed: u64) -> Result<(Task, Dataset, TrainedModel)> {
    cell.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let task = Task::new(cell.task_kind()?, cell.context_len, cell.sparsity, &mut rng)?;
    let data = task.sample(cell.num_samples, &mut rng)?;
    let model = init_model(cell, &mut rng)?;
    Ok((task, data, model))
}

/// A trained model in f64 (exact conversion), as the certificates read it.
pub fn cls_model(model: &TrainedModel) -> Result<ClsModel> {
    match model {
        TrainedModel::ClsHead(m) => ClsModel::head(&m.head, &m.embedding),
        TrainedModel::Transformer(m) => ClsModel::transformer(m),
        TrainedModel::Protocol(_) => Err(Error::invalid(
            "model",
            "paper_protocol",
            "cls_head or transformer: the certificates do not cover LayerNorm, biases or dropout (docs/certificates.md)",
        )),
    }
}

fn params(model: &mut ClsModel) -> (Vec<String>, Vec<&mut [f64]>) {
    match model {
        ClsModel::Head { head, .. } => (head.names(), head.tensors_mut()),
        ClsModel::Block(m) => (m.names(), m.tensors_mut()),
    }
}

fn tensors(model: &ClsModel) -> (Vec<String>, Vec<&[f64]>) {
    match model {
        ClsModel::Head { head, .. } => (head.names(), head.tensors()),
        ClsModel::Block(m) => (m.names(), m.tensors()),
    }
}

/// ||theta_hat - theta_0||^2 per tensor; the two models must have the same parameter shapes.
pub fn kl_breakdown(trained: &ClsModel, initial: &ClsModel) -> Result<Vec<TensorKl>> {
    let (names, a) = tensors(trained);
    let (names0, b) = tensors(initial);
    if names != names0 {
        return Err(Error::invalid(
            "initial model",
            format!("{names0:?}"),
            format!("the trained model's tensors {names:?}"),
        ));
    }
    let mut out = Vec::with_capacity(names.len());
    for ((name, x), y) in names.into_iter().zip(a).zip(b) {
        if x.len() != y.len() {
            return Err(Error::shape(name, x.len(), y.len()));
        }
        check::all_finite(&name, x)?;
        check::all_finite(&name, y)?;
        let sq: f64 = x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum();
        out.push(TensorKl {
            name,
            // Each square and sum rounds once: (n + 2) ulps relative cover them.
            sq_distance: sq * (1.0 + (x.len() as f64 + 2.0) * f64::EPSILON),
            numel: x.len(),
        });
    }
    Ok(out)
}

/// A standard normal by Box-Muller from two uniforms in (0, 1].
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn train_error(model: &ClsModel, batch: &TokenBatch, labels: &[i8]) -> Result<f64> {
    let f = model.predict(batch)?;
    let wrong = f
        .iter()
        .zip(labels)
        .filter(|(f, y)| {
            (f64::from(**y) * **f).partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
        })
        .count();
    Ok(wrong as f64 / labels.len() as f64)
}

/// The PAC-Bayes certificate of `trained` with prior centre `initial` on the training sample
/// `train` (module doc). Errors: delta outside (0, 1), an empty or non-positive sigma grid,
/// n_draws = 0, m = 0, models of different shapes, NaN weights (naming the tensor).
pub fn certify_pac_bayes(
    trained: &ClsModel,
    initial: &ClsModel,
    train: &Dataset,
    params_: &PacBayesParams,
) -> Result<PacBayesCertificate> {
    check::open_unit("delta", params_.delta)?;
    check::at_least("sigma_grid", params_.sigma_grid.len(), 1)?;
    for &s in &params_.sigma_grid {
        check::positive("sigma_grid", s)?;
    }
    check::at_least("n_draws", params_.n_draws, 1)?;
    crate::limits::count("n_draws", params_.n_draws, 100_000)?;
    let m = train.len();
    check::at_least("num_samples", m, 1)?;
    if train.context_len() != trained.context_len() {
        return Err(Error::shape(
            "train.context_len",
            trained.context_len(),
            train.context_len(),
        ));
    }
    let breakdown = kl_breakdown(trained, initial)?;
    let sq: f64 = breakdown.iter().map(|t| t.sq_distance).sum::<f64>()
        * (1.0 + (breakdown.len() as f64 + 1.0) * f64::EPSILON);
    let k = params_.sigma_grid.len();
    let delta_pb = grid_delta(params_.delta * PB_DELTA_SHARE, k)?;
    let delta_mc = grid_delta(params_.delta * (1.0 - PB_DELTA_SHARE), k)?;
    let batch = TokenBatch::new(train.context_len(), train.bits().to_vec())?;
    let mut rows = Vec::with_capacity(k);
    for (i, &sigma) in params_.sigma_grid.iter().enumerate() {
        let kl = gaussian_kl(sq, sigma)?;
        let mut rng = ChaCha8Rng::seed_from_u64(
            params_.seed ^ (0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(i as u64 + 1)),
        );
        let mut total = 0.0;
        let mut draw = trained.clone();
        for _ in 0..params_.n_draws {
            {
                let (_, dst) = params(&mut draw);
                let (_, src) = tensors(trained);
                for (d, s) in dst.into_iter().zip(src) {
                    for (x, &c) in d.iter_mut().zip(s) {
                        *x = c + sigma * normal(&mut rng);
                    }
                }
            }
            total += train_error(&draw, &batch, train.labels())?;
        }
        let mean = (total / params_.n_draws as f64).clamp(0.0, 1.0);
        let (train_error_upper, bound) =
            pac_bayes_at_sigma(mean, params_.n_draws, kl, m, delta_pb, delta_mc)?;
        rows.push(SigmaRow {
            sigma,
            kl,
            mc_train_error: mean,
            train_error_upper,
            bound,
        });
    }
    let best = (0..rows.len())
        .min_by(|&a, &b| rows[a].bound.total_cmp(&rows[b].bound))
        .unwrap_or(0);
    Ok(PacBayesCertificate {
        certified_error_q: rows[best].bound,
        rows,
        best,
        breakdown,
        delta_split: (delta_pb, delta_mc),
        n_draws: params_.n_draws,
        num_samples: m,
        certifies: CERTIFIES_Q,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ModelKind, StopRule, TaskName, TrainConfig};
    use crate::train::train_cell;

    fn cell(model: ModelKind, steps: usize) -> CellConfig {
        CellConfig {
            task: TaskName::And,
            truth_table: None,
            sparsity: 2,
            context_len: 8,
            num_samples: 64,
            model,
            train: TrainConfig {
                steps,
                stop: StopRule::MaxSteps,
                width: 8,
                value_dim: 2,
                heads: 2,
                mlp_width: 8,
                population_samples: 1000,
                ..TrainConfig::default()
            },
            seed: 1,
        }
    }

    /// theta_0 is the trial's initialisation: the rebuilt sample equals the trial's, and the
    /// trained weights moved away from theta_0 by Adam's steps (at most lr * steps per entry,
    /// Adam's per-coordinate step bound |Delta| <= lr up to its epsilon), so theta_0 is not some
    /// other draw (those differ by O(init_scale) per entry).
    #[test]
    fn initial_model_is_the_trials_initialisation() {
        for kind in [ModelKind::ClsHead, ModelKind::Transformer] {
            let c = cell(kind, 1);
            let trained = train_cell(&c, 7).unwrap();
            let (task, _, init) = initial_model(&c, 7).unwrap();
            assert_eq!(task, trained.task);
            let a = cls_model(&trained.model).unwrap();
            let b = cls_model(&init).unwrap();
            let (_, ta) = tensors(&a);
            let (_, tb) = tensors(&b);
            let lr = c.train.learning_rate;
            let max_diff = ta
                .iter()
                .zip(&tb)
                .flat_map(|(x, y)| x.iter().zip(y.iter()).map(|(p, q)| (p - q).abs()))
                .fold(0.0, f64::max);
            assert!(max_diff <= 1.01 * lr, "{kind:?}: {max_diff} > lr {lr}");
            // Another seed's initialisation is far.
            let (_, _, other) = initial_model(&c, 8).unwrap();
            let o = cls_model(&other).unwrap();
            let (_, to) = tensors(&o);
            let far = ta
                .iter()
                .zip(&to)
                .flat_map(|(x, y)| x.iter().zip(y.iter()).map(|(p, q)| (p - q).abs()))
                .fold(0.0, f64::max);
            assert!(far > 10.0 * lr, "{kind:?}: {far}");
        }
    }

    #[test]
    fn certificate_is_consistent_and_seeded() {
        let c = cell(ModelKind::ClsHead, 200);
        let trained = train_cell(&c, 3).unwrap();
        let (_, data, init) = initial_model(&c, 3).unwrap();
        let a = cls_model(&trained.model).unwrap();
        let b = cls_model(&init).unwrap();
        let p = PacBayesParams {
            n_draws: 20,
            ..PacBayesParams::default()
        };
        let cert = certify_pac_bayes(&a, &b, &data, &p).unwrap();
        assert_eq!(cert, certify_pac_bayes(&a, &b, &data, &p).unwrap());
        let sq: f64 = cert.breakdown.iter().map(|t| t.sq_distance).sum();
        assert!(sq > 0.0);
        for r in &cert.rows {
            // KL = sq / (2 sigma^2) (P1), within the outward rounding.
            let kl = sq / (2.0 * r.sigma * r.sigma);
            assert!(r.kl >= kl && r.kl <= kl * (1.0 + 1e-12), "{} vs {kl}", r.kl);
            assert!(r.train_error_upper >= r.mc_train_error);
            assert!(r.bound >= r.train_error_upper && r.bound <= 1.0);
        }
        assert_eq!(cert.certified_error_q, cert.best_row().bound);
        assert!(cert.rows.iter().all(|r| r.bound >= cert.certified_error_q));
        // A prior at the trained weights: KL 0 at every sigma.
        let same = certify_pac_bayes(&a, &a, &data, &p).unwrap();
        assert!(same.rows.iter().all(|r| r.kl == 0.0));
    }

    #[test]
    fn bad_inputs_name_the_field() {
        let c = cell(ModelKind::ClsHead, 1);
        let (_, data, init) = initial_model(&c, 3).unwrap();
        let a = cls_model(&init).unwrap();
        for (p, field) in [
            (
                PacBayesParams {
                    delta: 1.0,
                    ..PacBayesParams::default()
                },
                "delta",
            ),
            (
                PacBayesParams {
                    sigma_grid: vec![],
                    ..PacBayesParams::default()
                },
                "sigma_grid",
            ),
            (
                PacBayesParams {
                    sigma_grid: vec![0.1, -1.0],
                    ..PacBayesParams::default()
                },
                "sigma_grid",
            ),
            (
                PacBayesParams {
                    n_draws: 0,
                    ..PacBayesParams::default()
                },
                "n_draws",
            ),
        ] {
            let e = certify_pac_bayes(&a, &a, &data, &p)
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{e}");
        }
        // m = 0: an empty training sample of the right context length.
        let empty = Dataset::new(data.context_len(), vec![], vec![]).unwrap();
        let e = certify_pac_bayes(&a, &a, &empty, &PacBayesParams::default()).unwrap_err();
        assert!(e.to_string().contains("num_samples"), "{e}");
        // A model outside the certified classes (the paper protocol: LayerNorm, biases).
        let mut protocol = cell(ModelKind::PaperProtocol, 1);
        protocol.train.value_dim = 4; // width / heads, as the protocol requires
        let (_, _, p_init) = initial_model(&protocol, 3).unwrap();
        match cls_model(&p_init) {
            Err(Error::InvalidValue { field, .. }) => assert_eq!(field, "model"),
            other => panic!("paper protocol accepted: {other:?}"),
        }
        let t = cell(ModelKind::Transformer, 1);
        let (_, _, other) = initial_model(&t, 3).unwrap();
        let b = cls_model(&other).unwrap();
        assert!(
            certify_pac_bayes(&a, &b, &data, &PacBayesParams::default())
                .unwrap_err()
                .to_string()
                .contains("initial model")
        );
    }
}
