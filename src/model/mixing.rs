//! The \[CLS\] softmax-mix of one or more heads on the token table, by kernel: shared by the
//! one-block Transformer's \[CLS\] path (`cls_path.rs`) and the theory's head (`head.rs`).
//!
//! Two kernels compute the same function ([`MixKernel`]): the per-sample gather, softmax and
//! mix of `table.rs` (any vocab; the reference) and, for bit inputs (vocab 2), the bit-matrix
//! kernel of `bitmix.rs` (all heads in one gemm each way, docs/kernels.md §1), which declines a
//! batch whose score gap exceeds `bitmix::MAX_SCORE_GAP`; the gather then runs. They differ
//! only in speed and in f32 summation order (docs/kernels.md §1.4).

use crate::model::bitmix::{self, BitMatrix, BitMix, BitTable, TableGrad};
use crate::model::embedding::TokenBatch;
use crate::model::table::{self, HeadTable, Mixed};
use crate::tensor::{Mat, Real};
use std::any::Any;
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

/// How a \[CLS\] path mixes the heads' values (both compute the same function; they differ
/// in speed and in f32 summation order, docs/kernels.md §1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixKernel {
    /// Per-sample gather, softmax and mix (`table::mix`): any vocab, the reference.
    Gather,
    /// The bit-matrix gemm kernel (`bitmix`) when the batch is bits and its score gap allows,
    /// else [`MixKernel::Gather`].
    Bits,
}

#[cfg(test)]
thread_local! {
    static FORCED_KERNEL: std::cell::Cell<Option<MixKernel>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with every default-kernel mix on this thread ([`crate::model::Transformer::forward_cls`],
/// [`crate::model::ClsHead::forward_rows`]) using `kernel` (tests pin old results on the
/// reference kernel this way).
#[cfg(test)]
pub(crate) fn with_mix_kernel<R>(kernel: MixKernel, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<MixKernel>);
    impl Drop for Reset {
        fn drop(&mut self) {
            FORCED_KERNEL.with(|k| k.set(self.0));
        }
    }
    let _reset = Reset(FORCED_KERNEL.with(|k| k.replace(Some(kernel))));
    f()
}

/// [`MixKernel::Bits`] (or, in tests, the kernel forced by [`with_mix_kernel`]).
pub(crate) fn default_kernel() -> MixKernel {
    #[cfg(test)]
    if let Some(k) = FORCED_KERNEL.with(|k| k.get()) {
        return k;
    }
    MixKernel::Bits
}

/// Batches up to this many bits (m T) are cached between calls (see [`shared_bits`]).
const CACHED_BITS_MAX: usize = 1 << 22;

/// The last batch's tokens and bit matrix on this thread, as `BitMatrix<S>` behind `Any`.
type BitsCache = Option<(usize, Vec<u8>, Arc<dyn Any + Send + Sync>)>;

thread_local! {
    static LAST_BITS: RefCell<BitsCache> = const { RefCell::new(None) };
}

/// The batch's [`BitMatrix`], reused if this thread's previous call had the same tokens.
/// Full-batch training passes the same sample every step (as a new `TokenBatch`), so the
/// m x T matrix and its complement are built once per trial instead of once per step; one
/// comparison of the m T tokens (bytes) replaces the build. Batches above [`CACHED_BITS_MAX`]
/// bits are built and not kept (the cache holds one matrix per thread).
fn shared_bits<S: Real>(batch: &TokenBatch) -> Option<Arc<BitMatrix<S>>> {
    let key = batch.context_len;
    let hit = LAST_BITS.with(|c| {
        let c = c.borrow();
        let (ctx, tokens, any) = c.as_ref()?;
        (*ctx == key && *tokens == batch.tokens)
            .then(|| any.clone().downcast::<BitMatrix<S>>().ok())
            .flatten()
    });
    if hit.is_some() {
        return hit;
    }
    let bits = Arc::new(BitMatrix::new(batch)?);
    if batch.tokens.len() <= CACHED_BITS_MAX {
        let any: Arc<dyn Any + Send + Sync> = bits.clone();
        LAST_BITS.with(|c| *c.borrow_mut() = Some((key, batch.tokens.clone(), any)));
    }
    Some(bits)
}

/// The heads' mixed values and what the backward pass needs, from the kernel that ran.
#[derive(Clone, Debug)]
pub(crate) enum Mixing<S> {
    Gather(Vec<Mixed<S>>),
    Bits {
        bits: Arc<BitMatrix<S>>,
        mix: BitMix<S>,
        /// Per head m x (T+1), built on the first [`Mixing::attention`] call.
        attention: OnceLock<Vec<Mat<S>>>,
    },
}

impl<S: Real> Mixing<S> {
    /// Mixes every head of `tables` for every sample of `batch` on `kernel` (falling back to
    /// the gather when the bit kernel declines). Also returns, per head, the mixed values
    /// before sigma (m x k).
    pub(crate) fn run(
        kernel: MixKernel,
        tables: &[HeadTable<S>],
        vocab: usize,
        batch: &TokenBatch,
    ) -> (Self, Vec<Mat<S>>) {
        let bit_mix = match kernel {
            MixKernel::Bits if vocab == 2 => shared_bits(batch).and_then(|bits| {
                let views: Vec<BitTable<'_, S>> = tables.iter().map(|t| t.bit_table()).collect();
                bitmix::forward(&bits, &views).map(|mix| (bits, mix))
            }),
            _ => None,
        };
        match bit_mix {
            Some((bits, mix)) => {
                let pre = mix.mixed.clone();
                (
                    Mixing::Bits {
                        bits,
                        mix,
                        attention: OnceLock::new(),
                    },
                    pre,
                )
            }
            None => {
                let mixed: Vec<Mixed<S>> = (tables.iter())
                    .map(|tab| table::mix(tab, vocab, batch))
                    .collect();
                let pre = mixed.iter().map(|mx| mx.mixed.clone()).collect();
                (Mixing::Gather(mixed), pre)
            }
        }
    }

    /// dL/d(scores) and dL/d(values) on every head's table rows, given dL/d(mixed) per head
    /// (m x k each); `tables`, `vocab` and `batch` as given to [`Mixing::run`].
    pub(crate) fn backward(
        &self,
        tables: &[HeadTable<S>],
        vocab: usize,
        batch: &TokenBatch,
        d_mixed: &[Mat<S>],
    ) -> Vec<TableGrad<S>> {
        match self {
            Mixing::Bits { bits, mix, .. } => {
                let views: Vec<BitTable<'_, S>> = tables.iter().map(|t| t.bit_table()).collect();
                bitmix::backward(bits, &views, mix, d_mixed)
            }
            Mixing::Gather(mixed) => (tables.iter().zip(mixed).zip(d_mixed))
                .map(|((tab, mx), dm)| table::mix_backward(tab, vocab, batch, mx, dm))
                .collect(),
        }
    }

    /// Head `head`'s \[CLS\] attention over positions 0..T and itself (last), sample i. On the
    /// bit-matrix kernel the first call builds every head's attention matrix.
    pub(crate) fn attention(&self, head: usize, i: usize) -> &[S] {
        match self {
            Mixing::Gather(mixed) => mixed[head].attention.row(i),
            Mixing::Bits {
                bits,
                mix,
                attention,
            } => {
                let all = attention.get_or_init(|| {
                    let (m, t_len) = (bits.samples(), bits.context_len());
                    (0..mix.mixed.len())
                        .map(|h| {
                            let mut a = Mat::zeros(m, t_len + 1);
                            for i in 0..m {
                                mix.attention_row(bits, h, i, a.row_mut(i));
                            }
                            a
                        })
                        .collect()
                });
                all[head].row(i)
            }
        }
    }

    /// The kernel that actually ran ([`MixKernel::Bits`] falls back to
    /// [`MixKernel::Gather`] on batches it declines).
    pub(crate) fn kernel(&self) -> MixKernel {
        match self {
            Mixing::Bits { .. } => MixKernel::Bits,
            Mixing::Gather(_) => MixKernel::Gather,
        }
    }
}
