//! Scalars and small dense matrices for the model hot path.
//!
//! [`Real`] is the one scalar bound of the model code: f32 for training, f64 for
//! finite-difference checks and for anything handed to `bounds`. [`gemm`] is the only place
//! that calls `matrixmultiply`; it takes strided views, so a transpose is a stride swap and
//! never a copy. [`Mat`] is a row-major matrix with validating constructors and conversion to
//! and from `nalgebra::DMatrix<f64>` (what `norms` works on).
//!
//! Convention (docs/derivations.md §1): matrices act on row vectors from the right. A weight
//! `W` in R^{d_in x d_out} is stored as a `Mat` with `rows = d_in`, `cols = d_out` and maps a
//! row `x` to `x W`, i.e. the column vector `W^T x`. A PyTorch `Linear.weight` has shape
//! (out, in), so it is `W^T`: the `weights` importers transpose it.

use crate::error::{Error, Result};
use nalgebra::DMatrix;
use num_traits::Float;
use std::fmt::Debug;
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// The scalar type of models: f32 (training) or f64 (checks).
///
/// `to_f64` is spelled [`Real::as_f64`] because `num_traits::ToPrimitive::to_f64` (a
/// supertrait of `Float`) already takes that name and would make calls ambiguous.
pub trait Real:
    Float
    + Send
    + Sync
    + Debug
    + Default
    + 'static
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
{
    /// Nearest value of this type (rounds for f32).
    fn from_f64(x: f64) -> Self;
    /// Exact widening (f32) or identity (f64).
    fn as_f64(self) -> f64;
    /// In place `x <- exp(x - shift)` for every entry; returns the sum. Callers pass
    /// `shift = max(x)`, so every exponent is <= 0. f32 overrides this with a vectorisable
    /// polynomial (the softmax is the main non-gemm cost of full attention); f64 uses `exp`.
    fn exp_shifted_sum(xs: &mut [Self], shift: Self) -> Self {
        let mut sum = Self::zero();
        for x in xs.iter_mut() {
            *x = (*x - shift).exp();
            sum += *x;
        }
        sum
    }
    /// Raw gemm: `C <- alpha A B + beta C`, A m x k, B k x n, C m x n, arbitrary strides.
    ///
    /// # Safety
    /// Every addressed element must lie inside its allocation and C's elements must not
    /// alias. Use the checked wrapper [`gemm`].
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: (*const Self, isize, isize),
        b: (*const Self, isize, isize),
        beta: Self,
        c: (*mut Self, isize, isize),
    );
}

/// `Real::gemm_raw` for a type by forwarding to the `matrixmultiply` kernel `$kernel`.
macro_rules! gemm_raw_via {
    ($t:ty, $kernel:ident) => {
        unsafe fn gemm_raw(
            m: usize,
            k: usize,
            n: usize,
            alpha: $t,
            a: (*const $t, isize, isize),
            b: (*const $t, isize, isize),
            beta: $t,
            c: (*mut $t, isize, isize),
        ) {
            // SAFETY: forwarded contract, checked by `gemm`.
            unsafe {
                matrixmultiply::$kernel(
                    m, k, n, alpha, a.0, a.1, a.2, b.0, b.1, b.2, beta, c.0, c.1, c.2,
                )
            }
        }
    };
}

impl Real for f32 {
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn exp_shifted_sum(xs: &mut [f32], shift: f32) -> f32 {
        for x in xs.iter_mut() {
            *x = exp_f32_nonpositive(*x - shift);
        }
        // Eight partial sums so the reduction vectorises too.
        let mut acc = [0.0f32; 8];
        let chunks = xs.chunks_exact(8);
        let tail: f32 = chunks.remainder().iter().sum();
        for c in chunks {
            for (a, &x) in acc.iter_mut().zip(c) {
                *a += x;
            }
        }
        acc.iter().sum::<f32>() + tail
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
    gemm_raw_via!(f32, sgemm);
}

impl Real for f64 {
    fn from_f64(x: f64) -> Self {
        x
    }
    fn as_f64(self) -> f64 {
        self
    }
    gemm_raw_via!(f64, dgemm);
}

/// exp(x) for x <= 0 in f32, branch-free so loops over it vectorise.
///
/// Cephes `expf`: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two parts for exactness), a
/// degree-6 polynomial for e^r, and 2^n built in the exponent bits. Results below f32's
/// normal range (x < -87) are flushed to 0. Relative error <= 3e-7 against f64 `exp`
/// (test `fast_exp_is_accurate`). exp(0) = 1 exactly.
#[inline(always)]
fn exp_f32_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    // Adding 1.5 * 2^23 rounds to the nearest integer (|x log2 e| < 2^22 here).
    const MAGIC: f32 = 12_582_912.0;
    let xc = x.max(-87.0);
    let t = xc * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = xc - n * C1 - n * C2;
    let z = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5; // Cephes 5.0000001201e-1 rounds to 0.5 in f32
    let er = p * z + r + 1.0;
    let ni = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let scale = f32::from_bits(((ni + 127) << 23) as u32);
    if x < -87.0 { 0.0 } else { er * scale }
}

/// A read-only strided matrix view: element (i, j) is `data[i * rs + j * cs]`.
#[derive(Clone, Copy, Debug)]
pub struct View<'a, S> {
    data: &'a [S],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a, S: Real> View<'a, S> {
    /// Row-major `rows x cols` view of a slice (panics if the slice is too short: a
    /// programming error inside the model, never user input).
    pub fn new(data: &'a [S], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "view {rows}x{cols} on a slice of {}",
            data.len()
        );
        View {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }
    /// A row vector (1 x n).
    pub fn row(data: &'a [S]) -> Self {
        Self::new(data, 1, data.len())
    }
    /// A column vector (n x 1).
    pub fn col(data: &'a [S]) -> Self {
        Self::new(data, 1, data.len()).t()
    }
    /// The transpose, free (strides swap).
    pub fn t(self) -> Self {
        View {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    fn last_index(&self) -> Option<usize> {
        if self.rows == 0 || self.cols == 0 {
            None
        } else {
            Some((self.rows - 1) * self.rs + (self.cols - 1) * self.cs)
        }
    }
}

/// `C <- alpha A B + beta C` with C a row-major `a.rows() x b.cols()` block of `c`.
/// If `beta == 0`, C is overwritten (never read, so stale NaN cannot leak in).
pub fn gemm<S: Real>(alpha: S, a: View<'_, S>, b: View<'_, S>, beta: S, c: &mut [S]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(
        k, b.rows,
        "gemm inner dimensions {}x{} * {}x{}",
        a.rows, a.cols, b.rows, b.cols
    );
    assert!(
        c.len() >= m * n,
        "gemm output {m}x{n} on a slice of {}",
        c.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // matrixmultiply handles k = 0, but be explicit: C <- beta C.
        for x in &mut c[..m * n] {
            *x = if beta == S::zero() {
                S::zero()
            } else {
                *x * beta
            };
        }
        return;
    }
    for v in [&a, &b] {
        if let Some(last) = v.last_index() {
            assert!(last < v.data.len(), "gemm view out of bounds");
        }
    }
    // SAFETY: all addressed elements checked in bounds above; C is a distinct &mut slice with
    // row-major non-aliasing strides.
    unsafe {
        S::gemm_raw(
            m,
            k,
            n,
            alpha,
            (a.data.as_ptr(), a.rs as isize, a.cs as isize),
            (b.data.as_ptr(), b.rs as isize, b.cs as isize),
            beta,
            (c.as_mut_ptr(), n as isize, 1),
        )
    }
}

/// Dense row-major matrix. Invariant: `data.len() == rows * cols`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mat<S> {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<S>,
}

impl<S: Real> Mat<S> {
    /// Validated constructor: length must match and every entry be finite.
    pub fn new(field: &str, rows: usize, cols: usize, data: Vec<S>) -> Result<Self> {
        if data.len() != rows * cols {
            return Err(Error::shape(
                field,
                format!("{rows}x{cols} = {} entries", rows * cols),
                data.len(),
            ));
        }
        check_finite(field, &data)?;
        Ok(Mat { rows, cols, data })
    }
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Mat {
            rows,
            cols,
            data: vec![S::zero(); rows * cols],
        }
    }
    /// Entries from a function of (row, col); validated like [`Mat::new`].
    pub fn from_fn(
        field: &str,
        rows: usize,
        cols: usize,
        mut f: impl FnMut(usize, usize) -> S,
    ) -> Result<Self> {
        let data = (0..rows * cols)
            .map(|i| f(i / cols.max(1), i % cols.max(1)))
            .collect();
        Self::new(field, rows, cols, data)
    }
    pub fn get(&self, i: usize, j: usize) -> S {
        self.data[i * self.cols + j]
    }
    pub fn row(&self, i: usize) -> &[S] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
    pub fn row_mut(&mut self, i: usize) -> &mut [S] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }
    pub fn view(&self) -> View<'_, S> {
        View::new(&self.data, self.rows, self.cols)
    }
    /// Transposed view (no copy).
    pub fn t(&self) -> View<'_, S> {
        self.view().t()
    }
    pub fn transpose(&self) -> Self {
        let mut out = Self::zeros(self.cols, self.rows);
        for i in 0..self.rows {
            for j in 0..self.cols {
                out.data[j * self.rows + i] = self.get(i, j);
            }
        }
        out
    }
    /// Same shape, other scalar type (f64 -> f32 rounds).
    pub fn cast<T: Real>(&self) -> Mat<T> {
        Mat {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(|x| T::from_f64(x.as_f64())).collect(),
        }
    }
    /// `self * other` (allocates).
    pub fn matmul(&self, other: &Self) -> Result<Self> {
        if self.cols != other.rows {
            return Err(Error::shape(
                "matmul",
                format!("{} rows on the right", self.cols),
                other.rows,
            ));
        }
        let mut out = Self::zeros(self.rows, other.cols);
        gemm(
            S::one(),
            self.view(),
            other.view(),
            S::zero(),
            &mut out.data,
        );
        Ok(out)
    }
    /// Same entries as an f64 `nalgebra` matrix, same orientation (rows x cols).
    pub fn to_dmatrix(&self) -> DMatrix<f64> {
        DMatrix::from_fn(self.rows, self.cols, |i, j| self.get(i, j).as_f64())
    }
    /// From an f64 `nalgebra` matrix, same orientation; rejects non-finite entries.
    pub fn from_dmatrix(field: &str, m: &DMatrix<f64>) -> Result<Self> {
        Self::from_fn(field, m.nrows(), m.ncols(), |i, j| S::from_f64(m[(i, j)]))
    }
    /// Frobenius norm, accumulated in f64.
    pub fn frobenius(&self) -> f64 {
        self.data
            .iter()
            .map(|x| x.as_f64().powi(2))
            .sum::<f64>()
            .sqrt()
    }
}

/// Every entry finite; the error names the first bad index.
pub fn check_finite<S: Real>(field: &str, xs: &[S]) -> Result<()> {
    match xs.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::invalid(
            format!("{field}[{i}]"),
            xs[i].as_f64(),
            "finite weights (no NaN or infinity)",
        )),
    }
}

/// Dot product (accumulates in `S`).
#[inline]
pub fn dot<S: Real>(a: &[S], b: &[S]) -> S {
    a.iter().zip(b).fold(S::zero(), |acc, (&x, &y)| acc + x * y)
}

/// `y += alpha x`.
#[inline]
pub fn axpy<S: Real>(alpha: S, x: &[S], y: &mut [S]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {
        let mut c = Mat::zeros(a.rows, b.cols);
        for i in 0..a.rows {
            for j in 0..b.cols {
                c.data[i * b.cols + j] = (0..a.cols).map(|p| a.get(i, p) * b.get(p, j)).sum();
            }
        }
        c
    }

    fn seq(rows: usize, cols: usize, s: f64) -> Mat<f64> {
        Mat::from_fn("x", rows, cols, |i, j| ((i * 7 + j * 3) as f64 * s).sin()).unwrap()
    }

    #[test]
    fn gemm_matches_triple_loop_with_free_transposes() {
        // Reference: the textbook triple loop.
        let a = seq(5, 3, 0.7);
        let b = seq(3, 4, 1.3);
        let c = a.matmul(&b).unwrap();
        let r = naive(&a, &b);
        for (x, y) in c.data.iter().zip(&r.data) {
            assert!((x - y).abs() < 1e-14);
        }
        // (A^T)^T B through strides, and accumulate with beta = 1.
        let at = a.transpose();
        let mut c2 = c.data.clone();
        gemm(1.0, at.t(), b.view(), 1.0, &mut c2);
        for (x, y) in c2.iter().zip(&r.data) {
            assert!((x - 2.0 * y).abs() < 1e-13);
        }
        // f32 path agrees to f32 precision.
        let c32 = a.cast::<f32>().matmul(&b.cast::<f32>()).unwrap();
        for (x, y) in c32.data.iter().zip(&r.data) {
            assert!((*x as f64 - y).abs() < 1e-5);
        }
    }

    #[test]
    fn fast_exp_is_accurate() {
        // Reference: f64 exp of the same f32 input, on a grid over [-100, 0].
        assert_eq!(exp_f32_nonpositive(0.0), 1.0);
        let mut worst = 0.0f64;
        for i in 0..=1_000_000 {
            let x = -100.0f32 * i as f32 / 1e6;
            let want = (x as f64).exp();
            let got = exp_f32_nonpositive(x) as f64;
            if x >= -87.0 {
                worst = worst.max((got - want).abs() / want);
            } else {
                assert_eq!(got, 0.0, "{x}");
            }
        }
        assert!(worst < 3e-7, "{worst:e}");
        let mut xs = vec![0.0f32, -1.0, -2.0, -1e4];
        let s = f32::exp_shifted_sum(&mut xs, 0.0);
        let want = 1.0 + (-1.0f64).exp() + (-2.0f64).exp();
        assert!((s as f64 - want).abs() < 1e-6 && xs[3] == 0.0);
    }

    #[test]
    fn beta_zero_ignores_stale_nan() {
        let a = seq(2, 2, 0.3);
        let mut c = vec![f64::NAN; 4];
        gemm(1.0, a.view(), a.view(), 0.0, &mut c);
        assert!(c.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn constructors_validate() {
        assert!(matches!(
            Mat::<f32>::new("w_v", 2, 2, vec![1.0; 3]),
            Err(Error::ShapeMismatch { .. })
        ));
        let e = Mat::<f64>::new("w_v", 1, 2, vec![1.0, f64::NAN]).unwrap_err();
        assert!(e.to_string().contains("w_v[1]"));
    }

    #[test]
    fn dmatrix_round_trip_keeps_orientation() {
        let a = seq(3, 2, 0.4);
        let d = a.to_dmatrix();
        assert_eq!((d.nrows(), d.ncols()), (3, 2));
        assert_eq!(d[(2, 1)], a.get(2, 1));
        assert_eq!(Mat::<f64>::from_dmatrix("a", &d).unwrap(), a);
    }
}
