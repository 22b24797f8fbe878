use super::*;
use crate::bounds::{BoundParams, Setting, explicit_rademacher};
use crate::model::Activation;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn opts(activation: Activation) -> AscentOptions {
    AscentOptions {
        draws: 4,
        restarts: 2,
        steps: 150,
        lr: 0.05,
        rank: 2,
        value_dim: 3,
        activation,
    }
}

/// Reference: `(1/m) ||sum_i sigma_i v_i||_2` with `v_i` built row by row from `emb.embed`.
fn norm_of_signed_sum(sample: &BitSample, signs: &[f64], mean_rows: bool) -> f64 {
    let m = sample.num_samples();
    let mut acc: Vec<f64> = Vec::new();
    for (i, s) in signs.iter().enumerate() {
        let x = sample.emb.embed(sample.batch.sample(i));
        let v: Vec<f64> = if mean_rows {
            (0..x.cols)
                .map(|j| (0..x.rows).map(|t| x.get(t, j)).sum::<f64>() / x.rows as f64)
                .collect()
        } else {
            x.data.clone()
        };
        if acc.is_empty() {
            acc = vec![0.0; v.len()];
        }
        acc.iter_mut().zip(&v).for_each(|(a, b)| *a += s * b);
    }
    acc.iter().map(|a| a * a).sum::<f64>().sqrt() / m as f64
}

#[test]
fn ascent_approaches_the_exact_supremum_from_below() {
    // With b_qk = 0 attention is uniform over the T+1 rows and sigma = identity, so
    // f(X) = w^T W_V^T xbar with xbar the row mean, and
    // sup_{||w|| <= b_w, ||W_V||_F <= b_v} (1/m) sum sigma_i f(X_i) = b_w b_v ||sum sigma_i xbar_i|| / m
    // (<w, W_V^T s> = <W_V, s w^T>_F <= ||W_V||_F ||s|| ||w||, equality at W_V parallel to s w^T).
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let sample = BitSample::random(6, 12, 4, 1.5, &mut rng).unwrap();
    let ball = HeadBall::new(0.0, 2.0, 0.5).unwrap();
    for _ in 0..3 {
        let signs = draw_signs(12, &mut rng);
        let exact = 2.0 * 0.5 * norm_of_signed_sum(&sample, &signs, true);
        let (est, head) = head_sup(
            &sample,
            &ball,
            &signs,
            &opts(Activation::Identity),
            &mut rng,
        )
        .unwrap();
        assert!(ball.contains(&head).unwrap());
        assert!(est <= exact * (1.0 + 1e-9), "{est} above the exact {exact}");
        assert!(est >= 0.99 * exact, "{est} far below the exact {exact}");
    }
}

#[test]
fn flattened_linear_sup_matches_the_reference() {
    // (b/m) ||sum sigma_i vec(X~_i)|| computed from full embeddings vs the table shortcut.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let sample = BitSample::random(9, 7, 5, 0.8, &mut rng).unwrap();
    assert!((sample.b_x - 0.8).abs() < 1e-12, "rows scaled to b_x");
    for _ in 0..3 {
        let signs = draw_signs(7, &mut rng);
        let v = linear_flat_sup(&sample, 3.0, &signs).unwrap();
        let r = 3.0 * norm_of_signed_sum(&sample, &signs, false);
        assert!((v - r).abs() < 1e-12 * r.max(1.0), "{v} vs {r}");
    }
}

#[test]
fn estimates_stay_below_the_rigorous_bound() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (t, m) = (8, 16);
    let sample = BitSample::random(t, m, 6, 1.0, &mut rng).unwrap();
    let ball = HeadBall::new(3.0, 1.0, 1.0).unwrap();
    let o = AscentOptions {
        steps: 60,
        ..opts(Activation::Relu)
    };
    let est = head_rademacher(&sample, &ball, &o, &mut rng).unwrap();
    let setting = Setting {
        num_samples: m,
        context_len: t,
        width: sample.width(),
        value_dim: o.value_dim,
        heads: 1,
        layers: 1,
    };
    let radii = ball.radii(sample.b_x, o.value_dim).unwrap();
    let upper = explicit_rademacher(&setting, &radii, &BoundParams::default()).unwrap();
    assert!(
        est.mean > 0.0,
        "the search finds positive correlation: {est:?}"
    );
    check_rigorous("explicit Rademacher", est.mean, upper, "test").unwrap();
    // Trivial bound |f| <= b_w b_v b_x also holds for every draw.
    assert!(est.per_draw.iter().all(|&v| v <= 1.0 + 1e-12));
}
