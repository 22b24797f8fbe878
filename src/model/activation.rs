//! The value non-linearity sigma of a head (and of the MLP block).
//!
//! docs/derivations.md §1 needs sigma(0) = 0 and a Lipschitz constant L_sigma; both are exposed here so
//! `bounds` never hard-codes them.

use crate::tensor::Real;
use serde::{Deserialize, Serialize};

/// sqrt(2 / pi), the GELU tanh-approximation scale.
const GELU_C: f64 = 0.797_884_560_802_865_4;
/// Cubic coefficient of the GELU tanh approximation (Hendrycks & Gimpel 2016).
const GELU_A: f64 = 0.044_715;
/// sup_x |gelu'(x)| for the tanh approximation, attained at x* = 1.418504017...
/// Computed by golden-section search on the closed-form derivative (f64, 200 iterations);
/// the test `gelu_lipschitz_is_the_sup_of_the_derivative` re-derives it on a dense grid.
/// Since gelu(x) - gelu(-x) = x, gelu'(x) + gelu'(-x) = 1, so the infimum is 1 - 1.12899... =
/// -0.12899... and the supremum of |gelu'| is the value below. (The exact erf GELU has
/// sup = Phi(sqrt 2) + sqrt 2 phi(sqrt 2) = 1.12897...; the two differ in the 5th digit.)
const GELU_LIPSCHITZ: f64 = 1.128_993_068_658_771_7;

/// sigma, with sigma(0) = 0 for every variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Relu,
    /// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    Gelu,
    Tanh,
    Identity,
}

impl Activation {
    /// L_sigma = sup |sigma'|: 1 for ReLU, tanh and identity; 1.12899... for GELU (see const).
    pub fn lipschitz(self) -> f64 {
        match self {
            Activation::Gelu => GELU_LIPSCHITZ,
            _ => 1.0,
        }
    }

    #[inline]
    pub fn apply<S: Real>(self, x: S) -> S {
        match self {
            Activation::Relu => x.max(S::zero()),
            Activation::Tanh => x.tanh(),
            Activation::Identity => x,
            Activation::Gelu => {
                let half = S::from_f64(0.5);
                let u = S::from_f64(GELU_C) * (x + S::from_f64(GELU_A) * x * x * x);
                half * x * (S::one() + u.tanh())
            }
        }
    }

    /// sigma'(x). ReLU uses 0 at the kink (a subgradient).
    #[inline]
    pub fn derivative<S: Real>(self, x: S) -> S {
        match self {
            Activation::Relu => {
                if x > S::zero() {
                    S::one()
                } else {
                    S::zero()
                }
            }
            Activation::Tanh => {
                let t = x.tanh();
                S::one() - t * t
            }
            Activation::Identity => S::one(),
            Activation::Gelu => {
                let half = S::from_f64(0.5);
                let c = S::from_f64(GELU_C);
                let a = S::from_f64(GELU_A);
                let t = (c * (x + a * x * x * x)).tanh();
                half * (S::one() + t)
                    + half * x * (S::one() - t * t) * c * (S::one() + S::from_f64(3.0) * a * x * x)
            }
        }
    }

    /// Apply in place to a slice.
    pub fn apply_slice<S: Real>(self, xs: &mut [S]) {
        if self != Activation::Identity {
            for x in xs {
                *x = self.apply(*x);
            }
        }
    }

    pub const ALL: [Activation; 4] = [
        Activation::Relu,
        Activation::Gelu,
        Activation::Tanh,
        Activation::Identity,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigma_of_zero_is_zero() {
        for a in Activation::ALL {
            assert_eq!(a.apply(0.0f64), 0.0, "{a:?}");
        }
    }

    #[test]
    fn derivative_matches_central_difference() {
        // Reference: (sigma(x+h) - sigma(x-h)) / 2h, error O(h^2) ~ 1e-10.
        let h = 1e-5;
        for a in Activation::ALL {
            for &x in &[-2.3f64, -0.7, 0.31, 1.4185, 3.0] {
                let fd = (a.apply(x + h) - a.apply(x - h)) / (2.0 * h);
                assert!((fd - a.derivative(x)).abs() < 1e-8, "{a:?} at {x}");
            }
        }
    }

    #[test]
    fn gelu_lipschitz_is_the_sup_of_the_derivative() {
        // Dense grid on [-10, 10], step 1e-5: the max of |gelu'| must not exceed the constant
        // and must come within 1e-9 of it (the derivative is flat at the maximiser).
        let mut best = 0.0f64;
        let n = 2_000_000;
        for i in 0..=n {
            let x = -10.0 + 20.0 * i as f64 / n as f64;
            best = best.max(Activation::Gelu.derivative(x).abs());
        }
        assert!(best <= GELU_LIPSCHITZ + 1e-15, "{best}");
        assert!(GELU_LIPSCHITZ - best < 1e-9, "{best}");
        // tanh: sup |tanh'| = 1 at 0; ReLU and identity: slope 1.
        assert_eq!(Activation::Tanh.derivative(0.0f64), 1.0);
        assert_eq!(Activation::Relu.lipschitz(), 1.0);
    }
}
