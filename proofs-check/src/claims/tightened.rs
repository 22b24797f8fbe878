//! Claims of the tightened bounds (`docs/derivations.md#12-tightened-explicit-bounds`): the
//! log-weighted split (I28), Dudley to `b/2` in closed form against the numeric integral (I30c),
//! the ramp loss through the clip (I31), and packings of the normalised BFT class (I26) and of
//! the score class against the volumetric count (I27). Each takes a `wrong` factor: 1 is the
//! claim, anything else its mutant.

use super::{claim, diff, l2, linf, unit};
use crate::Claim;
use attnbounds::bounds;
use attnbounds::train::Loss;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SEC: &str = "12-tightened-explicit-bounds";

/// (I28): `(sum_j (K_j A_j^2)^{1/3})^3 / eps^2 <= sum_j K_j A_j^2 / eps_j^2` for every split of
/// `eps = 1`. Tight (ratio 1 at the Lagrange split); `wrong` multiplies the closed form (the
/// mutant, `wrong > 1`, claims a minimum above the true one).
pub fn weighted_split(wrong: f64) -> Claim {
    claim(
        "I28",
        SEC,
        &format!(
            "{wrong} (sum_j (K_j A_j^2)^(1/3))^3 <= sum_j K_j A_j^2 / eps_j^2 for every split of eps = 1"
        ),
        9,
        move |p| {
            let a: Vec<f64> = p[..3].iter().map(|v| (3.0 * v.tanh()).exp()).collect();
            let k: Vec<f64> = p[3..6].iter().map(|v| (3.0 * v.tanh()).exp()).collect();
            let split = super::softmax(&p[6..]);
            let closed = a
                .iter()
                .zip(&k)
                .map(|(a, k)| (k * a * a).powf(1.0 / 3.0))
                .sum::<f64>()
                .powi(3);
            let cost: f64 = (0..3).map(|j| k[j] * (a[j] / split[j]).powi(2)).sum();
            Some((wrong * closed, cost))
        },
    )
    .with_seeds(vec![vec![0.0; 9]])
}

/// Dudley instances as in `generalization`: `b` and `C / b^2` in `10^[-12, 12]`, `m <= 1e6`.
fn dudley_instance(p: &[f64]) -> (f64, f64, usize) {
    let b = 10f64.powf(12.0 * p[1].tanh());
    let c = b * b * 10f64.powf(12.0 * p[0].tanh());
    let m = (10f64.powf(6.0 * unit(p[2]))).round().max(1.0) as usize;
    (c, b, m)
}

/// (I30c): for `ln N = C/eps^2` the closed form of Dudley to `b/2` is the exact infimum, so it
/// never exceeds the numeric upper sum (`bounds::dudley_closed_form_half` vs
/// `bounds::dudley_numeric_half`). Tight. The mutant (`wrong = 2`) is the closed form with the
/// range `2 b` (the integral to `b`, as in (I21)), which exceeds the numeric bound to `b/2`.
pub fn dudley_half(wrong: f64) -> Claim {
    let mut c = claim(
        "I30c",
        "61-dudley-from-the-cover-0-at-scale-b",
        &format!(
            "closed form 12 s (1 + ln(b {wrong} / (6 s))) <= numeric Dudley to b/2, ln N = C/eps^2"
        ),
        3,
        move |p| {
            let (c, b, m) = dudley_instance(p);
            let num = bounds::dudley_numeric_half(|e| c / (e * e), b, m).ok()?;
            let closed = bounds::dudley_closed_form_half(c, b * wrong, m).ok()?;
            Some((closed, num.value))
        },
    );
    c.cost = 4;
    c
}

/// (I31): `ramp_gamma(clip(f, -gamma, gamma), y) = ramp_gamma(f, y)`; checked as `1 + ramp(clip
/// f) <= 1 + ramp(f)` (the shift keeps the ratio defined where the loss is 0). The mutant clips
/// at `wrong * gamma`, which changes the loss of margins between `wrong gamma` and `gamma`.
pub fn ramp_clip(wrong: f64) -> Claim {
    claim(
        "I31",
        SEC,
        &format!("1 + ramp(clip(f, -{wrong} gamma, {wrong} gamma), y) <= 1 + ramp(f, y)"),
        3,
        move |p| {
            let g = (3.0 * p[0].tanh()).exp();
            let f = 3.0 * g * p[1].tanh();
            let y = if p[2] >= 0.0 { 1.0 } else { -1.0 };
            let loss = Loss::Ramp { gamma: g };
            let c = wrong * g;
            Some((1.0 + loss.value(f.clamp(-c, c), y), 1.0 + loss.value(f, y)))
        },
    )
}

/// (I31), second part: `clip` is 1-Lipschitz, `|clip(f) - clip(f')| <= |f - f'|` (tight inside
/// the interval). The mutant asserts a Lipschitz constant `wrong < 1`.
pub fn clip_lipschitz(wrong: f64) -> Claim {
    claim(
        "I31b",
        SEC,
        &format!("|clip(f) - clip(f')| <= {wrong} |f - f'| (clip to [-gamma, gamma])"),
        3,
        move |p| {
            let g = (3.0 * p[0].tanh()).exp();
            let (f, f2) = (2.0 * g * p[1].tanh(), 2.0 * g * p[2].tanh());
            Some((
                (f.clamp(-g, g) - f2.clamp(-g, g)).abs(),
                wrong * (f - f2).abs() + 4.0 * f64::EPSILON * g,
            ))
        },
    )
}

/// Greedy packing: members pairwise more than `sep` apart.
fn greedy(members: &[Vec<f64>], sep: f64, dist: impl Fn(&[f64], &[f64]) -> f64) -> usize {
    let mut kept: Vec<&Vec<f64>> = Vec::new();
    for m in members {
        if kept.iter().all(|k| dist(k, m) > sep) {
            kept.push(m);
        }
    }
    kept.len()
}

/// Gaussian draw (Box-Muller) from a seeded stream.
fn gauss(rng: &mut ChaCha8Rng) -> f64 {
    let (u, v): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// `count` points of the Frobenius (Euclidean) ball of radius 1 in `R^dim`: half on the sphere,
/// half inside, fixed once.
fn ball_members(count: usize, dim: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let mut v: Vec<f64> = (0..dim).map(|_| gauss(&mut rng)).collect();
            let n = l2(&v).max(f64::MIN_POSITIVE);
            let r = if i % 2 == 0 {
                1.0
            } else {
                rng.random::<f64>().powf(1.0 / dim as f64)
            };
            v.iter_mut().for_each(|x| *x *= r / n);
            v
        })
        .collect()
}

/// (I26): a greedy `2 e`-packing, in the normalised `L2(S)` row metric
/// `sqrt((1/m) sum_i ||h_i - h'_i||^2)`, of `{(A^T v_i)_i : ||A||_{2,1} <= 1}` (`A` 2 x 2, unit
/// (2,1)-norm members), against `ceil(B^2 / e^2) ln(2 W^2)` with `B = max_i ||v_i||`
/// (`bounds::bft_matrix` at `||V||_F = sqrt(m) B`, `eps = sqrt(m) e`). Weak (packings in small
/// dimension); the mutant scales the bound by `wrong`.
pub fn bft_normalised(members: usize, wrong: f64) -> Claim {
    let (m, d, k) = (3usize, 2usize, 2usize);
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let a_set: Vec<Vec<f64>> = (0..members)
        .map(|_| {
            // column j: direction times weight, weights on the simplex: ||A||_{2,1} = 1.
            let w0 = rng.random::<f64>();
            let mut a = vec![0.0; d * k];
            for (j, wj) in [w0, 1.0 - w0].into_iter().enumerate() {
                let col: Vec<f64> = (0..d).map(|_| gauss(&mut rng)).collect();
                let n = l2(&col).max(f64::MIN_POSITIVE);
                for r in 0..d {
                    a[r * k + j] = wj * col[r] / n;
                }
            }
            a
        })
        .collect();
    let mut c = claim(
        "I26",
        SEC,
        &format!(
            "ln packing(2 e, L2(S) rows) of {{A^T v_i : ||A||_(2,1) <= 1}} <= {wrong} ceil(B^2/e^2) ln(2 W^2)"
        ),
        m * d + 1,
        move |p| {
            let v: Vec<f64> = p[..m * d].iter().map(|x| x.tanh()).collect();
            let b = (0..m)
                .map(|i| l2(&v[i * d..(i + 1) * d]))
                .fold(0.0, f64::max);
            if b <= 0.0 {
                return None;
            }
            let e = b * (0.02 + 0.98 * unit(p[m * d]));
            let values: Vec<Vec<f64>> = a_set
                .iter()
                .map(|a| {
                    let mut h = Vec::with_capacity(m * k);
                    for i in 0..m {
                        for j in 0..k {
                            h.push((0..d).map(|r| v[i * d + r] * a[r * k + j]).sum());
                        }
                    }
                    h
                })
                .collect();
            let packing = greedy(&values, 2.0 * e, |x, y| l2(&diff(x, y)) / (m as f64).sqrt());
            let sm = (m as f64).sqrt();
            let bound = bounds::bft_matrix(1.0, sm * b, sm * e, d.max(k)).ok()?;
            Some(((packing as f64).ln(), wrong * bound))
        },
    );
    c.cost = 20;
    c
}

/// (I27): a greedy `2 e`-packing, in `l_inf` over `n` (x, z) pairs with `||x||, ||z|| <= B_X`, of
/// the score class `{x^T Theta z : ||Theta||_F <= 1}` (`d = 2`, `Theta` from the unit ball of
/// `R^4`), against `bounds::volumetric` = `d^2 ln(1 + 2 B_X^2 / e)`. Weak; the mutant scales the
/// bound by `wrong`.
pub fn volumetric(members: usize, wrong: f64) -> Claim {
    let (n, d) = (3usize, 2usize);
    let thetas = ball_members(members, d * d, 19);
    let mut c = claim(
        "I27",
        SEC,
        &format!(
            "ln packing(2 e, l_inf) of {{x^T Theta z : ||Theta||_F <= 1}} <= {wrong} d^2 ln(1 + 2 B_X^2 / e)"
        ),
        2 * n * d + 1,
        move |p| {
            let xs: Vec<f64> = p[..2 * n * d].iter().map(|x| x.tanh()).collect();
            let bx = (0..2 * n)
                .map(|i| l2(&xs[i * d..(i + 1) * d]))
                .fold(0.0, f64::max);
            if bx <= 0.0 {
                return None;
            }
            let e = bx * bx * (0.01 + 0.99 * unit(p[2 * n * d]));
            let values: Vec<Vec<f64>> = thetas
                .iter()
                .map(|t| {
                    (0..n)
                        .map(|i| {
                            let (x, z) = (&xs[2 * i * d..], &xs[(2 * i + 1) * d..]);
                            (0..d)
                                .map(|r| (0..d).map(|s| x[r] * t[r * d + s] * z[s]).sum::<f64>())
                                .sum()
                        })
                        .collect()
                })
                .collect();
            let packing = greedy(&values, 2.0 * e, |u, v| linf(&diff(u, v)));
            let bound = bounds::volumetric(1.0, bx, e, d).ok()?;
            Some(((packing as f64).ln(), wrong * bound))
        },
    );
    c.cost = 20;
    c
}

const SEC_EMB: &str = "128-a-fixed-embedding-and-the-cls-query";

/// Rows of a table: `n` rows in `R^d` from `p` (entries through `tanh`, so in `[-1, 1]`).
fn table(p: &[f64], n: usize, d: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| p[i * d..(i + 1) * d].iter().map(|x| x.tanh()).collect())
        .collect()
}

/// `X^T a` for rows `x` and weights `a`.
fn mix(x: &[Vec<f64>], a: &[f64]) -> Vec<f64> {
    (0..x[0].len())
        .map(|j| x.iter().zip(a).map(|(r, w)| r[j] * w).sum())
        .collect()
}

/// (I35): `||X^T (a - a')||_2 <= h ||a - a'||_1` for probability vectors `a, a'`, `h` the half
/// diameter of the rows as `bounds::FixedEmbedding::from_rows` computes it. Tight (point masses
/// on the two farthest rows); the mutant claims `wrong * h` with `wrong < 1`.
pub fn half_diameter(wrong: f64) -> Claim {
    let (n, d) = (4usize, 2usize);
    // Seed: large logits put a on row 0 and a' on row 1.
    let mut seed = vec![0.0; n * d + 2 * n];
    seed[..n * d].copy_from_slice(&[3.0, 3.0, -3.0, -3.0, 0.1, -0.2, -0.1, 0.2]);
    seed[n * d] = 30.0;
    seed[n * d + n + 1] = 30.0;
    claim(
        "I35",
        SEC_EMB,
        &format!("||X^T (a - a')||_2 <= {wrong} h ||a - a'||_1, h = max ||x - x'|| / 2"),
        n * d + 2 * n,
        move |p| {
            let x = table(p, n, d);
            let geo = bounds::FixedEmbedding::from_rows(&x[0], &x).ok()?;
            let (a, b) = (
                super::softmax(&p[n * d..n * d + n]),
                super::softmax(&p[n * d + n..]),
            );
            let delta = diff(&a, &b);
            let lhs = l2(&diff(&mix(&x, &a), &mix(&x, &b)));
            let l1: f64 = delta.iter().map(|v| v.abs()).sum();
            Some((lhs, wrong * geo.half_diameter * l1 + 4.0 * f64::EPSILON))
        },
    )
    .with_seeds(vec![seed])
}

/// (I34), the lookup through the softmax: for a table `R`, centre `c` (the mean of the rows),
/// query `u` and any cover vector `g'` over `R`, a sample whose rows are looked up in `R` has
/// `||softmax(X u) - softmax(g'_lookup)||_1 <= kappa max_{x in R} |(x - c)^T u - g'_x|`: the
/// uncentred true scores, the centred cover. Tight at `kappa = 1` (as (I5)); the mutant claims
/// `kappa = wrong < 1`.
pub fn centred_scores(kappa: f64) -> Claim {
    let (n, d) = (3usize, 2usize);
    // A sample of 4 rows, looked up in the table (row 0 twice).
    let lookup = [0usize, 1, 2, 0];
    claim(
        "I34",
        SEC_EMB,
        &format!(
            "||softmax(X u) - softmax(g'_lookup)||_1 <= {kappa} max_x |(x - c)^T u - g'_x| (rows looked up in a table)"
        ),
        n * d + d + n,
        move |p| {
            let x = table(p, n, d);
            let c: Vec<f64> = (0..d)
                .map(|j| x.iter().map(|r| r[j]).sum::<f64>() / n as f64)
                .collect();
            let u: Vec<f64> = p[n * d..n * d + d].iter().map(|v| 3.0 * v).collect();
            let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
            let centred: Vec<f64> = x.iter().map(|r| dot(&diff(r, &c), &u)).collect();
            let g: Vec<f64> = centred
                .iter()
                .zip(&p[n * d + d..])
                .map(|(s, e)| s + e)
                .collect();
            let true_scores: Vec<f64> = lookup.iter().map(|&i| dot(&x[i], &u)).collect();
            let cover: Vec<f64> = lookup.iter().map(|&i| g[i]).collect();
            let lhs: f64 = diff(&super::softmax(&true_scores), &super::softmax(&cover))
                .iter()
                .map(|v| v.abs())
                .sum();
            let err = linf(&diff(&centred, &g));
            Some((lhs, kappa * err + 8.0 * f64::EPSILON * (1.0 + linf(&true_scores))))
        },
    )
    .with_seeds(vec![vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.01, -0.01, -0.01]])
}

/// (I34b): a greedy `2 e`-packing, in `l_inf` over a table of `n = 3` rows in `R^2`, of the
/// centred score class `{((x - c)^T u)_x : ||u|| <= 1}` (`u` from the unit ball of `R^2`,
/// `c` the mean) against `bounds::volumetric_query` = `D ln(1 + 2 R_c / e)`, `D = 2`,
/// `R_c = max ||x - c||`. Weak (as (I27)); the mutant scales the bound by `wrong`.
pub fn centred_volumetric(members: usize, wrong: f64) -> Claim {
    let (n, d) = (3usize, 2usize);
    let us = ball_members(members, d, 23);
    let mut c = claim(
        "I34b",
        SEC_EMB,
        &format!(
            "ln packing(2 e, l_inf) of {{(x - c)^T u : ||u|| <= 1}} <= {wrong} D ln(1 + 2 R_c / e)"
        ),
        n * d + 1,
        move |p| {
            let x = table(p, n, d);
            let cen: Vec<f64> = (0..d)
                .map(|j| x.iter().map(|r| r[j]).sum::<f64>() / n as f64)
                .collect();
            let xc: Vec<Vec<f64>> = x.iter().map(|r| diff(r, &cen)).collect();
            let rc = xc.iter().map(|r| l2(r)).fold(0.0, f64::max);
            if rc <= 1e-6 {
                return None;
            }
            let e = rc * (0.01 + 0.99 * unit(p[n * d]));
            let values: Vec<Vec<f64>> = us
                .iter()
                .map(|u| {
                    xc.iter()
                        .map(|r| r.iter().zip(u).map(|(a, b)| a * b).sum())
                        .collect()
                })
                .collect();
            let packing = greedy(&values, 2.0 * e, |a, b| linf(&diff(a, b)));
            let bound = bounds::volumetric_query(1.0, rc, e, d).ok()?;
            Some(((packing as f64).ln(), wrong * bound))
        },
    );
    c.cost = 20;
    c
}
