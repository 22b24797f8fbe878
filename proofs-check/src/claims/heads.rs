//! Claims on the model itself: the composed error of the single-head cover (I11) and the
//! Lipschitz constants of residual attention layers (I17, I18) and the per-sample peeling in
//! `L2(S)` of the deep bound (I36), each with the proof's extremal configurations as ascent seeds.

use super::{claim, diff, l2, row_major, softmax, spectral, to_dm, unit_rows};
use crate::Claim;
use attnbounds::bounds::{self, BoundParams, LayerRadii};
use attnbounds::model::{Activation, Block, ClsHead, HeadParams, Transformer, TransformerConfig};
use attnbounds::norms;
use attnbounds::tensor::{Mat, dot};
use nalgebra::DVector;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// (I11): the composed error of the three-stage cover, on an explicitly constructed cover
/// element: scores perturbed by at most `e1` in l_inf, pre-activations by `e2` per coordinate
/// (then projected onto the ball of radius `B_V B_X`), output by `e3`. Radii are the instance's
/// own norms (the tightest valid radii). The head is `model::ClsHead` (tanh).
pub fn composed_error(kappa: f64) -> Claim {
    let (n, d, r, k) = (4, 3, 2, 2);
    let dim = n * d + 3 * d * r + k + n + k + 1 + 3;
    claim(
        "I11",
        "3-explicit-single-head-bound",
        &format!("|f - c| <= B_w L (kappa B_V B_X e1 + sqrt(k) e2) + e3, kappa = {kappa}"),
        dim,
        move |p| {
            let act = Activation::Tanh;
            let mut o = 0;
            let mut take = |len: usize| {
                let s = &p[o..o + len];
                o += len;
                s
            };
            let x = row_major(take(n * d), n, d);
            let (wq, wk, wv) = (take(d * r), take(d * r), take(d * k));
            let w = take(k).to_vec();
            let (du, dh, dc) = (take(n), take(k), take(1)[0]);
            // Stage errors in [e^-6, e^6]: beyond that f64 products overflow (inf * 0 = NaN).
            let e: Vec<f64> = take(3).iter().map(|v| (6.0 * v.tanh()).exp()).collect();
            let head = head_from_flat(wq, wk, wv, &w, act, (d, r, k))?;
            let f = head.forward(&x).ok()?.value;
            let (xd, theta, wvd) = (to_dm(&x), to_dm(&head.theta()), to_dm(&head.w_v));
            let b_x = norms::max_row_norm(&xd).ok()?;
            let b_v = spectral(&wvd)?;
            let scaled = |e: f64, v: &[f64]| v.iter().map(|b| e * b.tanh()).collect::<Vec<f64>>();
            let c = CoverElement {
                xd: &xd,
                theta: &theta,
                wvd: &wvd,
                w: &w,
                act,
                radius: b_v * b_x,
            }
            .output(&scaled(e[0], du), &scaled(e[1], dh), e[2] * dc.tanh());
            let rhs =
                l2(&w) * act.lipschitz() * (kappa * b_v * b_x * e[0] + (k as f64).sqrt() * e[1])
                    + e[2];
            Some(((f - c).abs(), rhs))
        },
    )
    .with_seeds(composed_error_seeds())
}

/// The [CLS] head of the composed-error claims from its flat parameters: `W_Q`, `W_K` (d x r),
/// `W_V` (d x k) row-major and the read-out `w`; `None` when the model refuses them.
fn head_from_flat(
    wq: &[f64],
    wk: &[f64],
    wv: &[f64],
    w: &[f64],
    act: Activation,
    (d, r, k): (usize, usize, usize),
) -> Option<ClsHead<f64>> {
    ClsHead::new(
        row_major(wq, d, r),
        row_major(wk, d, r),
        row_major(wv, d, k),
        w.to_vec(),
        act,
    )
    .ok()
}

/// The cover element of the composed-error claims (I11, I33) at one sample: the head's scores
/// shifted by `du`, its value row shifted by `dh` and projected onto the ball of radius
/// `radius = B_V B_X` (which holds every true value row, so the error to the true row does not
/// grow, (I9)), then read out and shifted by `dc`.
struct CoverElement<'a> {
    xd: &'a nalgebra::DMatrix<f64>,
    theta: &'a nalgebra::DMatrix<f64>,
    wvd: &'a nalgebra::DMatrix<f64>,
    w: &'a [f64],
    act: Activation,
    radius: f64,
}

impl CoverElement<'_> {
    fn output(&self, du: &[f64], dh: &[f64], dc: f64) -> f64 {
        let z = self.xd.row(self.xd.nrows() - 1).transpose();
        let u = self.xd * (self.theta * &z);
        let u2: Vec<f64> = u.iter().zip(du).map(|(a, b)| a + b).collect();
        let v2 = self.xd.transpose() * DVector::from_vec(softmax(&u2));
        let mut h2: Vec<f64> = (self.wvd.transpose() * v2)
            .iter()
            .zip(dh)
            .map(|(a, b)| a + b)
            .collect();
        let norm = l2(&h2);
        if norm > self.radius {
            h2.iter_mut().for_each(|v| *v *= self.radius / norm);
        }
        self.w
            .iter()
            .zip(&h2)
            .map(|(a, b)| a * self.act.apply(*b))
            .sum::<f64>()
            + dc
    }
}

/// Extremal configurations of (I11) from its proof: every inequality in the chain tight at once.
/// Two antipodal unit rows `x_0 = e_0 = -x_1` carry all the attention (the other rows, `z = e_2`,
/// score `-20` through `Theta = -20 e_2 e_2^T`), so `a = (1/2, 1/2, ~0, ~0)` where softmax is
/// steepest (I5 tight), the score perturbation `(+e1, -e1)` moves `X^T a` along `e_0` by
/// `B_X ||a - a'||_1` (I6 tight), `W_V = s e_0 e_0^T` and `w = e_0` keep it on the top singular
/// direction with `tanh' = 1` at 0 (I7 tight); `e2, e3` at their floor. One seed per `e1`.
fn composed_error_seeds() -> Vec<Vec<f64>> {
    [-1.2f64, -0.55, -0.2]
        .iter()
        .map(|&e1| {
            let mut p = vec![0.0; 42];
            // X (4 x 3, row-major): e_0, -e_0, e_2, e_2 (last row is z = x_cls).
            p[0] = 1.0;
            p[3] = -1.0;
            p[8] = 1.0;
            p[11] = 1.0;
            // W_Q, W_K (3 x 2): only row 2, product -20.
            p[12 + 4] = -20f64.sqrt();
            p[18 + 4] = 20f64.sqrt();
            // W_V (3 x 2) = e_0 e_0^T, w = e_0.
            p[24] = 1.0;
            p[30] = 1.0;
            // du = (+, -, 0, 0) saturated; dh = dc = 0; e = exp(6 tanh(.)).
            p[32] = 4.0;
            p[33] = -4.0;
            p[39] = e1;
            p[40] = -5.0;
            p[41] = -5.0;
            p
        })
        .collect()
}

/// (I17): the Lipschitz constant of one residual attention layer with the unit-ball projection,
/// measured on `model::Transformer` (one block, two tanh heads, no MLP) with `rho` from
/// `bounds::ln_layer_lipschitz` at the instance's own norms.
pub fn layer_lipschitz(kappa: f64) -> Claim {
    stacked_lipschitz(kappa, 1)
}

/// (I18) with zero cover error, iterated: `layers` blocks compose to
/// `||F(Y) - F(Y')||_rows <= prod_l rho_l ||Y - Y'||_rows`, each `rho_l` at block `l`'s own norms.
pub fn peeling(kappa: f64) -> Claim {
    stacked_lipschitz(kappa, 2)
}

fn stacked_lipschitz(kappa: f64, layers: usize) -> Claim {
    let (n, d, k, heads) = (3, 3, 2, 2);
    let per_head = 4 * d * k;
    let per_layer = heads * per_head;
    let cfg = TransformerConfig {
        context_len: n - 1,
        vocab: 2,
        width: d,
        heads,
        head_dim: k,
        mlp_width: 0,
        layers,
        attn_activation: Activation::Tanh,
        mlp_activation: Activation::Identity,
        init_scale: 1.0,
    };
    let template = Transformer::<f64>::random(&cfg, &mut ChaCha8Rng::seed_from_u64(0));
    let (id, section, statement) = if layers == 1 {
        (
            "I17",
            "5-multi-head-multi-layer",
            format!("||layer(Y)-layer(Y')||_rows <= rho ||Y-Y'||_rows, kappa = {kappa}"),
        )
    } else {
        (
            "I18",
            "5-multi-head-multi-layer",
            format!(
                "{layers} layers: ||F(Y)-F(Y')||_rows <= prod_l rho_l ||Y-Y'||_rows, kappa = {kappa}"
            ),
        )
    };
    claim(
        id,
        section,
        &statement,
        layers * per_layer + 2 * n * d,
        move |p| {
            let mut model = template.as_ref().ok()?.clone();
            let params = BoundParams {
                kappa,
                l_sigma: Activation::Tanh.lipschitz(),
                ..BoundParams::default()
            };
            let mut ln_rho = 0.0;
            model.blocks.clear();
            for l in 0..layers {
                let mut radii = LayerRadii {
                    b_qk: 0.0,
                    b_v: 0.0,
                    b_v21: 1.0,
                    b_c: 0.0,
                    b_c21: 1.0,
                };
                let mut heads_p = Vec::new();
                for h in 0..heads {
                    let q = &p[l * per_layer + h * per_head..l * per_layer + (h + 1) * per_head];
                    let hp = HeadParams {
                        w_q: row_major(q, d, k),
                        w_k: row_major(&q[d * k..], d, k),
                        w_v: row_major(&q[2 * d * k..], d, k),
                        w_c: row_major(&q[3 * d * k..], k, d),
                    };
                    let theta = norms::theta(&to_dm(&hp.w_q), &to_dm(&hp.w_k)).ok()?;
                    radii.b_qk = radii.b_qk.max(norms::frobenius(&theta).ok()?);
                    radii.b_v = radii.b_v.max(spectral(&to_dm(&hp.w_v))?);
                    radii.b_c = radii.b_c.max(spectral(&to_dm(&hp.w_c))?);
                    heads_p.push(hp);
                }
                ln_rho += bounds::ln_layer_lipschitz(heads, &radii, &params);
                model.blocks.push(Block {
                    heads: heads_p,
                    mlp: None,
                });
            }
            let o = layers * per_layer;
            let y = unit_rows(&p[o..], n, d);
            let y2 = unit_rows(&p[o + n * d..], n, d);
            let rows = |a: &Mat<f64>, b: &Mat<f64>| {
                (0..n)
                    .map(|i| l2(&diff(a.row(i), b.row(i))))
                    .fold(0.0, f64::max)
            };
            let (fy, fy2) = (model.forward_rows(&y).ok()?, model.forward_rows(&y2).ok()?);
            Some((rows(&fy, &fy2), ln_rho.exp() * rows(&y, &y2)))
        },
    )
    .with_seeds(score_sensitive_seeds(layers))
}

/// Configurations where the attention-score term of `rho` (I17) matters: in every layer both
/// heads have `Theta = 30 e_0 e_0^T`, `W_V = e_0 e_0^T`, `W_C = e_0 e_0^T`; rows
/// `y_0 = e_0 / 2 = -y_1`, `y_2 = e_2 / 2`, and `Y'` moves `y_2` by `delta e_0`. Query 2 attends
/// uniformly under `Y` and tilts by `~30 delta` under `Y'`, so its output moves by
/// `~(1 + 2 (30/6 + 1/3)) delta`, far more than the score-free `1 + 2 L B_C B_V = 3`.
fn score_sensitive_seeds(layers: usize) -> Vec<Vec<f64>> {
    let (n, d, k, heads) = (3, 3, 2, 2);
    let per_head = 4 * d * k;
    [0.01f64, 0.001]
        .iter()
        .map(|&delta| {
            let mut p = vec![0.0; layers * heads * per_head + 2 * n * d];
            for h in 0..layers * heads {
                let q = &mut p[h * per_head..(h + 1) * per_head];
                q[0] = 30f64.sqrt(); // W_Q row 0
                q[d * k] = 30f64.sqrt(); // W_K row 0
                q[2 * d * k] = 1.0; // W_V row 0
                q[3 * d * k] = 1.0; // W_C row 0 (k x d)
            }
            let o = layers * heads * per_head;
            for (y, shift) in [(o, 0.0), (o + n * d, delta)] {
                p[y] = 0.5;
                p[y + 3] = -0.5;
                p[y + 6] = shift;
                p[y + 8] = 0.5;
            }
            p
        })
        .collect()
}

/// (I36), the per-sample peeling in `L2(S)` at an earlier layer's value stage: on
/// `model::Transformer` (two blocks, one tanh head, no MLP; `m = 3` samples of `q = 3` rows, all
/// read by block 2), the cover element is the model with block 1's `W_V` moved by `Delta`, so
/// its value rows are `h_{i,t} = W_V'^T v_{i,t}` (`v_{i,t}` the mixed rows of block 1). Then
/// `RMS_i |f(X_i) - c_i| <= D_1 L_sigma B_C1 ||H - V W_V||_F / sqrt(m)`, `D_1 = B_w rho_2`
/// (`bounds::ln_layer_lipschitz` at block 2's own norms), which is the stage constant of section
/// 12.9: `A = sqrt(q) D_1 L_sigma B_C1 B_V21` at the Frobenius scale `sqrt(m) e` of (I4), as
/// `(1/m) sum_i max_t ||.||^2 <= (1/m) sum_{i,t} ||.||^2`. `rows_weight` multiplies that sum: 1
/// is the claim; `1/q` is the mutant, the cover read as an RMS over all `m q` rows (the stage
/// without its `sqrt(q_l)`), caught where only the \[CLS\] row errs.
pub fn deep_l2_peeling(rows_weight: f64) -> Claim {
    let (n, d, k, m) = (3, 3, 2, 3);
    let per_layer = 4 * d * k;
    let cfg = TransformerConfig {
        context_len: n - 1,
        vocab: 2,
        width: d,
        heads: 1,
        head_dim: k,
        mlp_width: 0,
        layers: 2,
        attn_activation: Activation::Tanh,
        mlp_activation: Activation::Identity,
        init_scale: 1.0,
    };
    let template = Transformer::<f64>::random(&cfg, &mut ChaCha8Rng::seed_from_u64(0));
    let dim = 2 * per_layer + d * k + d + m * n * d;
    claim(
        "I36",
        "129-the-deep-bounds-earlier-layers-in-l2s",
        &format!(
            "RMS_i |f(X_i) - c_i| <= B_w rho_2 L_sigma B_C1 sqrt(({rows_weight}/m) sum_(i,t) ||(W_V' - W_V)^T v_(i,t)||^2) (block 1's values, 2 blocks)"
        ),
        dim,
        move |p| {
            let mut model = template.as_ref().ok()?.clone();
            let act = Activation::Tanh;
            let head = |l: usize| {
                let q = &p[l * per_layer..(l + 1) * per_layer];
                HeadParams {
                    w_q: row_major(q, d, k),
                    w_k: row_major(&q[d * k..], d, k),
                    w_v: row_major(&q[2 * d * k..], d, k),
                    w_c: row_major(&q[3 * d * k..], k, d),
                }
            };
            let (h1, h2) = (head(0), head(1));
            let o = 2 * per_layer;
            let delta = to_dm(&row_major(&p[o..], d, k));
            let w = p[o + d * k..o + d * k + d].to_vec();
            let theta2 = norms::theta(&to_dm(&h2.w_q), &to_dm(&h2.w_k)).ok()?;
            let radii2 = LayerRadii {
                b_qk: norms::frobenius(&theta2).ok()?,
                b_v: spectral(&to_dm(&h2.w_v))?,
                b_v21: 1.0,
                b_c: spectral(&to_dm(&h2.w_c))?,
                b_c21: 1.0,
            };
            let params = BoundParams {
                l_sigma: act.lipschitz(),
                ..BoundParams::default()
            };
            let alpha = l2(&w)
                * bounds::ln_layer_lipschitz(1, &radii2, &params).exp()
                * act.lipschitz()
                * spectral(&to_dm(&h1.w_c))?;
            let (wq1, wk1) = (to_dm(&h1.w_q), to_dm(&h1.w_k));
            let mut moved = h1.clone();
            let w_v2 = to_dm(&h1.w_v) + &delta;
            moved.w_v = Mat {
                rows: d,
                cols: k,
                data: (0..d * k).map(|i| w_v2[(i / k, i % k)]).collect(),
            };
            model.w = w;
            model.blocks = vec![
                Block {
                    heads: vec![h1],
                    mlp: None,
                },
                Block {
                    heads: vec![h2],
                    mlp: None,
                },
            ];
            let mut cover = model.clone();
            cover.blocks[0].heads[0] = moved;
            let (mut out_sq, mut rows_sq) = (0.0, 0.0);
            for i in 0..m {
                let y = unit_rows(&p[o + d * k + d + i * n * d..], n, d);
                let read = |t: &Transformer<f64>| -> Option<f64> {
                    let rows = t.forward_rows(&y).ok()?;
                    Some(dot(&t.w, rows.row(n - 1)))
                };
                out_sq += (read(&model)? - read(&cover)?).powi(2);
                // Block 1's mixed rows v_{i,t} = Y^T softmax((Y W_Q)(Y W_K)^T row t) (score
                // y_s^T Theta y_t, Theta = W_K W_Q^T): the rows of A Y.
                let yd = to_dm(&y);
                let scores = (&yd * &wq1) * (&yd * &wk1).transpose();
                for t in 0..n {
                    let row: Vec<f64> = scores.row(t).iter().copied().collect();
                    let a = DVector::from_vec(softmax(&row));
                    let v = yd.transpose() * a;
                    rows_sq += (delta.transpose() * v).norm_squared();
                }
            }
            let mf = m as f64;
            Some(((out_sq / mf).sqrt(), alpha * (rows_weight * rows_sq / mf).sqrt()))
        },
    )
    .with_seeds(cls_only_seeds())
}

/// Where (I36) is tight and only the \[CLS\] row errs: rows `y_0 = e_0/2`, `y_1 = e_1/2`,
/// `y_cls = e_2/2` in every sample; block 1 has `Theta = 80 e_2 e_2^T` (queries 0, 1 attend
/// uniformly, the \[CLS\] query to itself), `W_V = 0`, `W_C = e_0 e_0^T`, and
/// `Delta = delta (e_2 - e_0) e_0^T`, which vanishes on the uniform mixture and moves the
/// \[CLS\] value by `delta / 2`; block 2 is zero (`rho_2 = 1`), `w = e_0`. Then
/// `|f - c| = tanh(delta / 2)` against `delta / 2`: ratio `-> 1`, and the mutant's rhs is
/// `sqrt(q) = sqrt(3)` times smaller.
fn cls_only_seeds() -> Vec<Vec<f64>> {
    let (n, d, k, m) = (3, 3, 2, 3);
    let per_layer = 4 * d * k;
    [0.01f64, 0.1]
        .iter()
        .map(|&delta| {
            let mut p = vec![0.0; 2 * per_layer + d * k + d + m * n * d];
            p[2 * k] = 80f64.sqrt(); // W_Q[2][0]
            p[d * k + 2 * k] = 80f64.sqrt(); // W_K[2][0]
            p[3 * d * k] = 1.0; // W_C[0][0] (k x d)
            let o = 2 * per_layer;
            p[o] = -delta; // Delta[0][0]
            p[o + 2 * k] = delta; // Delta[2][0]
            p[o + d * k] = 1.0; // w = e_0
            for i in 0..m {
                let s = o + d * k + d + i * n * d;
                p[s] = 0.5;
                p[s + d + 1] = 0.5;
                p[s + 2 * d + 2] = 0.5;
            }
            p
        })
        .collect()
}

/// (I33): the composed error of the tightened single-head cover in `L2(S)`, on `m = 3` samples
/// of `model::ClsHead` (tanh) with one weight set: per sample, scores perturbed by at most `e1`
/// in l_inf (uniform over samples), the value row by an arbitrary vector `dh_i` (then projected
/// onto the ball of radius `B_V B_X`), the output by `dc_i`. With `e2 = RMS_i ||dh_i||` and
/// `e3 = RMS_i |dc_i|`: `RMS_i |f(X_i) - c_i| <= B_w L_sigma (kappa B_V B_X e1 + e2) + e3`
/// (no `sqrt(k)`: the value stage is covered in `L2(S)`, not per coordinate). `kappa` is the
/// softmax constant; below 1 is the mutant. Seeded at (I11)'s extremal configuration, the
/// same in every sample.
pub fn composed_error_l2(kappa: f64) -> Claim {
    let (n, d, r, k, m) = (4, 3, 2, 2, 3);
    let shared = 3 * d * r + k;
    let per_sample = n * d + n + k + 1;
    claim(
        "I33",
        "121-after-the-softmax-only-l2s-is-needed",
        &format!(
            "RMS_i |f(X_i) - c_i| <= B_w L (kappa B_V B_X e1 + RMS_i ||dh_i||) + RMS_i |dc_i|, kappa = {kappa}"
        ),
        shared + m * per_sample + 1,
        move |p| {
            let act = Activation::Tanh;
            let (wq, wk, wv) = (&p[..d * r], &p[d * r..2 * d * r], &p[2 * d * r..3 * d * r]);
            let w = p[3 * d * r..shared].to_vec();
            // The uniform score error in [e^-6, e^6], as in (I11).
            let e1 = (6.0 * p[shared + m * per_sample].tanh()).exp();
            let head = head_from_flat(wq, wk, wv, &w, act, (d, r, k))?;
            let (theta, wvd) = (to_dm(&head.theta()), to_dm(&head.w_v));
            let b_v = spectral(&wvd)?;
            let sample = |i: usize| &p[shared + i * per_sample..shared + (i + 1) * per_sample];
            let mut b_x = 0.0f64;
            for i in 0..m {
                b_x = b_x.max(norms::max_row_norm(&to_dm(&row_major(sample(i), n, d))).ok()?);
            }
            let (mut out_sq, mut e2_sq, mut e3_sq) = (0.0, 0.0, 0.0);
            for i in 0..m {
                let s = sample(i);
                let x = row_major(s, n, d);
                let (du, dh, dc) = (&s[n * d..n * d + n], &s[n * d + n..n * d + n + k], s[n * d + n + k]);
                let f = head.forward(&x).ok()?.value;
                let xd = to_dm(&x);
                let du: Vec<f64> = du.iter().map(|b| e1 * b.tanh()).collect();
                let c = CoverElement {
                    xd: &xd,
                    theta: &theta,
                    wvd: &wvd,
                    w: &w,
                    act,
                    radius: b_v * b_x,
                }
                .output(&du, dh, dc);
                out_sq += (f - c).powi(2);
                e2_sq += l2(dh).powi(2);
                e3_sq += dc * dc;
            }
            let mf = m as f64;
            let rhs = l2(&w) * act.lipschitz() * (kappa * b_v * b_x * e1 + (e2_sq / mf).sqrt())
                + (e3_sq / mf).sqrt();
            Some(((out_sq / mf).sqrt(), rhs))
        },
    )
    .with_seeds(composed_error_l2_seeds())
}

/// (I11)'s extremal configurations (see [`composed_error_seeds`]) in every sample, with
/// `dh = dc = 0`: the per-sample chain is tight and Minkowski's inequality is an equality for
/// equal samples.
fn composed_error_l2_seeds() -> Vec<Vec<f64>> {
    let (n, d, r, k, m) = (4, 3, 2, 2, 3);
    let shared = 3 * d * r + k;
    let per_sample = n * d + n + k + 1;
    composed_error_seeds()
        .into_iter()
        .map(|s| {
            let mut p = vec![0.0; shared + m * per_sample + 1];
            // I11's layout: X (12), W_Q, W_K, W_V (6 each), w (2), du (4), dh, dc, e.
            p[..shared].copy_from_slice(&s[n * d..n * d + shared]);
            for i in 0..m {
                let o = shared + i * per_sample;
                p[o..o + n * d].copy_from_slice(&s[..n * d]);
                p[o + n * d..o + n * d + n].copy_from_slice(&s[n * d + shared..n * d + shared + n]);
            }
            p[shared + m * per_sample] = s[n * d + shared + n + k + 1];
            p
        })
        .collect()
}
