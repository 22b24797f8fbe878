//! Exact verification that a one-block model read at \[CLS\] equals a junta on all 2^T inputs
//! (docs/certificates.md#3-exact-verification).
//!
//! The \[CLS\] query z = x_cls does not depend on the input, so in every head position t
//! contributes one of two (score, value) pairs chosen by its bit b_t: the score
//! u_t(b) = x_t(b)^T Theta z and the value v_t(b) (W_V^T x_t(b), or projected through W_C or
//! the read-out when the head's sigma is the identity). With the bits on I fixed, one output
//! coordinate of one head is
//!   (A + sum_{t not in I} c_t(b_t) v_t(b_t)) / (B + sum_{t not in I} c_t(b_t)),  c = e^u > 0,
//! a fractional 0-1 program with independent choices (V1). Its maximum lambda* is the root of
//! F(lambda) = A - lambda B + sum_t max_b c_t(b) (v_t(b) - lambda), decreasing in lambda (V2):
//! Dinkelbach's iteration finds lambda* exactly (finitely many choice vectors), and
//! F(lambda_up) <= 0 evaluated with upward rounding proves lambda* <= lambda_up (V3). The
//! boxes then pass through residual, Pi, MLP and read-out in interval arithmetic (V4).
//! Everything runs on the stored weights as exact reals: the table rows, scores and values
//! are enclosed with rigorous error bounds on the f64 matrix products (V5).

use super::interval::{Interval, dot_exact};
use super::{ClsModel, Junta};
use crate::error::Result;
use crate::model::{Activation, Mlp};
use crate::tensor::{Mat, gemm};

/// One choice of a position: its weight c = e^(score - shift) > 0 and its value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice {
    pub weight: Interval,
    pub value: Interval,
}

/// The largest value of (sum c v) / (sum c) over the fixed items and one option per free
/// position, with every c and v anywhere in its interval: a sound upper bound, equal to the
/// exact maximum up to the widths of the inputs and a relative 1e-12 (V1-V3).
/// `fixed` must be non-empty or `free` must be non-empty.
pub fn fractional_max(fixed: &[Choice], free: &[[Choice; 2]]) -> f64 {
    let lambda = dinkelbach_max(fixed, free);
    let spread = value_spread(fixed, free);
    let mut step = 1e-14 * (lambda.abs() + spread) + f64::MIN_POSITIVE;
    for _ in 0..64 {
        let cand = lambda + step;
        if f_upper(fixed, free, cand) <= 0.0 {
            return cand;
        }
        step *= 4.0;
    }
    // The ratio is a convex combination of the values: their largest upper end is a bound.
    max_value(fixed, free)
}

/// The smallest value of the same ratio, a sound lower bound: `-fractional_max` of the
/// negated values.
pub fn fractional_min(fixed: &[Choice], free: &[[Choice; 2]]) -> f64 {
    let neg = |c: &Choice| Choice {
        weight: c.weight,
        value: c.value.negated(),
    };
    let fixed: Vec<Choice> = fixed.iter().map(neg).collect();
    let free: Vec<[Choice; 2]> = free.iter().map(|o| [neg(&o[0]), neg(&o[1])]).collect();
    -fractional_max(&fixed, &free)
}

/// Dinkelbach's iteration on the midpoints (V2): from the choice of the larger values, pick
/// per position the option maximising c (v - lambda), set lambda to the new ratio, stop when
/// it no longer increases. Each step strictly increases lambda over finitely many choice
/// vectors, so it ends on the maximum; 200 steps is a guard, never reached in our tests.
pub fn dinkelbach_max(fixed: &[Choice], free: &[[Choice; 2]]) -> f64 {
    let cm = |x: &Choice| x.weight.mid();
    let vm = |x: &Choice| x.value.mid();
    let (n0, d0) = fixed
        .iter()
        .fold((0.0, 0.0), |(n, d), x| (n + cm(x) * vm(x), d + cm(x)));
    let ratio = |pick: &dyn Fn(&[Choice; 2]) -> usize| {
        let (n, d) = free.iter().fold((n0, d0), |(n, d), o| {
            let x = &o[pick(o)];
            (n + cm(x) * vm(x), d + cm(x))
        });
        n / d
    };
    let mut lambda = ratio(&|o| usize::from(vm(&o[1]) > vm(&o[0])));
    for _ in 0..200 {
        let next = ratio(&|o| {
            let g = |x: &Choice| cm(x) * (vm(x) - lambda);
            usize::from(g(&o[1]) > g(&o[0]))
        });
        if next.is_nan() || next <= lambda {
            break;
        }
        lambda = next;
    }
    lambda
}

/// F(lambda) = sum_fixed c (v - lambda) + sum_free max_b c_b (v_b - lambda), maximised over c
/// and v in their intervals and rounded up: F_up(lambda) <= 0 proves the ratio <= lambda for
/// every choice (V3), because sum c > 0.
fn f_upper(fixed: &[Choice], free: &[[Choice; 2]], lambda: f64) -> f64 {
    let term = |x: &Choice| {
        let gap = Interval::point(x.value.hi)
            .minus(Interval::point(lambda))
            .hi;
        let c = if gap >= 0.0 { x.weight.hi } else { x.weight.lo };
        Interval::point(c).scale(gap).hi
    };
    let mut acc = Interval::point(0.0);
    for x in fixed {
        acc = acc.plus(Interval::point(term(x)));
    }
    for o in free {
        acc = acc.plus(Interval::point(term(&o[0]).max(term(&o[1]))));
    }
    if acc.hi.is_nan() {
        f64::INFINITY
    } else {
        acc.hi
    }
}

fn all_values<'a>(
    fixed: &'a [Choice],
    free: &'a [[Choice; 2]],
) -> impl Iterator<Item = &'a Choice> + 'a {
    fixed.iter().chain(free.iter().flatten())
}

fn max_value(fixed: &[Choice], free: &[[Choice; 2]]) -> f64 {
    all_values(fixed, free)
        .map(|x| x.value.hi)
        .fold(f64::NEG_INFINITY, f64::max)
}

fn value_spread(fixed: &[Choice], free: &[[Choice; 2]]) -> f64 {
    let s = all_values(fixed, free)
        .map(|x| x.value.lo.abs().max(x.value.hi.abs()))
        .fold(0.0, f64::max);
    if s.is_finite() { s } else { 0.0 }
}

/// A matrix of intervals in midpoint-radius form: every exact entry is in `mid +- rad`.
#[derive(Clone, Debug)]
pub(crate) struct IMat {
    pub mid: Mat<f64>,
    pub rad: Mat<f64>,
}

const EPS: f64 = f64::EPSILON / 2.0;

impl IMat {
    pub fn exact(m: &Mat<f64>) -> IMat {
        IMat {
            mid: m.clone(),
            rad: Mat::zeros(m.rows, m.cols),
        }
    }
    pub fn get(&self, i: usize, j: usize) -> Interval {
        let (m, r) = (self.mid.get(i, j), self.rad.get(i, j));
        Interval {
            lo: (m - r).next_down(),
            hi: (m + r).next_up(),
        }
    }
}

/// An enclosure of the exact product `a b` for an exact `a` (n inner terms): the f64 product
/// of the midpoints plus `gamma |a| |b_mid| + (1 + gamma) |a| b_rad` with
/// gamma = 1.01 (n + 2) u (Higham 2002, Thm 3.5: any summation order, FMA or not), plus n
/// times the smallest normal for underflow, the whole radius inflated by 8 u for its own
/// rounding (V5).
pub(crate) fn enclose_product(a: &Mat<f64>, b: &IMat) -> IMat {
    let (rows, cols, n) = (a.rows, b.mid.cols, a.cols);
    let mut mid = Mat::zeros(rows, cols);
    gemm(1.0, a.view(), b.mid.view(), 0.0, &mut mid.data);
    let abs = |m: &Mat<f64>| Mat {
        rows: m.rows,
        cols: m.cols,
        data: m.data.iter().map(|x| x.abs()).collect(),
    };
    let a_abs = abs(a);
    let mut err = Mat::zeros(rows, cols);
    gemm(1.0, a_abs.view(), abs(&b.mid).view(), 0.0, &mut err.data);
    let mut carried = Mat::zeros(rows, cols);
    gemm(1.0, a_abs.view(), b.rad.view(), 0.0, &mut carried.data);
    let gamma = 1.01 * (n as f64 + 2.0) * EPS;
    let floor = (n as f64 + 1.0) * f64::MIN_POSITIVE;
    let rad = Mat {
        rows,
        cols,
        data: (err.data.iter().zip(&carried.data))
            .map(|(&e, &c)| (gamma * e + (1.0 + gamma) * c + floor) * (1.0 + 8.0 * EPS))
            .collect(),
    };
    IMat { mid, rad }
}

/// sigma applied to an interval: monotone for ReLU, tanh and identity; GELU decreases up to
/// its minimiser x* = -0.75179... and increases after it.
pub(crate) fn activation(a: Activation, x: Interval) -> Interval {
    match a {
        Activation::Identity => x,
        Activation::Relu => x.max_const(0.0),
        Activation::Tanh => {
            let w = |v: f64, up: bool| {
                let t = v.tanh();
                let s = 4.0 * f64::EPSILON * t.abs() + f64::MIN_POSITIVE;
                if up {
                    (t + s).min(1.0)
                } else {
                    (t - s).max(-1.0)
                }
            };
            Interval {
                lo: w(x.lo, false),
                hi: w(x.hi, true),
            }
        }
        Activation::Gelu => {
            // gelu is evaluated with ~10 roundings; grant 64 ulps of the larger of |value|, |x|.
            let slack = |v: f64, xv: f64| 64.0 * f64::EPSILON * (v.abs() + xv.abs()) + 1e-300;
            let g = |v: f64| a.apply(v);
            let (glo, ghi) = (g(x.lo), g(x.hi));
            let hi = glo.max(ghi) + slack(glo.max(ghi), x.lo.abs().max(x.hi.abs()));
            const X_STAR: f64 = -0.751_791_524_693_564_5;
            let lo = if x.contains(X_STAR) {
                // Any point's value bounds the minimum from above; the derivative is 0 at the
                // minimiser, so an error of 1e-9 in X_STAR moves the value by ~1e-18.
                g(X_STAR) - 1e-12
            } else {
                let v = glo.min(ghi);
                v - slack(v, x.lo.abs().max(x.hi.abs()))
            };
            Interval {
                lo: if x.lo == f64::NEG_INFINITY {
                    g(X_STAR) - 1e-12
                } else {
                    lo
                },
                hi: if x.hi == f64::INFINITY {
                    f64::INFINITY
                } else {
                    hi
                },
            }
        }
    }
}

/// Pi: y = p / max(1, ||p||) on a box (V4): ||p|| in [sqrt(sum min p_i^2), sqrt(sum max p_i^2)].
pub(crate) fn project(p: &[Interval]) -> Vec<Interval> {
    let sq = p
        .iter()
        .fold(Interval::point(0.0), |acc, x| acc.plus(x.square()));
    let norm = sq.sqrt().max_const(1.0);
    p.iter().map(|x| x.div_positive(norm)).collect()
}

/// `x^T W` for an interval row x and exact W (rows = x.len()).
pub(crate) fn row_times(x: &[Interval], w: &Mat<f64>) -> Vec<Interval> {
    (0..w.cols)
        .map(|j| {
            (0..w.rows).fold(Interval::point(0.0), |acc, i| {
                acc.plus(x[i].scale(w.get(i, j)))
            })
        })
        .collect()
}

/// What follows the heads, on one setting's boxes (V4).
#[derive(Clone, Debug)]
pub(crate) enum Post {
    /// The head's sigma is the identity: its only output coordinate is f itself.
    Scalar,
    /// f = w^T sigma(mixed) on the theory's head.
    HeadSigma { activation: Activation, w: Vec<f64> },
    /// A one-block Transformer. `w_c[h]` is `None` when head h's coordinates are already
    /// projected through W_C (identity sigma).
    Block {
        attn_activation: Activation,
        w_c: Vec<Option<Mat<f64>>>,
        x_cls: Vec<f64>,
        mlp: Option<Mlp<f64>>,
        mlp_activation: Activation,
        w: Vec<f64>,
    },
}

/// The model seen from \[CLS\]: per head, the (weight, value) choices of every (t, b) and of
/// \[CLS\], in the head's output coordinates.
#[derive(Clone, Debug)]
pub(crate) struct ClsView {
    pub context_len: usize,
    pub heads: Vec<HeadView>,
    pub post: Post,
}

#[derive(Clone, Debug)]
pub(crate) struct HeadView {
    /// Score intervals, index t * 2 + b, then \[CLS\] last.
    pub scores: Vec<Interval>,
    /// Values, row t * 2 + b, then \[CLS\] last (rows x dim).
    pub values: IMat,
}

impl HeadView {
    pub fn dim(&self) -> usize {
        self.values.mid.cols
    }
}

/// Scores and values of one head on the token table: exact inputs `pos` (T x d), `tok`
/// (2 x d), `x_cls` (d), query and key weights and a value map `w_out` (d x dim, an interval
/// matrix when it is a product such as W_V W_C).
pub(crate) fn head_view(
    pos: &Mat<f64>,
    tok: &Mat<f64>,
    x_cls: &[f64],
    w_q: &Mat<f64>,
    w_k: &Mat<f64>,
    w_out: &IMat,
) -> HeadView {
    let t_len = pos.rows;
    let z = Mat {
        rows: 1,
        cols: x_cls.len(),
        data: x_cls.to_vec(),
    };
    // q = z W_Q (1 x r), Theta z = W_K q^T (d x 1).
    let q = enclose_product(&z, &IMat::exact(w_q));
    let q_col = IMat {
        mid: q.mid.transpose(),
        rad: q.rad.transpose(),
    };
    let theta_z = enclose_product(w_k, &q_col);
    // By linearity x_t(b)^T M = pos_t^T M + tok_b^T M, both with exact left factors.
    let pos_s = enclose_product(pos, &theta_z);
    let tok_s = enclose_product(tok, &theta_z);
    let cls_s = enclose_product(&z, &theta_z);
    let pos_v = enclose_product(pos, w_out);
    let tok_v = enclose_product(tok, w_out);
    let cls_v = enclose_product(&z, w_out);
    let dim = w_out.mid.cols;
    let mut scores = Vec::with_capacity(2 * t_len + 1);
    let mut values = IMat {
        mid: Mat::zeros(2 * t_len + 1, dim),
        rad: Mat::zeros(2 * t_len + 1, dim),
    };
    for t in 0..t_len {
        for b in 0..2 {
            scores.push(pos_s.get(t, 0).plus(tok_s.get(b, 0)));
            let r = 2 * t + b;
            for j in 0..dim {
                let v = pos_v.get(t, j).plus(tok_v.get(b, j));
                set_interval(&mut values, r, j, v);
            }
        }
    }
    scores.push(cls_s.get(0, 0));
    for j in 0..dim {
        set_interval(&mut values, 2 * t_len, j, cls_v.get(0, j));
    }
    HeadView { scores, values }
}

fn set_interval(m: &mut IMat, r: usize, j: usize, v: Interval) {
    let cols = m.mid.cols;
    let mid = v.mid();
    let rad = ((v.hi - mid).max(mid - v.lo) * (1.0 + 4.0 * EPS)).next_up();
    m.mid.data[r * cols + j] = mid;
    m.rad.data[r * cols + j] = rad;
}

/// The result of [`verify`]: per setting of x_I (index sum_j 2^j x_{i_j}), the enclosure of f
/// over all settings of the other bits, and the verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// f over {x : x_I = setting}, one interval per setting.
    pub outputs: Vec<Interval>,
    /// min over settings of the lower end of g(setting) f: > 0 iff verified.
    pub worst_margin: f64,
    /// Every output interval excludes 0 with g's sign: the model equals g on all 2^T inputs.
    pub verified: bool,
}

/// Decides whether `model` equals `junta` on all 2^T inputs (V1-V5). Sound: `verified` is
/// true only if sign(f(x)) = g(x_I) and f(x) != 0 for every x, in exact arithmetic on the
/// stored weights. Not complete: the boxes of (V4) lose the correlation between coordinates,
/// so a model equal to g with a small margin may be reported unverified (the sampled route
/// then applies). Errors: the junta does not fit the model.
pub fn verify(model: &ClsModel, junta: &Junta) -> Result<Verdict> {
    let view = model.view()?;
    junta.check(view.context_len)?;
    Ok(verify_view(&view, junta))
}

pub(crate) fn verify_view(view: &ClsView, junta: &Junta) -> Verdict {
    let t_len = view.context_len;
    let mut in_i = vec![false; t_len];
    for &p in &junta.positions {
        in_i[p] = true;
    }
    let heads: Vec<Weighted> = view.heads.iter().map(Weighted::new).collect();
    let outputs: Vec<Interval> = (0..junta.table.len())
        .map(|p| {
            let ctx = Setting {
                positions: &junta.positions,
                in_i: &in_i,
                pattern: p,
            };
            post(&view.post, &heads, &ctx)
        })
        .collect();
    let worst_margin = outputs
        .iter()
        .zip(&junta.table)
        .map(|(f, &g)| if g > 0 { f.lo } else { -f.hi })
        .fold(f64::INFINITY, f64::min);
    Verdict {
        verified: worst_margin > 0.0,
        outputs,
        worst_margin,
    }
}

/// One setting of x_I: the positions of I, membership, and the pattern's bits.
struct Setting<'a> {
    positions: &'a [usize],
    in_i: &'a [bool],
    pattern: usize,
}

/// A head's weights c = e^(score - shift) (shift the largest score, so c <= 1) and values.
struct Weighted<'a> {
    weights: Vec<Interval>,
    view: &'a HeadView,
}

impl<'a> Weighted<'a> {
    fn new(view: &'a HeadView) -> Self {
        let shift = view
            .scores
            .iter()
            .map(|s| s.hi)
            .fold(f64::NEG_INFINITY, f64::max);
        let weights = view
            .scores
            .iter()
            .map(|s| s.minus(Interval::point(shift)).exp())
            .collect();
        Weighted { weights, view }
    }

    /// Ranges of every coordinate of `values` (rows as in the view) over the free bits (V1-V3).
    fn ranges(&self, values: &IMat, ctx: &Setting<'_>) -> Vec<Interval> {
        let t_len = ctx.in_i.len();
        let choice = |r: usize, j: usize| Choice {
            weight: self.weights[r],
            value: values.get(r, j),
        };
        (0..values.mid.cols)
            .map(|j| {
                let free: Vec<[Choice; 2]> = (0..t_len)
                    .filter(|&t| !ctx.in_i[t])
                    .map(|t| [choice(2 * t, j), choice(2 * t + 1, j)])
                    .collect();
                let mut fixed = vec![choice(2 * t_len, j)];
                for (k, &t) in ctx.positions.iter().enumerate() {
                    fixed.push(choice(2 * t + ((ctx.pattern >> k) & 1), j));
                }
                Interval {
                    lo: fractional_min(&fixed, &free),
                    hi: fractional_max(&fixed, &free),
                }
            })
            .collect()
    }

    /// sigma(mixed) W over the free bits, for exact W (k x out). The box of the coordinates
    /// through sigma and W; for ReLU, also (V4'): on the coordinates whose box is >= 0 the
    /// ReLU is the identity for every input of the setting, so their part of sigma(mixed) W is
    /// a linear map of the mixed value, itself a ratio whose range (V1-V3) is exact; the
    /// straddling coordinates are added as boxes. Both enclosures are sound: we intersect.
    fn through(&self, sigma: Activation, w: &Mat<f64>, ctx: &Setting<'_>) -> Vec<Interval> {
        let boxes = self.ranges(&self.view.values, ctx);
        let h: Vec<Interval> = boxes.iter().map(|&x| activation(sigma, x)).collect();
        let plain = row_times(&h, w);
        if sigma != Activation::Relu || !boxes.iter().any(|b| b.lo >= 0.0) {
            return plain;
        }
        let mut w_on = w.clone();
        let mut h_straddle = vec![Interval::point(0.0); boxes.len()];
        for (j, b) in boxes.iter().enumerate() {
            if b.lo < 0.0 {
                w_on.row_mut(j).iter_mut().for_each(|x| *x = 0.0);
                if b.hi > 0.0 {
                    h_straddle[j] = activation(sigma, *b);
                }
            }
        }
        let projected = enclose_right(&self.view.values, &w_on);
        let linear = self.ranges(&projected, ctx);
        let straddle = row_times(&h_straddle, w);
        plain
            .iter()
            .zip(linear.iter().zip(straddle))
            .map(|(p, (l, s))| {
                let r = l.plus(s);
                Interval {
                    lo: p.lo.max(r.lo),
                    hi: p.hi.min(r.hi),
                }
            })
            .collect()
    }
}

/// Enclosure of `a b` for an interval `a` and exact `b`: through `(b^T a^T)^T` (V5).
fn enclose_right(a: &IMat, b: &Mat<f64>) -> IMat {
    let at = IMat {
        mid: a.mid.transpose(),
        rad: a.rad.transpose(),
    };
    let p = enclose_product(&b.transpose(), &at);
    IMat {
        mid: p.mid.transpose(),
        rad: p.rad.transpose(),
    }
}

/// Propagates one setting through the heads and what follows them to f (V4).
fn post(post: &Post, heads: &[Weighted<'_>], ctx: &Setting<'_>) -> Interval {
    match post {
        Post::Scalar => heads[0].ranges(&heads[0].view.values, ctx)[0],
        Post::HeadSigma { activation: a, w } => {
            let w = Mat {
                rows: w.len(),
                cols: 1,
                data: w.clone(),
            };
            heads[0].through(*a, &w, ctx)[0]
        }
        Post::Block {
            attn_activation,
            w_c,
            x_cls,
            mlp,
            mlp_activation,
            w,
        } => {
            let mut p1: Vec<Interval> = x_cls.iter().map(|&x| Interval::point(x)).collect();
            for (head, wc) in heads.iter().zip(w_c) {
                let out = match wc {
                    None => head.ranges(&head.view.values, ctx),
                    Some(wc) => head.through(*attn_activation, wc, ctx),
                };
                for (p, o) in p1.iter_mut().zip(out) {
                    *p = p.plus(o);
                }
            }
            let mut y = project(&p1);
            if let Some(mlp) = mlp {
                let z = row_times(&y, &mlp.w1);
                let g: Vec<Interval> = z.iter().map(|&x| activation(*mlp_activation, x)).collect();
                let add = row_times(&g, &mlp.w2);
                let p2: Vec<Interval> = y.iter().zip(add).map(|(a, b)| a.plus(b)).collect();
                y = project(&p2);
            }
            dot_exact(&y, w)
        }
    }
}
