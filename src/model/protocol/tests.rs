//! The table path against the plain per-sample computation, and every gradient (dropout off
//! and on, with fixed masks) against central finite differences in f64.

use super::*;
use crate::tensor::dot;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn cfg(context_len: usize) -> ProtocolConfig {
    ProtocolConfig {
        context_len,
        width: 8,
        heads: 2,
        mlp_width: 6,
        init_std: 0.5,
    }
}

/// A model with every parameter (biases, LN gains and biases included) moved off its
/// initial value, so no gradient is trivially zero.
fn model(context_len: usize, seed: u64) -> ProtocolModel<f64> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let mut m = ProtocolModel::<f64>::random(&cfg(context_len), &mut r).unwrap();
    for t in m.tensors_mut() {
        for x in t {
            *x += normal(&mut r, 0.3);
        }
    }
    m
}

fn batch(context_len: usize, m: usize, seed: u64) -> TokenBatch {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let bits = (0..context_len * m)
        .map(|_| r.random_range(0..2u8))
        .collect();
    TokenBatch::new(context_len, bits).unwrap()
}

/// L = sum_i (c_i f_i + f_i^2 / 2), with dL/df_i = c_i + f_i.
fn coeffs(m: usize) -> Vec<f64> {
    (0..m).map(|i| 0.7 - 0.45 * i as f64).collect()
}
fn loss(f: &[f64], c: &[f64]) -> f64 {
    f.iter().zip(c).map(|(f, c)| c * f + 0.5 * f * f).sum()
}

/// Central differences (h = 1e-5) on every entry of every tensor, compared tensor by tensor
/// in relative l2 error (truncation ~h^2 and rounding ~1e-16/h, both far below 1e-6).
fn check_fd(
    params: &ProtocolModel<f64>,
    analytic: &ProtocolModel<f64>,
    value: impl Fn(&ProtocolModel<f64>) -> f64,
) {
    let h = 1e-5;
    let names = params.names();
    let ana = analytic.tensors();
    for (j, name) in names.iter().enumerate() {
        let len = params.tensors()[j].len();
        let mut fd = vec![0.0; len];
        for (e, fd_e) in fd.iter_mut().enumerate() {
            let mut p = params.clone();
            p.tensors_mut()[j][e] += h;
            let up = value(&p);
            p.tensors_mut()[j][e] -= 2.0 * h;
            *fd_e = (up - value(&p)) / (2.0 * h);
        }
        let diff: f64 = (fd.iter().zip(ana[j]))
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        let scale = dot(&fd, &fd).sqrt().max(dot(ana[j], ana[j]).sqrt());
        if name == "b_k" {
            // q . (k + b_k) shifts every score of a head by the same q . b_k, which softmax
            // ignores: the gradient is exactly zero (and finite differences agree).
            // Analytic: rounding only; finite differences: rounding ~1e-16 |L| / h.
            let (a, f) = (dot(ana[j], ana[j]).sqrt(), dot(&fd, &fd).sqrt());
            assert!(
                a < 1e-12 && f < 1e-7,
                "b_k: gradient {a} (fd {f}), expected 0"
            );
            continue;
        }
        assert!(
            scale > 1e-8,
            "{name}: gradient is zero, the check would be empty"
        );
        assert!(
            diff / scale < 1e-6,
            "{name}: relative error {}",
            diff / scale
        );
    }
}

#[test]
fn table_path_equals_the_plain_computation() {
    // Independent reference: per-sample LN, K, V of every row (no tables, no sharing).
    for (t, seed) in [(1, 1), (5, 2), (9, 3)] {
        let m = model(t, seed);
        let b = batch(t, 7, seed + 10);
        let fast = m.predict(&b).unwrap();
        let plain = m.forward_plain(&b).unwrap();
        for (a, p) in fast.iter().zip(&plain) {
            assert!(
                (a - p).abs() < 1e-12 * (1.0 + p.abs()),
                "T = {t}: {a} vs {p}"
            );
        }
        // And the predictions vary with the input (the check is not between constants).
        let spread = fast.iter().fold(0.0f64, |s, &f| s.max((f - fast[0]).abs()));
        assert!(spread > 1e-3, "T = {t}: predictions {fast:?}");
    }
}

#[test]
fn gradients_match_finite_differences_without_dropout() {
    let (t, n) = (4, 5);
    let m = model(t, 11);
    let b = batch(t, n, 12);
    let c = coeffs(n);
    for (path, tables) in [(MixPath::Auto, true), (MixPath::Gather, false)] {
        let cache = m.forward_with(&b, None, path).unwrap();
        assert_eq!(cache.used_tables(), tables, "{path:?}");
        let dl: Vec<f64> = cache
            .predictions
            .iter()
            .zip(&c)
            .map(|(f, c)| c + f)
            .collect();
        let g = m.backward(&b, &cache, &dl).unwrap();
        check_fd(&m, &g, |p| {
            loss(&p.forward_with(&b, None, path).unwrap().predictions, &c)
        });
    }
}

#[test]
fn gradients_match_finite_differences_with_fixed_dropout_masks() {
    // p = 0.3 so every site has dropped and kept entries; the same masks at every probe.
    let (t, n) = (4, 5);
    let m = model(t, 21);
    let b = batch(t, n, 22);
    let c = coeffs(n);
    let masks = DropoutMasks::draw(&m, n, 0.3, &mut ChaCha8Rng::seed_from_u64(23)).unwrap();
    assert!(!masks.attn_dropped.is_empty() && masks.hidden.iter().any(|&x| x > 1.0));
    // Both mixes, each differentiated on its own (the table mix at these weights: Δ small).
    for (path, tables) in [(MixPath::Auto, true), (MixPath::Gather, false)] {
        let cache = m.forward_with(&b, Some(masks.clone()), path).unwrap();
        assert_eq!(cache.used_tables(), tables, "{path:?}");
        let dl: Vec<f64> = cache
            .predictions
            .iter()
            .zip(&c)
            .map(|(f, c)| c + f)
            .collect();
        let g = m.backward(&b, &cache, &dl).unwrap();
        check_fd(&m, &g, |p| {
            let f = p.forward_with(&b, Some(masks.clone()), path).unwrap();
            loss(&f.predictions, &c)
        });
        // Dropout changes the output (train mode differs from eval mode).
        assert_ne!(cache.predictions, m.predict(&b).unwrap());
    }
}

#[test]
fn masks_keep_one_minus_p_and_scale_by_its_inverse() {
    // 16 heads x 101 positions x 300 samples: the kept fraction within 5 standard errors of 0.9.
    let c = ProtocolConfig {
        context_len: 100,
        width: 64,
        heads: 16,
        mlp_width: 64,
        init_std: 0.02,
    };
    let m = ProtocolModel::<f32>::random(&c, &mut ChaCha8Rng::seed_from_u64(5)).unwrap();
    let mk = DropoutMasks::draw(&m, 300, 0.1, &mut ChaCha8Rng::seed_from_u64(6)).unwrap();
    let n = (300 * 16 * 101) as f64;
    let kept = 1.0 - mk.attn_dropped.len() as f64 / n;
    assert!((kept - 0.9).abs() < 5.0 * (0.09 / n).sqrt(), "{kept}");
    assert!((mk.keep - 1.0 / 0.9).abs() < 1e-6);
    assert!(mk.attn_dropped.windows(2).all(|w| w[0] < w[1]));
    assert!(mk.attn_dropped.last().is_some_and(|&j| (j as f64) < n));
    let none = DropoutMasks::draw(&m, 3, 0.0, &mut ChaCha8Rng::seed_from_u64(6)).unwrap();
    assert!(none.hidden.iter().all(|&x| x == 1.0) && none.attn_dropped.is_empty());
    for bad in [1.0, -0.1, f64::NAN] {
        let e = DropoutMasks::draw(&m, 3, bad, &mut ChaCha8Rng::seed_from_u64(6)).unwrap_err();
        assert!(e.to_string().contains("dropout"), "{e}");
    }
}

#[test]
fn initialisation_follows_the_protocol() {
    // Weights N(0, 0.02^2): sample std of the 64 x 64 W_Q within 5% of 0.02 (4096 draws,
    // relative standard error 1.1%); biases zero, LN gains one.
    let c = ProtocolConfig {
        context_len: 10,
        width: 64,
        heads: 16,
        mlp_width: 64,
        init_std: 0.02,
    };
    let m = ProtocolModel::<f64>::random(&c, &mut ChaCha8Rng::seed_from_u64(7)).unwrap();
    let w = &m.w_q.data;
    let std = (dot(w, w) / w.len() as f64).sqrt();
    assert!((std - 0.02).abs() < 0.001, "{std}");
    assert!(m.b_q.iter().chain(&m.b_1).chain(&m.c).all(|&x| x == 0.0));
    assert!(m.ln1.gain.iter().chain(&m.ln2.gain).all(|&x| x == 1.0));
    assert_eq!(m.head_dim(), 4);
    assert_eq!(m.names().len(), m.tensors().len());
}

#[test]
fn f32_follows_f64() {
    let m = model(6, 31);
    let b = batch(6, 4, 32);
    let (a, c) = (m.predict(&b).unwrap(), m.cast::<f32>().predict(&b).unwrap());
    for (x, y) in a.iter().zip(&c) {
        assert!(
            (x - f64::from(*y)).abs() < 1e-4 * (1.0 + x.abs()),
            "{x} vs {y}"
        );
    }
}

#[test]
fn bad_inputs_are_errors() {
    let m = model(3, 41);
    let e = m
        .predict(&TokenBatch::new(3, vec![0, 2, 1]).unwrap())
        .unwrap_err();
    assert!(e.to_string().contains("tokens"), "{e}");
    assert!(m.predict(&batch(4, 2, 1)).is_err());
    let mut c = cfg(3);
    c.heads = 3;
    let e = ProtocolModel::<f64>::random(&c, &mut ChaCha8Rng::seed_from_u64(1)).unwrap_err();
    assert!(e.to_string().contains("width"), "{e}");
    let b = batch(3, 2, 2);
    let cache = m.forward(&b, None).unwrap();
    assert!(m.backward(&b, &cache, &[1.0]).is_err());
}

/// The dense per-entry draw the sparse masks replace: one u32 per entry, two per `next_u64`
/// (low half first), a fresh u64 at each site, kept iff u < (1 - p) 2^32.
fn dense_draw(rng: &mut ChaCha8Rng, n: usize, p: f64) -> Vec<f64> {
    let threshold = ((1.0 - p) * 4_294_967_296.0) as u64;
    let mut out = Vec::new();
    while out.len() < n {
        let u = rng.random::<u64>();
        for half in [u & 0xffff_ffff, u >> 32] {
            if out.len() < n {
                out.push(if half < threshold {
                    1.0 / (1.0 - p)
                } else {
                    0.0
                });
            }
        }
    }
    out
}

/// The attention site's per-entry rule, written densely: per chunk of DRAW_CHUNK entries a
/// bulk fill of one byte each; an entry is dropped iff its byte exceeds the top byte of the
/// threshold, or equals it and the top 24 bits of a further u32 are >= its low 24 bits.
/// Also returns how many entries took the two-stage branch.
fn dense_attn_draw(rng: &mut ChaCha8Rng, n: usize, p: f64) -> (Vec<f64>, usize) {
    let threshold = ((1.0 - p) * 4_294_967_296.0) as u64;
    let (top, low) = ((threshold >> 24) as u8, (threshold & 0xff_ffff) as u32);
    let (mut out, mut ties) = (Vec::new(), 0);
    for start in (0..n).step_by(DRAW_CHUNK) {
        let mut bytes = vec![0u8; DRAW_CHUNK.min(n - start)];
        rng.fill_bytes(&mut bytes);
        for hi in bytes {
            ties += usize::from(hi == top);
            let dropped = hi > top || (hi == top && (rng.random::<u32>() >> 8) >= low);
            out.push(if dropped { 0.0 } else { 1.0 / (1.0 - p) });
        }
    }
    (out, ties)
}

#[test]
fn sparse_masks_are_the_dense_per_entry_draw() {
    // m = 3 (36 attention entries, within one chunk) and m = 97 (1164: across a chunk
    // boundary); p = 0.3 and 0.1 put the threshold's top byte at 179 and 230, and about 1 in
    // 256 entries takes the two-stage branch (checked to happen below).
    let mut ties = 0;
    for (n, p) in [(3, 0.3), (97, 0.3), (97, 0.1)] {
        let m = model(5, 51);
        let mk = DropoutMasks::draw(&m, n, p, &mut ChaCha8Rng::seed_from_u64(52)).unwrap();
        let mut r = ChaCha8Rng::seed_from_u64(52);
        let (dense, tied) = dense_attn_draw(&mut r, n * 2 * 6, p);
        ties += tied;
        assert_eq!(mk.attn_dense(n, 2, 5), dense);
        assert_eq!(mk.attn_out, dense_draw(&mut r, n * 8, p));
        assert_eq!(mk.hidden, dense_draw(&mut r, n * 6, p));
        assert_eq!(mk.mlp_out, dense_draw(&mut r, n * 8, p));
    }
    assert!(ties > 0, "the two-stage branch was never taken");
}

/// Largest |a - b| / (1 + |b|) over two vectors.
fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
        .fold(0.0, f64::max)
}

#[test]
fn table_mix_equals_the_gather_mix_with_fixed_masks() {
    // f64: the two mixes sum the same terms in different orders (and the table mix subtracts
    // the dropped terms after adding them), so they agree to rounding, ~1e-15 relative.
    for (t, seed) in [(1, 61), (7, 62), (40, 63)] {
        let m = model(t, seed);
        let n = 9;
        let b = batch(t, n, seed + 1);
        let masks = DropoutMasks::draw(&m, n, 0.3, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
        let fast = m
            .forward_with(&b, Some(masks.clone()), MixPath::Auto)
            .unwrap();
        let slow = m.forward_with(&b, Some(masks), MixPath::Gather).unwrap();
        assert!(fast.used_tables() && !slow.used_tables());
        assert!(
            max_rel(&fast.predictions, &slow.predictions) < 1e-12,
            "T = {t}"
        );
        let dl = coeffs(n);
        let (gf, gs) = (
            m.backward(&b, &fast, &dl).unwrap(),
            m.backward(&b, &slow, &dl).unwrap(),
        );
        for ((name, a), s) in m.names().iter().zip(gf.tensors()).zip(gs.tensors()) {
            assert!(max_rel(a, s) < 1e-11, "T = {t}, {name}: {}", max_rel(a, s));
        }
    }
}

#[test]
fn table_mix_in_f32_follows_the_gather_mix() {
    // f32 at the protocol's shape (d = 64, 16 heads) and init (std 0.02, moved by 0.02 so the
    // biases are not zero): each mixed value is a sum of T + 1 terms of size <= max |v| / Z,
    // so two summation orders differ by about (T + 1) eps_f32 max |v| in the worst case,
    // ~1e-5 at T = 100; the layers after the mix have O(1) gains at this scale. Tolerance
    // 1e-4 relative to 1 + |reference| for predictions and to the largest entry of each
    // gradient tensor.
    let c = ProtocolConfig {
        context_len: 100,
        width: 64,
        heads: 16,
        mlp_width: 64,
        init_std: 0.02,
    };
    let mut r = ChaCha8Rng::seed_from_u64(71);
    let mut m = ProtocolModel::<f32>::random(&c, &mut r).unwrap();
    for t in m.tensors_mut() {
        for x in t {
            *x += normal(&mut r, 0.02) as f32;
        }
    }
    let n = 40;
    let b = batch(100, n, 72);
    let masks = DropoutMasks::draw(&m, n, 0.1, &mut r).unwrap();
    let fast = m
        .forward_with(&b, Some(masks.clone()), MixPath::Auto)
        .unwrap();
    let slow = m.forward_with(&b, Some(masks), MixPath::Gather).unwrap();
    assert!(fast.used_tables());
    let wide = |x: &[f32]| x.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
    let e = max_rel(&wide(&fast.predictions), &wide(&slow.predictions));
    assert!(e < 1e-4, "predictions: {e}");
    let dl: Vec<f32> = (0..n).map(|i| 0.5 - 0.03 * i as f32).collect();
    let (gf, gs) = (
        m.backward(&b, &fast, &dl).unwrap(),
        m.backward(&b, &slow, &dl).unwrap(),
    );
    for ((name, a), s) in m.names().iter().zip(gf.tensors()).zip(gs.tensors()) {
        let top = s.iter().fold(0.0f32, |x, &y| x.max(y.abs()));
        let diff = a
            .iter()
            .zip(s)
            .fold(0.0f32, |x, (&p, &q)| x.max((p - q).abs()));
        if name == "b_k" {
            // Exactly zero in exact arithmetic (see check_fd): both are rounding.
            continue;
        }
        assert!(top > 0.0, "{name}: zero gradient");
        assert!(diff <= 1e-4 * top, "{name}: {diff} vs max {top}");
    }
}

#[test]
fn a_large_score_gap_falls_back_to_the_gather_mix() {
    // Scale W_Q and W_K until some head's scores of the two bits at a position differ by more
    // than MAX_SCORE_GAP: the forward pass must take the gather path and still equal the
    // plain computation; at the unscaled weights it takes the table mix.
    let mut m = model(6, 81);
    let b = batch(6, 8, 82);
    assert!(m.forward(&b, None).unwrap().used_tables());
    for x in m.w_q.data.iter_mut().chain(m.w_k.data.iter_mut()) {
        *x *= 40.0;
    }
    let cache = m.forward(&b, None).unwrap();
    assert!(!cache.used_tables());
    let plain = m.forward_plain(&b).unwrap();
    assert!(max_rel(&cache.predictions, &plain) < 1e-12);
}

#[test]
fn bad_masks_are_errors() {
    let m = model(3, 91);
    let b = batch(3, 2, 92);
    let mut mk = DropoutMasks::draw(&m, 2, 0.1, &mut ChaCha8Rng::seed_from_u64(93)).unwrap();
    mk.attn_dropped.push(2 * 2 * 4);
    let e = m.forward(&b, Some(mk.clone())).unwrap_err();
    assert!(e.to_string().contains("attn_dropped"), "{e}");
    mk.attn_dropped.pop();
    mk.keep = f64::NAN;
    let e = m.forward(&b, Some(mk.clone())).unwrap_err();
    assert!(e.to_string().contains("keep"), "{e}");
    mk.keep = 1.0;
    mk.hidden.pop();
    assert!(m.forward(&b, Some(mk)).is_err());
}

#[test]
fn flags_pack_into_bits() {
    // Reference: bit k set iff flag k is 1, built one bit at a time.
    let mut r = ChaCha8Rng::seed_from_u64(101);
    for n in [1, 7, 8, 9, 63, 64] {
        let flags: Vec<u8> = (0..n).map(|_| r.random_range(0..2u8)).collect();
        let want = flags
            .iter()
            .enumerate()
            .fold(0u64, |b, (k, &f)| b | (u64::from(f) << k));
        assert_eq!(pack_flags(&flags), want, "{flags:?}");
    }
    assert_eq!(pack_flags(&[1; 64]), u64::MAX);
}
