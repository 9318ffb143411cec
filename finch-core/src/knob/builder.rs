//! Knobs declared at run time (e.g. PostgreSQL settings discovered at start).

use std::borrow::Cow;
use std::sync::Arc;

use super::Knob;
use super::erased::ErasedKnob;
use super::registry;
use super::spec::{KnobSpec, Names};
use super::value::KnobValue;
use crate::error::KnobError;

/// Builds and registers a knob at run time; `finch::knobs()` then lists it beside
/// the `#[knob]` statics.
///
/// ```
/// use std::time::Duration;
/// use finch_core::KnobBuilder;
///
/// let timeout = KnobBuilder::new("doc.builder.timeout", Duration::from_millis(200))
///     .bounds(Duration::from_millis(10), Duration::from_secs(5))
///     .log()
///     .cost(0.2)
///     .doc("How long a request may wait for a connection.")
///     .register()?;
/// assert_eq!(timeout.get(), Duration::from_millis(200));
/// # Ok::<(), finch_core::KnobError>(())
/// ```
#[derive(Debug)]
pub struct KnobBuilder<T: KnobValue> {
    spec: KnobSpec<T>,
    bounded: bool,
}

impl<T: KnobValue> KnobBuilder<T> {
    /// A knob named `name` (unique across the process) with a default value.
    /// Types without natural bounds (numbers, durations) need [`bounds`](Self::bounds).
    pub fn new(name: impl Into<String>, default: T) -> Self {
        let natural = T::natural_bounds();
        let (min, max) = natural.unwrap_or((default, default));
        KnobBuilder {
            spec: KnobSpec {
                name: Cow::Owned(name.into()),
                doc: Cow::Borrowed(""),
                default,
                min,
                max,
                step: None,
                log: false,
                cost: 0.0,
                pressure: Names::Static(&[]),
            },
            bounded: natural.is_some(),
        }
    }

    /// The inclusive range of values the knob may take.
    pub fn bounds(mut self, min: T, max: T) -> Self {
        self.spec.min = min;
        self.spec.max = max;
        self.bounded = true;
        self
    }

    /// Valid values are `min + k * step`.
    pub fn step(mut self, step: T) -> Self {
        self.spec.step = Some(step);
        self
    }

    /// Search the knob on a logarithmic scale (for ranges spanning orders of magnitude).
    pub fn log(mut self) -> Self {
        self.spec.log = true;
        self
    }

    /// How expensive higher values are (default 0: free).
    pub fn cost(mut self, cost: f64) -> Self {
        self.spec.cost = cost;
        self
    }

    /// The signals that show this knob's resource under pressure: 0 or low
    /// with slack, rising as it saturates (a pool's waiting calls, a limit's
    /// queue, a cache's miss ratio, a database's temporary bytes). Names are
    /// as in [`Observation::signals`](crate::monitor::Observation::signals),
    /// e.g. `pool.waiting` for the signal `waiting` of the source `pool`. The
    /// loop waits for them to settle after a change and reports a knob whose
    /// signal rose beyond its usual level as saturated.
    ///
    /// ```
    /// use finch_core::KnobBuilder;
    ///
    /// let pool = KnobBuilder::new("doc.builder.pool", 16u32)
    ///     .bounds(2, 64)
    ///     .cost(1.0)
    ///     .pressure(["pool.waiting"])
    ///     .register()?;
    /// assert_eq!(finch_core::knob_by_name("doc.builder.pool").unwrap().pressure(), ["pool.waiting"]);
    /// # Ok::<(), finch_core::KnobError>(())
    /// ```
    pub fn pressure<I, S>(mut self, signals: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.spec.pressure = Names::Owned(signals.into_iter().map(Into::into).collect());
        self
    }

    /// A description shown in status reports.
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.spec.doc = Cow::Owned(doc.into());
        self
    }

    /// Checks the declaration and registers the knob.
    pub fn register(self) -> Result<Arc<Knob<T>>, KnobError> {
        if !self.bounded {
            return Err(KnobError::InvalidSpec {
                knob: self.spec.name.to_string(),
                reason: "no bounds given; call `.bounds(min, max)`".into(),
            });
        }
        self.spec.validate()?;
        let knob = Arc::new(Knob::from_valid_spec(self.spec));
        registry::register_dynamic(Arc::clone(&knob) as Arc<dyn ErasedKnob>)?;
        Ok(knob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knob::{knob_by_name, knobs};

    #[test]
    fn missing_bounds_duplicate_names_and_bad_specs_are_refused() {
        let err = KnobBuilder::new("test.builder.unbounded", 3u32).register();
        assert!(matches!(err, Err(KnobError::InvalidSpec { .. })));

        KnobBuilder::new("test.builder.dup", 3u32)
            .bounds(0, 4)
            .register()
            .unwrap();
        let dup = KnobBuilder::new("test.builder.dup", 3u32)
            .bounds(0, 4)
            .register();
        assert!(matches!(dup, Err(KnobError::DuplicateName { .. })));

        let bad = KnobBuilder::new("test.builder.bad", 9u32)
            .bounds(0, 4)
            .register();
        assert!(matches!(bad, Err(KnobError::InvalidSpec { .. })));
        assert!(knob_by_name("test.builder.bad").is_none());
    }

    #[test]
    fn bool_knobs_have_natural_bounds_and_are_listed() {
        let k = KnobBuilder::new("test.builder.flag", false)
            .cost(2.0)
            .register()
            .unwrap();
        k.set(true).unwrap();
        let listed = knobs()
            .into_iter()
            .find(|k| k.name() == "test.builder.flag")
            .unwrap();
        assert_eq!(listed.value().to_string(), "true");
        assert_eq!(listed.cost(), 2.0);
    }
}
