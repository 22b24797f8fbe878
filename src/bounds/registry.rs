//! The bound registry: one typed [`BoundId`] per bound, with its display name, status, source
//! and the function that evaluates its row. [`super::all_bounds`] walks [`BoundId::ALL`] in
//! order; every consumer selects rows by id ([`super::BoundRow::id`]), never by name or
//! position, so renaming or inserting a bound cannot silently move a figure.
//!
//! Adding a bound: write its formula and its row function (`fn(&RowInputs) ->
//! Result<Option<RowValues>>`, `None` where it does not apply) in one file of `bounds`, then add
//! its variant to [`BoundId`] and its line to `REGISTRY` (same position; bump `N`). A registry
//! out of order or with a variant listed twice does not compile; a variant with no line is
//! caught by the test `every_variant_has_a_registry_line`.

use super::baselines::{
    lower_bound_row, maurey_style_row, parameter_counting_row, spectral_flat_row,
};
use super::deep::{deep_post_hoc_row, deep_round1_row, deep_row};
use super::inputs::BoundParams;
use super::single_head::{
    explicit_closed_form_row, explicit_post_hoc_row, explicit_round1_row, explicit_row, paper_row,
};
use super::table::{RowInputs, RowValues};
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// How far a row can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Status {
    /// Proved in `docs/derivations.md` from cited statements, constants explicit.
    Rigorous,
    /// A closed form of a rigorous bound used for plots (drops ceilings, freezes a log): a
    /// shape, not a bound.
    ClosedForm,
    /// The paper's formula with the unconfirmed constant `c0` (docs/derivations.md §4).
    PaperShape { c0: f64 },
    /// A comparison bound assembled in the style of another paper.
    Baseline,
    /// A lower bound on what any learner needs.
    LowerBound,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Rigorous => write!(f, "rigorous"),
            Status::ClosedForm => write!(f, "closed form, not a bound"),
            Status::PaperShape { c0 } => write!(f, "paper shape, c0 = {c0}"),
            Status::Baseline => write!(f, "baseline"),
            Status::LowerBound => write!(f, "lower bound"),
        }
    }
}

const SRC_EXPLICIT: &str = "docs/derivations.md#12-tightened-explicit-bounds";
const SRC_ROUND1: &str = "docs/derivations.md#3-explicit-single-head-bound";
const SRC_PAPER: &str =
    "Edelman et al. 2022; docs/derivations.md#4-the-papers-single-head-bound--shape";
const SRC_DEEP: &str = "docs/derivations.md#126-the-deep-bound";
const SRC_DEEP_ROUND1: &str = "docs/derivations.md#5-multi-head-multi-layer";
const SRC_POST_HOC: &str = "docs/derivations.md#8-post-hoc-bound-for-trained-weights";
const SRC_BASELINES: &str = "docs/derivations.md#9-baselines";

/// Every bound of [`super::all_bounds`]. The serialized form (snake case) is stable; the
/// display name ([`BoundId::name`]) is for people and may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundId {
    /// Our explicit single-head bound (numeric Dudley).
    Explicit,
    /// Its closed form `C / eps^2` (Dudley in closed form).
    ExplicitClosedForm,
    /// The explicit bound at the post-hoc radius grid.
    ExplicitPostHoc,
    /// The explicit single-head bound before the tightenings (sections 3, 6, 7).
    ExplicitRound1,
    /// The paper's single-head shape with free constant `c0`.
    PaperShape,
    /// Our multi-head, multi-layer bound.
    Deep,
    /// The deep bound at the post-hoc radius grid.
    DeepPostHoc,
    /// The deep bound before the tightenings (section 5).
    DeepRound1,
    /// Spectral bound on the flattened input (BFT 2017 style).
    SpectralFlat,
    /// Sequence-length-free Maurey-style bound (Trauger-Tewari style).
    MaureyStyle,
    /// Parameter counting, VC ~ L P ln(T P).
    ParameterCounting,
    /// VC lower bound of s-sparse AND.
    SparseAndLowerBound,
}

/// One registry entry: what a row is called, how far it can be trusted, where it is derived,
/// and how it is evaluated.
#[derive(Clone, Copy)]
pub struct BoundInfo {
    pub id: BoundId,
    /// Display name (tables, legends, JSON `name`).
    pub name: &'static str,
    /// Where the formula is derived or stated.
    pub source: &'static str,
    status: fn(&BoundParams) -> Status,
    pub(crate) eval: fn(&RowInputs) -> Result<Option<RowValues>>,
}

impl BoundInfo {
    /// The row's status at `params` (the paper shape carries `params.c0`).
    pub fn status(&self, params: &BoundParams) -> Status {
        (self.status)(params)
    }
}

/// Number of bounds.
const N: usize = 12;

const fn entry(
    id: BoundId,
    name: &'static str,
    source: &'static str,
    status: fn(&BoundParams) -> Status,
    eval: fn(&RowInputs) -> Result<Option<RowValues>>,
) -> BoundInfo {
    BoundInfo {
        id,
        name,
        source,
        status,
        eval,
    }
}

/// The registry: one line per bound, in [`BoundId`] declaration order, which is the row order
/// of [`super::all_bounds`] (checked when compiling).
#[rustfmt::skip]
const REGISTRY: [BoundInfo; N] = [
    entry(BoundId::Explicit, "explicit single-head (ours)", SRC_EXPLICIT, |_| Status::Rigorous, explicit_row),
    entry(BoundId::ExplicitClosedForm, "explicit single-head, closed-form shape C/eps^2 (not a bound)", SRC_EXPLICIT, |_| Status::ClosedForm, explicit_closed_form_row),
    entry(BoundId::ExplicitPostHoc, "explicit single-head, post-hoc (radii grid)", SRC_POST_HOC, |_| Status::Rigorous, explicit_post_hoc_row),
    entry(BoundId::ExplicitRound1, "explicit single-head, round 1 (before the tightenings)", SRC_ROUND1, |_| Status::Rigorous, explicit_round1_row),
    entry(BoundId::PaperShape, "paper single-head (Edelman et al. 2022)", SRC_PAPER, |p| Status::PaperShape { c0: p.c0 }, paper_row),
    entry(BoundId::Deep, "multi-head multi-layer (ours)", SRC_DEEP, |_| Status::Rigorous, deep_row),
    entry(BoundId::DeepPostHoc, "multi-head multi-layer (ours), post-hoc (radii grid)", SRC_POST_HOC, |_| Status::Rigorous, deep_post_hoc_row),
    entry(BoundId::DeepRound1, "multi-head multi-layer, round 1 (before the tightenings)", SRC_DEEP_ROUND1, |_| Status::Rigorous, deep_round1_row),
    entry(BoundId::SpectralFlat, "spectral, flattened input (BFT 2017 style)", SRC_BASELINES, |_| Status::Baseline, spectral_flat_row),
    entry(BoundId::MaureyStyle, "sequence-length-free, Maurey (Trauger-Tewari style)", SRC_BASELINES, |_| Status::Baseline, maurey_style_row),
    entry(BoundId::ParameterCounting, "parameter counting, VC ~ L P ln(T P)", SRC_BASELINES, |_| Status::Baseline, parameter_counting_row),
    entry(BoundId::SparseAndLowerBound, "lower bound, s-sparse AND: VC >= s floor(log2(T/s))", SRC_BASELINES, |_| Status::LowerBound, lower_bound_row),
];

// Entry i is the variant with discriminant i: `info` indexes by it.
const _: () = {
    let mut i = 0;
    while i < N {
        assert!(
            REGISTRY[i].id as usize == i,
            "REGISTRY must list every BoundId once, in declaration order"
        );
        i += 1;
    }
};

impl BoundId {
    /// Every bound, in the row order of [`super::all_bounds`] (the registry's order).
    pub const ALL: [BoundId; N] = {
        let mut all = [BoundId::Explicit; N];
        let mut i = 0;
        while i < N {
            all[i] = REGISTRY[i].id;
            i += 1;
        }
        all
    };

    /// The registry entry of this bound.
    pub fn info(self) -> BoundInfo {
        REGISTRY[self as usize]
    }

    /// Display name (see [`BoundInfo::name`]).
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Status at `params` (see [`BoundInfo::status`]).
    pub fn status(self, params: &BoundParams) -> Status {
        self.info().status(params)
    }

    /// Source (see [`BoundInfo::source`]).
    pub fn source(self) -> &'static str {
        self.info().source
    }

    /// True for the rows drawn dashed in figures: a closed form or a post-hoc variant of
    /// another row.
    pub fn is_variant(self) -> bool {
        matches!(
            self,
            BoundId::ExplicitClosedForm
                | BoundId::ExplicitPostHoc
                | BoundId::DeepPostHoc
                | BoundId::ExplicitRound1
                | BoundId::DeepRound1
        )
    }
}

impl std::fmt::Display for BoundId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Records the variant names serde's derive passes to `deserialize_enum`: the list of
    /// every `BoundId` variant, independent of the registry.
    struct Variants(Option<&'static [&'static str]>);

    impl<'de> serde::Deserializer<'de> for &mut Variants {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: serde::de::Visitor<'de>>(
            self,
            _: V,
        ) -> std::result::Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("only enums"))
        }
        fn deserialize_enum<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> std::result::Result<V::Value, Self::Error> {
            self.0 = Some(variants);
            Err(serde::de::Error::custom("recorded"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
            ignored_any
        }
    }

    #[test]
    fn every_variant_has_a_registry_line() {
        let mut v = Variants(None);
        assert!(BoundId::deserialize(&mut v).is_err());
        let variants = v.0.expect("BoundId deserializes as an enum");
        assert_eq!(variants.len(), BoundId::ALL.len(), "{variants:?}");
        for (id, key) in BoundId::ALL.iter().zip(variants) {
            assert_eq!(serde_json::to_string(id).unwrap(), format!("\"{key}\""));
            assert_eq!(id.info().id, *id);
        }
    }

    #[test]
    fn ids_and_names_are_unique() {
        let names: HashSet<&str> = BoundId::ALL.iter().map(|id| id.name()).collect();
        assert_eq!(names.len(), BoundId::ALL.len());
        let keys: HashSet<String> = BoundId::ALL
            .iter()
            .map(|id| serde_json::to_string(id).unwrap())
            .collect();
        assert_eq!(keys.len(), BoundId::ALL.len());
        assert_eq!(
            serde_json::to_string(&BoundId::PaperShape).unwrap(),
            "\"paper_shape\""
        );
    }
}
