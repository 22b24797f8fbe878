//! First-order optimisers shared by training and the empirical Rademacher estimator.
//!
//! argmin style: the problem is an [`Objective`] (value and gradient at a parameter set), the
//! parameter set exposes its tensors as flat slices ([`Parameters`]), and an optimiser
//! ([`Sgd`], [`Adam`]) only ever sees slices. A [`Projection`] runs after each step, so
//! bounded-norm training and projected ascent over a norm ball are the same loop
//! ([`minimize`]); maximising is minimising the negated objective.
//! This module never knows what a model is, and never draws data.

use crate::error::{Error, Result};
use crate::tensor::Real;

/// A parameter set seen as an ordered list of flat tensors. A gradient has the same type, so
/// `grad.tensors()[j]` matches `params.tensors()[j]` in length and meaning.
pub trait Parameters<S: Real> {
    /// Stable names, one per tensor (e.g. `"blocks[0].heads[1].w_q"`), for messages and checks.
    fn names(&self) -> Vec<String>;
    fn tensors(&self) -> Vec<&[S]>;
    fn tensors_mut(&mut self) -> Vec<&mut [S]>;
    /// Same shapes, all zeros (a gradient buffer).
    fn zeros_like(&self) -> Self
    where
        Self: Sized;

    fn num_params(&self) -> usize {
        self.tensors().iter().map(|t| t.len()).sum()
    }
    /// All entries in tensor order.
    fn flatten(&self) -> Vec<S> {
        self.tensors().concat()
    }
}

/// `impl Parameters<$s> for $ty` by delegation to its field `$field` (itself `Parameters`):
/// the same names and tensors, and a gradient buffer that is `self` with that field zeroed
/// (the other fields, untrained state such as a fixed embedding or a dropout stream, cloned).
/// For wrappers that carry a model plus state; `$ty` must be `Clone`.
#[cfg(feature = "train")]
macro_rules! delegate_parameters {
    ($ty:ty, $s:ty, $field:ident) => {
        impl $crate::optim::Parameters<$s> for $ty {
            fn names(&self) -> Vec<String> {
                $crate::optim::Parameters::<$s>::names(&self.$field)
            }
            fn tensors(&self) -> Vec<&[$s]> {
                $crate::optim::Parameters::<$s>::tensors(&self.$field)
            }
            fn tensors_mut(&mut self) -> Vec<&mut [$s]> {
                $crate::optim::Parameters::<$s>::tensors_mut(&mut self.$field)
            }
            fn zeros_like(&self) -> Self {
                Self {
                    $field: $crate::optim::Parameters::<$s>::zeros_like(&self.$field),
                    ..self.clone()
                }
            }
        }
    };
}
#[cfg(feature = "train")]
pub(crate) use delegate_parameters;

/// Something to minimise: value and gradient at `params`. `&mut self` so an objective may
/// draw a fresh minibatch per call from its own seeded generator.
pub trait Objective<S: Real, P: Parameters<S>> {
    /// Returns the value and overwrites `grad` with the gradient.
    fn value_and_grad(&mut self, params: &P, grad: &mut P) -> Result<f64>;
}

/// Applied to the parameters after every optimiser step (e.g. projection onto a norm ball).
pub trait Projection<P> {
    fn project(&self, params: &mut P) -> Result<()>;
}

/// No constraint.
pub struct NoProjection;

impl<P> Projection<P> for NoProjection {
    fn project(&self, _: &mut P) -> Result<()> {
        Ok(())
    }
}

impl<P, F: Fn(&mut P) -> Result<()>> Projection<P> for F {
    fn project(&self, params: &mut P) -> Result<()> {
        self(params)
    }
}

/// One update rule on matching (parameter, gradient) tensors.
pub trait Optimizer<S: Real> {
    fn step<P: Parameters<S>>(&mut self, params: &mut P, grad: &P) -> Result<()>;
}

/// Check the gradient is finite and shaped like the parameters; lazily size the state.
fn prepare<S: Real, P: Parameters<S>>(params: &P, grad: &P, state: &mut Vec<Vec<S>>) -> Result<()> {
    let (pt, gt) = (params.tensors(), grad.tensors());
    if pt.len() != gt.len() {
        return Err(Error::shape("gradient tensors", pt.len(), gt.len()));
    }
    let names = grad.names();
    for (j, (p, g)) in pt.iter().zip(&gt).enumerate() {
        if p.len() != g.len() {
            return Err(Error::shape(
                format!("gradient of {}", names[j]),
                p.len(),
                g.len(),
            ));
        }
        crate::tensor::check_finite(&format!("gradient of {}", names[j]), g)?;
    }
    if state.is_empty() {
        *state = pt.iter().map(|p| vec![S::zero(); p.len()]).collect();
    } else if state.iter().map(Vec::len).ne(pt.iter().map(|p| p.len())) {
        return Err(Error::shape(
            "optimiser state",
            "the parameter set it was first used on",
            "another",
        ));
    }
    Ok(())
}

/// Gradient descent with optional heavy-ball momentum: v <- mu v + g, p <- p - lr v.
#[derive(Clone, Debug)]
pub struct Sgd<S> {
    pub lr: f64,
    pub momentum: f64,
    velocity: Vec<Vec<S>>,
}

impl<S: Real> Sgd<S> {
    pub fn new(lr: f64, momentum: f64) -> Result<Self> {
        crate::error::check::positive("lr", lr)?;
        if !(0.0..1.0).contains(&momentum) {
            return Err(Error::invalid("momentum", momentum, "a number in [0, 1)"));
        }
        Ok(Sgd {
            lr,
            momentum,
            velocity: Vec::new(),
        })
    }
}

impl<S: Real> Optimizer<S> for Sgd<S> {
    fn step<P: Parameters<S>>(&mut self, params: &mut P, grad: &P) -> Result<()> {
        prepare(params, grad, &mut self.velocity)?;
        let (lr, mu) = (S::from_f64(self.lr), S::from_f64(self.momentum));
        for ((p, g), v) in params
            .tensors_mut()
            .into_iter()
            .zip(grad.tensors())
            .zip(&mut self.velocity)
        {
            for ((pi, &gi), vi) in p.iter_mut().zip(g).zip(v.iter_mut()) {
                *vi = mu * *vi + gi;
                *pi -= lr * *vi;
            }
        }
        Ok(())
    }
}

/// Adam (Kingma & Ba 2015) with bias correction.
#[derive(Clone, Debug)]
pub struct Adam<S> {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    t: i32,
    m: Vec<Vec<S>>,
    v: Vec<Vec<S>>,
}

impl<S: Real> Adam<S> {
    /// beta1 = 0.9, beta2 = 0.999, eps = 1e-8.
    pub fn new(lr: f64) -> Result<Self> {
        Self::with(lr, 0.9, 0.999, 1e-8)
    }
    pub fn with(lr: f64, beta1: f64, beta2: f64, eps: f64) -> Result<Self> {
        crate::error::check::positive("lr", lr)?;
        crate::error::check::open_unit("beta2", beta2)?;
        crate::error::check::positive("eps", eps)?;
        if !(0.0..1.0).contains(&beta1) {
            return Err(Error::invalid("beta1", beta1, "a number in [0, 1)"));
        }
        Ok(Adam {
            lr,
            beta1,
            beta2,
            eps,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        })
    }
}

impl<S: Real> Optimizer<S> for Adam<S> {
    fn step<P: Parameters<S>>(&mut self, params: &mut P, grad: &P) -> Result<()> {
        prepare(params, grad, &mut self.m)?;
        prepare(params, grad, &mut self.v)?;
        self.t += 1;
        let (b1, b2) = (S::from_f64(self.beta1), S::from_f64(self.beta2));
        // Bias corrections folded into the step size and epsilon.
        let c1 = 1.0 - self.beta1.powi(self.t);
        let c2 = 1.0 - self.beta2.powi(self.t);
        let step = S::from_f64(self.lr * c2.sqrt() / c1);
        let eps = S::from_f64(self.eps * c2.sqrt());
        let one = S::one();
        for (((p, g), m), v) in params
            .tensors_mut()
            .into_iter()
            .zip(grad.tensors())
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            for (((pi, &gi), mi), vi) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                *mi = b1 * *mi + (one - b1) * gi;
                *vi = b2 * *vi + (one - b2) * gi * gi;
                *pi -= step * *mi / (vi.sqrt() + eps);
            }
        }
        Ok(())
    }
}

/// `steps` iterations of: value and gradient, optimiser step, projection. Returns the
/// objective value before each step. Stops with an error on a non-finite value or gradient.
pub fn minimize<S, P, O, Opt, Pr>(
    objective: &mut O,
    params: &mut P,
    optimizer: &mut Opt,
    projection: &Pr,
    steps: usize,
) -> Result<Vec<f64>>
where
    S: Real,
    P: Parameters<S>,
    O: Objective<S, P>,
    Opt: Optimizer<S>,
    Pr: Projection<P>,
{
    let mut grad = params.zeros_like();
    let mut values = Vec::with_capacity(steps);
    for _ in 0..steps {
        let value = crate::error::check::finite(
            "objective value",
            objective.value_and_grad(params, &mut grad)?,
        )?;
        values.push(value);
        optimizer.step(params, &grad)?;
        projection.project(params)?;
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flat vector as a parameter set.
    #[derive(Clone, Debug)]
    struct Vector(Vec<f64>);

    impl Parameters<f64> for Vector {
        fn names(&self) -> Vec<String> {
            vec!["x".into()]
        }
        fn tensors(&self) -> Vec<&[f64]> {
            vec![&self.0]
        }
        fn tensors_mut(&mut self) -> Vec<&mut [f64]> {
            vec![&mut self.0]
        }
        fn zeros_like(&self) -> Self {
            Vector(vec![0.0; self.0.len()])
        }
    }

    /// 0.5 ||x - c||^2, minimiser c (closed form); on the unit ball, c / ||c|| when ||c|| > 1.
    struct Quadratic(Vec<f64>);

    impl Objective<f64, Vector> for Quadratic {
        fn value_and_grad(&mut self, p: &Vector, g: &mut Vector) -> Result<f64> {
            let mut v = 0.0;
            for ((gi, &xi), &ci) in g.0.iter_mut().zip(&p.0).zip(&self.0) {
                *gi = xi - ci;
                v += 0.5 * (xi - ci).powi(2);
            }
            Ok(v)
        }
    }

    fn unit_ball(p: &mut Vector) -> Result<()> {
        let n = p.0.iter().map(|x| x * x).sum::<f64>().sqrt();
        if n > 1.0 {
            p.0.iter_mut().for_each(|x| *x /= n);
        }
        Ok(())
    }

    #[test]
    fn sgd_and_adam_reach_the_closed_form_minimiser() {
        let c = vec![3.0, -4.0];
        let mut x = Vector(vec![0.0, 0.0]);
        minimize(
            &mut Quadratic(c.clone()),
            &mut x,
            &mut Sgd::new(0.1, 0.9).unwrap(),
            &NoProjection,
            300,
        )
        .unwrap();
        assert!(
            (x.0[0] - 3.0).abs() < 1e-6 && (x.0[1] + 4.0).abs() < 1e-6,
            "{x:?}"
        );
        let mut x = Vector(vec![0.0, 0.0]);
        minimize(
            &mut Quadratic(c.clone()),
            &mut x,
            &mut Adam::new(0.05).unwrap(),
            &NoProjection,
            3000,
        )
        .unwrap();
        assert!(
            (x.0[0] - 3.0).abs() < 1e-3 && (x.0[1] + 4.0).abs() < 1e-3,
            "{x:?}"
        );
        // Projected: the minimiser over the unit ball is c/||c|| = (0.6, -0.8).
        let mut x = Vector(vec![0.0, 0.0]);
        minimize(
            &mut Quadratic(c),
            &mut x,
            &mut Sgd::new(0.1, 0.0).unwrap(),
            &unit_ball,
            300,
        )
        .unwrap();
        assert!(
            (x.0[0] - 0.6).abs() < 1e-9 && (x.0[1] + 0.8).abs() < 1e-9,
            "{x:?}"
        );
    }

    #[test]
    fn bad_settings_and_nan_gradients_are_errors() {
        assert!(Sgd::<f64>::new(-1.0, 0.0).is_err());
        assert!(Adam::<f64>::with(0.1, 1.0, 0.999, 1e-8).is_err());
        let mut x = Vector(vec![1.0]);
        let e = Sgd::new(0.1, 0.0)
            .unwrap()
            .step(&mut x, &Vector(vec![f64::NAN]))
            .unwrap_err();
        assert!(e.to_string().contains("gradient of x"), "{e}");
    }
}
