//! The properties, one case at a time. Each `*_at` function checks one instance and returns
//! `Err(TestCaseError)` with the reason: [`super::Kit`] runs them under a proptest runner, a
//! failure report replays the minimal case through them, and a user's own `proptest!` block
//! can call them with `?`.

use super::search::{self, Claim, RATIO_TOL};
use super::strategy::{Point, ball_inside, head_in};
use super::{Bound, Quantity};
use crate::capacity::{self, AscentOptions, BitSample};
use crate::error::Error;
use crate::model::Activation;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

type Case = std::result::Result<(), TestCaseError>;

/// An input a bound must be non-decreasing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    BX,
    BQk,
    BV,
    BV21,
    BW,
    ContextLen,
}

pub(crate) fn axes() -> impl Strategy<Value = Axis> {
    proptest::sample::select(vec![
        Axis::BX,
        Axis::BQk,
        Axis::BV,
        Axis::BV21,
        Axis::BW,
        Axis::ContextLen,
    ])
}

/// An input with a documented domain, named as the library's validators name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    BX,
    BQk,
    BV,
    BV21,
    BW,
    Eps,
    NumSamples,
    ContextLen,
    Width,
    ValueDim,
}

impl Field {
    pub const ALL: [Field; 10] = [
        Field::BX,
        Field::BQk,
        Field::BV,
        Field::BV21,
        Field::BW,
        Field::Eps,
        Field::NumSamples,
        Field::ContextLen,
        Field::Width,
        Field::ValueDim,
    ];

    /// The field name an `Error::InvalidValue` must carry (`HeadRadii::validate`,
    /// `Setting::validate`).
    pub fn name(self) -> &'static str {
        match self {
            Field::BX => "b_x",
            Field::BQk => "b_qk",
            Field::BV => "b_v",
            Field::BV21 => "b_v21",
            Field::BW => "b_w",
            Field::Eps => "eps",
            Field::NumSamples => "num_samples",
            Field::ContextLen => "context_len",
            Field::Width => "width",
            Field::ValueDim => "value_dim",
        }
    }
}

/// Instance ranges and effort of [`super::Kit::above_estimates`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimateBudget {
    /// `b_x, b_qk, b_v, b_w`, log-uniform (`b_v21 = sqrt(k) b_v`).
    pub radius: (f64, f64),
    pub context_len: (usize, usize),
    pub num_samples: (usize, usize),
    /// `k` is drawn from `1..=value_dim_max`.
    pub value_dim_max: usize,
    /// Positional code dimension; the width is `pos_dim + 3`.
    pub pos_dim: usize,
    /// Sign draws, restarts, steps and Adam rate of `capacity::head_rademacher`.
    pub draws: usize,
    pub restarts: usize,
    pub steps: usize,
    pub lr: f64,
    /// Rank of `W_Q`, `W_K`.
    pub rank: usize,
    /// Random and adversarial members packed by `capacity::greedy_packing`.
    pub random_members: usize,
    pub adversarial_members: usize,
    /// `sigma` of the sampled heads (a bound for every 1-Lipschitz `sigma` must hold for it).
    pub activation: Activation,
}

impl EstimateBudget {
    pub const DEFAULT: EstimateBudget = EstimateBudget {
        radius: (0.25, 4.0),
        context_len: (2, 32),
        num_samples: (4, 12),
        value_dim_max: 3,
        pos_dim: 8,
        draws: 16,
        restarts: 1,
        steps: 40,
        lr: 0.05,
        rank: 2,
        random_members: 30,
        adversarial_members: 2,
        activation: Activation::Relu,
    };

    /// Every range non-empty and every count in its domain, named in the error.
    pub fn validate(&self) -> crate::Result<()> {
        use crate::error::check;
        check::positive("estimates.radius.0", self.radius.0)?;
        check::positive("estimates.radius.1", self.radius.1)?;
        if self.radius.1 < self.radius.0 {
            return Err(Error::invalid(
                "estimates.radius.1",
                self.radius.1,
                format!("at least estimates.radius.0 = {}", self.radius.0),
            ));
        }
        for (name, (lo, hi)) in [
            ("context_len", self.context_len),
            ("num_samples", self.num_samples),
        ] {
            check::at_least(&format!("estimates.{name}.0"), lo, 1)?;
            check::at_least(&format!("estimates.{name}.1"), hi, lo)?;
        }
        check::at_least("estimates.value_dim_max", self.value_dim_max, 1)?;
        check::at_least("estimates.pos_dim", self.pos_dim, 1)?;
        check::at_least("estimates.draws", self.draws, 2)?;
        check::at_least("estimates.restarts", self.restarts, 1)?;
        check::at_least("estimates.steps", self.steps, 1)?;
        check::positive("estimates.lr", self.lr)?;
        check::at_least("estimates.rank", self.rank, 1)?;
        check::at_least(
            "estimates.random_members + adversarial_members",
            self.random_members + self.adversarial_members,
            1,
        )?;
        Ok(())
    }

    /// This budget as a Rust expression (for printed test cases).
    pub fn to_rust(&self) -> String {
        if *self == EstimateBudget::DEFAULT {
            return "EstimateBudget::DEFAULT".into();
        }
        format!(
            "EstimateBudget {{ radius: {:?}, context_len: {:?}, num_samples: {:?}, value_dim_max: {}, \
             pos_dim: {}, draws: {}, restarts: {}, steps: {}, lr: {:?}, rank: {}, random_members: {}, \
             adversarial_members: {}, activation: attnbounds::model::Activation::{:?} }}",
            self.radius,
            self.context_len,
            self.num_samples,
            self.value_dim_max,
            self.pos_dim,
            self.draws,
            self.restarts,
            self.steps,
            self.lr,
            self.rank,
            self.random_members,
            self.adversarial_members,
            self.activation
        )
    }
}

/// `x` as a Rust expression (`f64::NAN`, `f64::INFINITY`, or the `Debug` literal).
pub(crate) fn f64_literal(x: f64) -> String {
    if x.is_nan() {
        "f64::NAN".into()
    } else if x == f64::INFINITY {
        "f64::INFINITY".into()
    } else if x == f64::NEG_INFINITY {
        "f64::NEG_INFINITY".into()
    } else {
        format!("{x:?}")
    }
}

/// A `#[test]` calling `call` (an expression in `check::*`), for a bound named `name`.
pub(crate) fn test_case(name: &str, check: &str, call: &str) -> String {
    // Runs of other characters become one '_': "paper shape, c0 = 1" -> "paper_shape_c0_1".
    let ident = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_")
        .to_ascii_lowercase();
    let ident = if ident.starts_with(|c: char| c.is_ascii_alphabetic()) {
        ident
    } else {
        format!("bound_{ident}")
    };
    let subject = if check == "search" {
        "`your_claim()` returns the `Claim`"
    } else {
        "`your_bound()` returns the `Bound`"
    };
    format!(
        "#[test]\n\
         fn {ident}_{check}_regression() {{\n    \
         #[allow(unused_imports)]\n    \
         use attnbounds::bounds::{{HeadRadii, Setting}};\n    \
         #[allow(unused_imports)]\n    \
         use attnbounds::check::{{self, Axis, EstimateBudget, Field, Point}};\n    \
         // {subject} named \"{name}\".\n    \
         {call}.unwrap();\n\
         }}\n"
    )
}

fn where_(p: &Point) -> String {
    let (s, r) = (&p.setting, &p.radii);
    format!(
        "at context_len = {}, num_samples = {}, width = {}, value_dim = {}, b_x = {:e}, b_qk = {:e}, \
         b_v = {:e}, b_v21 = {:e}, b_w = {:e}, eps = {:e}, seed = {}",
        s.context_len,
        s.num_samples,
        s.width,
        s.value_dim,
        r.b_x,
        r.b_qk,
        r.b_v,
        r.b_v21,
        r.b_w,
        p.eps,
        p.seed
    )
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

/// The bound at `p`, finite, or a failure naming the point.
fn value(bound: &Bound, p: &Point) -> std::result::Result<f64, TestCaseError> {
    match bound.eval(p) {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => Err(fail(format!("bound = {v} (not finite) {}", where_(p)))),
        Err(e) => Err(fail(format!(
            "bound returned an error inside the domain: {e}\n{}",
            where_(p)
        ))),
    }
}

/// `bound(p) <= bound(p')`, `p'` = `p` with `axis` multiplied by `factor >= 1` (`context_len`
/// rounded up), up to a relative `1e-12`.
///
/// ```
/// use attnbounds::bounds::{HeadRadii, Setting};
/// use attnbounds::check::{Axis, Bound, Point, monotone_at};
/// let bound = Bound::rademacher("b_w / T", |p| Ok(p.radii.b_w / p.setting.t()));
/// let setting = Setting { num_samples: 10, context_len: 4, width: 2, value_dim: 1, heads: 1, layers: 1 };
/// let radii = HeadRadii { b_x: 1.0, b_qk: 1.0, b_v: 1.0, b_v21: 1.0, b_w: 1.0 };
/// let p = Point { setting, radii, eps: 0.1, seed: 0 };
/// assert!(monotone_at(&bound, &p, Axis::BW, 2.0).is_ok());
/// assert!(monotone_at(&bound, &p, Axis::ContextLen, 2.0).is_err());
/// ```
pub fn monotone_at(bound: &Bound, p: &Point, axis: Axis, factor: f64) -> Case {
    if !(factor >= 1.0 && factor.is_finite()) {
        return Err(fail(format!(
            "factor = {factor}: allowed a finite number >= 1"
        )));
    }
    let mut q = *p;
    let r = &mut q.radii;
    match axis {
        Axis::BX => r.b_x *= factor,
        Axis::BQk => r.b_qk *= factor,
        Axis::BV => r.b_v *= factor,
        Axis::BV21 => r.b_v21 *= factor,
        Axis::BW => r.b_w *= factor,
        Axis::ContextLen => {
            q.setting.context_len = (q.setting.t() * factor).ceil().min(usize::MAX as f64) as usize
        }
    }
    let (a, b) = (value(bound, p)?, value(bound, &q)?);
    if b < a - 1e-12 * a.abs() {
        return Err(fail(format!(
            "decreases in {axis:?}: bound = {a:e} before, {b:e} after multiplying by {factor}\n{}",
            where_(p)
        )));
    }
    Ok(())
}

/// The bound at the radii measured from a head drawn inside `p.radii` (from `p.seed`), and
/// from the same head with `(c W_Q, W_K / c)`, agree to a relative `1e-9`.
///
/// ```
/// use attnbounds::bounds::{HeadRadii, Setting};
/// use attnbounds::check::{Bound, Point, qk_invariance_at};
/// let bound = Bound::log_covering("b_qk", |p| Ok(p.radii.b_qk));
/// let setting = Setting { num_samples: 10, context_len: 4, width: 3, value_dim: 2, heads: 1, layers: 1 };
/// let radii = HeadRadii { b_x: 1.0, b_qk: 2.0, b_v: 1.0, b_v21: 1.0, b_w: 1.0 };
/// let p = Point { setting, radii, eps: 0.1, seed: 7 };
/// assert!(qk_invariance_at(&bound, &p, 1e3).is_ok());
/// ```
pub fn qk_invariance_at(bound: &Bound, p: &Point, c: f64) -> Case {
    if !(c > 0.0 && c.is_finite()) {
        return Err(fail(format!("c = {c}: allowed a finite number > 0")));
    }
    let head = head_in(&p.radii, &p.setting, Activation::Relu, p.seed).map_err(|e| {
        fail(format!(
            "cannot draw a head inside the radii: {e}\n{}",
            where_(p)
        ))
    })?;
    let mut scaled = head.clone();
    scaled.w_q.data.iter_mut().for_each(|x| *x *= c);
    scaled.w_k.data.iter_mut().for_each(|x| *x /= c);
    let at = |h| match bound.at_head(p, h) {
        Ok(v) if !v.is_nan() => Ok(v),
        Ok(v) => Err(fail(format!(
            "bound = {v} at a measured head {}",
            where_(p)
        ))),
        Err(e) => Err(fail(format!(
            "bound returned an error at a measured head: {e}\n{}",
            where_(p)
        ))),
    };
    let (a, b) = (at(&head)?, at(&scaled)?);
    // Equal (infinities included) or both finite and within a relative 1e-9.
    let close =
        a == b || (a.is_finite() && b.is_finite() && (a - b).abs() <= 1e-9 * a.abs().max(b.abs()));
    if !close {
        return Err(fail(format!(
            "not invariant under (c W_Q, W_K / c) with c = {c}: bound = {a:e} before, {b:e} after\n{}",
            where_(p)
        )));
    }
    Ok(())
}

/// The bound at `p` is `Ok` and finite.
///
/// ```
/// use attnbounds::bounds::{HeadRadii, Setting};
/// use attnbounds::check::{Bound, Point, domain_at};
/// let bound = Bound::rademacher("1/(b_x - 1)", |p| Ok(1.0 / (p.radii.b_x - 1.0)));
/// let setting = Setting { num_samples: 1, context_len: 1, width: 1, value_dim: 1, heads: 1, layers: 1 };
/// let radii = HeadRadii { b_x: 1.0, b_qk: 1.0, b_v: 1.0, b_v21: 1.0, b_w: 1.0 };
/// assert!(domain_at(&bound, &Point { setting, radii, eps: 0.1, seed: 0 }).is_err());
/// ```
pub fn domain_at(bound: &Bound, p: &Point) -> Case {
    value(bound, p).map(|_| ())
}

/// With `field` set to `bad` (counts to 0 whatever `bad` is), the bound returns
/// `Error::InvalidValue` whose field is `field.name()` (or ends with `.name`).
///
/// ```
/// use attnbounds::bounds::{self, BoundParams, HeadRadii, Setting};
/// use attnbounds::check::{Bound, Field, Point, domain_error_at};
/// let params = BoundParams::default();
/// let paper = Bound::log_covering("paper", move |p| {
///     bounds::paper_log_covering(&p.setting, &p.radii, &params, p.eps)
/// });
/// let setting = Setting { num_samples: 1, context_len: 1, width: 1, value_dim: 1, heads: 1, layers: 1 };
/// let radii = HeadRadii { b_x: 1.0, b_qk: 1.0, b_v: 1.0, b_v21: 1.0, b_w: 1.0 };
/// let p = Point { setting, radii, eps: 0.1, seed: 0 };
/// assert!(domain_error_at(&paper, &p, Field::BV21, f64::NAN).is_ok());
/// assert!(domain_error_at(&paper, &p, Field::ContextLen, 0.0).is_ok());
/// ```
pub fn domain_error_at(bound: &Bound, p: &Point, field: Field, bad: f64) -> Case {
    let mut q = *p;
    let (r, s) = (&mut q.radii, &mut q.setting);
    match field {
        Field::BX => r.b_x = bad,
        Field::BQk => r.b_qk = bad,
        Field::BV => r.b_v = bad,
        Field::BV21 => r.b_v21 = bad,
        Field::BW => r.b_w = bad,
        Field::Eps => q.eps = bad,
        Field::NumSamples => s.num_samples = 0,
        Field::ContextLen => s.context_len = 0,
        Field::Width => s.width = 0,
        Field::ValueDim => s.value_dim = 0,
    }
    let name = field.name();
    let shown = if matches!(
        field,
        Field::NumSamples | Field::ContextLen | Field::Width | Field::ValueDim
    ) {
        "0".to_string()
    } else {
        format!("{bad}")
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bound.eval(&q)));
    match outcome {
        Ok(Err(Error::InvalidValue { field: f, .. }))
            if f == name || f.ends_with(&format!(".{name}")) =>
        {
            Ok(())
        }
        Ok(other) => Err(fail(format!(
            "{name} = {shown} is outside the domain: expected Err(Error::InvalidValue) naming `{name}`, got {other:?}\n{}",
            where_(&q)
        ))),
        Err(_) => Err(fail(format!(
            "panicked at {name} = {shown}: expected Err(Error::InvalidValue) naming `{name}`\n{}",
            where_(&q)
        ))),
    }
}

/// The bound at `p` is at least our empirical lower estimate on the sample drawn from
/// `p.seed` (see [`super::Kit::above_estimates`]). `p.setting.width` must be
/// `budget.pos_dim + 3`.
///
/// ```
/// use attnbounds::check::{Bound, EstimateBudget, Point, above_estimates_at};
/// // ln N(eps) = 0 claims one centre covers the head class; a packing at 2 eps = 0.02 range of
/// // 32 sampled heads keeps more than one of them.
/// let zero = Bound::log_covering("0", |_| Ok(0.0));
/// let budget = EstimateBudget::DEFAULT;
/// let p = Point::single_head((8, 16, budget.pos_dim + 3, 2), [1.0, 1.0, 1.0, 2f64.sqrt(), 1.0], 0.01, 3);
/// assert!(above_estimates_at(&zero, &p, &budget).is_err());
/// ```
pub fn above_estimates_at(bound: &Bound, p: &Point, budget: &EstimateBudget) -> Case {
    let s = &p.setting;
    if s.width != budget.pos_dim + 3 {
        return Err(fail(format!(
            "width = {}: allowed pos_dim + 3 = {} (the bit sample's width)",
            s.width,
            budget.pos_dim + 3
        )));
    }
    let setup = || -> crate::Result<_> {
        let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
        let sample = BitSample::random(
            s.context_len,
            s.num_samples,
            budget.pos_dim,
            p.radii.b_x,
            &mut rng,
        )?;
        let ball = ball_inside(&p.radii, s.value_dim)?;
        let opts = AscentOptions {
            draws: budget.draws,
            restarts: budget.restarts,
            steps: budget.steps,
            lr: budget.lr,
            rank: budget.rank.min(s.width),
            value_dim: s.value_dim,
            activation: budget.activation,
        };
        let (lower, what) = match bound.quantity {
            Quantity::Rademacher => {
                let est = capacity::head_rademacher(&sample, &ball, &opts, &mut rng)?;
                (
                    est.lower,
                    format!(
                        "lower end {:e} of the 95% t interval of the projected-ascent Rademacher \
                         estimate (mean {:e} over {} sign draws)",
                        est.lower, est.mean, est.draws
                    ),
                )
            }
            Quantity::LogCovering => {
                let members = capacity::head_members(
                    &sample,
                    &ball,
                    budget.random_members,
                    budget.adversarial_members,
                    &opts,
                    &mut rng,
                )?;
                let kept = capacity::greedy_packing(&members, 2.0 * p.eps)?;
                let lower = (kept.len() as f64).ln();
                (
                    lower,
                    format!(
                        "ln M(2 eps) = ln {} = {lower:e} of a greedy packing of {} sampled members",
                        kept.len(),
                        members.len()
                    ),
                )
            }
        };
        Ok((lower, what))
    };
    let (lower, what) =
        setup().map_err(|e| fail(format!("cannot build the estimate: {e}\n{}", where_(p))))?;
    let v = value(bound, p)?;
    if lower > v * (1.0 + 1e-12) {
        return Err(fail(format!(
            "bound {v:e} < empirical lower estimate: {what}\n{}",
            where_(p)
        )));
    }
    Ok(())
}

/// The bound at `p` is at least the stated rigorous lower bound `lower(p)` (up to a relative
/// `1e-12`).
///
/// ```
/// use attnbounds::bounds::{HeadRadii, Setting};
/// use attnbounds::check::{Bound, Point, above_lower_bound_at};
/// let bound = Bound::rademacher("b_w b_v b_x / sqrt(m)", |p| {
///     Ok(p.radii.b_w * p.radii.b_v * p.radii.b_x / p.setting.m().sqrt())
/// });
/// let setting = Setting { num_samples: 100, context_len: 4, width: 2, value_dim: 1, heads: 1, layers: 1 };
/// let radii = HeadRadii { b_x: 1.0, b_qk: 1.0, b_v: 1.0, b_v21: 1.0, b_w: 1.0 };
/// let p = Point { setting, radii, eps: 0.1, seed: 0 };
/// assert!(above_lower_bound_at(&bound, &|_: &Point| 0.05, &p).is_ok());
/// assert!(above_lower_bound_at(&bound, &|_: &Point| 0.5, &p).is_err());
/// ```
pub fn above_lower_bound_at(bound: &Bound, lower: &dyn Fn(&Point) -> f64, p: &Point) -> Case {
    let lb = lower(p);
    if lb.is_nan() {
        return Err(fail(format!("the stated lower bound is NaN {}", where_(p))));
    }
    let v = value(bound, p)?;
    if v < lb - 1e-12 * lb.abs() {
        return Err(fail(format!(
            "bound {v:e} < stated rigorous lower bound {lb:e}\n{}",
            where_(p)
        )));
    }
    Ok(())
}

/// One instance of a claim: `lhs <= rhs (1 + RATIO_TOL)` at `params` (a degenerate instance,
/// `None`, passes). NaN on either side fails.
///
/// ```
/// use attnbounds::check::{Claim, claim_at};
/// let amgm = Claim::new("am-gm", "sqrt(ab) <= (a+b)/2", 2, |p| {
///     let (a, b) = (p[0].exp(), p[1].exp());
///     Some(((a * b).sqrt(), (a + b) / 2.0))
/// });
/// assert!(claim_at(&amgm, &[0.3, -2.0]).is_ok());
/// ```
pub fn claim_at(claim: &Claim, params: &[f64]) -> Case {
    if params.len() != claim.dim {
        return Err(fail(format!(
            "{} parameters given, claim {} takes {}",
            params.len(),
            claim.id,
            claim.dim
        )));
    }
    let Some((lhs, rhs)) = (claim.eval)(params) else {
        return Ok(());
    };
    match search::ratio(lhs, rhs) {
        Some(q) if q.is_nan() || q > 1.0 + RATIO_TOL => Err(fail(format!(
            "{} VIOLATED: {}: lhs = {lhs:e} > rhs = {rhs:e} (ratio {q:e}) at params {params:?}",
            claim.id, claim.statement
        ))),
        _ => Ok(()),
    }
}
