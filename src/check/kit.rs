//! The checkers ([`Kit`]) and what they take and return ([`Bound`], [`Passed`], [`Failure`]).

use super::props::{
    self, EstimateBudget, Field, above_estimates_at, above_lower_bound_at, domain_at,
    domain_error_at, monotone_at, qk_invariance_at,
};
use super::search::{Budget, Claim, run_claim};
use super::strategy::{self, Point, Ranges};
use crate::bounds::HeadRadii;
use crate::error::Result;
use crate::model::ClsHead;
use proptest::strategy::Strategy;
use proptest::test_runner::{
    Config as ProptestConfig, FileFailurePersistence, RngSeed, TestCaseError, TestError, TestRunner,
};
use std::fmt;

/// What a bound bounds; decides which empirical lower estimate [`Kit::above_estimates`] holds
/// it against and whether `eps` is one of its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// `ln N_inf(F_head, eps, S)`, the log covering number in the max-over-samples metric, for
    /// every sample `S` of `num_samples` sequences with rows of norm at most `b_x`.
    LogCovering,
    /// The empirical Rademacher complexity `Rad_S(F_head)` on every such sample (`eps` unused).
    Rademacher,
}

type EvalFn = Box<dyn Fn(&Point) -> Result<f64> + Send + Sync>;
type MeasureFn = Box<dyn Fn(&ClsHead<f64>, f64) -> Result<HeadRadii> + Send + Sync>;

/// A user's bound on the bounded-norm \[CLS\] head class: a name, what it bounds, and the
/// function of the radii. [`Kit::qk_invariance`] also needs how radii are read off weights:
/// [`strategy::measured_radii`] unless [`Bound::with_measure`] says otherwise.
pub struct Bound {
    pub name: String,
    pub quantity: Quantity,
    eval: EvalFn,
    measure: MeasureFn,
}

impl Bound {
    /// A bound on [`Quantity::LogCovering`] at `point.eps`.
    pub fn log_covering(
        name: &str,
        f: impl Fn(&Point) -> Result<f64> + Send + Sync + 'static,
    ) -> Bound {
        Bound::new(name, Quantity::LogCovering, f)
    }

    /// A bound on [`Quantity::Rademacher`] (`point.eps` is ignored).
    pub fn rademacher(
        name: &str,
        f: impl Fn(&Point) -> Result<f64> + Send + Sync + 'static,
    ) -> Bound {
        Bound::new(name, Quantity::Rademacher, f)
    }

    fn new(
        name: &str,
        quantity: Quantity,
        f: impl Fn(&Point) -> Result<f64> + Send + Sync + 'static,
    ) -> Bound {
        Bound {
            name: name.into(),
            quantity,
            eval: Box::new(f),
            measure: Box::new(strategy::measured_radii),
        }
    }

    /// Replaces how radii are measured from a head's weights (`(head, b_x) -> radii`).
    pub fn with_measure(
        mut self,
        m: impl Fn(&ClsHead<f64>, f64) -> Result<HeadRadii> + Send + Sync + 'static,
    ) -> Bound {
        self.measure = Box::new(m);
        self
    }

    /// The bound at a point.
    pub fn eval(&self, point: &Point) -> Result<f64> {
        (self.eval)(point)
    }

    /// The bound at the radii measured from `head`'s weights (setting, `b_x` and `eps` from
    /// `point`, whose own radii are ignored).
    pub fn at_head(&self, point: &Point, head: &ClsHead<f64>) -> Result<f64> {
        let radii = (self.measure)(head, point.radii.b_x)?;
        self.eval(&Point { radii, ..*point })
    }
}

/// A checker that found no counterexample.
#[derive(Debug, Clone, PartialEq)]
pub struct Passed {
    pub check: &'static str,
    pub bound: String,
    /// Cases (proptest) or instances (claim search) evaluated.
    pub cases: usize,
}

/// A failed check: what failed, why, and the minimal instance as a test case.
#[derive(Clone, PartialEq)]
pub struct Failure {
    pub check: &'static str,
    pub bound: String,
    /// Why the minimal instance fails.
    pub reason: String,
    /// A `#[test]` that replays the minimal instance (empty when there is none, e.g. a missed
    /// mutant).
    pub test_case: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "attnbounds::check: `{}` FAILED for \"{}\"",
            self.check, self.bound
        )?;
        for line in self.reason.lines() {
            writeln!(f, "  {line}")?;
        }
        if !self.test_case.is_empty() {
            writeln!(f, "copy-pasteable test case (the minimal instance):")?;
            for line in self.test_case.lines() {
                writeln!(f, "    {line}")?;
            }
        }
        Ok(())
    }
}

/// `unwrap()` on a checker prints the full report.
impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n{self}")
    }
}

impl std::error::Error for Failure {}

/// The checkers and their budgets. [`Kit::default`] writes no regression files;
/// [`Kit::persisted`] writes them next to the calling test file, like `proptest!` does.
///
/// ```
/// use attnbounds::bounds::{self, BoundParams};
/// use attnbounds::check::{Bound, Kit};
///
/// let params = BoundParams::default();
/// let paper = Bound::log_covering("paper shape, c0 = 1", move |p| {
///     bounds::paper_log_covering(&p.setting, &p.radii, &params, p.eps)
/// });
/// Kit::default().with_cases(16).monotone(&paper).unwrap();
/// ```
#[derive(Clone)]
pub struct Kit {
    /// Cases, shrinking and failure persistence of the proptest checkers.
    pub config: ProptestConfig,
    /// Where [`Kit::monotone`], [`Kit::domain`] and [`Kit::above_lower_bound`] draw points.
    pub ranges: Ranges,
    /// Sample sizes and ascent effort of [`Kit::above_estimates`].
    pub estimates: EstimateBudget,
    /// Budget and seed of [`Kit::search`].
    pub search_budget: Budget,
    pub search_seed: u64,
}

impl Default for Kit {
    /// 64 cases per proptest checker from the fixed proptest seed 2022 (the same cases every
    /// run, so CI is reproducible; set `config.rng_seed = RngSeed::Random` to explore, or the
    /// `PROPTEST_RNG_SEED` variable), [`Ranges::wide`], [`EstimateBudget::DEFAULT`] (with 16
    /// cases: each builds a sample and runs an ascent), [`Budget::QUICK`] with seed 2022.
    fn default() -> Self {
        Kit {
            config: ProptestConfig {
                cases: 64,
                failure_persistence: None,
                rng_seed: RngSeed::Fixed(2022),
                ..ProptestConfig::default()
            },
            ranges: Ranges::wide(),
            estimates: EstimateBudget::DEFAULT,
            search_budget: Budget::QUICK,
            search_seed: 2022,
        }
    }
}

impl Kit {
    /// [`Kit::default`] with proptest regression files beside `source_file` (pass `file!()`):
    /// `tests/foo.rs` gets `tests/foo.proptest-regressions` (what proptest itself falls back to
    /// outside `src/`). A failing case is saved there and replayed first on the next run; commit
    /// the file to keep the case.
    pub fn persisted(source_file: &'static str) -> Kit {
        let mut kit = Kit::default();
        kit.config.source_file = Some(source_file);
        kit.config.failure_persistence = Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        )));
        kit
    }

    /// Sets the proptest cases (the estimate checker runs a quarter of them, at least 1).
    pub fn with_cases(mut self, cases: u32) -> Kit {
        self.config.cases = cases;
        self
    }

    /// Non-decreasing in every radius and in `context_len`: `bound(p) <= bound(p')` where `p'`
    /// multiplies one [`Axis`] by a factor in `[1, 10]`, up to a relative `1e-12`.
    ///
    /// ```
    /// use attnbounds::check::{Bound, Kit};
    /// // A bound that shrinks with b_w is caught.
    /// let wrong = Bound::log_covering("1/b_w", |p| Ok(1.0 / p.radii.b_w));
    /// let failure = Kit::default().with_cases(32).monotone(&wrong).unwrap_err();
    /// assert!(failure.test_case.contains("Axis::BW"), "{failure}");
    /// ```
    pub fn monotone(&self, bound: &Bound) -> std::result::Result<Passed, Failure> {
        self.valid("monotone", bound, self.ranges.validate())?;
        let strategy = (strategy::points(&self.ranges), props::axes(), 1.0f64..=10.0);
        self.run(
            "monotone",
            bound,
            self.config.cases,
            strategy,
            |(p, axis, f)| monotone_at(bound, &p, axis, f),
            |(p, axis, f)| {
                format!("check::monotone_at(&your_bound(), &{p:?}, Axis::{axis:?}, {f:?})")
            },
        )
    }

    /// Invariance under `(c W_Q, W_K / c)`, `c` in `[1e-3, 1e3]` log-uniform: a head is drawn
    /// inside the point's radii (width and value_dim at most 16), its radii measured by the
    /// bound's measure before and after the rescaling, and the two bound values must agree to
    /// a relative `1e-9`.
    ///
    /// ```
    /// use attnbounds::check::{Bound, Kit, strategy};
    /// use attnbounds::norms;
    /// // Reading b_qk as (||W_Q||_F^2 + ||W_K||_F^2) / 2 (the weight-decay proxy for
    /// // ||W_Q||_F ||W_K||_F) instead of ||Theta||_F breaks the invariance.
    /// let proxy = Bound::log_covering("weight-decay proxy", |p| Ok(p.radii.b_qk))
    ///     .with_measure(|head, b_x| {
    ///         let mut r = strategy::measured_radii(head, b_x)?;
    ///         let q = norms::frobenius(&head.w_q.to_dmatrix())?;
    ///         let k = norms::frobenius(&head.w_k.to_dmatrix())?;
    ///         r.b_qk = (q * q + k * k) / 2.0;
    ///         Ok(r)
    ///     });
    /// assert!(Kit::default().with_cases(16).qk_invariance(&proxy).is_err());
    /// ```
    pub fn qk_invariance(&self, bound: &Bound) -> std::result::Result<Passed, Failure> {
        self.valid("qk_invariance", bound, self.ranges.validate())?;
        let strategy = (
            strategy::points(&self.ranges.for_heads()),
            (-3.0f64..=3.0).prop_map(|e| 10f64.powf(e)),
        );
        self.run(
            "qk_invariance",
            bound,
            self.config.cases,
            strategy,
            |(p, c)| qk_invariance_at(bound, &p, c),
            |(p, c)| format!("check::qk_invariance_at(&your_bound(), &{p:?}, {c:?})"),
        )
    }

    /// Finite on the documented domain ([`Kit::ranges`]), and a typed
    /// `Error::InvalidValue` naming the field for a value outside it: each radius (and `eps`
    /// for a covering bound) set to `0`, `-1`, `NaN`, `+inf`, and each count set to `0`.
    ///
    /// ```
    /// use attnbounds::check::{Bound, Kit};
    /// // No validation: b_x = -1 is not reported as an error.
    /// let unchecked = Bound::rademacher("unchecked", |p| Ok(p.radii.b_x.abs()));
    /// let failure = Kit::default().with_cases(16).domain(&unchecked).unwrap_err();
    /// assert!(failure.reason.contains("b_x"), "{failure}");
    /// ```
    pub fn domain(&self, bound: &Bound) -> std::result::Result<Passed, Failure> {
        self.valid("domain", bound, self.ranges.validate())?;
        let inside = self.run(
            "domain",
            bound,
            self.config.cases,
            strategy::points(&self.ranges),
            |p| domain_at(bound, &p),
            |p| format!("check::domain_at(&your_bound(), &{p:?})"),
        )?;
        let fields: Vec<Field> = Field::ALL
            .into_iter()
            .filter(|f| bound.quantity == Quantity::LogCovering || *f != Field::Eps)
            .collect();
        let strategy = (
            strategy::points(&self.ranges),
            proptest::sample::select(fields),
            proptest::sample::select(vec![0.0, -1.0, f64::NAN, f64::INFINITY]),
        );
        let outside = self.run(
            "domain",
            bound,
            self.config.cases,
            strategy,
            |(p, field, bad)| domain_error_at(bound, &p, field, bad),
            |(p, field, bad)| {
                format!(
                    "check::domain_error_at(&your_bound(), &{p:?}, Field::{field:?}, {})",
                    props::f64_literal(*bad)
                )
            },
        )?;
        Ok(Passed {
            cases: inside.cases + outside.cases,
            ..inside
        })
    }

    /// Never below our empirical lower estimates on sampled instances: for a
    /// [`Quantity::Rademacher`] bound the lower end of the 95% t interval of the projected-ascent
    /// estimate (`capacity::head_rademacher`; the lower end, not the mean, so that a correct
    /// bound within the sampling error of the estimate is not flagged), for a [`Quantity::LogCovering`] bound the log of a
    /// greedy packing at separation `2 eps` (`capacity::greedy_packing`, `M(2 eps) <= N(eps)`).
    /// Instances are small (see [`EstimateBudget`]); `config.cases / 4` of them (at least 1).
    ///
    /// ```
    /// use attnbounds::check::{Bound, Kit};
    /// // A "Rademacher bound" of 1e-6 is below what the ascent attains.
    /// let tiny = Bound::rademacher("1e-6", |_| Ok(1e-6));
    /// assert!(Kit::default().with_cases(4).above_estimates(&tiny).is_err());
    /// ```
    pub fn above_estimates(&self, bound: &Bound) -> std::result::Result<Passed, Failure> {
        let budget = self.estimates;
        self.valid("above_estimates", bound, budget.validate())?;
        self.run(
            "above_estimates",
            bound,
            (self.config.cases / 4).max(1),
            strategy::estimate_points(&budget),
            |p| above_estimates_at(bound, &p, &budget),
            move |p| {
                format!(
                    "check::above_estimates_at(&your_bound(), &{p:?}, &{})",
                    budget.to_rust()
                )
            },
        )
    }

    /// Never below a rigorous lower bound `lower(point)` that the user states, on the points of
    /// [`Kit::ranges`].
    ///
    /// ```
    /// use attnbounds::check::{Bound, Kit};
    /// // |f| can reach b_range = b_w b_v b_x, so Rad_S >= 0 is all one can say for free; a
    /// // stated lower bound above the bound is caught.
    /// let half = Bound::rademacher("half", |p| Ok(0.5 * p.radii.b_w));
    /// assert!(Kit::default().with_cases(8).above_lower_bound(&half, |p| p.radii.b_w).is_err());
    /// ```
    pub fn above_lower_bound(
        &self,
        bound: &Bound,
        lower: impl Fn(&Point) -> f64,
    ) -> std::result::Result<Passed, Failure> {
        self.valid("above_lower_bound", bound, self.ranges.validate())?;
        self.run(
            "above_lower_bound",
            bound,
            self.config.cases,
            strategy::points(&self.ranges),
            |p| above_lower_bound_at(bound, &lower, &p),
            |p| format!("check::above_lower_bound_at(&your_bound(), &your_lower_bound, &{p:?})"),
        )
    }

    /// The claim search on `claim` (random search, then (1+1)-ES ascent on `lhs/rhs` from the
    /// claim's seeds and random restarts) and on its mutant, with [`Kit::search_budget`].
    /// Fails if the claim is violated (the worst instance is the test case) or if its mutant is
    /// *not* caught (the search cannot see the claim's edge, so "holds" would mean little).
    ///
    /// ```
    /// use attnbounds::check::{Claim, Kit, search::Budget};
    /// // x^2 >= 2x - 1 for all x, and the mutant x^2 >= 2x - 0.9 fails near x = 1.
    /// let claim = Claim::new("square", "2x - 1 <= x^2", 1, |p| Some((2.0 * p[0] - 1.0 + 10.0, p[0] * p[0] + 10.0)))
    ///     .with_mutant(Claim::new("square-mutant", "2x - 0.9 <= x^2", 1, |p| {
    ///         Some((2.0 * p[0] - 0.9 + 10.0, p[0] * p[0] + 10.0))
    ///     }));
    /// let kit = Kit { search_budget: Budget { random: 200, restarts: 2, steps: 200 }, ..Kit::default() };
    /// let passed = kit.search(&claim).unwrap();
    /// assert!(passed.cases > 200);
    /// ```
    pub fn search(&self, claim: &Claim) -> std::result::Result<Passed, Failure> {
        let run = run_claim(claim, self.search_budget, self.search_seed);
        let o = &run.outcome;
        let budget = format!(
            "budget {:?}, seed {}, {} instances",
            run.budget, run.seed, o.trials
        );
        if o.violated() {
            return Err(Failure {
                check: "search",
                bound: claim.id.clone(),
                reason: format!(
                    "claim VIOLATED: {}\nworst lhs/rhs = {:e}: lhs = {:e} > rhs = {:e}\nat params {:?}\n({budget})",
                    claim.statement, o.worst_ratio, o.worst_lhs, o.worst_rhs, o.worst_params
                ),
                test_case: props::test_case(
                    &claim.id,
                    "search",
                    &format!("check::claim_at(&your_claim(), &{:?})", o.worst_params),
                ),
            });
        }
        if let Some((statement, m)) = &run.mutant
            && !m.violated()
        {
            return Err(Failure {
                check: "search",
                bound: claim.id.clone(),
                reason: format!(
                    "mutant MISSED: \"{statement}\" was not found violated (worst lhs/rhs {:e}), \
                     so the search does not reach the claim's edge\n(claim worst lhs/rhs {:e}; {budget})",
                    m.worst_ratio, o.worst_ratio
                ),
                test_case: String::new(),
            });
        }
        Ok(Passed {
            check: "search",
            bound: claim.id.clone(),
            cases: o.trials,
        })
    }

    /// A kit whose ranges or budget are outside their domain fails before any case, with the
    /// typed error as the reason.
    fn valid(
        &self,
        check: &'static str,
        bound: &Bound,
        valid: Result<()>,
    ) -> std::result::Result<(), Failure> {
        valid.map_err(|e| Failure {
            check,
            bound: bound.name.clone(),
            reason: format!("the kit's configuration is invalid: {e}"),
            test_case: String::new(),
        })
    }

    /// Runs one proptest property; a failure becomes a [`Failure`] with the shrunk case.
    fn run<S: Strategy>(
        &self,
        check: &'static str,
        bound: &Bound,
        cases: u32,
        strategy: S,
        test: impl Fn(S::Value) -> std::result::Result<(), TestCaseError>,
        call: impl Fn(&S::Value) -> String,
    ) -> std::result::Result<Passed, Failure> {
        let mut runner = TestRunner::new(ProptestConfig {
            cases,
            ..self.config.clone()
        });
        match runner.run(&strategy, test) {
            Ok(()) => Ok(Passed {
                check,
                bound: bound.name.clone(),
                cases: cases as usize,
            }),
            Err(TestError::Fail(reason, value)) => Err(Failure {
                check,
                bound: bound.name.clone(),
                reason: reason.message().to_string(),
                test_case: props::test_case(&bound.name, check, &call(&value)),
            }),
            Err(TestError::Abort(reason)) => Err(Failure {
                check,
                bound: bound.name.clone(),
                reason: format!("proptest aborted: {}", reason.message()),
                test_case: String::new(),
            }),
        }
    }
}
