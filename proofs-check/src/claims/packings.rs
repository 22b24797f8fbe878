//! Covering-number lemmas checked from below by greedy packings: (I2) Zhang's l1/l_inf bound
//! (a \[shape\] constant) and (I4) Bartlett-Foster-Telgarsky's matrix cover. A greedy `2 eps`-packing
//! of sampled class members is a lower bound on `N(eps)`, so `ln packing <= bound` must hold; the
//! packing is far below these bounds (their constants are not tight in small dimension), so only
//! gross errors are detectable: the notes say by how much.

use super::{claim, diff, l2, linf, unit, unit_rows};
use crate::Claim;
use attnbounds::bounds;
use attnbounds::norms;
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// (I2): `bounds::zhang_l1_shape` with the default `c_Z = 288` (`zhang3_const`) against a greedy
/// `2 eps`-packing in l_inf over `n` points with `||x||_inf <= b` of l1-ball members (`a = 1`).
pub fn zhang_l1(members: usize) -> Claim {
    let (n, dim) = (4, 3);
    let ws = l1_members(members, dim);
    let c_z = bounds::BoundParams::default().zhang3_const;
    let mut c = claim(
        "I2",
        "22-zhang-2002-theorem-3-l1-weights--l_inf-inputs--shape",
        "ln packing(2 eps, l_inf) <= zhang_l1_shape(c_Z = 288) (l1 ball a = 1, ||x||_inf <= b)",
        n * dim + 1,
        move |p| {
            let xs: Vec<f64> = p[..n * dim].iter().map(|v| v.tanh()).collect();
            let b = linf(&xs);
            if b <= 0.0 {
                return None;
            }
            let eps = 0.02 + 0.98 * unit(p[n * dim]);
            let values: Vec<Vec<f64>> = ws
                .iter()
                .map(|w| {
                    (0..n)
                        .map(|i| (0..dim).map(|j| w[j] * xs[i * dim + j]).sum())
                        .collect()
                })
                .collect();
            let packing = greedy_packing(&values, 2.0 * eps, |u, v| {
                u.iter().zip(v).fold(0.0, |m, (a, b)| m.max((a - b).abs()))
            });
            Some((
                (packing as f64).ln(),
                bounds::zhang_l1_shape(1.0, b, eps, n, dim, c_z).ok()?,
            ))
        },
    );
    c.cost = 20;
    c
}

/// (I4): `bounds::bft_matrix` against a greedy `2 eps`-packing, in the un-normalised Frobenius
/// norm, of `{X A}` for sampled `A` (3 x 2) with `||A||_{2,1} = 1` (single unit columns, then
/// random directions with simplex-distributed column norms) and `X` (3 x 3) from the parameters.
pub fn bft(members: usize) -> Claim {
    let (n, d, k) = (3, 3, 2);
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let gauss = |rng: &mut ChaCha8Rng| {
        let (u, v): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let a_set: Vec<DMatrix<f64>> = (0..members)
        .map(|i| {
            let mut a = DMatrix::zeros(d, k);
            if i < 2 * d * k {
                a[((i / 2) % d, (i / 2) / d)] = if i % 2 == 0 { 1.0 } else { -1.0 };
                return a;
            }
            for j in 0..k {
                for r in 0..d {
                    a[(r, j)] = gauss(&mut rng);
                }
                let w = -(1.0 - rng.random::<f64>()).ln();
                let norm = a.column(j).norm().max(f64::MIN_POSITIVE);
                a.column_mut(j).scale_mut(w / norm);
            }
            let s = norms::norm_21(&a).unwrap_or(1.0);
            a / s
        })
        .collect();
    let mut c = claim(
        "I4",
        "24-bartlett-foster-telgarsky-2017-lemma-32--rigorous",
        "ln packing(2 eps, ||.||_F) of {X A : ||A||_{2,1} <= 1} <= bft_matrix",
        n * d + 1,
        move |p| {
            let x = DMatrix::from_row_slice(
                n,
                d,
                &p[..n * d].iter().map(|v| v.tanh()).collect::<Vec<_>>(),
            );
            let xf = x.norm();
            if xf <= 0.0 {
                return None;
            }
            let eps = xf * (0.02 + 0.98 * unit(p[n * d]));
            let values: Vec<Vec<f64>> =
                a_set.iter().map(|a| (&x * a).as_slice().to_vec()).collect();
            let packing = greedy_packing(&values, 2.0 * eps, |u, v| {
                u.iter()
                    .zip(v)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt()
            });
            Some((
                (packing as f64).ln(),
                bounds::bft_matrix(1.0, xf, eps, d.max(k)).ok()?,
            ))
        },
    );
    c.cost = 20;
    c
}

/// Greedy packing: members pairwise more than `sep` apart in `dist`. Its size lower-bounds the
/// packing number at `sep`, and `packing(2 eps) <= covering(eps)`.
fn greedy_packing(members: &[Vec<f64>], sep: f64, dist: impl Fn(&[f64], &[f64]) -> f64) -> usize {
    let mut kept: Vec<&Vec<f64>> = Vec::new();
    for m in members {
        if kept.iter().all(|k| dist(k, m) > sep) {
            kept.push(m);
        }
    }
    kept.len()
}

/// Direction grid on the unit circle plus random points of the disk, fixed once.
fn disk_members(count: usize) -> Vec<[f64; 2]> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let ring = count / 2;
    (0..count)
        .map(|i| {
            let (rad, ang) = if i < ring {
                (1.0, std::f64::consts::TAU * i as f64 / ring as f64)
            } else {
                (
                    rng.random::<f64>().sqrt(),
                    std::f64::consts::TAU * rng.random::<f64>(),
                )
            };
            [rad * ang.cos(), rad * ang.sin()]
        })
        .collect()
}

/// (I1): Zhang's Theorem 4 against a greedy `2 eps`-packing, in l_inf over `n` points of the
/// disk, of `members` weight vectors of the disk of radius `a = 1`. `lhs = ln(packing(2 eps))`,
/// `rhs` = the bound at `eps` (any covering bound that must hold can be passed as `bound`).
pub fn zhang_packing(
    id: &str,
    members: usize,
    bound: impl Fn(f64, f64, f64, usize) -> Option<f64> + Send + Sync + 'static,
) -> Claim {
    let n = 4;
    let ws = disk_members(members);
    let mut c = claim(
        id,
        "21-zhang-2002-theorem-4-l2--l2--rigorous",
        "ln packing(2 eps) <= ln N_inf(eps) <= Zhang bound (l2 ball a = 1, points ||x||_2 <= 1)",
        2 * n + 1,
        move |p| {
            let xs = unit_rows(&p[..2 * n], n, 2);
            let eps = 0.02 + 0.98 * unit(p[2 * n]);
            let values: Vec<Vec<f64>> = ws
                .iter()
                .map(|w| {
                    (0..n)
                        .map(|i| w[0] * xs.row(i)[0] + w[1] * xs.row(i)[1])
                        .collect()
                })
                .collect();
            let b = (0..n).map(|i| l2(xs.row(i))).fold(0.0, f64::max);
            if b <= 0.0 {
                return None;
            }
            let packing = greedy_packing(&values, 2.0 * eps, |u, v| linf(&diff(u, v)));
            Some(((packing as f64).ln(), bound(1.0, b, eps, n)?))
        },
    );
    c.cost = 20;
    c
}

/// The derivation's (I1) with the project's `bounds::zhang_l2`.
pub fn zhang(members: usize) -> Claim {
    zhang_packing("I1", members, |a, b, eps, n| {
        bounds::zhang_l2(a, b, eps, n).ok()
    })
}

/// (I3): Maurey's count against a greedy `2 eps`-packing in `L2(S)` of l1-ball members (vertices
/// and random points of the l1 sphere, `R = 1`) on `n` points with `||x||_inf <= 1`.
pub fn maurey(members: usize) -> Claim {
    let (n, dim) = (4, 3);
    let ws = l1_members(members, dim);
    let mut c = claim(
        "I3",
        "23-maureys-lemma--rigorous",
        "ln packing(2 eps, L2(S)) <= ceil(R^2 b^2/eps^2) ln(2D+1) (bounds::maurey)",
        n * dim + 1,
        move |p| {
            let xs: Vec<f64> = p[..n * dim].iter().map(|v| v.tanh()).collect();
            let b = linf(&xs);
            let eps = 0.02 + 0.98 * unit(p[n * dim]);
            let values: Vec<Vec<f64>> = ws
                .iter()
                .map(|w| {
                    (0..n)
                        .map(|i| (0..dim).map(|j| w[j] * xs[i * dim + j]).sum())
                        .collect()
                })
                .collect();
            if b <= 0.0 {
                return None;
            }
            let packing = greedy_packing(&values, 2.0 * eps, |u, v| {
                l2(&diff(u, v)) / (n as f64).sqrt()
            });
            Some((
                (packing as f64).ln(),
                bounds::maurey(1.0, b, eps, dim).ok()?,
            ))
        },
    );
    c.cost = 20;
    c
}

/// Members of the l1 ball of radius 1 in `R^dim`: the `2 dim` vertices, then random points of
/// the l1 sphere (exponential spacings, random signs), fixed once.
pub(crate) fn l1_members(members: usize, dim: usize) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    (0..members)
        .map(|i| {
            let mut w = vec![0.0; dim];
            if i < 2 * dim {
                w[i / 2] = if i % 2 == 0 { 1.0 } else { -1.0 };
            } else {
                let e: Vec<f64> = (0..dim)
                    .map(|_| -(1.0 - rng.random::<f64>()).ln())
                    .collect();
                let s: f64 = e.iter().sum();
                for (wj, ej) in w.iter_mut().zip(&e) {
                    let sign = if rng.random::<f64>() < 0.5 { -1.0 } else { 1.0 };
                    *wj = sign * ej / s;
                }
            }
            w
        })
        .collect()
}
