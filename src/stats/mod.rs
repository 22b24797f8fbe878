//! Shared statistics: log grids, confidence intervals and growth-law fits, one implementation
//! each, used by `tasks`, `capacity` and the experiments.
//!
//! - [`grid`]: geometric grids (integer and real) with a documented end rule.
//! - [`interval`]: the Student t interval for a mean and the exact Clopper-Pearson interval for
//!   a binomial proportion.
//! - [`bootstrap`]: the seeded percentile bootstrap of any statistic.
//! - [`growth`]: least-squares growth laws a + b g(T) and their comparison.
//! - [`logistic`]: the level crossing of a success-rate curve (binomial logistic fit, profile
//!   interval, separation as a status).
//!
//! Pure computation on `f64`: no I/O; the only randomness is the bootstrap's, from an explicit
//! seed. Depends on nothing above `error`.

pub mod bootstrap;
pub mod grid;
pub mod growth;
pub mod interval;
pub mod logistic;

pub use bootstrap::{mean_interval, percentile_interval};
pub use grid::{log_grid, log_grid_f64};
pub use interval::{StudentT, clopper_pearson, student_t};
