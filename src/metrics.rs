//! Every metric key a trial stores, defined once: name, unit and meaning.
//!
//! Trials store their results as [`Metrics`] (name -> finite `f64`) in the results store; the
//! names are a contract between the writer (a trial function) and every reader (summaries,
//! figures, exports, the next session's warm store). [`Metric`] is that contract: one variant
//! per scalar quantity, one quantity per variant, so the same quantity is never stored under
//! two names and one name never means two things. Indexed families (loss curves, attention
//! profiles, per-head norms, values at a covering scale eps) get one typed constructor each
//! ([`Indexed`], [`head_key`], [`AtEps`]).
//!
//! Adding a metric = one line in the `metrics!` table below. Names are checked unique (and
//! disjoint from every family) by the unit tests. This module depends on nothing above
//! `error`.

use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// Named scalar results of one trial, keyed by [`Metric::name`] (or a family's key).
pub type Metrics = BTreeMap<String, f64>;

macro_rules! metrics {
    ($($variant:ident => $name:literal, $unit:literal, $meaning:literal;)+) => {
        /// A stored scalar quantity (module doc). The name is its key in the store.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Metric { $($variant),+ }

        impl Metric {
            /// Every metric, in registry order.
            pub const ALL: &'static [Metric] = &[$(Metric::$variant),+];

            /// The key in the results store.
            pub fn name(self) -> &'static str {
                match self { $(Metric::$variant => $name),+ }
            }

            /// Unit of the value ("1" for dimensionless numbers).
            pub fn unit(self) -> &'static str {
                match self { $(Metric::$variant => $unit),+ }
            }

            /// What the value is, in one sentence.
            pub fn meaning(self) -> &'static str {
                match self { $(Metric::$variant => $meaning),+ }
            }
        }
    };
}

metrics! {
    // Fit on the training sample.
    TrainError => "train_error", "fraction", "fraction of training samples with y f(x) <= 0";
    TrainLoss => "train_loss", "nats", "mean training loss (the configured loss, no weight penalty)";
    TrainRampLoss => "train_ramp_loss", "1", "mean gamma-ramp loss on the training sample";
    MarginMin => "margin_min", "output units", "smallest training margin y f(x)";
    MarginMedian => "margin_median", "output units", "median training margin";
    MarginMean => "margin_mean", "output units", "mean training margin";
    MarginBelowGamma => "margin_below_gamma", "fraction", "fraction of training margins below gamma";
    // Population error (tasks::try_population_error).
    PopulationError => "population_error", "fraction", "population 0-1 error (exact or fresh-sample estimate)";
    PopulationLower => "population_lower", "fraction", "lower end of the population error's interval";
    PopulationUpper => "population_upper", "fraction", "upper end of the population error's interval";
    PopulationExact => "population_exact", "0/1", "1 when the population error was enumerated exactly";
    PopulationN => "population_n", "examples", "inputs enumerated, or fresh samples drawn";
    Gap => "gap", "fraction", "population error minus training error";
    GapRamp => "gap_ramp", "fraction", "population error minus empirical gamma-ramp loss";
    // Norms of a trained model (max over heads where per head).
    BX => "b_x", "input units", "B_X: largest l2 norm of an input row";
    ThetaFro => "theta_fro", "1", "||Theta||_F, Theta = W_K W_Q^T (max over heads)";
    Theta21 => "theta_21", "1", "||Theta||_{2,1} (max over heads)";
    ThetaSpectral => "theta_spectral", "1", "||Theta||_2 (max over heads)";
    WVSpectral => "w_v_spectral", "1", "||W_V||_2 (max over heads)";
    WV21 => "w_v_21", "1", "||W_V||_{2,1} (max over heads)";
    WCSpectral => "w_c_spectral", "1", "||W_C||_2 (max over heads)";
    WC21 => "w_c_21", "1", "||W_C||_{2,1} (max over heads)";
    MlpW1Spectral => "mlp_w1_spectral", "1", "||W_1||_2 of the MLP";
    MlpW2Spectral => "mlp_w2_spectral", "1", "||W_2||_2 of the MLP";
    WL2 => "w_l2", "1", "||w||_2 of the read-out";
    // The training run.
    Steps => "steps", "steps", "optimiser steps taken";
    Epochs => "epochs", "epochs", "steps * min(batch_size, m) / m";
    StopReason => "stop_reason", "code", "why training stopped (train::StopReason::code)";
    NumParams => "num_params", "count", "trainable parameters";
    // Gap experiment: post-hoc bounds at the trained norms.
    HeadRange => "head_range", "output units", "range b = B_w L_sigma B_V B_X of the head class";
    RademacherExplicit => "rademacher_explicit", "output units", "explicit Rademacher bound at the post-hoc radii";
    RademacherPaper => "rademacher_paper", "output units", "paper-shape Rademacher bound (numeric Dudley) at the post-hoc radii";
    PosthocLnTwoOverDelta => "posthoc_ln_two_over_delta", "nats", "ln(2/delta_J) paid for the post-hoc radius grid";
    BoundExplicit => "bound_explicit", "fraction", "explicit generalization-gap bound (uncapped)";
    BoundExplicitCapped => "bound_explicit_capped", "fraction", "explicit generalization-gap bound capped at 1";
    BoundPaper => "bound_paper", "fraction", "paper-shape generalization-gap bound";
    ExplicitC => "explicit_c", "nats", "C of the explicit covering number in closed form, ln N ~ C / eps^2";
    PaperC => "paper_c", "nats", "C of the paper-shape covering number, ln N ~ C / eps^2";
    BoundExplicitShape => "bound_explicit_shape", "fraction", "gap-bound shape 2/gamma 12 sqrt(C/m) + confidence, explicit C";
    BoundExplicitRound1 => "bound_explicit_round1", "fraction", "explicit generalization-gap bound before the tightenings (round 1, uncapped)";
    BoundExplicitRound1Shape => "bound_explicit_round1_shape", "fraction", "gap-bound shape 2/gamma 12 sqrt(C/m) + confidence, round-1 explicit C";
    BoundPaperShape => "bound_paper_shape", "fraction", "gap-bound shape 2/gamma 12 sqrt(C/m) + confidence, paper C";
    // Capacity experiment.
    RademacherLowerMean => "rademacher_lower_mean", "output units", "empirical Rademacher lower estimate (mean over sign draws)";
    RademacherLowerCiLower => "rademacher_lower_ci_lower", "output units", "lower end of its Student t interval";
    RademacherLowerCiUpper => "rademacher_lower_ci_upper", "output units", "upper end of its Student t interval";
    Draws => "draws", "count", "Rademacher sign draws";
    Restarts => "restarts", "count", "ascent restarts per draw";
    LinearFlatExactMean => "linear_flat_exact_mean", "output units", "exact Rademacher of the flattened linear class (mean over draws)";
    LinearFlatExactCiLower => "linear_flat_exact_ci_lower", "output units", "lower end of its Student t interval";
    LinearFlatExactCiUpper => "linear_flat_exact_ci_upper", "output units", "upper end of its Student t interval";
    Width => "width", "1", "d, the width of the input rows";
    RademacherBoundExplicit => "rademacher_bound_explicit", "output units", "explicit single-head Rademacher bound at the ball's radii";
    RademacherBoundPaperShape => "rademacher_bound_paper_shape", "output units", "paper-shape Rademacher bound at the ball's radii";
    RademacherBoundBftFlat => "rademacher_bound_bft_flat", "output units", "spectral flattened-input (BFT 2017 style) Rademacher bound";
    RademacherBoundMaurey => "rademacher_bound_maurey", "output units", "sequence-length-free Maurey Rademacher bound";
    RademacherBoundParamCount => "rademacher_bound_param_count", "output units", "parameter-counting Rademacher bound";
    ExplicitUncappedScale => "explicit_uncapped_scale", "output units", "12 sqrt(C/m) with the explicit C (Dudley's leading term, uncapped)";
    PaperUncappedScale => "paper_uncapped_scale", "output units", "12 sqrt(C/m) with the paper C (uncapped)";
    PackingMembers => "packing_members", "count", "class members sampled for the packing";
    // Attention map.
    MassSInit => "mass_s_init", "fraction", "[CLS] attention mass on the hidden set S at initialization";
    MassS => "mass_s", "fraction", "[CLS] attention mass on the hidden set S after training";
    // Sparse parity.
    DropStep => "drop_step", "steps", "first step whose windowed loss < ln(2)/2 (steps + 1 if never)";
    // Certificates (experiments::certificates; delta = 0.05).
    CertJunta => "cert_junta", "fraction", "junta certificate: upper bound on the trained model's test error";
    CertJuntaVerified => "cert_junta_verified", "0/1", "1 if the model was verified equal to the extracted junta on all 2^T inputs";
    CertJuntaBits => "cert_junta_bits", "bits", "code length K of the extracted junta";
    CertJuntaTrainError => "cert_junta_train_error", "fraction", "training error of the extracted junta g";
    CertJuntaOccamKl => "cert_junta_occam_kl", "fraction", "Occam bound (kl form) on the junta's test error";
    CertJuntaOccamHoeffding => "cert_junta_occam_hoeffding", "fraction", "Occam bound (Hoeffding form) on the junta's test error";
    CertJuntaSampledUpper => "cert_junta_sampled_upper", "fraction", "Clopper-Pearson upper limit of P(model != g) (0 when verified)";
    CertJuntaHiddenSet => "cert_junta_hidden_set", "0/1", "1 if the junta's positions are the task's hidden index set";
    CertPacBayes => "cert_pac_bayes", "fraction", "PAC-Bayes certificate: upper bound on the STOCHASTIC predictor Q's test error";
    CertPacBayesKl => "cert_pac_bayes_kl", "nats", "KL(Q || P) at the certificate's sigma";
    CertPacBayesSigma => "cert_pac_bayes_sigma", "1", "sigma of the grid giving the PAC-Bayes certificate";
    CertPacBayesMcTrainError => "cert_pac_bayes_mc_train_error", "fraction", "Monte Carlo mean training error of Q at that sigma";
    CertPacBayesSqDistance => "cert_pac_bayes_sq_distance", "1", "||theta_hat - theta_0||^2 over every trained tensor";
    CertNormBound => "cert_norm_bound", "fraction", "best norm bound on the test error: training ramp loss + explicit post-hoc gap bound";
}

impl Metric {
    /// Stores `value` under this metric's name.
    pub fn put(self, metrics: &mut Metrics, value: f64) {
        metrics.insert(self.name().to_string(), value);
    }

    /// The stored value, if any.
    pub fn get(self, metrics: &Metrics) -> Option<f64> {
        metrics.get(self.name()).copied()
    }

    /// The stored value, or an error naming the metric (a store written by older code).
    pub fn require(self, metrics: &Metrics) -> Result<f64> {
        self.get(metrics).ok_or_else(|| {
            Error::invalid(
                "stored metrics",
                self.name(),
                "a metric stored by the trial",
            )
        })
    }
}

/// Families of metrics indexed by a position or step window: key = prefix + index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexed {
    /// `loss_NNN`: mean training loss over the NNN-th window of steps (sparse parity).
    LossWindow,
    /// `attn_init_NNN`: mean `[CLS]` attention on position NNN (NNN = T: `[CLS]` itself) at
    /// initialization.
    AttnInit,
    /// `attn_NNN`: the same after training.
    Attn,
    /// `hidden_J`: the J-th position of the hidden set S.
    Hidden,
}

impl Indexed {
    pub const ALL: [Indexed; 4] = [
        Indexed::LossWindow,
        Indexed::AttnInit,
        Indexed::Attn,
        Indexed::Hidden,
    ];

    fn prefix(self) -> &'static str {
        match self {
            Indexed::LossWindow => "loss_",
            Indexed::AttnInit => "attn_init_",
            Indexed::Attn => "attn_",
            Indexed::Hidden => "hidden_",
        }
    }

    /// The key of index `i` (three digits, zero-padded, except `hidden_J`).
    pub fn key(self, i: usize) -> String {
        match self {
            Indexed::Hidden => format!("{}{i}", self.prefix()),
            _ => format!("{}{i:03}", self.prefix()),
        }
    }

    /// The index of `key` if it belongs to this family.
    pub fn index_of(self, key: &str) -> Option<usize> {
        let rest = key.strip_prefix(self.prefix())?;
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        rest.parse().ok()
    }

    /// The family's values in `metrics`, by increasing index.
    pub fn values(self, metrics: &Metrics) -> Vec<f64> {
        let mut v: Vec<(usize, f64)> = (metrics.iter())
            .filter_map(|(k, &x)| self.index_of(k).map(|i| (i, x)))
            .collect();
        v.sort_by_key(|&(i, _)| i);
        v.into_iter().map(|(_, x)| x).collect()
    }
}

/// `heads[h].<name>`: a per-head norm of head `h` (stored with several heads next to the
/// max over heads under the metric's own name).
pub fn head_key(head: usize, metric: Metric) -> String {
    format!("heads[{head}].{}", metric.name())
}

/// `cert_pac_bayes_sq_distance[<tensor>]`: one trained tensor's share of
/// ||theta_hat - theta_0||^2 in the PAC-Bayes certificate (its KL at sigma is this / (2 sigma^2)).
pub fn pac_bayes_tensor_key(tensor: &str) -> String {
    format!("{}[{tensor}]", Metric::CertPacBayesSqDistance.name())
}

/// Every (tensor, squared distance) stored under [`pac_bayes_tensor_key`], by tensor name.
pub fn pac_bayes_tensors(metrics: &Metrics) -> Vec<(String, f64)> {
    let prefix = format!("{}[", Metric::CertPacBayesSqDistance.name());
    (metrics.iter())
        .filter_map(|(k, &v)| {
            let name = k.strip_prefix(&prefix)?.strip_suffix(']')?;
            Some((name.to_string(), v))
        })
        .collect()
}

/// Families indexed by a covering scale eps (capacity experiment): key = prefix + `{eps:e}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtEps {
    /// ln of the greedy 2 eps-packing of the sampled members (a lower estimate of ln N(eps)).
    PackingLn2Eps,
    /// Explicit covering bound ln N(eps).
    CoverExplicitLnEps,
    /// Paper-shape ln N(eps) (c0 = 1).
    CoverPaperLnEps,
}

impl AtEps {
    pub const ALL: [AtEps; 3] = [
        AtEps::PackingLn2Eps,
        AtEps::CoverExplicitLnEps,
        AtEps::CoverPaperLnEps,
    ];

    /// Every key of the family starts with this.
    pub fn prefix(self) -> &'static str {
        match self {
            AtEps::PackingLn2Eps => "packing_ln_2eps_",
            AtEps::CoverExplicitLnEps => "cover_explicit_ln_eps_",
            AtEps::CoverPaperLnEps => "cover_paper_ln_eps_",
        }
    }

    pub fn key(self, eps: f64) -> String {
        format!("{}{eps:e}", self.prefix())
    }
}

/// Wall-clock keys older stores kept among the metrics (`train_s` of the attention map, then
/// `train_time_s` of every trained trial); [`upgrade_legacy`] drops them.
pub const LEGACY_TIMING: &[&str] = &["train_s", "train_time_s"];

/// Renames, in a trial read from the store, the keys older code wrote for a quantity that now
/// has another name, so warm stores keep working (their cells' hashes did not change), and drops
/// the timing keys of [`LEGACY_TIMING`].
pub fn upgrade_legacy(experiment: &str, metrics: &mut Metrics) {
    let renames: &[(&str, Metric)] = match experiment {
        "capacity" => &[
            ("bound_explicit", Metric::RademacherBoundExplicit),
            ("bound_paper_shape", Metric::RademacherBoundPaperShape),
            ("bound_bft_flat", Metric::RademacherBoundBftFlat),
            ("bound_maurey", Metric::RademacherBoundMaurey),
            ("bound_param_count", Metric::RademacherBoundParamCount),
            ("range", Metric::HeadRange),
        ],
        _ => &[],
    };
    // Wall-clock time lives in the row's timing columns, not in the metrics, so that identical
    // runs store identical metrics; stores written before that kept it here.
    for timing in LEGACY_TIMING {
        metrics.remove(*timing);
    }
    for (old, new) in renames {
        if let Some(v) = metrics.remove(*old) {
            metrics.insert(new.name().to_string(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique_and_disjoint_from_families() {
        let names: BTreeSet<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(
            names.len(),
            Metric::ALL.len(),
            "a metric name is used twice"
        );
        for m in Metric::ALL {
            assert!(!m.unit().is_empty() && !m.meaning().is_empty(), "{m:?}");
            for f in Indexed::ALL {
                assert_eq!(f.index_of(m.name()), None, "{m:?} looks like {f:?}");
            }
            for f in AtEps::ALL {
                assert!(!m.name().starts_with(f.prefix()), "{m:?} looks like {f:?}");
            }
            assert!(!m.name().starts_with("heads["));
        }
    }

    #[test]
    fn families_round_trip_and_do_not_overlap() {
        for f in Indexed::ALL {
            for i in [0, 7, 123] {
                let k = f.key(i);
                assert_eq!(f.index_of(&k), Some(i), "{k}");
                for g in Indexed::ALL.into_iter().filter(|&g| g != f) {
                    assert_eq!(g.index_of(&k), None, "{k} read as {g:?}");
                }
            }
        }
        assert_eq!(Indexed::LossWindow.key(5), "loss_005");
        assert_eq!(Indexed::Hidden.key(2), "hidden_2");
        assert_eq!(AtEps::PackingLn2Eps.key(0.05), "packing_ln_2eps_5e-2");
        assert_eq!(head_key(1, Metric::ThetaFro), "heads[1].theta_fro");
        let mut m = Metrics::new();
        for (i, v) in [(2, 3.0), (0, 1.0), (1, 2.0)] {
            m.insert(Indexed::LossWindow.key(i), v);
        }
        m.insert(Indexed::Attn.key(0), 9.0);
        assert_eq!(Indexed::LossWindow.values(&m), vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn legacy_capacity_keys_are_renamed_and_others_kept() {
        let mut m = Metrics::new();
        m.insert("bound_explicit".into(), 1.5);
        m.insert("range".into(), 2.0);
        let mut gap = m.clone();
        upgrade_legacy("capacity", &mut m);
        assert_eq!(Metric::RademacherBoundExplicit.get(&m), Some(1.5));
        assert_eq!(Metric::HeadRange.get(&m), Some(2.0));
        assert!(!m.contains_key("bound_explicit"));
        // In the gap experiment bound_explicit is the gap bound: untouched.
        upgrade_legacy("gap-default", &mut gap);
        assert_eq!(Metric::BoundExplicit.get(&gap), Some(1.5));
    }
}
