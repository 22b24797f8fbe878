//! Token inputs: a batch of bit sequences and the embedding that turns them into X~.
//!
//! x_t = tok[b_t] + pos[t] for t < T, and x_cls is the last row of X~ = [X; x_cls]
//! (docs/derivations.md §1). The fixed concatenated embedding of docs/constructions.md,
//! x_t = [onehot(b_t) (2); p_t; 0], x_cls = [0; 0; 1], is the special case of zero-padded
//! tables built by [`Embedding::fixed_bits`].

use crate::error::{Error, Result};
use crate::tensor::{Mat, Real};
use rand::{Rng, RngExt};

/// m sequences of `context_len` tokens, row-major (sample i is `tokens[i*T..(i+1)*T]`).
#[derive(Clone, Debug, PartialEq)]
pub struct TokenBatch {
    pub context_len: usize,
    pub tokens: Vec<u8>,
}

impl TokenBatch {
    pub fn new(context_len: usize, tokens: Vec<u8>) -> Result<Self> {
        crate::error::check::at_least("context_len", context_len, 1)?;
        if !tokens.len().is_multiple_of(context_len) {
            return Err(Error::shape(
                "tokens",
                format!("a multiple of context_len = {context_len}"),
                tokens.len(),
            ));
        }
        Ok(TokenBatch {
            context_len,
            tokens,
        })
    }
    /// m, the number of sequences.
    pub fn num_samples(&self) -> usize {
        self.tokens.len() / self.context_len
    }
    pub fn sample(&self, i: usize) -> &[u8] {
        &self.tokens[i * self.context_len..(i + 1) * self.context_len]
    }
}

/// Positional codes for [`Embedding::fixed_bits`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Positional {
    /// p_t = e_t in R^T (d = T + 3).
    OneHot,
    /// p_t with i.i.d. entries +-1/sqrt(dim) (d = dim + 3), near-orthogonal for dim = O(log T).
    RandomSigns { dim: usize, seed: u64 },
}

/// Token table (vocab x d), positional table (T x d) and the \[CLS\] vector (d).
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding<S> {
    pub tok: Mat<S>,
    pub pos: Mat<S>,
    pub cls: Vec<S>,
}

impl<S: Real> Embedding<S> {
    /// Validates widths agree and entries are finite.
    pub fn new(tok: Mat<S>, pos: Mat<S>, cls: Vec<S>) -> Result<Self> {
        crate::error::check::at_least("vocab", tok.rows, 1)?;
        crate::error::check::at_least("context_len", pos.rows, 1)?;
        if pos.cols != tok.cols {
            return Err(Error::shape("pos.cols", tok.cols, pos.cols));
        }
        if cls.len() != tok.cols {
            return Err(Error::shape("cls", tok.cols, cls.len()));
        }
        crate::tensor::check_finite("tok", &tok.data)?;
        crate::tensor::check_finite("pos", &pos.data)?;
        crate::tensor::check_finite("cls", &cls)?;
        Ok(Embedding { tok, pos, cls })
    }

    /// docs/constructions.md: x_t = [onehot(b_t); p_t; 0], x_cls = [0; 0; 1], vocab 2.
    pub fn fixed_bits(context_len: usize, positional: Positional) -> Result<Self> {
        crate::error::check::at_least("context_len", context_len, 1)?;
        let p = match positional {
            Positional::OneHot => context_len,
            Positional::RandomSigns { dim, .. } => {
                crate::error::check::at_least("positional dim", dim, 1)?
            }
        };
        let d = p + 3;
        let mut tok = Mat::zeros(2, d);
        tok.data[0] = S::one();
        tok.data[d + 1] = S::one();
        let mut pos = Mat::zeros(context_len, d);
        match positional {
            Positional::OneHot => (0..context_len).for_each(|t| pos.data[t * d + 2 + t] = S::one()),
            Positional::RandomSigns { dim, seed } => {
                let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(seed);
                let s = 1.0 / (dim as f64).sqrt();
                for t in 0..context_len {
                    for j in 0..dim {
                        pos.data[t * d + 2 + j] =
                            S::from_f64(if rng.random::<bool>() { s } else { -s });
                    }
                }
            }
        }
        let mut cls = vec![S::zero(); d];
        cls[d - 1] = S::one();
        Self::new(tok, pos, cls)
    }

    /// Learned-embedding initialisation: entries uniform in [-scale, scale].
    pub fn random<R: Rng + ?Sized>(
        vocab: usize,
        context_len: usize,
        width: usize,
        scale: f64,
        rng: &mut R,
    ) -> Result<Self> {
        crate::error::check::positive("scale", scale)?;
        let mut u = |n: usize| -> Vec<S> {
            (0..n)
                .map(|_| S::from_f64(scale * (2.0 * rng.random::<f64>() - 1.0)))
                .collect()
        };
        let tok = Mat {
            rows: vocab,
            cols: width,
            data: u(vocab * width),
        };
        let pos = Mat {
            rows: context_len,
            cols: width,
            data: u(context_len * width),
        };
        let cls = u(width);
        Self::new(tok, pos, cls)
    }

    /// d.
    pub fn width(&self) -> usize {
        self.tok.cols
    }
    pub fn vocab(&self) -> usize {
        self.tok.rows
    }
    pub fn context_len(&self) -> usize {
        self.pos.rows
    }

    /// Every token is in the vocabulary and the batch has this embedding's context length.
    pub fn check_batch(&self, batch: &TokenBatch) -> Result<()> {
        if batch.context_len != self.context_len() {
            return Err(Error::shape(
                "batch.context_len",
                self.context_len(),
                batch.context_len,
            ));
        }
        // The max is a vectorised scan (this runs on every training step); the position of a
        // bad token is looked up only when there is one.
        let max = batch.tokens.iter().copied().max().unwrap_or(0);
        if usize::from(max) >= self.vocab()
            && let Some(i) = (batch.tokens.iter()).position(|&b| b as usize >= self.vocab())
        {
            return Err(Error::invalid(
                format!("tokens[{i}]"),
                batch.tokens[i],
                format!("a token < vocab = {}", self.vocab()),
            ));
        }
        Ok(())
    }

    /// Row index of (position t, token b) in [`Embedding::table`].
    #[inline]
    pub fn table_row(&self, t: usize, b: u8) -> usize {
        t * self.vocab() + b as usize
    }

    /// The T * vocab distinct input rows: row `t*vocab + b` is `tok[b] + pos[t]`.
    pub fn table(&self) -> Mat<S> {
        let (v, d) = (self.vocab(), self.width());
        let mut out = Mat::zeros(self.context_len() * v, d);
        for t in 0..self.context_len() {
            for b in 0..v {
                let row = out.row_mut(t * v + b);
                for ((o, &x), &p) in row.iter_mut().zip(self.tok.row(b)).zip(self.pos.row(t)) {
                    *o = x + p;
                }
            }
        }
        out
    }

    /// Pull a gradient on the table rows back to tok and pos (adds into `grad`).
    pub fn table_backward(&self, d_table: &Mat<S>, grad: &mut Embedding<S>) {
        let v = self.vocab();
        for t in 0..self.context_len() {
            for b in 0..v {
                let g = d_table.row(t * v + b);
                crate::tensor::axpy(S::one(), g, grad.tok.row_mut(b));
                crate::tensor::axpy(S::one(), g, grad.pos.row_mut(t));
            }
        }
    }

    /// X~ = [X; x_cls] for one sequence, (T+1) x d, \[CLS\] last.
    pub fn embed(&self, tokens: &[u8]) -> Mat<S> {
        let d = self.width();
        let mut out = Mat::zeros(tokens.len() + 1, d);
        for (t, &b) in tokens.iter().enumerate() {
            let row = out.row_mut(t);
            for ((o, &x), &p) in row
                .iter_mut()
                .zip(self.tok.row(b as usize))
                .zip(self.pos.row(t))
            {
                *o = x + p;
            }
        }
        out.row_mut(tokens.len()).copy_from_slice(&self.cls);
        out
    }

    /// Same shapes, all zeros (a gradient buffer).
    pub fn zeros_like(&self) -> Self {
        Embedding {
            tok: Mat::zeros(self.tok.rows, self.tok.cols),
            pos: Mat::zeros(self.pos.rows, self.pos.cols),
            cls: vec![S::zero(); self.cls.len()],
        }
    }
}

/// A table whose rows are stored by their non-zero entries (compressed sparse rows).
///
/// [`Embedding::sparse_table_with_cls`] builds it for the token table plus x_cls. For the fixed
/// one-hot embedding (d = T + 3) every token row has two non-zeros (its bit and its position)
/// and x_cls one, so the products the token table needs with the d x r weights are gathers of
/// weight rows (cost ~ T r) instead of gemms (cost ~ T d r = T^2 r), and their transposes are
/// scatter-adds.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseRows<S> {
    cols: usize,
    /// Row r's entries are `idx[start[r]..start[r + 1]]` with values `val[..]` (same range).
    start: Vec<usize>,
    idx: Vec<usize>,
    val: Vec<S>,
}

/// [`Embedding::sparse_table_with_cls`] stores the table sparsely only when its rows have at
/// most this fraction of non-zeros on average (one-hot: 2 / (T + 3)); denser tables stay dense.
pub const SPARSE_MAX_FILL: f64 = 0.125;

impl<S: Real> SparseRows<S> {
    pub fn rows(&self) -> usize {
        self.start.len() - 1
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Stored entries (non-zeros).
    pub fn nnz(&self) -> usize {
        self.idx.len()
    }
    /// Column indices and values of row r.
    pub fn row(&self, r: usize) -> (&[usize], &[S]) {
        let (a, b) = (self.start[r], self.start[r + 1]);
        (&self.idx[a..b], &self.val[a..b])
    }

    fn push_row(&mut self, entries: impl IntoIterator<Item = (usize, S)>) {
        for (j, v) in entries {
            if v != S::zero() {
                self.idx.push(j);
                self.val.push(v);
            }
        }
        self.start.push(self.idx.len());
    }

    /// The dense matrix (rows x cols).
    pub fn to_dense(&self) -> Mat<S> {
        let mut out = Mat::zeros(self.rows(), self.cols);
        for r in 0..self.rows() {
            let (idx, val) = self.row(r);
            let row = out.row_mut(r);
            idx.iter().zip(val).for_each(|(&j, &v)| row[j] = v);
        }
        out
    }

    /// X v for a cols-vector v.
    pub fn mul_vec(&self, v: &[S]) -> Vec<S> {
        debug_assert_eq!(v.len(), self.cols);
        (0..self.rows())
            .map(|r| {
                let (idx, val) = self.row(r);
                idx.iter()
                    .zip(val)
                    .fold(S::zero(), |acc, (&j, &x)| acc + x * v[j])
            })
            .collect()
    }

    /// X W (rows x w.cols) for W with `cols` rows: row r is sum_j X_rj W_j.
    pub fn mul(&self, w: &Mat<S>) -> Mat<S> {
        debug_assert_eq!(w.rows, self.cols);
        let mut out = Mat::zeros(self.rows(), w.cols);
        for r in 0..self.rows() {
            let (idx, val) = self.row(r);
            let o = out.row_mut(r);
            for (&j, &x) in idx.iter().zip(val) {
                crate::tensor::axpy(x, w.row(j), o);
            }
        }
        out
    }

    /// X^T v for a rows-vector v.
    pub fn t_mul_vec(&self, v: &[S]) -> Vec<S> {
        debug_assert_eq!(v.len(), self.rows());
        let mut out = vec![S::zero(); self.cols];
        for (r, &vr) in v.iter().enumerate() {
            let (idx, val) = self.row(r);
            idx.iter().zip(val).for_each(|(&j, &x)| out[j] += x * vr);
        }
        out
    }

    /// `out += X^T D` for D with `rows` rows (out is cols x D.cols): a scatter-add of D's rows.
    pub fn t_mul_add(&self, d: &Mat<S>, out: &mut Mat<S>) {
        debug_assert_eq!(
            (d.rows, out.rows, out.cols),
            (self.rows(), self.cols, d.cols)
        );
        for r in 0..self.rows() {
            let (idx, val) = self.row(r);
            for (&j, &x) in idx.iter().zip(val) {
                crate::tensor::axpy(x, d.row(r), out.row_mut(j));
            }
        }
    }
}

impl<S: Real> Embedding<S> {
    /// [`Embedding::table`] with x_cls appended as the last row, stored by its non-zeros, or
    /// `None` when the rows are denser than [`SPARSE_MAX_FILL`] (learned embeddings, random
    /// codes). Row `t*vocab + b` holds the non-zeros of `tok[b] + pos[t]`; an entry is stored
    /// when the sum is non-zero. Cost: one pass over tok, pos and cls (~ T d).
    pub fn sparse_table_with_cls(&self) -> Option<SparseRows<S>> {
        let nz = |row: &[S]| -> Vec<usize> {
            (row.iter().enumerate())
                .filter(|&(_, v)| *v != S::zero())
                .map(|(j, _)| j)
                .collect()
        };
        let (v, d, t_len) = (self.vocab(), self.width(), self.context_len());
        let tok_nz: Vec<Vec<usize>> = (0..v).map(|b| nz(self.tok.row(b))).collect();
        let pos_nz: Vec<Vec<usize>> = (0..t_len).map(|t| nz(self.pos.row(t))).collect();
        let cls_nz = nz(&self.cls);
        let pos_total: usize = pos_nz.iter().map(Vec::len).sum();
        let tok_total: usize = tok_nz.iter().map(Vec::len).sum();
        let upper = (v * pos_total + t_len * tok_total + cls_nz.len()) as f64;
        let n = (t_len * v + 1) as f64;
        if upper > SPARSE_MAX_FILL * n * d as f64 {
            return None;
        }
        let mut out = SparseRows {
            cols: d,
            start: vec![0],
            idx: Vec::with_capacity(upper as usize),
            val: Vec::with_capacity(upper as usize),
        };
        let mut merged = Vec::new();
        for (t, p) in pos_nz.iter().enumerate() {
            for (b, k) in tok_nz.iter().enumerate() {
                merged.clear();
                merged.extend(p.iter().chain(k).copied());
                merged.sort_unstable();
                merged.dedup();
                let (tr, pr) = (self.tok.row(b), self.pos.row(t));
                out.push_row(merged.iter().map(|&j| (j, tr[j] + pr[j])));
            }
        }
        out.push_row(cls_nz.iter().map(|&j| (j, self.cls[j])));
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_bits_is_the_spec_concatenation() {
        // By hand for T = 3, one-hot positions: d = 6, x_t = [onehot(b); e_t; 0].
        let e = Embedding::<f64>::fixed_bits(3, Positional::OneHot).unwrap();
        let x = e.embed(&[1, 0, 1]);
        assert_eq!(x.row(0), &[0., 1., 1., 0., 0., 0.]);
        assert_eq!(x.row(1), &[1., 0., 0., 1., 0., 0.]);
        assert_eq!(x.row(2), &[0., 1., 0., 0., 1., 0.]);
        assert_eq!(x.row(3), &[0., 0., 0., 0., 0., 1.]);
        // Random signs: each code has norm 1, so every row has norm sqrt(2).
        let e =
            Embedding::<f64>::fixed_bits(5, Positional::RandomSigns { dim: 8, seed: 1 }).unwrap();
        let x = e.embed(&[0, 1, 1, 0, 1]);
        for t in 0..5 {
            let n: f64 = x.row(t).iter().map(|v| v * v).sum();
            assert!((n - 2.0).abs() < 1e-12);
        }
    }

    #[test]
    fn sparse_table_is_the_dense_table_and_only_for_sparse_embeddings() {
        // Reference: Embedding::table plus x_cls, entry by entry. T = 13 is the smallest T whose
        // one-hot fill, 2 / (T + 3) roughly, is below SPARSE_MAX_FILL; T = 12 stays dense.
        let dense_small = Embedding::<f64>::fixed_bits(12, Positional::OneHot).unwrap();
        assert!(dense_small.sparse_table_with_cls().is_none());
        let e = Embedding::<f64>::fixed_bits(13, Positional::OneHot).unwrap();
        let sp = e.sparse_table_with_cls().unwrap();
        let mut dense = e.table();
        dense.data.extend_from_slice(&e.cls);
        dense.rows += 1;
        assert_eq!(sp.to_dense(), dense);
        // One-hot: two non-zeros per token row (bit and position), one for x_cls.
        assert_eq!(sp.nnz(), 2 * 2 * 13 + 1);
        assert_eq!(
            sp.row(e.table_row(3, 1)),
            (&[1usize, 5][..], &[1.0, 1.0][..])
        );
        assert_eq!(sp.row(2 * 13), (&[15usize][..], &[1.0][..]));
        // Products against the dense matrix (small integers: exact in f64).
        let mk = |r, c, f: &dyn Fn(usize, usize) -> f64| Mat::from_fn("m", r, c, f).unwrap();
        let w = mk(16, 3, &|i, j| (i * 3 + j) as f64 - 7.0);
        let v: Vec<f64> = (0..16).map(|j| j as f64 - 2.5).collect();
        let u: Vec<f64> = (0..27).map(|r| (r % 4) as f64 - 1.0).collect();
        let d = mk(27, 3, &|i, j| (i + 2 * j) as f64 - 4.0);
        assert_eq!(sp.mul(&w), dense.matmul(&w).unwrap());
        assert_eq!(
            sp.mul_vec(&v),
            dense.matmul(&mk(16, 1, &|i, _| v[i])).unwrap().data
        );
        assert_eq!(
            sp.t_mul_vec(&u),
            dense
                .transpose()
                .matmul(&mk(27, 1, &|i, _| u[i]))
                .unwrap()
                .data
        );
        let mut acc = mk(16, 3, &|i, j| (i * j) as f64);
        sp.t_mul_add(&d, &mut acc);
        let mut expect = dense.transpose().matmul(&d).unwrap();
        (expect.data.iter_mut().enumerate()).for_each(|(n, x)| *x += ((n / 3) * (n % 3)) as f64);
        assert_eq!(acc, expect);
        // Random sign codes and learned embeddings are dense: no sparse table.
        let e =
            Embedding::<f64>::fixed_bits(5, Positional::RandomSigns { dim: 4, seed: 1 }).unwrap();
        assert!(e.sparse_table_with_cls().is_none());
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(2);
        let e = Embedding::<f64>::random(2, 6, 4, 1.0, &mut rng).unwrap();
        assert!(e.sparse_table_with_cls().is_none());
    }

    #[test]
    fn table_rows_match_embed_and_batches_are_checked() {
        let e = Embedding::<f64>::fixed_bits(4, Positional::OneHot).unwrap();
        let tab = e.table();
        let x = e.embed(&[1, 1, 0, 1]);
        assert_eq!(tab.row(e.table_row(2, 0)), x.row(2));
        assert!(
            e.check_batch(&TokenBatch::new(4, vec![0, 1, 2, 0]).unwrap())
                .is_err()
        );
        assert!(
            e.check_batch(&TokenBatch::new(2, vec![0, 1]).unwrap())
                .is_err()
        );
        assert!(TokenBatch::new(3, vec![0; 4]).is_err());
        assert!(TokenBatch::new(0, vec![]).is_err());
    }
}
