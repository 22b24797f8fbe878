//! Per-sample losses of the margin z = y f: value and derivative in f, numerically stable.

use crate::config::LossName;

/// A training loss with its margin parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    /// `ln(1 + e^{-z})`, evaluated as `max(-z, 0) + ln(1 + e^{-|z|})` so it never overflows.
    Logistic,
    /// `gamma`-ramp: 1 for `z <= 0`, `1 - z / gamma` for `0 < z < gamma`, 0 for `z >= gamma`.
    /// It upper-bounds the 0-1 error `[z <= 0]` and is `1/gamma`-Lipschitz (docs/derivations.md §1).
    Ramp { gamma: f64 },
}

impl Loss {
    pub fn from_config(name: LossName, gamma: f64) -> Loss {
        match name {
            LossName::Logistic => Loss::Logistic,
            LossName::Ramp => Loss::Ramp { gamma },
        }
    }

    /// Loss of prediction `f` on label `y` (+1 or -1).
    pub fn value(self, f: f64, y: f64) -> f64 {
        let z = y * f;
        match self {
            Loss::Logistic => (-z).max(0.0) + (-z.abs()).exp().ln_1p(),
            Loss::Ramp { gamma } => (1.0 - z / gamma).clamp(0.0, 1.0),
        }
    }

    /// dL/df. For the ramp the derivative at the two kinks is taken as 0 (a subgradient).
    pub fn derivative(self, f: f64, y: f64) -> f64 {
        let z = y * f;
        match self {
            // d/df ln(1 + e^{-yf}) = -y / (1 + e^{z}); e^{z} overflowing to inf gives -0, right.
            Loss::Logistic => -y / (1.0 + z.exp()),
            Loss::Ramp { gamma } => {
                if z > 0.0 && z < gamma {
                    -y / gamma
                } else {
                    0.0
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_closed_forms_and_extremes() {
        // ln 2 at f = 0 (closed form); derivative -y/2 there.
        assert!((Loss::Logistic.value(0.0, 1.0) - 2f64.ln()).abs() < 1e-15);
        assert_eq!(Loss::Logistic.derivative(0.0, -1.0), 0.5);
        // Large margins: value ~ e^{-z} (no underflow to a wrong number), large negative ~ -z.
        assert!((Loss::Logistic.value(50.0, 1.0) - (-50f64).exp()).abs() < 1e-30);
        assert_eq!(Loss::Logistic.value(-1e4, 1.0), 1e4);
        assert_eq!(Loss::Logistic.derivative(1e4, 1.0), 0.0);
        assert_eq!(Loss::Logistic.derivative(-1e4, 1.0), -1.0);
        // Central difference against the derivative.
        let (f, h) = (0.7, 1e-6);
        let fd =
            (Loss::Logistic.value(f + h, -1.0) - Loss::Logistic.value(f - h, -1.0)) / (2.0 * h);
        assert!((fd - Loss::Logistic.derivative(f, -1.0)).abs() < 1e-8);
    }

    #[test]
    fn ramp_by_hand() {
        let r = Loss::Ramp { gamma: 0.5 };
        assert_eq!(r.value(-1.0, 1.0), 1.0);
        assert_eq!(r.value(0.25, 1.0), 0.5);
        assert_eq!(r.value(0.25, -1.0), 1.0);
        assert_eq!(r.value(2.0, 1.0), 0.0);
        assert_eq!(r.derivative(0.25, 1.0), -2.0);
        assert_eq!(r.derivative(-0.25, -1.0), 2.0);
        assert_eq!(r.derivative(0.75, 1.0), 0.0);
    }
}
