//! Every knob finch knows: the `#[knob]` statics (collected with `inventory`) and
//! those registered at run time.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Once, RwLock};

use serde::Serialize;

use super::erased::ErasedKnob;
use super::value::{KnobKind, Value};
use crate::error::KnobError;

/// A `#[knob]` static, submitted to `inventory` by the generated code.
#[doc(hidden)]
pub struct StaticKnob(&'static dyn ErasedKnob);

impl StaticKnob {
    #[doc(hidden)]
    pub const fn __new<T: super::KnobValue>(knob: &'static super::Knob<T>) -> Self {
        StaticKnob(knob)
    }
}

inventory::collect!(StaticKnob);

/// A registered knob, whatever its value type: what [`knobs()`] returns.
#[derive(Clone)]
pub struct KnobRef(Inner);

#[derive(Clone)]
enum Inner {
    Static(&'static dyn ErasedKnob),
    Dynamic(Arc<dyn ErasedKnob>),
}

impl KnobRef {
    pub(crate) fn erased(&self) -> &dyn ErasedKnob {
        match &self.0 {
            Inner::Static(k) => *k,
            Inner::Dynamic(k) => &**k,
        }
    }

    /// The knob's stable name.
    pub fn name(&self) -> &str {
        self.erased().name()
    }

    /// The documentation given with the declaration.
    pub fn doc(&self) -> &str {
        self.erased().doc()
    }

    /// The kind of value.
    pub fn kind(&self) -> KnobKind {
        self.erased().kind()
    }

    /// The value in force.
    pub fn value(&self) -> Value {
        let k = self.erased();
        k.value_of(k.bits())
    }

    /// The declared default.
    pub fn default_value(&self) -> Value {
        let k = self.erased();
        k.value_of(k.default_bits())
    }

    /// The lower and upper bounds.
    pub fn bounds(&self) -> (Value, Value) {
        let k = self.erased();
        (k.value_of(k.min_bits()), k.value_of(k.max_bits()))
    }

    /// The step between valid values, on the numeric axis, if any.
    pub fn step(&self) -> Option<f64> {
        self.erased().step_size()
    }

    /// How expensive higher values are, relative to other knobs.
    pub fn cost(&self) -> f64 {
        self.erased().cost()
    }

    /// The signals that show this knob's resource under pressure
    /// (see [`KnobBuilder::pressure`](crate::KnobBuilder::pressure)).
    pub fn pressure(&self) -> Vec<String> {
        self.erased().pressure()
    }

    /// Whether the planner searches this knob on a logarithmic scale.
    pub fn is_log(&self) -> bool {
        self.erased().is_log()
    }

    /// The names of the choices, for a knob of kind [`KnobKind::Choice`].
    pub fn choices(&self) -> &'static [&'static str] {
        self.erased().choices()
    }

    /// Whether the loop leaves the knob alone: an operator pinned it, or
    /// something else drives it ([`held_by`](Self::held_by)).
    pub fn is_pinned(&self) -> bool {
        self.erased().is_pinned() || self.erased().held_by().is_some()
    }

    /// Who drives the knob instead of the loop ([`Knob::hold`](super::Knob::hold)), if anyone.
    pub fn held_by(&self) -> Option<String> {
        self.erased().held_by()
    }

    /// Parses `text` (`"16"`, `"0.5"`, `"250ms"`, `"true"`, a choice's name),
    /// checks it and publishes it as a new generation. Returns the generation.
    ///
    /// ```
    /// # use finch_core::{knob_by_name, KnobBuilder};
    /// KnobBuilder::new("doc.ref.flush", std::time::Duration::from_millis(50))
    ///     .bounds(std::time::Duration::from_millis(1), std::time::Duration::from_secs(1))
    ///     .register()?;
    /// let flush = knob_by_name("doc.ref.flush").unwrap();
    /// flush.set_from_str("250ms")?;
    /// assert_eq!(flush.value().to_string(), "250ms");
    /// assert!(flush.set_from_str("2s").is_err());
    /// # Ok::<(), finch_core::KnobError>(())
    /// ```
    pub fn set_from_str(&self, text: &str) -> Result<u64, KnobError> {
        let bits = self.erased().parse(text)?;
        Ok(super::publish(&[(self.erased(), bits)]))
    }

    /// A serializable description of the knob and its value now.
    pub fn info(&self) -> KnobInfo {
        let (min, max) = self.bounds();
        KnobInfo {
            name: self.name().to_string(),
            kind: self.kind(),
            value: self.value(),
            position: self.erased().position_of(self.erased().bits()),
            default: self.default_value(),
            min,
            max,
            step: self.step(),
            log: self.is_log(),
            cost: self.cost(),
            pinned: self.erased().is_pinned(),
            held_by: self.held_by(),
            pressure: self.pressure(),
            choices: self.choices(),
        }
    }
}

impl fmt::Debug for KnobRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KnobRef")
            .field("name", &self.name())
            .field("value", &self.value())
            .finish()
    }
}

/// A knob's description and value at one moment, for status reports.
#[derive(Clone, Debug, Serialize)]
pub struct KnobInfo {
    /// Stable name.
    pub name: String,
    /// Kind of value.
    pub kind: KnobKind,
    /// Value in force.
    pub value: Value,
    /// Value in force on the knob's numeric axis (a choice's index).
    pub position: f64,
    /// Declared default.
    pub default: Value,
    /// Lower bound.
    pub min: Value,
    /// Upper bound.
    pub max: Value,
    /// Step on the numeric axis.
    pub step: Option<f64>,
    /// Searched on a log scale.
    pub log: bool,
    /// Cost weight.
    pub cost: f64,
    /// Pinned by an operator.
    pub pinned: bool,
    /// Driven by something other than this loop, which reads it as context
    /// (e.g. a server-wide PostgreSQL setting another instance owns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
    /// The signals that show the knob's resource under pressure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pressure: Vec<String>,
    /// Choice names (enums).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub choices: &'static [&'static str],
}

struct Registry {
    knobs: Vec<KnobRef>,
    by_name: BTreeMap<String, usize>,
    problems: Vec<KnobError>,
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry {
    knobs: Vec::new(),
    by_name: BTreeMap::new(),
    problems: Vec::new(),
});
static STATICS: Once = Once::new();

fn write() -> std::sync::RwLockWriteGuard<'static, Registry> {
    REGISTRY
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read() -> std::sync::RwLockReadGuard<'static, Registry> {
    sync_statics();
    REGISTRY
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers the `#[knob]` statics once. Invalid or duplicate declarations are
/// kept as problems (see [`problems`]) and never tuned.
fn sync_statics() {
    STATICS.call_once(|| {
        let mut reg = write();
        for s in inventory::iter::<StaticKnob> {
            if let Err(e) = reg.add(KnobRef(Inner::Static(s.0))) {
                reg.problems.push(e);
            }
        }
    });
}

impl Registry {
    fn add(&mut self, knob: KnobRef) -> Result<(), KnobError> {
        let k = knob.erased();
        if k.id().is_some() {
            return Ok(());
        }
        k.validate()?;
        if self.by_name.contains_key(k.name()) {
            return Err(KnobError::DuplicateName {
                knob: k.name().to_string(),
            });
        }
        let id = self.knobs.len();
        k.assign_id(id);
        self.by_name.insert(k.name().to_string(), id);
        self.knobs.push(knob);
        Ok(())
    }
}

pub(crate) fn register_dynamic(knob: Arc<dyn ErasedKnob>) -> Result<(), KnobError> {
    sync_statics();
    write().add(KnobRef(Inner::Dynamic(knob)))
}

/// Makes sure `knob` is registered (it is, unless it is a static the linker
/// dropped or one built outside `#[knob]`).
pub(crate) fn ensure_registered(knob: &dyn ErasedKnob) -> Result<(), KnobError> {
    sync_statics();
    match knob.id() {
        Some(_) => Ok(()),
        None => Err(KnobError::Unknown {
            knob: knob.name().to_string(),
        }),
    }
}

/// Every registered knob: `#[knob]` statics and run-time ones, in registration order.
///
/// ```
/// # use finch_core::{knobs, KnobBuilder};
/// KnobBuilder::new("doc.knobs.batch", 32u32).bounds(1, 512).cost(0.5).register()?;
/// let batch = knobs().into_iter().find(|k| k.name() == "doc.knobs.batch").unwrap();
/// assert_eq!(batch.value().to_string(), "32");
/// assert_eq!(batch.cost(), 0.5);
/// # Ok::<(), finch_core::KnobError>(())
/// ```
pub fn knobs() -> Vec<KnobRef> {
    read().knobs.clone()
}

/// The registered knob with this name.
pub fn knob_by_name(name: &str) -> Option<KnobRef> {
    let reg = read();
    reg.by_name.get(name).map(|&id| reg.knobs[id].clone())
}

/// Declarations that could not be registered (invalid or duplicate names).
/// `finch::start` refuses to run while there are any.
pub fn problems() -> Vec<KnobError> {
    read().problems.clone()
}

/// Knobs by registry id, for building snapshots.
pub(crate) fn with_all<R>(f: impl FnOnce(&[KnobRef]) -> R) -> R {
    f(&read().knobs)
}
