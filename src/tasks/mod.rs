//! Sparse Boolean tasks over `context_len` (T) bits, and datasets sampled from them.
//!
//! A task is a Boolean function of the bits at a hidden index set I (|I| = `sparsity`, s),
//! drawn per trial from a seeded generator, together with the input distribution (i.i.d. bits
//! with P(bit = 1) = `bit_prob`). docs/experiments.md §1:
//! - s-sparse AND with `bit_prob` = 2^(-1/s), so P(label = +1) = (2^(-1/s))^s = 1/2;
//! - s-sparse OR with `bit_prob` = 1 - 2^(-1/s), so P(label = -1) = (2^(-1/s))^s = 1/2;
//! - sparse parity (uniform bits), true when an odd number of the s bits are 1;
//! - sparse majority (uniform bits, s odd), true when more than s/2 of the s bits are 1;
//! - any s-bit truth table (uniform bits).
//!
//! Labels are in {-1, +1}: +1 exactly when the Boolean function is true.
//! Population errors (exact or Clopper-Pearson) live in [`population`].
//! This module owns data generation only; it never trains or stores anything.

pub mod population;

pub use population::{
    PopulationError, PopulationOptions, per_example, population_error, try_population_error,
};

use crate::error::{Error, Result, check};
use rand::{Rng, RngExt};

/// Which Boolean function of the s hidden bits is the label: the one task enum of the crate
/// (training, configs, constructions). Configs spell it as its [`TaskName`] plus, for a truth
/// table, a separate `truth_table` list ([`TaskKind::from_name`]).
#[derive(Debug, Clone, PartialEq)]
pub enum TaskKind {
    /// AND of the s bits; bits ~ Bernoulli(2^(-1/s)) so labels are balanced.
    And,
    /// OR of the s bits; bits ~ Bernoulli(1 - 2^(-1/s)) so labels are balanced.
    Or,
    /// XOR of the s bits; uniform bits.
    Parity,
    /// Majority of the s bits (s odd); uniform bits.
    Majority,
    /// Truth table of length 2^s; entry `sum_j b_{i_j} 2^j` is the value, where
    /// i_0 < i_1 < ... are the hidden indices in increasing order. Uniform bits.
    TruthTable(Vec<bool>),
}

/// The name of a [`TaskKind`] without its data, as configs and CSV columns spell it
/// (`"and"`, `"or"`, `"parity"`, `"majority"`, `"truth_table"`; serde uses these strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum TaskName {
    And,
    Or,
    Parity,
    Majority,
    TruthTable,
}

impl TaskName {
    pub const ALL: [TaskName; 5] = [
        TaskName::And,
        TaskName::Or,
        TaskName::Parity,
        TaskName::Majority,
        TaskName::TruthTable,
    ];
    /// The spellings of [`TaskName::ALL`], in order.
    pub const NAMES: &'static [&'static str] = &["and", "or", "parity", "majority", "truth_table"];

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl TryFrom<String> for TaskName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        match Self::NAMES.iter().position(|n| *n == s) {
            Some(i) => Ok(Self::ALL[i]),
            None => Err(Error::invalid(
                "task",
                &s,
                format!("one of {}", Self::NAMES.join(", ")),
            )),
        }
    }
}

impl serde::Serialize for TaskName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl TaskKind {
    /// The name without the data.
    pub fn task_name(&self) -> TaskName {
        match self {
            TaskKind::And => TaskName::And,
            TaskKind::Or => TaskName::Or,
            TaskKind::Parity => TaskName::Parity,
            TaskKind::Majority => TaskName::Majority,
            TaskKind::TruthTable(_) => TaskName::TruthTable,
        }
    }

    /// Short name used in configs and CSV columns.
    pub fn name(&self) -> &'static str {
        self.task_name().name()
    }

    /// The kind from a config's spelling: a name and a `truth_table` that must be present
    /// exactly when the name is `truth_table` (its length is checked by [`Task::with_support`]).
    pub fn from_name(name: TaskName, truth_table: Option<&[bool]>) -> Result<TaskKind> {
        Ok(match (name, truth_table) {
            (TaskName::And, None) => TaskKind::And,
            (TaskName::Or, None) => TaskKind::Or,
            (TaskName::Parity, None) => TaskKind::Parity,
            (TaskName::Majority, None) => TaskKind::Majority,
            (TaskName::TruthTable, Some(t)) => TaskKind::TruthTable(t.to_vec()),
            (TaskName::TruthTable, None) => {
                return Err(Error::invalid(
                    "truth_table",
                    "missing",
                    "a list of 2^sparsity booleans",
                ));
            }
            (other, Some(_)) => {
                let allowed = "absent unless task = truth_table";
                return Err(Error::invalid(
                    "truth_table",
                    format!("given with task = {}", other.name()),
                    allowed,
                ));
            }
        })
    }

    /// The value of a symmetric function from the number `count` of true bits among `s`
    /// (`None` for a truth table, which is not symmetric in general).
    pub fn symmetric(&self, count: usize, s: usize) -> Option<bool> {
        match self {
            TaskKind::And => Some(count == s),
            TaskKind::Or => Some(count > 0),
            TaskKind::Parity => Some(count % 2 == 1),
            TaskKind::Majority => Some(2 * count > s),
            TaskKind::TruthTable(_) => None,
        }
    }

    /// The value on hidden bits given as a pattern index `sum_j 2^j b_{i_j}` (s < 64).
    pub fn value(&self, pattern: usize, s: usize) -> bool {
        match self {
            TaskKind::TruthTable(t) => t[pattern],
            other => other
                .symmetric(pattern.count_ones() as usize, s)
                .unwrap_or(false),
        }
    }
}

/// A task instance: function, hidden index set I, and input distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    kind: TaskKind,
    context_len: usize,
    support: Vec<usize>,
    bit_prob: f64,
}

impl Task {
    /// Draws the hidden set I uniformly among the s-subsets of {0, .., T-1}.
    pub fn new<R: Rng + ?Sized>(
        kind: TaskKind,
        context_len: usize,
        sparsity: usize,
        rng: &mut R,
    ) -> Result<Task> {
        validate(&kind, context_len, sparsity)?;
        let mut support = rand::seq::index::sample(rng, context_len, sparsity).into_vec();
        support.sort_unstable();
        Task::with_support(kind, context_len, support)
    }

    /// s-sparse AND with balanced labels.
    pub fn and<R: Rng + ?Sized>(context_len: usize, sparsity: usize, rng: &mut R) -> Result<Task> {
        Task::new(TaskKind::And, context_len, sparsity, rng)
    }

    /// s-sparse parity with uniform bits.
    pub fn parity<R: Rng + ?Sized>(
        context_len: usize,
        sparsity: usize,
        rng: &mut R,
    ) -> Result<Task> {
        Task::new(TaskKind::Parity, context_len, sparsity, rng)
    }

    /// s-sparse majority (s odd) with uniform bits.
    pub fn majority<R: Rng + ?Sized>(
        context_len: usize,
        sparsity: usize,
        rng: &mut R,
    ) -> Result<Task> {
        Task::new(TaskKind::Majority, context_len, sparsity, rng)
    }

    /// Any s-bit truth table (length must be 2^s); s is read from the table length.
    pub fn truth_table<R: Rng + ?Sized>(
        context_len: usize,
        table: Vec<bool>,
        rng: &mut R,
    ) -> Result<Task> {
        if table.len() < 2 || !table.len().is_power_of_two() {
            return Err(Error::invalid(
                "truth_table",
                format!("length {}", table.len()),
                "length 2^sparsity with sparsity >= 1",
            ));
        }
        let sparsity = table.len().ilog2() as usize;
        Task::new(TaskKind::TruthTable(table), context_len, sparsity, rng)
    }

    /// A task with a given hidden set (strictly increasing indices < T), e.g. for constructions.
    pub fn with_support(kind: TaskKind, context_len: usize, support: Vec<usize>) -> Result<Task> {
        validate(&kind, context_len, support.len())?;
        for (j, &i) in support.iter().enumerate() {
            if i >= context_len || (j > 0 && support[j - 1] >= i) {
                return Err(Error::invalid(
                    format!("support[{j}]"),
                    i,
                    format!("strictly increasing indices < context_len = {context_len}"),
                ));
            }
        }
        let s = support.len() as f64;
        let bit_prob = match kind {
            TaskKind::And => (-1.0 / s).exp2(),
            TaskKind::Or => 1.0 - (-1.0 / s).exp2(),
            _ => 0.5,
        };
        Ok(Task {
            kind,
            context_len,
            support,
            bit_prob,
        })
    }

    pub fn kind(&self) -> &TaskKind {
        &self.kind
    }
    /// T, the number of input bits.
    pub fn context_len(&self) -> usize {
        self.context_len
    }
    /// s = |I|.
    pub fn sparsity(&self) -> usize {
        self.support.len()
    }
    /// The hidden index set I, increasing.
    pub fn support(&self) -> &[usize] {
        &self.support
    }
    /// P(bit = 1) for every position, i.i.d.
    pub fn bit_prob(&self) -> f64 {
        self.bit_prob
    }

    /// The Boolean value of the task on one sequence of T bits (each 0 or 1).
    /// Panics if `bits` is shorter than T: a caller's bug, not user input (datasets are checked).
    pub fn value(&self, bits: &[u8]) -> bool {
        let ones = self.support.iter().filter(|&&i| bits[i] != 0).count();
        match &self.kind {
            symmetric @ (TaskKind::And | TaskKind::Or | TaskKind::Parity | TaskKind::Majority) => {
                symmetric.symmetric(ones, self.support.len()) == Some(true)
            }
            TaskKind::TruthTable(table) => {
                let idx = self
                    .support
                    .iter()
                    .enumerate()
                    .fold(0usize, |acc, (j, &i)| {
                        acc | (usize::from(bits[i] != 0) << j)
                    });
                table[idx]
            }
        }
    }

    /// The label in {-1, +1} of one sequence.
    pub fn label(&self, bits: &[u8]) -> i8 {
        if self.value(bits) { 1 } else { -1 }
    }

    /// Probability of one sequence under the i.i.d. Bernoulli(`bit_prob`) input distribution.
    pub fn probability(&self, bits: &[u8]) -> Result<f64> {
        if bits.len() != self.context_len {
            return Err(Error::shape("bits", self.context_len, bits.len()));
        }
        let ones = bits.iter().filter(|&&b| b != 0).count();
        Ok(input_weight(self.bit_prob, self.context_len, ones))
    }

    /// Samples `num_samples` i.i.d. labelled sequences.
    pub fn sample<R: Rng + ?Sized>(&self, num_samples: usize, rng: &mut R) -> Result<Dataset> {
        check::at_least("num_samples", num_samples, 1)?;
        let t = self.context_len;
        crate::limits::count("num_samples", num_samples, crate::limits::MAX_NUM_SAMPLES)?;
        let bytes = (num_samples as f64) * (t as f64 + 1.0);
        crate::limits::memory("num_samples", num_samples, bytes)?;
        let mut bits = vec![0u8; num_samples * t];
        let mut labels = Vec::with_capacity(num_samples);
        for row in bits.chunks_exact_mut(t) {
            for b in row.iter_mut() {
                *b = u8::from(rng.random::<f64>() < self.bit_prob);
            }
            labels.push(self.label(row));
        }
        Dataset::new(t, bits, labels)
    }
}

/// p^k (1-p)^(T-k): the probability of one sequence with k ones.
fn input_weight(p: f64, context_len: usize, ones: usize) -> f64 {
    p.powi(ones as i32) * (1.0 - p).powi((context_len - ones) as i32)
}

fn validate(kind: &TaskKind, context_len: usize, sparsity: usize) -> Result<()> {
    check::at_least("context_len", context_len, 1)?;
    crate::limits::count("context_len", context_len, crate::limits::MAX_CONTEXT_LEN)?;
    check::at_least("sparsity", sparsity, 1)?;
    if sparsity > context_len {
        return Err(Error::invalid(
            "sparsity",
            sparsity,
            format!("an integer in 1..=context_len = {context_len}"),
        ));
    }
    match kind {
        TaskKind::Majority if sparsity.is_multiple_of(2) => Err(Error::invalid(
            "sparsity",
            sparsity,
            "an odd integer for the majority task (no ties)",
        )),
        TaskKind::TruthTable(table) => {
            let expected = 1usize.checked_shl(sparsity as u32).unwrap_or(0);
            if table.len() != expected || expected == 0 {
                Err(Error::invalid(
                    "truth_table",
                    format!("length {}", table.len()),
                    format!("length 2^sparsity = {expected}"),
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// m labelled sequences of T bits, stored row-major as one byte per bit (0 or 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    context_len: usize,
    bits: Vec<u8>,
    labels: Vec<i8>,
}

impl Dataset {
    /// Checks `bits.len() = labels.len() * context_len`, bits in {0, 1}, labels in {-1, +1}.
    pub fn new(context_len: usize, bits: Vec<u8>, labels: Vec<i8>) -> Result<Dataset> {
        check::at_least("context_len", context_len, 1)?;
        if bits.len() != labels.len() * context_len {
            return Err(Error::shape(
                "dataset bits",
                format!("{} x {context_len}", labels.len()),
                format!("{} bits", bits.len()),
            ));
        }
        if let Some(i) = bits.iter().position(|&b| b > 1) {
            return Err(Error::invalid(format!("bits[{i}]"), bits[i], "0 or 1"));
        }
        if let Some(i) = labels.iter().position(|&y| y != 1 && y != -1) {
            return Err(Error::invalid(
                format!("labels[{i}]"),
                labels[i],
                "-1 or +1",
            ));
        }
        Ok(Dataset {
            context_len,
            bits,
            labels,
        })
    }

    /// T.
    pub fn context_len(&self) -> usize {
        self.context_len
    }
    /// m, the number of sequences.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// All bits, row-major m x T.
    pub fn bits(&self) -> &[u8] {
        &self.bits
    }
    /// Labels in {-1, +1}.
    pub fn labels(&self) -> &[i8] {
        &self.labels
    }
    /// Sequence i (T bits).
    pub fn row(&self, i: usize) -> &[u8] {
        &self.bits[i * self.context_len..(i + 1) * self.context_len]
    }
    /// (bits, label) pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], i8)> {
        self.bits
            .chunks_exact(self.context_len)
            .zip(self.labels.iter().copied())
    }
}

#[cfg(test)]
mod tests;
