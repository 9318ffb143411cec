//! Knobs: typed, bounded, hot-swappable parameters.
//!
//! A knob's value lives in one `AtomicU64`, so [`Knob::get`] is a relaxed atomic
//! load plus a decode. Changes are published as numbered *generations*: several
//! knobs changed together become visible in one [`Snapshot`], swapped in through
//! `arc-swap`, for code that needs a consistent view of all of them.

mod builder;
mod erased;
mod generation;
mod registry;
pub(crate) mod space;
mod spec;
mod value;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use tokio::sync::watch;

pub use builder::KnobBuilder;
pub(crate) use erased::{ErasedKnob, parse_duration};
pub(crate) use generation::publish;
pub use generation::{Batch, Snapshot, snapshot};
#[doc(hidden)]
pub use registry::StaticKnob;
pub use registry::{KnobInfo, KnobRef, knob_by_name, knobs, problems};
pub use spec::KnobSpec;
pub use value::{KnobKind, KnobValue, Value};

use crate::error::{ApplyError, KnobError};
use crate::util::BoxFuture;

/// An applier carries a knob's new value to what the knob drives (a pool, a
/// database setting). It runs on a thread of the knob's own, with a timeout.
pub(crate) type Applier =
    Arc<dyn Fn(u64) -> BoxFuture<'static, Result<(), ApplyError>> + Send + Sync>;

/// A tunable parameter of type `T`, declared with `#[knob]` or built at run time
/// with [`KnobBuilder`].
///
/// ```
/// use finch_core::{Knob, KnobBuilder};
///
/// let pool: std::sync::Arc<Knob<u32>> = KnobBuilder::new("doc.knob.pool", 8u32)
///     .bounds(1, 64)
///     .cost(1.0)
///     .register()?;
/// assert_eq!(pool.get(), 8);
/// pool.set(16)?;
/// assert_eq!(pool.get(), 16);
/// assert!(pool.set(65).is_err());
/// # Ok::<(), finch_core::KnobError>(())
/// ```
pub struct Knob<T: KnobValue> {
    bits: AtomicU64,
    spec: KnobSpec<T>,
    shared: OnceLock<Shared<T>>,
}

/// State a knob needs only once it is registered, watched or driven.
struct Shared<T> {
    id: OnceLock<usize>,
    watch: watch::Sender<T>,
    applier: RwLock<Option<Applier>>,
    pinned: AtomicBool,
    /// Values published for this knob so far.
    changes: AtomicU64,
    /// Who else drives the knob, while something else does ([`Knob::hold`]).
    held: RwLock<Option<String>>,
}

impl<T: KnobValue> Knob<T> {
    /// A knob from a constant declaration, as `#[knob]` writes it.
    /// `default_bits` must be `spec.default.to_bits()`; registration checks it.
    pub(crate) const fn from_spec(spec: KnobSpec<T>, default_bits: u64) -> Self {
        Knob {
            bits: AtomicU64::new(default_bits),
            spec,
            shared: OnceLock::new(),
        }
    }

    pub(crate) fn from_valid_spec(spec: KnobSpec<T>) -> Self {
        let bits = spec.default.to_bits();
        Knob::from_spec(spec, bits)
    }

    /// The value in force: the default until something changes it.
    ///
    /// One relaxed atomic load; never blocks, never allocates.
    #[inline(always)]
    pub fn get(&self) -> T {
        T::from_bits(self.bits.load(Ordering::Relaxed))
    }

    /// The knob's stable name (default: module path and identifier).
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The documentation given with the declaration.
    pub fn doc(&self) -> &str {
        &self.spec.doc
    }

    /// The declared default.
    pub fn default_value(&self) -> T {
        self.spec.default
    }

    /// The lower bound.
    pub fn min(&self) -> T {
        self.spec.min
    }

    /// The upper bound.
    pub fn max(&self) -> T {
        self.spec.max
    }

    /// The step between valid values, if any.
    pub fn step(&self) -> Option<T> {
        self.spec.step
    }

    /// How expensive higher values are, relative to other knobs.
    pub fn cost(&self) -> f64 {
        self.spec.cost
    }

    /// Whether the planner searches this knob on a logarithmic scale.
    pub fn is_log(&self) -> bool {
        self.spec.log
    }

    /// Sets the value after checking bounds and step, publishing it as a new
    /// generation. Appliers are not run (the loop runs them); watchers are told.
    ///
    /// Returns the generation number.
    pub fn set(&self, value: T) -> Result<u64, KnobError> {
        self.spec.check(value)?;
        registry::ensure_registered(self)?;
        Ok(publish(&[(self as &dyn ErasedKnob, value.to_bits())]))
    }

    /// A receiver that sees every new value of this knob (for code that must act
    /// on a change, such as resizing a pool).
    ///
    /// ```
    /// # use finch_core::KnobBuilder;
    /// let knob = KnobBuilder::new("doc.knob.watch", 4u32).bounds(1, 8).register()?;
    /// let mut rx = knob.watch();
    /// knob.set(6)?;
    /// assert!(rx.has_changed().unwrap());
    /// assert_eq!(*rx.borrow_and_update(), 6);
    /// # Ok::<(), finch_core::KnobError>(())
    /// ```
    pub fn watch(&self) -> watch::Receiver<T> {
        self.shared().watch.subscribe()
    }

    /// Installs the applier the loop runs (with a timeout) whenever it changes this
    /// knob; when it fails or times out, the loop rolls the change back.
    /// Replaces any earlier one.
    ///
    /// The applier runs on a thread of the knob's own, one call at a time, so
    /// it may block (a synchronous database call) without stalling the loop;
    /// a call that outlives `Config::apply_timeout` counts as failed, and the
    /// call restoring the previous value runs once it has returned.
    ///
    /// ```
    /// # use finch_core::{ApplyError, KnobBuilder};
    /// let knob = KnobBuilder::new("doc.knob.applier", 4u32).bounds(1, 8).register()?;
    /// knob.set_applier(|size: u32| async move {
    ///     if size > 0 { Ok(()) } else { Err(ApplyError::new("size must be positive")) }
    /// });
    /// # Ok::<(), finch_core::KnobError>(())
    /// ```
    pub fn set_applier<F, Fut>(&self, apply: F)
    where
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ApplyError>> + Send + 'static,
    {
        let applier: Applier = Arc::new(move |bits| Box::pin(apply(T::from_bits(bits))));
        let mut slot = self
            .shared()
            .applier
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Some(applier);
    }

    /// Marks the knob as driven from elsewhere (`Some(by)`, saying by whom) or
    /// hands it back to the loop (`None`). While it is held the loop treats it
    /// as context: it records its value but never changes it, as for a pin, and
    /// [`KnobInfo::held_by`] reports `by`. finch-postgres holds the knob of a
    /// server-wide setting that another instance owns.
    ///
    /// ```
    /// # use finch_core::{knob_by_name, KnobBuilder};
    /// let knob = KnobBuilder::new("doc.knob.hold", 4u32).bounds(1, 8).register()?;
    /// knob.hold(Some("instance api-2".into()));
    /// let held = knob_by_name("doc.knob.hold").unwrap();
    /// assert!(held.is_pinned());
    /// assert_eq!(held.info().held_by.as_deref(), Some("instance api-2"));
    /// knob.hold(None);
    /// assert!(!held.is_pinned());
    /// # Ok::<(), finch_core::KnobError>(())
    /// ```
    pub fn hold(&self, by: Option<String>) {
        let mut slot = self
            .shared()
            .held
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = by;
    }

    fn shared(&self) -> &Shared<T> {
        self.shared.get_or_init(|| Shared {
            id: OnceLock::new(),
            watch: watch::Sender::new(self.get()),
            applier: RwLock::new(None),
            pinned: AtomicBool::new(false),
            changes: AtomicU64::new(0),
            held: RwLock::new(None),
        })
    }
}

impl<T: KnobValue> std::fmt::Debug for Knob<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Knob")
            .field("name", &self.spec.name)
            .field("value", &self.get())
            .field("min", &self.spec.min)
            .field("max", &self.spec.max)
            .finish()
    }
}
