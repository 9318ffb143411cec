//! Generations: knob changes published together, and consistent snapshots of all knobs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;

use super::Knob;
use super::erased::ErasedKnob;
use super::registry::{self, KnobRef};
use super::value::{KnobValue, Value};
use crate::error::KnobError;

/// The values of every registered knob at one generation.
///
/// A snapshot never changes: a reader holding one sees either the whole of a
/// published change or none of it.
pub struct Snapshot {
    generation: u64,
    bits: Vec<u64>,
    knobs: Vec<KnobRef>,
}

impl Snapshot {
    /// The generation number (0 before any change).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The value `knob` had at this generation (its value now, if it was
    /// registered after the snapshot was taken).
    ///
    /// ```
    /// # use finch_core::{snapshot, Batch, KnobBuilder};
    /// let a = KnobBuilder::new("doc.snap.a", 1u32).bounds(0, 10).register()?;
    /// let b = KnobBuilder::new("doc.snap.b", 0.5f64).bounds(0.0, 1.0).register()?;
    /// let before = snapshot();
    /// let mut batch = Batch::new();
    /// batch.set(&a, 2)?.set(&b, 0.75)?;
    /// let generation = batch.commit();
    /// let after = snapshot();
    /// assert_eq!(after.generation(), generation);
    /// assert_eq!((after.get(&a), after.get(&b)), (2, 0.75));
    /// assert_eq!((before.get(&a), before.get(&b)), (1, 0.5));
    /// # Ok::<(), finch_core::KnobError>(())
    /// ```
    pub fn get<T: KnobValue>(&self, knob: &Knob<T>) -> T {
        let bits = knob
            .id()
            .and_then(|id| self.bits.get(id).copied())
            .unwrap_or_else(|| ErasedKnob::bits(knob));
        T::from_bits(bits)
    }

    /// Every knob with its value at this generation.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Value)> + '_ {
        self.knobs
            .iter()
            .zip(&self.bits)
            .map(|(k, &bits)| (k.name(), k.erased().value_of(bits)))
    }
}

static CURRENT: ArcSwapOption<Snapshot> = ArcSwapOption::const_empty();
static PUBLISH: Mutex<()> = Mutex::new(());
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The current snapshot of all knobs.
pub fn snapshot() -> Arc<Snapshot> {
    if let Some(s) = CURRENT.load_full()
        && registry::with_all(|all| all.len()) == s.bits.len()
    {
        return s;
    }
    let _guard = PUBLISH.lock().unwrap_or_else(|p| p.into_inner());
    let s = Arc::new(build(GENERATION.load(Ordering::Acquire)));
    CURRENT.store(Some(Arc::clone(&s)));
    s
}

fn build(generation: u64) -> Snapshot {
    registry::with_all(|all| Snapshot {
        generation,
        bits: all.iter().map(|k| k.erased().bits()).collect(),
        knobs: all.to_vec(),
    })
}

/// Publishes already checked encodings as one generation: stores each value,
/// swaps in the new snapshot, then tells watchers. Returns the generation.
pub(crate) fn publish(changes: &[(&dyn ErasedKnob, u64)]) -> u64 {
    let _guard = PUBLISH.lock().unwrap_or_else(|p| p.into_inner());
    for (knob, bits) in changes {
        knob.store(*bits);
    }
    let generation = GENERATION.fetch_add(1, Ordering::AcqRel) + 1;
    CURRENT.store(Some(Arc::new(build(generation))));
    drop(_guard);
    for (knob, _) in changes {
        knob.notify();
    }
    generation
}

/// Several knob changes published together as one generation.
///
/// Every value is checked when added; nothing is visible until [`commit`](Self::commit).
pub struct Batch<'a> {
    changes: Vec<(&'a dyn ErasedKnob, u64)>,
}

impl<'a> Batch<'a> {
    /// An empty batch.
    pub fn new() -> Self {
        Batch {
            changes: Vec::new(),
        }
    }

    /// Adds a change after checking the value against the knob's bounds and step.
    pub fn set<T: KnobValue>(
        &mut self,
        knob: &'a Knob<T>,
        value: T,
    ) -> Result<&mut Self, KnobError> {
        knob.spec.check(value)?;
        registry::ensure_registered(knob)?;
        let bits = value.to_bits();
        match self
            .changes
            .iter_mut()
            .find(|(k, _)| std::ptr::addr_eq(k.addr(), knob.addr()))
        {
            Some(entry) => entry.1 = bits,
            None => self.changes.push((knob, bits)),
        }
        Ok(self)
    }

    /// Publishes every change as one generation and returns its number.
    pub fn commit(self) -> u64 {
        publish(&self.changes)
    }
}

impl Default for Batch<'_> {
    fn default() -> Self {
        Batch::new()
    }
}
