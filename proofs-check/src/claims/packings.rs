//! Covering-number lemmas checked from below by greedy packings: (I2) Zhang's l1/l_inf bound
//! (a [shape] constant) and (I4) Bartlett-Foster-Telgarsky's matrix cover. A greedy `2 eps`-packing
//! of sampled class members is a lower bound on `N(eps)`, so `ln packing <= bound` must hold; the
//! packing is far below these bounds (their constants are not tight in small dimension), so only
//! gross errors are detectable: the notes say by how much.

use super::{claim, greedy_packing, l1_members, linf, unit};
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
