//! The type-erased view of a knob the registry, the planner and the executor use.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::value::{KnobKind, KnobValue, Value};
use super::{Applier, Knob};
use crate::error::KnobError;

/// Operations on a knob whose value type is not known statically. Values travel
/// as their 64-bit encoding; the planner works on positions (`to_f64`).
pub(crate) trait ErasedKnob: Send + Sync {
    fn name(&self) -> &str;
    fn doc(&self) -> &str;
    fn kind(&self) -> KnobKind;
    fn bits(&self) -> u64;
    /// Stores an already checked encoding and counts the change. Only the
    /// publisher calls this.
    fn store(&self, bits: u64);
    /// How many times a value was published for this knob: a window whose
    /// count moved saw a change, even one set back before it closed.
    fn changes(&self) -> u64;
    /// Tells watchers the value in force.
    fn notify(&self);
    fn value_of(&self, bits: u64) -> Value;
    fn position_of(&self, bits: u64) -> f64;
    fn default_bits(&self) -> u64;
    fn min_bits(&self) -> u64;
    fn max_bits(&self) -> u64;
    fn step_size(&self) -> Option<f64>;
    fn is_log(&self) -> bool;
    fn cost(&self) -> f64;
    fn pressure(&self) -> Vec<String>;
    fn choices(&self) -> &'static [&'static str];
    /// The encoding of the valid value nearest to position `x`.
    fn snap(&self, x: f64) -> Option<u64>;
    fn check_bits(&self, bits: u64) -> Result<(), KnobError>;
    fn parse(&self, text: &str) -> Result<u64, KnobError>;
    /// Checks the declaration, including that the constant default encoding
    /// matches the default value (it would not for a type alias of `f64`).
    fn validate(&self) -> Result<(), KnobError>;
    fn id(&self) -> Option<usize>;
    fn assign_id(&self, id: usize);
    fn is_pinned(&self) -> bool;
    fn set_pinned(&self, pinned: bool);
    /// Who drives the knob instead of the loop ([`Knob::hold`]), if anyone.
    fn held_by(&self) -> Option<String>;
    fn applier(&self) -> Option<Applier>;
    /// Identity: the address of the knob.
    fn addr(&self) -> *const ();
}

impl<T: KnobValue> ErasedKnob for Knob<T> {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn doc(&self) -> &str {
        &self.spec.doc
    }

    fn kind(&self) -> KnobKind {
        T::KIND
    }

    fn bits(&self) -> u64 {
        self.bits.load(Ordering::Acquire)
    }

    fn store(&self, bits: u64) {
        self.bits.store(bits, Ordering::Release);
        self.shared().changes.fetch_add(1, Ordering::AcqRel);
    }

    fn changes(&self) -> u64 {
        self.shared
            .get()
            .map_or(0, |s| s.changes.load(Ordering::Acquire))
    }

    fn notify(&self) {
        if let Some(shared) = self.shared.get() {
            shared.watch.send_replace(self.get());
        }
    }

    fn value_of(&self, bits: u64) -> Value {
        T::from_bits(bits).to_value()
    }

    fn position_of(&self, bits: u64) -> f64 {
        T::from_bits(bits).to_f64()
    }

    fn default_bits(&self) -> u64 {
        self.spec.default.to_bits()
    }

    fn min_bits(&self) -> u64 {
        self.spec.min.to_bits()
    }

    fn max_bits(&self) -> u64 {
        self.spec.max.to_bits()
    }

    fn step_size(&self) -> Option<f64> {
        self.spec.step.map(KnobValue::to_f64)
    }

    fn is_log(&self) -> bool {
        self.spec.log
    }

    fn cost(&self) -> f64 {
        self.spec.cost
    }

    fn pressure(&self) -> Vec<String> {
        self.spec.pressure.to_vec()
    }

    fn choices(&self) -> &'static [&'static str] {
        T::choices()
    }

    fn snap(&self, x: f64) -> Option<u64> {
        self.spec.snap(x).map(KnobValue::to_bits)
    }

    fn check_bits(&self, bits: u64) -> Result<(), KnobError> {
        let v = T::from_bits(bits);
        if v.to_bits() != bits {
            return Err(KnobError::OutOfBounds {
                knob: self.spec.name.to_string(),
                value: format!("encoding {bits:#x}"),
                min: format!("{:?}", self.spec.min),
                max: format!("{:?}", self.spec.max),
            });
        }
        self.spec.check(v)
    }

    fn parse(&self, text: &str) -> Result<u64, KnobError> {
        let text = text.trim();
        let err = |expected: &str| KnobError::Parse {
            knob: self.spec.name.to_string(),
            input: text.to_string(),
            expected: expected.to_string(),
        };
        let fits = |bits: u64| (T::from_bits(bits).to_bits() == bits).then_some(bits);
        let bits = match T::KIND {
            KnobKind::Unsigned => text.parse::<u64>().ok().and_then(fits),
            KnobKind::Signed => text.parse::<i64>().ok().and_then(|v| fits(v as u64)),
            KnobKind::Float => text
                .parse::<f64>()
                .ok()
                .and_then(T::from_f64)
                .map(KnobValue::to_bits),
            KnobKind::Bool => match text.to_ascii_lowercase().as_str() {
                "true" | "1" | "on" | "yes" => Some(true.to_bits()),
                "false" | "0" | "off" | "no" => Some(false.to_bits()),
                _ => None,
            },
            KnobKind::Duration => parse_duration(text)
                .and_then(|d| T::from_f64(d.as_secs_f64()))
                .map(KnobValue::to_bits),
            KnobKind::Choice => T::choices()
                .iter()
                .position(|c| c.eq_ignore_ascii_case(text))
                .and_then(|i| T::from_f64(i as f64))
                .map(KnobValue::to_bits),
        };
        let expected = match T::KIND {
            KnobKind::Unsigned | KnobKind::Signed => "an integer of the knob's type".to_string(),
            KnobKind::Float => "a number".to_string(),
            KnobKind::Bool => "true or false".to_string(),
            KnobKind::Duration => "a duration such as 250ms, 1.5s or 2m".to_string(),
            KnobKind::Choice => format!("one of {}", T::choices().join(", ")),
        };
        let bits = bits.ok_or_else(|| err(&expected))?;
        self.check_bits(bits)?;
        Ok(bits)
    }

    fn validate(&self) -> Result<(), KnobError> {
        self.spec.validate()?;
        if self.spec.default.to_bits() != self.bits.load(Ordering::Relaxed)
            && self.shared.get().and_then(|s| s.id.get()).is_none()
        {
            return Err(KnobError::InvalidSpec {
                knob: self.spec.name.to_string(),
                reason: "the default's encoding does not match its type; declare the knob \
                         with the type itself (u32, f64, Duration …), not an alias"
                    .into(),
            });
        }
        Ok(())
    }

    fn id(&self) -> Option<usize> {
        self.shared.get().and_then(|s| s.id.get().copied())
    }

    fn assign_id(&self, id: usize) {
        let _ = self.shared().id.set(id);
    }

    fn is_pinned(&self) -> bool {
        self.shared
            .get()
            .is_some_and(|s| s.pinned.load(Ordering::Acquire))
    }

    fn set_pinned(&self, pinned: bool) {
        self.shared().pinned.store(pinned, Ordering::Release);
    }

    fn held_by(&self) -> Option<String> {
        let shared = self.shared.get()?;
        let slot = shared
            .held
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.clone()
    }

    fn applier(&self) -> Option<Applier> {
        let shared = self.shared.get()?;
        let slot = shared
            .applier
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.clone()
    }

    fn addr(&self) -> *const () {
        (self as *const Self).cast()
    }
}

/// Reads `250ms`, `1.5s`, `100us`, `2m`, `1h`, `500ns`; a bare number is seconds.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(number * scale).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("100us"), Some(Duration::from_micros(100)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("fast"), None);
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("3 parsecs"), None);
    }
}
