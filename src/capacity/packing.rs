//! Greedy packings of class members on the sample, in the metric
//! `rho(f, g) = max_i |f(X_i) - g(X_i)|` of the covering numbers (docs/derivations.md §1).
//!
//! A set whose members are pairwise more than `2 eps` apart needs a distinct centre per member
//! in any `eps`-cover (two members within `eps` of one centre are within `2 eps` of each other),
//! so `M(2 eps) <= N_inf(F, eps, S)`: a packing found among sampled members is a **lower
//! estimate** of the covering number. It can never exceed the number of members sampled.

use super::ball::HeadBall;
use super::rademacher::{AscentOptions, draw_signs, head_sup};
use super::sample::BitSample;
use crate::error::{Result, check};
use rand::Rng;

/// `max_i |a_i - b_i|`.
pub fn max_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .fold(0.0, |acc: f64, (x, y)| acc.max((x - y).abs()))
}

/// Indices of a greedy packing: scan `members` in order and keep one whose distance to every
/// kept member is `> sep`. Maximal (every member is within `sep` of a kept one), hence also a
/// `sep`-cover of the members themselves.
pub fn greedy_packing(members: &[Vec<f64>], sep: f64) -> Result<Vec<usize>> {
    check::non_negative("sep", sep)?;
    let mut kept: Vec<usize> = Vec::new();
    for (j, f) in members.iter().enumerate() {
        crate::tensor::check_finite("member values", f)?;
        if kept.iter().all(|&k| max_distance(&members[k], f) > sep) {
            kept.push(j);
        }
    }
    Ok(kept)
}

/// Value vectors `(f(X_1), ..., f(X_m))` of `random` members drawn by [`HeadBall::sample`] and
/// `adversarial` members found by ascent on fresh sign vectors (maximisers of
/// `sum sigma_i f(X_i)` point in different directions, so they tend to be far apart).
pub fn head_members<R: Rng + ?Sized>(
    sample: &BitSample,
    ball: &HeadBall,
    random: usize,
    adversarial: usize,
    opts: &AscentOptions,
    rng: &mut R,
) -> Result<Vec<Vec<f64>>> {
    let mut out = Vec::with_capacity(random + adversarial);
    for _ in 0..random {
        let h = opts.random_head(ball, sample, rng)?;
        out.push(h.forward_tokens(&sample.emb, &sample.batch)?.predictions);
    }
    let one = AscentOptions {
        restarts: 1,
        ..*opts
    };
    for _ in 0..adversarial {
        let signs = draw_signs(sample.num_samples(), rng);
        let (_, h) = head_sup(sample, ball, &signs, &one, rng)?;
        out.push(h.forward_tokens(&sample.emb, &sample.batch)?.predictions);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_packing_by_hand() {
        // Points on a line (m = 1) at 0, 0.5, 1.0, 1.6, 3.0 with sep 0.9:
        // keep 0; 0.5 is within 0.9 of 0; keep 1.0 (distance 1.0 > 0.9); 1.6 is 0.6 from 1.0;
        // keep 3.0. Result {0, 2, 4}.
        let pts: Vec<Vec<f64>> = [0.0, 0.5, 1.0, 1.6, 3.0].iter().map(|&x| vec![x]).collect();
        assert_eq!(greedy_packing(&pts, 0.9).unwrap(), vec![0, 2, 4]);
        // Max metric in 2-d: (0,0), (1,0.1), (0.2,1.2): distances 1.0, 1.2, 1.1; sep 1.05 keeps
        // the first and the third only.
        let pts = vec![vec![0.0, 0.0], vec![1.0, 0.1], vec![0.2, 1.2]];
        assert!((max_distance(&pts[1], &pts[2]) - 1.1).abs() < 1e-12);
        assert_eq!(greedy_packing(&pts, 1.05).unwrap(), vec![0, 2]);
        assert_eq!(greedy_packing(&pts, 0.5).unwrap(), vec![0, 1, 2]);
        assert!(greedy_packing(&pts, -1.0).is_err());
    }
}
