//! One row per applicable bound for a parameter set: [`all_bounds`], walking the registry
//! ([`super::registry`]) in order.

use super::deep::validate_deep;
use super::generalization::gap_ln;
use super::inputs::{BoundParams, HeadRadii, LayerRadii, Setting, check_sparsity};
use super::registry::{BoundId, Status};
use super::tightening::{Tightening, head_bound};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// One bound evaluated at one parameter set. Absent numbers do not apply to that bound.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundRow {
    /// Which bound this is: select rows by this, never by `name`.
    pub id: BoundId,
    /// Display name, from the registry.
    pub name: &'static str,
    /// Bound on `ln N(F, eps, S)` at `params.eps`.
    pub log_covering: Option<f64>,
    /// Bound on the empirical Rademacher complexity `Rad_S(F)`.
    pub rademacher: Option<f64>,
    /// Bound on the generalization gap of the `gamma`-ramp loss, w.p. `>= 1 - delta`.
    pub gap: Option<f64>,
    /// A VC dimension (parameter counting, or the lower bound).
    pub vc_dimension: Option<f64>,
    /// From the registry.
    pub status: Status,
    /// Where the formula is derived or stated (from the registry).
    pub source: &'static str,
    /// `log_covering` hit `f64::MAX` (the true bound is larger; Rademacher and gap stay valid).
    pub saturated: bool,
}

/// Radii of the deep model's layers for [`Radii::deep`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeepRadii {
    /// Every layer and head bounded by the head radii (`Radii::head`) and one pair of `W_C`
    /// radii. The post-hoc row rounds these 6 radii to the grid (`K = 6` in (I23)).
    Uniform {
        /// Bound on `||W_C||_2`.
        b_c: f64,
        /// Bound on `||W_C||_{2,1}`.
        b_c21: f64,
    },
    /// One entry per layer (`setting.layers` of them; each bounds every head of its layer).
    /// The post-hoc row rounds `B_w` and all `5 L` layer radii to the grid (`K = 5 L + 1`).
    PerLayer(Vec<LayerRadii>),
}

/// Radii for [`all_bounds`]. `head` feeds the single-head rows and gives the deep row its
/// read-out radius `B_w`; the deep rows are produced only when `deep` is given (required when
/// `heads` or `layers` exceed 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Radii {
    pub head: HeadRadii,
    pub deep: Option<DeepRadii>,
}

impl Radii {
    /// Single-head rows only.
    pub fn single_head(head: HeadRadii) -> Self {
        Radii { head, deep: None }
    }

    /// The head's radii on every layer and head, with `W_C` radii `b_c` (spectral) and
    /// `b_c21` (`(2,1)`).
    pub fn uniform(head: HeadRadii, b_c: f64, b_c21: f64) -> Self {
        Radii {
            head,
            deep: Some(DeepRadii::Uniform { b_c, b_c21 }),
        }
    }

    /// Per-layer radii for the deep rows (the max over each layer's heads); `head` still feeds
    /// the single-head rows and `B_w`.
    pub fn per_layer(head: HeadRadii, layers: Vec<LayerRadii>) -> Self {
        Radii {
            head,
            deep: Some(DeepRadii::PerLayer(layers)),
        }
    }

    /// From optional `W_C` radii, as a user gives them: both or neither.
    pub fn with_optional_c(head: HeadRadii, b_c: Option<f64>, b_c21: Option<f64>) -> Result<Self> {
        match (b_c, b_c21) {
            (Some(b_c), Some(b_c21)) => Ok(Radii::uniform(head, b_c, b_c21)),
            (None, None) => Ok(Radii::single_head(head)),
            (Some(_), None) => Err(missing_c("b_c21")),
            (None, Some(_)) => Err(missing_c("b_c")),
        }
    }

    /// The deep model's per-layer radii and read-out radius `B_w`, if given.
    pub(crate) fn layers(&self, setting: &Setting) -> Option<(Vec<LayerRadii>, f64)> {
        let h = &self.head;
        match self.deep.as_ref()? {
            DeepRadii::Uniform { b_c, b_c21 } => {
                let layer = LayerRadii {
                    b_qk: h.b_qk,
                    b_v: h.b_v,
                    b_v21: h.b_v21,
                    b_c: *b_c,
                    b_c21: *b_c21,
                };
                Some((vec![layer; setting.layers], h.b_w))
            }
            DeepRadii::PerLayer(layers) => Some((layers.clone(), h.b_w)),
        }
    }
}

fn missing_c(field: &str) -> Error {
    Error::invalid(
        field,
        "(missing)",
        "given together with the other W_C radius (b_c and b_c21: both or neither)",
    )
}

/// What a row function reads: the validated inputs of [`all_bounds`].
pub(crate) struct RowInputs<'a> {
    pub setting: &'a Setting,
    pub radii: &'a Radii,
    pub params: &'a BoundParams,
    /// `ln(2 / delta)`.
    pub ln_conf: f64,
}

/// The numbers of one row (see [`BoundRow`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct RowValues {
    pub log_covering: Option<f64>,
    pub rademacher: Option<f64>,
    pub gap: Option<f64>,
    pub vc_dimension: Option<f64>,
    pub saturated: bool,
}

impl RowValues {
    /// A row from `ln N(eps)` and a Rademacher bound, with the gap (I22) at `ln(2/delta)` =
    /// `ln_conf` (the post-hoc rows pass their grid's).
    pub fn covering(ln_n: f64, rad: f64, x: &RowInputs, ln_conf: f64) -> Self {
        RowValues {
            log_covering: Some(ln_n),
            rademacher: Some(rad),
            gap: Some(gap_ln(rad, x.params.gamma, x.setting.num_samples, ln_conf)),
            vc_dimension: None,
            saturated: ln_n >= f64::MAX,
        }
    }
}

/// Rademacher bound of the head class `F_head` from our tightened explicit bound (section 12:
/// `L2(S)` covers, log-weighted split, volumetric score cover, Dudley to `b/2`), **rigorous**.
/// Source: `docs/derivations.md#12-tightened-explicit-bounds`.
pub fn explicit_rademacher(
    setting: &Setting,
    radii: &HeadRadii,
    params: &BoundParams,
) -> Result<f64> {
    explicit_with(setting, radii, params, Tightening::ALL).map(|b| b.1)
}

/// Gap bound (I22) of our tightened explicit single-head bound (with the ramp range (I31) and,
/// when `params.b_x_fixed`, the one-sided confidence (I32)), **rigorous** for fixed radii.
/// Source: `docs/derivations.md#12-tightened-explicit-bounds`.
pub fn explicit_gap(setting: &Setting, radii: &HeadRadii, params: &BoundParams) -> Result<f64> {
    explicit_with(setting, radii, params, Tightening::ALL).map(|b| b.2)
}

/// The explicit single-head bound with the tightenings `t` at fixed radii: `(ln N(eps),
/// Rademacher bound of F_head, gap)`, **rigorous** for every `t` ([`Tightening::ROUND_1`] is the
/// bound of sections 3, 6, 7). Source: `docs/derivations.md#12-tightened-explicit-bounds`.
pub fn explicit_with(
    setting: &Setting,
    radii: &HeadRadii,
    params: &BoundParams,
    t: Tightening,
) -> Result<(f64, f64, f64)> {
    setting.validate()?;
    radii.validate()?;
    params.validate()?;
    let b = head_bound(setting, radii, params, t, (2.0 / params.delta).ln())?;
    Ok((b.log_covering, b.rademacher, b.gap))
}

/// Every applicable bound for one parameter set, in the order of [`BoundId::ALL`]. Single-head
/// rows (ours, its closed form, post-hoc, the paper's shape, the Maurey-style baseline) need
/// `heads = layers = 1`; the deep rows need `radii.deep` (required when `heads` or `layers`
/// exceed 1). The post-hoc rows treat the radii as the trained norms.
pub fn all_bounds(setting: &Setting, radii: &Radii, params: &BoundParams) -> Result<Vec<BoundRow>> {
    validate(setting, radii, params)?;
    let mut rows = Vec::with_capacity(BoundId::ALL.len());
    for id in BoundId::ALL {
        rows.extend(evaluate(id, setting, radii, params)?);
    }
    Ok(rows)
}

/// The one row `id` of [`all_bounds`] (same validation, same numbers), `None` where it does not
/// apply; cheaper when only one bound is needed.
pub fn bound_row(
    id: BoundId,
    setting: &Setting,
    radii: &Radii,
    params: &BoundParams,
) -> Result<Option<BoundRow>> {
    validate(setting, radii, params)?;
    evaluate(id, setting, radii, params)
}

fn validate(setting: &Setting, radii: &Radii, params: &BoundParams) -> Result<()> {
    setting.validate()?;
    radii.head.validate()?;
    params.validate()?;
    check_sparsity(setting, params)?;
    match radii.layers(setting) {
        Some((layers, b_w)) => validate_deep(setting, &layers, b_w, params),
        // The deep model is the only bound for H > 1 or L > 1.
        None if !setting.is_single_head() => Err(Error::invalid(
            "b_c",
            "(missing)",
            "W_C radii (b_c, b_c21, or per-layer radii) when heads > 1 or layers > 1",
        )),
        None => Ok(()),
    }
}

/// Row `id` from validated inputs.
fn evaluate(
    id: BoundId,
    setting: &Setting,
    radii: &Radii,
    params: &BoundParams,
) -> Result<Option<BoundRow>> {
    let x = RowInputs {
        setting,
        radii,
        params,
        ln_conf: (2.0 / params.delta).ln(),
    };
    let info = id.info();
    Ok((info.eval)(&x)?.map(|v| BoundRow {
        id,
        name: info.name,
        log_covering: v.log_covering,
        rademacher: v.rademacher,
        gap: v.gap,
        vc_dimension: v.vc_dimension,
        status: info.status(params),
        source: info.source,
        saturated: v.saturated,
    }))
}

/// The row `id` of `rows`, or an error saying it does not apply at this parameter set.
pub fn row(rows: &[BoundRow], id: BoundId) -> Result<&BoundRow> {
    rows.iter().find(|r| r.id == id).ok_or_else(|| {
        Error::invalid(
            "bound",
            id.name(),
            "a bound that applies at this setting (single-head rows need heads = layers = 1, deep rows W_C radii)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::fixtures::{unit_head, unit_setting};

    #[test]
    fn rows_take_status_and_source_from_the_registry() {
        // Both the single-head table and the deep one: every row's name, status and source are
        // its registry entry's, and ids appear at most once, in registry order.
        let mut s = unit_setting();
        s.num_samples = 100;
        s.context_len = 10;
        let p = BoundParams {
            c0: 3.0,
            ..BoundParams::default()
        };
        for (s, radii) in [
            (s, Radii::uniform(unit_head(), 1.0, 1.0)),
            (
                Setting {
                    heads: 2,
                    layers: 3,
                    ..s
                },
                Radii::uniform(unit_head(), 1.0, 1.0),
            ),
        ] {
            let rows = all_bounds(&s, &radii, &p).unwrap();
            assert!(rows.windows(2).all(|w| w[0].id < w[1].id));
            for r in &rows {
                assert_eq!(r.name, r.id.name());
                assert_eq!(r.source, r.id.source());
                assert_eq!(r.status, r.id.status(&p));
            }
        }
        assert_eq!(
            BoundId::PaperShape.status(&p),
            Status::PaperShape { c0: 3.0 }
        );
    }

    #[test]
    fn uniform_and_equal_per_layer_radii_give_the_same_deep_row() {
        // Uniform radii are per-layer radii that are all equal; only the post-hoc grid differs
        // (K = 6 tied radii vs K = 5 L + 1).
        let s = Setting {
            num_samples: 1000,
            context_len: 10,
            heads: 2,
            layers: 3,
            ..unit_setting()
        };
        // B_w = 1e-6 bounds |f| by 1e-6, so Rademacher terms are tiny and the gap is led by
        // the confidence term 3 sqrt(ln(2/delta_J) / (2m)), below 1.
        let head = HeadRadii {
            b_w: 1e-6,
            ..unit_head()
        };
        let layer = LayerRadii {
            b_qk: head.b_qk,
            b_v: head.b_v,
            b_v21: head.b_v21,
            b_c: 0.5,
            b_c21: 0.7,
        };
        let p = BoundParams::default();
        let uni = all_bounds(&s, &Radii::uniform(head, 0.5, 0.7), &p).unwrap();
        let per = all_bounds(&s, &Radii::per_layer(head, vec![layer; 3]), &p).unwrap();
        assert_eq!(
            row(&uni, BoundId::Deep).unwrap(),
            row(&per, BoundId::Deep).unwrap()
        );
        // Same grid radii, so the same covering number; more grid radii (16 vs 6) cost more
        // confidence, so the per-layer post-hoc gap is strictly larger.
        let (u, q) = (
            row(&uni, BoundId::DeepPostHoc).unwrap(),
            row(&per, BoundId::DeepPostHoc).unwrap(),
        );
        assert_eq!(u.log_covering, q.log_covering);
        let (gu, gq) = (u.gap.unwrap(), q.gap.unwrap());
        assert!(gu < 1.0 && gq > gu, "{gq} vs {gu}");
    }

    #[test]
    fn per_layer_radii_enter_the_deep_row_layer_by_layer() {
        // A larger value radius in one layer raises the deep covering number; the wrong number
        // of layers is a shape error naming the field.
        let s = Setting {
            num_samples: 1000,
            context_len: 10,
            layers: 2,
            ..unit_setting()
        };
        let layer = LayerRadii {
            b_qk: 1.0,
            b_v: 1.0,
            b_v21: 1.0,
            b_c: 1.0,
            b_c21: 1.0,
        };
        let big = LayerRadii { b_v: 4.0, ..layer };
        let p = BoundParams::default();
        let ln_n = |layers: Vec<LayerRadii>| {
            let rows = all_bounds(&s, &Radii::per_layer(unit_head(), layers), &p).unwrap();
            row(&rows, BoundId::Deep).unwrap().log_covering.unwrap()
        };
        assert!(ln_n(vec![layer, big]) > ln_n(vec![layer, layer]));
        assert!(ln_n(vec![big, layer]) > ln_n(vec![layer, layer]));
        let e = all_bounds(&s, &Radii::per_layer(unit_head(), vec![layer]), &p).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    }

    #[test]
    fn missing_w_c_radii_are_named() {
        let e = Radii::with_optional_c(unit_head(), Some(1.0), None).unwrap_err();
        assert!(e.to_string().contains("b_c21"), "{e}");
        let s = Setting {
            heads: 2,
            context_len: 10,
            ..unit_setting()
        };
        let e = all_bounds(
            &s,
            &Radii::single_head(unit_head()),
            &BoundParams::default(),
        )
        .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidValue { field, .. } if field == "b_c"),
            "{e}"
        );
    }
}
