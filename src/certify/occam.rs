//! The Occam half of the certificate (docs/certificates.md#2-the-code-and-the-occam-bound):
//! err_S(g) on the training sample. The code length and the bounds themselves are pure
//! formulas in `bounds::occam` (`junta_code_bits`, `occam_kl`, `occam_hoeffding`).

use super::Junta;
use crate::tasks::Dataset;

/// err_S(g) = (1/m) #{i : y_i g(x_i) <= 0}: with g in {-1, +1}, the fraction of labels g gets
/// wrong. 0 for an empty sample (callers refuse m = 0 before).
pub fn train_error(junta: &Junta, train: &Dataset) -> f64 {
    if train.is_empty() {
        return 0.0;
    }
    let wrong = train
        .iter()
        .filter(|(x, y)| i32::from(*y) * i32::from(junta.eval(x)) <= 0)
        .count();
    wrong as f64 / train.len() as f64
}
