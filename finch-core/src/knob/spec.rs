//! A knob's declaration: default, bounds, step, scale and cost, and its validation.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::value::{KnobKind, KnobValue};
use crate::error::KnobError;

/// Everything declared about a knob. Built by `#[knob]` (as a constant) or by
/// [`KnobBuilder`](crate::KnobBuilder) at run time; validated when registered.
#[derive(Clone, Debug)]
pub struct KnobSpec<T> {
    pub(crate) name: Cow<'static, str>,
    pub(crate) doc: Cow<'static, str>,
    pub(crate) default: T,
    pub(crate) min: T,
    pub(crate) max: T,
    pub(crate) step: Option<T>,
    pub(crate) log: bool,
    pub(crate) cost: f64,
    pub(crate) pressure: Names,
}

/// Signal names, declared as constants (`#[knob]`) or at run time.
#[derive(Clone, Debug)]
pub(crate) enum Names {
    Static(&'static [&'static str]),
    Owned(Vec<String>),
}

impl Names {
    pub(crate) fn to_vec(&self) -> Vec<String> {
        match self {
            Names::Static(names) => names.iter().map(|n| (*n).to_string()).collect(),
            Names::Owned(names) => names.clone(),
        }
    }
}

impl<T: KnobValue> KnobSpec<T> {
    /// A constant declaration, as `#[knob]` writes it.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub const fn __new(
        name: &'static str,
        doc: &'static str,
        default: T,
        min: T,
        max: T,
        step: Option<T>,
        log: bool,
        cost: f64,
        pressure: &'static [&'static str],
    ) -> Self {
        KnobSpec {
            name: Cow::Borrowed(name),
            doc: Cow::Borrowed(doc),
            default,
            min,
            max,
            step,
            log,
            cost,
            pressure: Names::Static(pressure),
        }
    }

    /// The knob's stable name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks the declaration is coherent: bounds ordered, default inside them,
    /// a positive step, a positive range for log scale, a finite non-negative cost.
    pub(crate) fn validate(&self) -> Result<(), KnobError> {
        let invalid = |reason: String| KnobError::InvalidSpec {
            knob: self.name.to_string(),
            reason,
        };
        if self.name.is_empty() {
            return Err(invalid("the name is empty; give `name = \"..\"`".into()));
        }
        if self.min.compare(self.max) == Ordering::Greater {
            return Err(invalid(format!(
                "min {:?} is greater than max {:?}; swap them",
                self.min, self.max
            )));
        }
        if T::KIND == KnobKind::Float {
            let (lo, hi) = (self.min.to_f64(), self.max.to_f64());
            if !lo.is_finite() || !hi.is_finite() {
                return Err(invalid("bounds must be finite numbers".into()));
            }
        }
        if !self.within_bounds(self.default) {
            return Err(invalid(format!(
                "default {:?} lies outside {:?}..={:?}",
                self.default, self.min, self.max
            )));
        }
        if let Some(step) = self.step {
            let s = step.to_f64();
            if !(s.is_finite() && s > 0.0) {
                return Err(invalid(format!("step {step:?} must be positive")));
            }
            if !self.on_step(self.default) {
                return Err(invalid(format!(
                    "default {:?} is not min {:?} plus a whole number of steps {step:?}",
                    self.default, self.min
                )));
            }
        }
        if self.log && self.min.to_f64().partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Err(invalid(format!(
                "log scale needs min > 0, got {:?}; raise min or drop `log`",
                self.min
            )));
        }
        if !(self.cost.is_finite() && self.cost >= 0.0) {
            return Err(invalid(format!(
                "cost {} must be a finite number >= 0",
                self.cost
            )));
        }
        Ok(())
    }

    pub(crate) fn within_bounds(&self, v: T) -> bool {
        v.compare(self.min) != Ordering::Less && v.compare(self.max) != Ordering::Greater
    }

    /// Whether `v` is `min` plus a whole number of steps (always true without a step).
    pub(crate) fn on_step(&self, v: T) -> bool {
        let Some(step) = self.step else { return true };
        let k = (v.to_f64() - self.min.to_f64()) / step.to_f64();
        (k - k.round()).abs() <= 1e-9 * k.abs().max(1.0)
    }

    /// Checks a value a caller wants to set.
    pub(crate) fn check(&self, v: T) -> Result<(), KnobError> {
        if T::KIND == KnobKind::Float && v.to_f64().is_nan() {
            return Err(KnobError::NotANumber {
                knob: self.name.to_string(),
            });
        }
        if !self.within_bounds(v) {
            return Err(KnobError::OutOfBounds {
                knob: self.name.to_string(),
                value: format!("{v:?}"),
                min: format!("{:?}", self.min),
                max: format!("{:?}", self.max),
            });
        }
        if !self.on_step(v) {
            return Err(KnobError::OffStep {
                knob: self.name.to_string(),
                value: format!("{v:?}"),
                step: format!("{:?}", self.step),
            });
        }
        Ok(())
    }

    /// The valid value nearest to the numeric position `x`: rounded to the type and
    /// the step, clamped into the bounds. `None` only for NaN.
    pub(crate) fn snap(&self, x: f64) -> Option<T> {
        if x.is_nan() {
            return None;
        }
        let lo = self.min.to_f64();
        let hi = self.max.to_f64();
        let mut x = x.clamp(lo, hi);
        if let Some(step) = self.step {
            let s = step.to_f64();
            let k = ((x - lo) / s).round();
            let kmax = ((hi - lo) / s).floor();
            x = lo + k.clamp(0.0, kmax) * s;
        }
        let v = T::from_f64(x)?;
        // Rounding to the type can leave the bounds (e.g. 0.6 between integer
        // bounds 0.4..0.8 is impossible, but float steps can drift): clamp typed.
        let v = if v.compare(self.min) == Ordering::Less {
            self.min
        } else if v.compare(self.max) == Ordering::Greater {
            self.max
        } else {
            v
        };
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn spec(default: u32, min: u32, max: u32, step: Option<u32>) -> KnobSpec<u32> {
        KnobSpec::__new("t", "", default, min, max, step, false, 1.0, &[])
    }

    #[test]
    fn validation_catches_incoherent_declarations() {
        assert!(spec(8, 1, 64, None).validate().is_ok());
        assert!(spec(8, 64, 1, None).validate().is_err());
        assert!(spec(100, 1, 64, None).validate().is_err());
        assert!(spec(8, 0, 64, Some(0)).validate().is_err());
        assert!(spec(9, 0, 64, Some(4)).validate().is_err());
        assert!(spec(8, 0, 64, Some(4)).validate().is_ok());
        let log0 = KnobSpec::__new("t", "", 1.0f64, 0.0, 2.0, None, true, 1.0, &[]);
        assert!(log0.validate().is_err());
        let neg_cost = KnobSpec::__new("t", "", 1u8, 0, 2, None, false, -1.0, &[]);
        assert!(neg_cost.validate().is_err());
        let nan = KnobSpec::__new("t", "", 1.0f64, 0.0, f64::NAN, None, false, 0.0, &[]);
        assert!(nan.validate().is_err());
    }

    #[test]
    fn check_rejects_out_of_bounds_off_step_and_nan() {
        let s = spec(8, 0, 64, Some(4));
        assert!(s.check(12).is_ok());
        assert!(matches!(s.check(65), Err(KnobError::OutOfBounds { .. })));
        assert!(matches!(s.check(13), Err(KnobError::OffStep { .. })));
        let f = KnobSpec::__new("f", "", 1.0f64, 0.0, 2.0, None, false, 0.0, &[]);
        assert!(matches!(
            f.check(f64::NAN),
            Err(KnobError::NotANumber { .. })
        ));
    }

    #[test]
    fn snap_stays_inside_bounds_and_on_step() {
        let s = spec(8, 2, 63, Some(4));
        for x in [-1e9, 0.0, 2.9, 4.1, 10.0, 61.0, 63.0, 1e12, f64::INFINITY] {
            let v = s.snap(x).unwrap();
            assert!((2..=63).contains(&v), "{x} -> {v}");
            assert!(s.on_step(v), "{x} -> {v}");
        }
        assert_eq!(s.snap(f64::NAN), None);
        let d = KnobSpec::__new(
            "d",
            "",
            Duration::from_millis(10),
            Duration::from_millis(1),
            Duration::from_millis(100),
            None,
            true,
            1.0,
            &[],
        );
        assert_eq!(d.snap(5.0), Some(Duration::from_millis(100)));
    }
}
