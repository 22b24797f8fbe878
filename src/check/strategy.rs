//! Proptest strategies for what attention bounds take: points (setting, radii, `eps`, seed)
//! over stated ranges including the extremes `1e-12` and `1e12`, \[CLS\] heads and one-block
//! models with norms inside given radii, bit-sequence samples, and unit-norm rows.
//!
//! Log-uniform draws hit each end of a range exactly one time in ten, so the extremes are
//! always exercised; proptest shrinks towards the lower end.
//!
//! ```
//! use attnbounds::check::strategy::{Ranges, points};
//! use proptest::prelude::*;
//!
//! proptest!(ProptestConfig::with_cases(8), |(p in points(&Ranges::wide()))| {
//!     prop_assert!(p.radii.b_x >= 1e-12 && p.radii.b_x <= 1e12);
//! });
//! ```

use super::props::EstimateBudget;
use crate::bounds::{HeadRadii, LayerRadii, Setting};
use crate::capacity::{BitSample, HeadBall, theta_frobenius};
use crate::error::{Error, Result, check};
use crate::model::{Activation, ClsHead, Transformer, TransformerConfig};
use crate::norms;
use crate::tensor::Mat;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// One instance a bound is evaluated at. Its `Debug` output is valid Rust (with
/// `HeadRadii`, `Setting` and `Point` in scope), which is how failures print test cases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub setting: Setting,
    pub radii: HeadRadii,
    /// Scale of a covering number (ignored by Rademacher bounds).
    pub eps: f64,
    /// Seeds whatever the check draws at this point (a head, a sample, sign vectors).
    pub seed: u64,
}

impl Point {
    /// A point of one \[CLS\] head (`heads = layers = 1`) from `(m, T, d, k)` and the radii in
    /// the order of `HeadRadii::to_array`.
    pub fn single_head(
        (num_samples, context_len, width, value_dim): (usize, usize, usize, usize),
        radii: [f64; 5],
        eps: f64,
        seed: u64,
    ) -> Point {
        Point {
            setting: Setting {
                num_samples,
                context_len,
                width,
                value_dim,
                heads: 1,
                layers: 1,
            },
            radii: HeadRadii::from_array(radii),
            eps,
            seed,
        }
    }
}

/// Ranges the point strategy draws from (inclusive, log-uniform).
#[derive(Debug, Clone, PartialEq)]
pub struct Ranges {
    /// Every radius `b_x, b_qk, b_v, b_v21, b_w`, drawn independently.
    pub radius: (f64, f64),
    pub eps: (f64, f64),
    pub context_len: (usize, usize),
    pub num_samples: (usize, usize),
    pub width: (usize, usize),
    pub value_dim: (usize, usize),
}

impl Ranges {
    /// Radii and `eps` in `[1e-12, 1e12]`, `T` in `[1, 1e6]`, `m` in `[1, 1e9]`, `d` and `k`
    /// in `[1, 4096]`: the domain on which the library's own bounds are finite.
    pub fn wide() -> Ranges {
        Ranges {
            radius: (1e-12, 1e12),
            eps: (1e-12, 1e12),
            context_len: (1, 1_000_000),
            num_samples: (1, 1_000_000_000),
            width: (1, 4096),
            value_dim: (1, 4096),
        }
    }

    /// Every range non-empty, positive and finite.
    pub fn validate(&self) -> Result<()> {
        for (name, (lo, hi)) in [("radius", self.radius), ("eps", self.eps)] {
            check::positive(&format!("ranges.{name}.0"), lo)?;
            check::positive(&format!("ranges.{name}.1"), hi)?;
            if hi < lo {
                return Err(Error::invalid(
                    format!("ranges.{name}.1"),
                    hi,
                    format!("at least ranges.{name}.0 = {lo}"),
                ));
            }
        }
        for (name, (lo, hi)) in [
            ("context_len", self.context_len),
            ("num_samples", self.num_samples),
            ("width", self.width),
            ("value_dim", self.value_dim),
        ] {
            check::at_least(&format!("ranges.{name}.0"), lo, 1)?;
            check::at_least(&format!("ranges.{name}.1"), hi, lo)?;
        }
        Ok(())
    }

    /// The same ranges with `d` and `k` capped at 16, for checks that build heads.
    pub fn for_heads(&self) -> Ranges {
        let cap = |(lo, hi): (usize, usize)| (lo.min(16), hi.min(16));
        Ranges {
            width: cap(self.width),
            value_dim: cap(self.value_dim),
            ..self.clone()
        }
    }
}

/// `x` in `[lo, hi]`, log-uniform, with each end drawn exactly one time in ten.
pub fn log_uniform(lo: f64, hi: f64) -> BoxedStrategy<f64> {
    let (a, b) = (lo.ln(), hi.ln().max(lo.ln()));
    prop_oneof![
        1 => Just(lo),
        1 => Just(hi.max(lo)),
        8 => (a..=b).prop_map(move |e| e.exp().clamp(lo, hi.max(lo))),
    ]
    .boxed()
}

/// An integer in `[lo, hi]`, log-uniform, with each end drawn one time in ten.
pub fn log_uniform_count(lo: usize, hi: usize) -> BoxedStrategy<usize> {
    let hi = hi.max(lo);
    log_uniform(lo.max(1) as f64, hi as f64)
        .prop_map(move |x| (x.round() as usize).clamp(lo, hi))
        .boxed()
}

/// Points of a single \[CLS\] head (`heads = layers = 1`) over `ranges`.
pub fn points(ranges: &Ranges) -> impl Strategy<Value = Point> + use<> {
    let r = |_| log_uniform(ranges.radius.0, ranges.radius.1);
    let c = |(lo, hi): (usize, usize)| log_uniform_count(lo, hi);
    (
        (
            c(ranges.num_samples),
            c(ranges.context_len),
            c(ranges.width),
            c(ranges.value_dim),
        ),
        (r(0), r(1), r(2), r(3), r(4)),
        log_uniform(ranges.eps.0, ranges.eps.1),
        any::<u64>(),
    )
        .prop_map(|((m, t, d, k), (b_x, b_qk, b_v, b_v21, b_w), eps, seed)| {
            Point::single_head((m, t, d, k), [b_x, b_qk, b_v, b_v21, b_w], eps, seed)
        })
}

/// The ball of [`HeadBall`] inside the class at `radii`: `||W_V||_F <= min(b_v, b_v21 / sqrt(k))`
/// implies `||W_V||_2 <= b_v` and `||W_V||_{2,1} <= b_v21`.
pub fn ball_inside(radii: &HeadRadii, value_dim: usize) -> Result<HeadBall> {
    let b_v = radii
        .b_v
        .min(radii.b_v21 / (value_dim.max(1) as f64).sqrt());
    HeadBall::new(radii.b_qk, b_v, radii.b_w)
}

/// A head drawn from `seed` with norms inside `radii` (width, value_dim from `setting`, rank
/// `min(2, width)`), by [`HeadBall::sample`] on [`ball_inside`].
pub fn head_in(
    radii: &HeadRadii,
    setting: &Setting,
    activation: Activation,
    seed: u64,
) -> Result<ClsHead<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rank = setting.width.min(2);
    ball_inside(radii, setting.value_dim)?.sample(
        setting.width,
        rank,
        setting.value_dim,
        activation,
        &mut rng,
    )
}

/// \[CLS\] heads with `||Theta||_F <= b_qk`, `||W_V||_2 <= b_v`, `||W_V||_{2,1} <= b_v21`,
/// `||w||_2 <= b_w` (radii of `radii`; `b_x` unused), drawn by [`head_in`].
pub fn heads(
    radii: HeadRadii,
    width: usize,
    value_dim: usize,
    activation: Activation,
) -> impl Strategy<Value = ClsHead<f64>> {
    let setting = Setting {
        num_samples: 1,
        context_len: 1,
        width,
        value_dim,
        heads: 1,
        layers: 1,
    };
    any::<u64>().prop_filter_map("radii or shape outside the domain", move |seed| {
        head_in(&radii, &setting, activation, seed).ok()
    })
}

/// The radii of `head` as the library measures them: `b_qk = ||W_K W_Q^T||_F`,
/// `b_v = ||W_V||_2` (SVD), `b_v21 = ||W_V||_{2,1}`, `b_w = ||w||_2`, and the given `b_x`. A zero
/// norm becomes `f64::MIN_POSITIVE` (radii must be positive; a bound is non-decreasing, so its
/// value there is its infimum over positive radii).
pub fn measured_radii(head: &ClsHead<f64>, b_x: f64) -> Result<HeadRadii> {
    let w_v = head.w_v.to_dmatrix();
    let w = nalgebra::DVector::from_column_slice(&head.w);
    let pos = |x: f64| x.max(f64::MIN_POSITIVE);
    Ok(HeadRadii {
        b_x,
        b_qk: pos(theta_frobenius(head)?),
        b_v: pos(norms::spectral_svd(&w_v)?),
        b_v21: pos(norms::norm_21(&w_v)?),
        b_w: pos(norms::vector_norm(&w, 2.0)?),
    })
}

fn scale_frobenius(m: &mut Mat<f64>, radius: f64) -> Result<()> {
    let n = norms::frobenius(&m.to_dmatrix())?;
    if n > radius {
        m.data.iter_mut().for_each(|x| *x *= radius / n);
    }
    Ok(())
}

/// One-block models (`cfg.layers` is set to 1) drawn from a seed by `Transformer::random`,
/// then every head scaled into `layer` (`||Theta||_F <= b_qk` by scaling `W_Q`, `W_K` by the
/// square root of the excess; `||W_V||_F <= min(b_v, b_v21 / sqrt(k))`;
/// `||W_C||_F <= min(b_c, b_c21 / sqrt(d))`) and `||w||_2 <= b_w`.
pub fn one_block(
    layer: LayerRadii,
    b_w: f64,
    cfg: TransformerConfig,
) -> impl Strategy<Value = Transformer<f64>> {
    any::<u64>().prop_filter_map("radii or shape outside the domain", move |seed| {
        let cfg = TransformerConfig {
            layers: 1,
            ..cfg.clone()
        };
        let mut model =
            Transformer::<f64>::random(&cfg, &mut ChaCha8Rng::seed_from_u64(seed)).ok()?;
        layer.validate(0).ok()?;
        check::positive("b_w", b_w).ok()?;
        for head in &mut model.blocks[0].heads {
            let theta = norms::frobenius(
                &norms::theta(&head.w_q.to_dmatrix(), &head.w_k.to_dmatrix()).ok()?,
            )
            .ok()?;
            if theta > layer.b_qk {
                let c = (layer.b_qk / theta).sqrt();
                head.w_q.data.iter_mut().for_each(|x| *x *= c);
                head.w_k.data.iter_mut().for_each(|x| *x *= c);
            }
            let k = head.w_v.cols as f64;
            scale_frobenius(&mut head.w_v, layer.b_v.min(layer.b_v21 / k.sqrt())).ok()?;
            let d = head.w_c.cols as f64;
            scale_frobenius(&mut head.w_c, layer.b_c.min(layer.b_c21 / d.sqrt())).ok()?;
        }
        let nw = model.w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if nw > b_w {
            model.w.iter_mut().for_each(|x| *x *= b_w / nw);
        }
        Some(model)
    })
}

/// Bit-sequence samples (`BitSample::random`: uniform bits, fixed embedding with random-sign
/// positional codes of dimension `pos_dim`, rows scaled to max norm `b_x`), `T` and `m` drawn
/// uniformly from the inclusive ranges.
pub fn bit_samples(
    context_len: (usize, usize),
    num_samples: (usize, usize),
    pos_dim: usize,
    b_x: f64,
) -> impl Strategy<Value = BitSample> {
    (
        context_len.0..=context_len.1.max(context_len.0),
        num_samples.0..=num_samples.1.max(num_samples.0),
        any::<u64>(),
    )
        .prop_filter_map("sample outside the domain", move |(t, m, seed)| {
            BitSample::random(t, m, pos_dim, b_x, &mut ChaCha8Rng::seed_from_u64(seed)).ok()
        })
}

/// `rows x cols` matrices whose every row has l2 norm 1 (a Gaussian direction per row; shrinks
/// towards the first basis vector).
pub fn unit_rows(rows: usize, cols: usize) -> impl Strategy<Value = Mat<f64>> {
    proptest::collection::vec(-1.0f64..=1.0, rows * cols.max(1)).prop_map(move |mut data| {
        let cols = cols.max(1);
        for row in data.chunks_mut(cols) {
            let n = row.iter().map(|x| x * x).sum::<f64>().sqrt();
            if n > 0.0 {
                row.iter_mut().for_each(|x| *x /= n);
            } else {
                row[0] = 1.0;
            }
        }
        Mat { rows, cols, data }
    })
}

/// Small instances of [`super::Kit::above_estimates`]: `T`, `m`, `k` and the radii from
/// `budget`'s ranges, width `pos_dim + 3`, `b_v21 = sqrt(k) b_v` (the ball's class),
/// `eps = u b_w b_v b_x` with `u` in `[0.02, 0.5]` (scales where packings are non-trivial).
pub fn estimate_points(budget: &EstimateBudget) -> impl Strategy<Value = Point> + use<> {
    let b = *budget;
    let r = move || log_uniform(b.radius.0, b.radius.1);
    (
        b.context_len.0..=b.context_len.1,
        b.num_samples.0..=b.num_samples.1,
        1..=b.value_dim_max,
        (r(), r(), r(), r()),
        0.02f64..=0.5,
        any::<u64>(),
    )
        .prop_map(move |(t, m, k, (b_x, b_qk, b_v, b_w), u, seed)| {
            let b_v21 = (k as f64).sqrt() * b_v;
            let eps = u * b_w * b_v * b_x;
            Point::single_head(
                (m, t, b.pos_dim + 3, k),
                [b_x, b_qk, b_v, b_v21, b_w],
                eps,
                seed,
            )
        })
}
