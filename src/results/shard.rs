//! Shards: a deterministic partition of a sweep's independent units over `n` machines.
//!
//! Shard `i/n` (0 <= i < n) owns a unit (a cell, or an adaptive experiment's independent unit,
//! identified by a key string such as a cell hash) when
//! `u64_le(SHA-256("attnbounds shard v1" || key)[..8]) mod n == i`. The owner depends on the key
//! and `n` only (never on the order, the other units or the machine), so the `n` shards of a sweep
//! are disjoint and their union is the whole sweep: every trial of a cell runs in exactly one
//! shard. `0/1` is the whole sweep.
//!
//! Where the shard comes from ([`Shard::resolve`]): an explicit `--shard i/n` wins; otherwise,
//! inside a Slurm job array (`SLURM_ARRAY_TASK_ID` and `SLURM_ARRAY_TASK_COUNT` both set), the
//! task is shard `(SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_COUNT`
//! (`SLURM_ARRAY_TASK_MIN` taken as 0 when unset; the array must be contiguous, step 1);
//! otherwise the whole sweep.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::fmt;

/// One part of a partitioned sweep: `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: usize,
    count: usize,
}

/// The Slurm variables [`Shard::resolve`] reads.
pub const SLURM_VARS: [&str; 4] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_STEP",
];

impl Shard {
    /// The whole sweep (`0/1`).
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`; the error names the field and the allowed range.
    pub fn new(index: usize, count: usize) -> Result<Shard> {
        if count == 0 {
            return Err(Error::invalid("shard count", count, "at least 1"));
        }
        if index >= count {
            let allowed = format!("0 <= index < count = {count} (shards are numbered from 0)");
            return Err(Error::invalid("shard index", index, allowed));
        }
        Ok(Shard { index, count })
    }

    /// Parses `i/n`, e.g. `2/4`.
    pub fn parse(text: &str) -> Result<Shard> {
        let allowed = "i/n with integers 0 <= i < n, e.g. 0/4";
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| Error::invalid("shard", text, allowed))?;
        let num = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| Error::invalid("shard", text, allowed))
        };
        Shard::new(num(i)?, num(n)?).map_err(|_| Error::invalid("shard", text, allowed))
    }

    /// The shard of this process: `explicit` if given, else the Slurm array task from `env`
    /// (a lookup such as `|k| std::env::var(k).ok()`), else [`Shard::WHOLE`] (module doc).
    pub fn resolve(explicit: Option<Shard>, env: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        if let Some(s) = explicit {
            return Ok(s);
        }
        let (Some(id), Some(count)) = (env(SLURM_VARS[0]), env(SLURM_VARS[1])) else {
            return Ok(Shard::WHOLE);
        };
        let num = |name: &str, v: &str| {
            v.trim()
                .parse::<usize>()
                .map_err(|_| Error::invalid(name, v, "a non-negative integer (set by Slurm)"))
        };
        let id = num(SLURM_VARS[0], &id)?;
        let count = num(SLURM_VARS[1], &count)?;
        let min = env(SLURM_VARS[2]).map_or(Ok(0), |v| num(SLURM_VARS[2], &v))?;
        if let Some(step) = env(SLURM_VARS[3])
            && num(SLURM_VARS[3], &step)? != 1
        {
            let allowed = "1: a contiguous array such as --array=0-3 (or pass --shard i/n)";
            return Err(Error::invalid(SLURM_VARS[3], step, allowed));
        }
        let index = id.checked_sub(min).ok_or_else(|| {
            Error::invalid(
                SLURM_VARS[0],
                id,
                format!(">= SLURM_ARRAY_TASK_MIN = {min}"),
            )
        })?;
        Shard::new(index, count).map_err(|_| {
            let allowed = format!(
                "SLURM_ARRAY_TASK_MIN ({min}) <= id < MIN + SLURM_ARRAY_TASK_COUNT ({count}): a \
                 contiguous array (or pass --shard i/n)"
            );
            Error::invalid(SLURM_VARS[0], id, allowed)
        })
    }

    /// Shard number, from 0.
    pub fn index(self) -> usize {
        self.index
    }

    /// Number of shards.
    pub fn count(self) -> usize {
        self.count
    }

    /// True for `0/1`.
    pub fn is_whole(self) -> bool {
        self.count == 1
    }

    /// The shard (of `count`) that owns the unit `key` (module doc).
    pub fn owner(key: &str, count: usize) -> usize {
        let mut h = Sha256::new();
        h.update(b"attnbounds shard v1");
        h.update(key.as_bytes());
        let digest = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        // count >= 1 for every constructed Shard; the remainder fits a usize.
        (u64::from_le_bytes(first) % count.max(1) as u64) as usize
    }

    /// Whether this shard owns the unit `key`.
    pub fn owns(self, key: &str) -> bool {
        self.is_whole() || Shard::owner(key, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Every key is owned by exactly one of the n shards, whatever n: the union of the
        /// shards is the whole sweep and they are disjoint.
        #[test]
        fn shards_partition_every_key_set(keys in prop::collection::vec("[0-9a-f]{1,64}", 0..200), n in 1usize..40) {
            // Each shard picks its keys on its own, as each array task does.
            let mut union: Vec<String> = (0..n)
                .flat_map(|i| {
                    let s = Shard::new(i, n).unwrap();
                    keys.iter().filter(move |k| s.owns(k)).cloned()
                })
                .collect();
            // Equal as multisets: every key in some shard (union = full) and in one only.
            union.sort();
            let mut full = keys.clone();
            full.sort();
            prop_assert_eq!(union, full);
        }

        #[test]
        fn parse_roundtrips(n in 1usize..10_000, i in 0usize..10_000) {
            let i = i % n;
            let s = Shard::new(i, n).unwrap();
            prop_assert_eq!(Shard::parse(&s.to_string()).unwrap(), s);
        }
    }

    #[test]
    fn owner_is_spread_over_shards() {
        // 4000 distinct keys over 4 shards: each gets a share within 10% of 1000 (a fair hash
        // gives a standard deviation of sqrt(4000 * 1/4 * 3/4) ~ 27).
        let mut counts = HashMap::new();
        for k in 0..4000 {
            *counts
                .entry(Shard::owner(&format!("cell{k}"), 4))
                .or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 4);
        assert!(
            counts.values().all(|&c| (900..=1100).contains(&c)),
            "{counts:?}"
        );
        assert!((0..50).all(|k| Shard::WHOLE.owns(&k.to_string())));
    }

    #[test]
    fn bad_shards_name_the_field() {
        for (text, field) in [
            ("4/4", "shard"),
            ("1", "shard"),
            ("a/2", "shard"),
            ("0/0", "shard"),
        ] {
            let e = Shard::parse(text).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidValue { field: f, .. } if f == field),
                "{text}: {e}"
            );
        }
        assert!(
            Shard::new(3, 3)
                .unwrap_err()
                .to_string()
                .contains("shard index")
        );
    }

    #[test]
    fn slurm_variables_resolve_explicit_first() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let array = env(&[
            ("SLURM_ARRAY_TASK_ID", "6"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "5"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
        ]);
        assert_eq!(
            Shard::resolve(None, array).unwrap(),
            Shard::new(1, 4).unwrap()
        );
        let explicit = Shard::new(0, 1).unwrap();
        assert_eq!(Shard::resolve(Some(explicit), array).unwrap(), explicit);
        assert_eq!(Shard::resolve(None, env(&[])).unwrap(), Shard::WHOLE);
        assert_eq!(
            Shard::resolve(
                None,
                env(&[
                    ("SLURM_ARRAY_TASK_ID", "3"),
                    ("SLURM_ARRAY_TASK_COUNT", "4")
                ])
            )
            .unwrap(),
            Shard::new(3, 4).unwrap()
        );
        let stepped = env(&[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ]);
        assert!(
            Shard::resolve(None, stepped)
                .unwrap_err()
                .to_string()
                .contains("SLURM_ARRAY_TASK_STEP")
        );
        let beyond = env(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert!(
            Shard::resolve(None, beyond)
                .unwrap_err()
                .to_string()
                .contains("SLURM_ARRAY_TASK_ID")
        );
    }
}
