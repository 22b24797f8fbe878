//! Matrix and vector norms used by the bounds, in f64, stable at extreme scales.
//!
//! Conventions (docs/derivations.md §1):
//! - A weight `W` in R^{d_in x d_out} acts on a row vector from the right: x maps to `W^T x`.
//!   A PyTorch `Linear.weight` has shape (out, in), so it *is* `W^T`; the `weights` importers
//!   transpose it.
//! - `||A||_{p,q}` takes the p-norm of each **column**, then the q-norm of those numbers, so
//!   `||W_V||_{2,1}` sums the l2 norms of the per-output weight vectors (the columns of `W_V`).
//! - Theta := `W_K W_Q^T` (d x d), scores `u_t = x_t^T Theta z`; see [`theta_norms`].
//!
//! Every function rejects NaN and infinite entries with a typed error naming the entry, and
//! scales by the largest absolute entry before squaring, so matrices with entries of 1e-200 or
//! 1e200 give finite, correct norms. A norm whose true value exceeds `f64::MAX` is an error,
//! never a silent infinity.

use nalgebra::{DMatrix, DVector, SVD};
use rand::{RngExt, SeedableRng};

use crate::error::{Error, Result};

/// Rejects NaN / infinite entries, naming `field[row, col]`.
fn check_matrix(field: &str, a: &DMatrix<f64>) -> Result<()> {
    match a.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        // Column-major storage: index i is (i % nrows, i / nrows).
        Some(i) => Err(Error::invalid(
            format!("{field}[{}, {}]", i % a.nrows(), i / a.nrows()),
            a[i],
            "finite entries (no NaN or infinity)",
        )),
    }
}

/// A norm exponent p in [1, inf]; `f64::INFINITY` means the max norm.
fn check_exponent(field: &str, p: f64) -> Result<f64> {
    if p >= 1.0 {
        Ok(p)
    } else {
        Err(Error::invalid(
            field,
            p,
            "a number in [1, inf] (f64::INFINITY for the max norm)",
        ))
    }
}

/// The final result must be representable: an overflow is reported, not returned as inf.
fn finite_result(what: &str, x: f64) -> Result<f64> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(Error::invalid(
            what,
            x,
            "a norm below f64::MAX (the input is too large to measure in f64)",
        ))
    }
}

/// l_p norm of finite numbers, p in [1, inf], scaled by the largest |x| so that neither
/// squaring 1e200 overflows nor squaring 1e-200 underflows (the hypot idea, LAPACK dnrm2-style).
/// Inputs must already be finite and `p` validated.
fn lp_scaled(xs: impl Iterator<Item = f64> + Clone, p: f64) -> f64 {
    let scale = xs.clone().fold(0.0_f64, |m, x| m.max(x.abs()));
    if scale == 0.0 || p == f64::INFINITY {
        return scale;
    }
    let sum: f64 = if p == 1.0 {
        xs.map(|x| x.abs() / scale).sum()
    } else if p == 2.0 {
        xs.map(|x| (x / scale) * (x / scale)).sum()
    } else {
        xs.map(|x| (x.abs() / scale).powf(p)).sum()
    };
    scale * sum.powf(1.0 / p)
}

/// Largest absolute entry, used to rescale a matrix before any squaring.
fn max_abs(a: &DMatrix<f64>) -> f64 {
    a.iter().fold(0.0_f64, |m, x| m.max(x.abs()))
}

/// `||v||_p` of a vector, p in [1, inf] (`f64::INFINITY` for the max norm).
pub fn vector_norm(v: &DVector<f64>, p: f64) -> Result<f64> {
    check_exponent("p", p)?;
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::invalid(
            format!("v[{i}]"),
            v[i],
            "finite entries (no NaN or infinity)",
        ));
    }
    finite_result("||v||_p", lp_scaled(v.iter().copied(), p))
}

/// Frobenius norm `||A||_F = sqrt(sum_ij a_ij^2)`, computed with scaling (no overflow at 1e200).
pub fn frobenius(a: &DMatrix<f64>) -> Result<f64> {
    check_matrix("a", a)?;
    finite_result("||A||_F", lp_scaled(a.iter().copied(), 2.0))
}

/// `||A||_{p,q}` with the COLUMN convention of docs/derivations.md §1: the p-norm of each column of `A`,
/// then the q-norm of those `ncols` numbers. p, q in [1, inf]; `f64::INFINITY` is the max norm.
/// Example: `||W_V||_{2,1}` = sum over output units j of `||W_V[:, j]||_2`.
/// `||A||_{2,2}` equals the Frobenius norm.
pub fn norm_pq(a: &DMatrix<f64>, p: f64, q: f64) -> Result<f64> {
    check_exponent("p", p)?;
    check_exponent("q", q)?;
    check_matrix("a", a)?;
    // Work on A / s with s = max |a_ij| so column norms are O(sqrt(nrows)) and their q-norm
    // cannot overflow in between; multiply back once at the end.
    let s = max_abs(a);
    if s == 0.0 {
        return Ok(0.0);
    }
    let col_norms: Vec<f64> = a
        .column_iter()
        .map(|c| lp_scaled(c.iter().map(|x| x / s), p))
        .collect();
    finite_result("||A||_{p,q}", s * lp_scaled(col_norms.iter().copied(), q))
}

/// `||A||_{2,1}` (column convention): the sum of the l2 norms of the columns of `A`.
pub fn norm_21(a: &DMatrix<f64>) -> Result<f64> {
    norm_pq(a, 2.0, 1.0)
}

/// Spectral norm `||A||_2` (largest singular value) by a full SVD. Exact to rounding; use it for
/// checks and small matrices. The matrix is divided by its largest entry first so that the SVD
/// never squares 1e200. An empty matrix has norm 0.
pub fn spectral_svd(a: &DMatrix<f64>) -> Result<f64> {
    check_matrix("a", a)?;
    let s = max_abs(a);
    if s == 0.0 {
        return Ok(0.0);
    }
    let scaled = a / s;
    // The cap is generous; nalgebra's implicit-shift SVD converges in O(min(n, m)) sweeps.
    let max_niter = 1000 + 200 * a.nrows().max(a.ncols());
    let svd =
        SVD::try_new_unordered(scaled, false, false, f64::EPSILON, max_niter).ok_or_else(|| {
            Error::invalid(
                "a",
                format!("{}x{} matrix", a.nrows(), a.ncols()),
                "a matrix whose SVD converges",
            )
        })?;
    let top = svd.singular_values.iter().fold(0.0_f64, |m, &x| m.max(x));
    finite_result("||A||_2", s * top)
}

/// Settings of [`spectral_power`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerIteration {
    /// Stop when the estimate changes by at most `tol` relative to itself between iterations.
    pub tol: f64,
    /// Hard cap on iterations; reaching it is reported in [`PowerEstimate::converged`].
    pub max_iter: usize,
}

impl Default for PowerIteration {
    fn default() -> Self {
        PowerIteration {
            tol: 1e-10,
            max_iter: 1000,
        }
    }
}

/// Result of [`spectral_power`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerEstimate {
    /// Estimate of `||A||_2`. It is `||A v||_2` for a unit vector v, hence never above the true
    /// norm (up to rounding): power iteration approaches the spectral norm from below.
    pub value: f64,
    pub iterations: usize,
    /// False if `max_iter` was reached before the relative change fell below `tol`.
    pub converged: bool,
}

/// Spectral norm `||A||_2` by power iteration on `A^T A`, for speed on large matrices.
///
/// The iterate starts from a fixed pseudo-random vector (seeded ChaCha8, so results are
/// reproducible and the start is almost surely not orthogonal to the top right singular vector,
/// which a structured start such as all-ones can be). The estimate is a lower bound on the true
/// norm. It stops when the relative change is at most `tol`; with singular-value ratio
/// r = sigma_2 / sigma_1 the remaining relative error is then about tol / (2 (1 - r^2)), and never
/// much above sqrt(tol) / 2 (a tiny gap makes the error small too). A small gap also needs many
/// iterations; hitting `max_iter` is reported in `converged`.
pub fn spectral_power(a: &DMatrix<f64>, opts: PowerIteration) -> Result<PowerEstimate> {
    check_matrix("a", a)?;
    if !(opts.tol > 0.0 && opts.tol.is_finite()) {
        return Err(Error::invalid("tol", opts.tol, "a finite number > 0"));
    }
    if opts.max_iter == 0 {
        return Err(Error::invalid("max_iter", 0, "an integer >= 1"));
    }
    let s = max_abs(a);
    if s == 0.0 {
        return Ok(PowerEstimate {
            value: 0.0,
            iterations: 0,
            converged: true,
        });
    }
    let b = a / s;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed_0a0b);
    let mut v = DVector::from_fn(b.ncols(), |_, _| rng.random::<f64>() - 0.5);
    v /= v.norm();
    let mut prev = 0.0_f64;
    for it in 1..=opts.max_iter {
        let av = &b * &v;
        let est = av.norm();
        let mut w = b.tr_mul(&av);
        let wn = w.norm();
        if wn == 0.0 {
            // v is in the null space; A != 0 so a start orthogonal to the row space is the only
            // way here, which a random start avoids except on a measure-zero set.
            return Ok(PowerEstimate {
                value: s * est,
                iterations: it,
                converged: true,
            });
        }
        w /= wn;
        v = w;
        if (est - prev).abs() <= opts.tol * est {
            return Ok(PowerEstimate {
                value: finite_result("||A||_2", s * est)?,
                iterations: it,
                converged: true,
            });
        }
        prev = est;
    }
    let est = (&b * &v).norm();
    Ok(PowerEstimate {
        value: finite_result("||A||_2", s * est)?,
        iterations: opts.max_iter,
        converged: false,
    })
}

/// `max_t ||x_t||_2` over the rows x_t of one context matrix `X` (T x d).
pub fn max_row_norm(x: &DMatrix<f64>) -> Result<f64> {
    check_matrix("x", x)?;
    if x.nrows() == 0 {
        return Err(Error::invalid(
            "x rows",
            0,
            "at least one row (a context with context_len >= 1)",
        ));
    }
    let s = max_abs(x);
    if s == 0.0 {
        return Ok(0.0);
    }
    let m = x
        .row_iter()
        .map(|r| lp_scaled(r.iter().map(|v| v / s), 2.0))
        .fold(0.0_f64, f64::max);
    finite_result("max row norm", s * m)
}

/// B_X = max over samples and rows of `||x_t||_2` (docs/derivations.md §1); rows include \[CLS\] and any
/// positional part if the caller put them in the matrices.
pub fn max_row_norm_batch(xs: &[DMatrix<f64>]) -> Result<f64> {
    if xs.is_empty() {
        return Err(Error::invalid("num_samples", 0, "an integer >= 1"));
    }
    let mut best = 0.0_f64;
    for (i, x) in xs.iter().enumerate() {
        let r = max_row_norm(x).map_err(|e| match e {
            Error::InvalidValue {
                field,
                value,
                allowed,
            } => Error::InvalidValue {
                field: format!("sample {i}: {field}"),
                value,
                allowed,
            },
            other => other,
        })?;
        best = best.max(r);
    }
    Ok(best)
}

/// Theta := `W_K W_Q^T` (d x d) for `W_Q`, `W_K` in R^{d x d_qk}, so the score of row x_t against
/// the query z is `u_t = x_t^T Theta z = <W_K^T x_t, W_Q^T z>`. Only the column counts must
/// agree: with zero rows dropped from either factor (which changes no norm of Theta), Theta is
/// the d_k x d_q block of its nonzero rows and columns.
pub fn theta(w_q: &DMatrix<f64>, w_k: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    check_matrix("w_q", w_q)?;
    check_matrix("w_k", w_k)?;
    if w_q.ncols() != w_k.ncols() {
        return Err(Error::shape(
            "w_k",
            format!("{} columns (those of w_q)", w_q.ncols()),
            format!("{} x {}", w_k.nrows(), w_k.ncols()),
        ));
    }
    let t = w_k * w_q.transpose();
    check_matrix("theta = w_k w_q^T (overflow)", &t)?;
    Ok(t)
}

/// The norms of Theta = `W_K W_Q^T` that the bounds use. Orientation matters for (2,1):
/// - `two_one` = `||Theta||_{2,1}`: sum over columns j (query coordinates z_j) of the l2 norm
///   of column j, i.e. of `W_K` times row j of `W_Q`. This is the paper's B_QK^{2,1} (docs/derivations.md §4).
/// - `two_one_transposed` = `||Theta^T||_{2,1}`: sum over rows i (key coordinates x_i) of the l2
///   norm of row i of Theta.
/// - `spectral` = `||Theta||_2` (SVD, exact to rounding; same for Theta and Theta^T).
/// - `frobenius` = `||Theta||_F` (same for Theta and Theta^T).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThetaNorms {
    pub two_one: f64,
    pub two_one_transposed: f64,
    pub spectral: f64,
    pub frobenius: f64,
}

/// Computes [`ThetaNorms`] of Theta = `W_K W_Q^T`. The factors are rescaled to unit max entry
/// before the product, so weights of 1e100 do not overflow the intermediate Theta; the scale is
/// restored at the end (an error if the norm itself exceeds f64).
pub fn theta_norms(w_q: &DMatrix<f64>, w_k: &DMatrix<f64>) -> Result<ThetaNorms> {
    check_matrix("w_q", w_q)?;
    check_matrix("w_k", w_k)?;
    let (sq, sk) = (max_abs(w_q), max_abs(w_k));
    if sq == 0.0 || sk == 0.0 {
        let zero = ThetaNorms {
            two_one: 0.0,
            two_one_transposed: 0.0,
            spectral: 0.0,
            frobenius: 0.0,
        };
        // Still validate shapes so a zero matrix of the wrong shape is not accepted.
        theta(
            &DMatrix::zeros(w_q.nrows(), w_q.ncols()),
            &DMatrix::zeros(w_k.nrows(), w_k.ncols()),
        )?;
        return Ok(zero);
    }
    let (wq, wk) = (w_q / sq, w_k / sk);
    // Multiplying back may overflow only if the true norm is out of f64 range: then an error.
    let scaled = |x: f64, what: &str| finite_result(what, x * sq * sk);
    if wq.ncols() == wk.ncols()
        && wq.ncols() < wq.nrows().min(wk.nrows())
        && wq.nrows() * wk.nrows() > FORM_THETA_MAX_ENTRIES
    {
        return theta_norms_factored(&wq, &wk, scaled);
    }
    let t = theta(&wq, &wk)?;
    Ok(ThetaNorms {
        two_one: scaled(norm_21(&t)?, "||Theta||_{2,1}")?,
        two_one_transposed: scaled(norm_21(&t.transpose())?, "||Theta^T||_{2,1}")?,
        spectral: scaled(spectral_svd(&t)?, "||Theta||_2")?,
        frobenius: scaled(frobenius(&t)?, "||Theta||_F")?,
    })
}

/// Up to this many entries [`theta_norms`] forms Theta and takes its SVD (the reference route,
/// cheap there); above it, with r < d, it uses [`theta_norms_factored`].
const FORM_THETA_MAX_ENTRIES: usize = 1 << 16;

/// [`theta_norms`] when Theta = `W_K W_Q^T` (d_k x d_q) has rank at most r < d, without forming
/// it (the theory head's one-hot embedding has d = T + 3, so Theta would be 1e8 entries at
/// T = 1e4 and its SVD the whole cost of a trial). With thin QR factors `W_K = Q_K R_K`,
/// `W_Q = Q_Q R_Q` (orthonormal columns, R r x r): Theta = Q_K (R_K R_Q^T) Q_Q^T, so
/// `||Theta||_2` and `||Theta||_F` are those of the r x r matrix `R_K R_Q^T`; column j of Theta is
/// `Q_K R_K W_Q[j, :]^T`, so `||Theta||_{2,1}` = `||R_K W_Q^T||_{2,1}`, and likewise
/// `||Theta^T||_{2,1}` = `||R_Q W_K^T||_{2,1}`. Exact identities; equal to the dense route to
/// rounding (tested). `wq`, `wk` are already scaled; `scaled` restores the scale.
fn theta_norms_factored(
    wq: &DMatrix<f64>,
    wk: &DMatrix<f64>,
    scaled: impl Fn(f64, &str) -> Result<f64>,
) -> Result<ThetaNorms> {
    let (r_q, r_k) = (wq.clone().qr().r(), wk.clone().qr().r());
    let core = &r_k * r_q.transpose();
    Ok(ThetaNorms {
        two_one: scaled(norm_21(&(&r_k * wq.transpose()))?, "||Theta||_{2,1}")?,
        two_one_transposed: scaled(norm_21(&(&r_q * wk.transpose()))?, "||Theta^T||_{2,1}")?,
        spectral: scaled(spectral_svd(&core)?, "||Theta||_2")?,
        frobenius: scaled(frobenius(&core)?, "||Theta||_F")?,
    })
}

pub mod model;

#[cfg(test)]
mod tests;
