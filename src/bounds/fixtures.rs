//! Shared inputs of the unit tests: the all-ones setting and radii that the by-hand values
//! in each file's tests start from.

use super::inputs::{HeadRadii, LayerRadii, Setting};

/// `m = T = d = k = H = L = 1`.
pub(crate) fn unit_setting() -> Setting {
    Setting {
        num_samples: 1,
        context_len: 1,
        width: 1,
        value_dim: 1,
        heads: 1,
        layers: 1,
    }
}

/// Every head radius 1.
pub(crate) fn unit_head() -> HeadRadii {
    HeadRadii {
        b_x: 1.0,
        b_qk: 1.0,
        b_v: 1.0,
        b_v21: 1.0,
        b_w: 1.0,
    }
}

/// Every layer radius 1.
pub(crate) fn unit_layer() -> LayerRadii {
    LayerRadii {
        b_qk: 1.0,
        b_v: 1.0,
        b_v21: 1.0,
        b_c: 1.0,
        b_c21: 1.0,
    }
}

/// `v` is the hand value `expect` rounded outward: `expect <= v <= expect (1 + 1e-8)` (the
/// relative margin 1e-9 of `numerics::OUTWARD`, applied at most a few times).
#[track_caller]
pub(crate) fn assert_outward(v: f64, expect: f64) {
    assert!(
        v >= expect && v <= expect * (1.0 + 1e-8),
        "{v} is not {expect} rounded outward"
    );
}
