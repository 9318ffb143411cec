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
        let x = v.to_f64();
        let k = (x - self.min.to_f64()) / step.to_f64();
        (k - k.round()).abs() <= self.step_tolerance(x)
    }

    /// How far, in steps, a value at `x` may sit off the grid and still be on
    /// it: the rounding error of the type at the magnitudes involved (the value,
    /// `min` and the step each carry one), with a floor for exact types.
    fn step_tolerance(&self, x: f64) -> f64 {
        let Some(step) = self.step else { return 0.0 };
        let s = step.to_f64().abs();
        let magnitude = x.abs() + self.min.to_f64().abs() + s;
        let k = (x - self.min.to_f64()).abs() / s;
        (4.0 * T::PRECISION * magnitude / s).max(1e-9 * k.max(1.0))
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
        // A valid value snaps to itself, even where the grid computed in
        // `f64` would round to a neighbour of it in a coarser type.
        if let Some(v) = T::from_f64(x)
            && v.to_f64() == x
            && self.within_bounds(v)
            && self.on_step(v)
        {
            return Some(v);
        }
        let lo = self.min.to_f64();
        let hi = self.max.to_f64();
        let mut x = x.clamp(lo, hi);
        if let Some(step) = self.step {
            let s = step.to_f64();
            let k = ((x - lo) / s).round();
            // `max` itself is on the grid when it is within rounding of a step.
            let kmax = ((hi - lo) / s + self.step_tolerance(hi)).floor();
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

    use proptest::prelude::*;

    use super::*;

    /// A step knob as a user declares it: `min`, `step` and `max = min + n
    /// steps` written as decimals, so each is rounded to `T` on its own.
    fn stepped<T: KnobValue>(min: f64, step: f64, n: u32) -> Option<KnobSpec<T>> {
        let lo = T::from_f64(min)?;
        let hi = T::from_f64(min + f64::from(n) * step)?;
        let s = T::from_f64(step)?;
        let spec = KnobSpec::__new("t", "", lo, lo, hi, Some(s), false, 1.0, &[]);
        spec.validate().ok()?;
        Some(spec)
    }

    /// Every grid value and every decimal a user would write for one is
    /// accepted, and snapping a grid value gives it back.
    fn assert_grid<T: KnobValue + PartialEq>(min: f64, step: f64, n: u32) {
        let spec = stepped::<T>(min, step, n).expect("a coherent declaration");
        let (lo, s) = (spec.min.to_f64(), spec.step.map_or(0.0, KnobValue::to_f64));
        for k in 0..=n {
            let grid = spec.snap(lo + f64::from(k) * s).expect("not NaN");
            assert!(spec.check(grid).is_ok(), "grid value {grid:?} (k = {k})");
            assert_eq!(spec.snap(grid.to_f64()), Some(grid), "k = {k}");
            let written = T::from_f64(min + f64::from(k) * step).expect("not NaN");
            assert!(spec.check(written).is_ok(), "written {written:?} (k = {k})");
        }
    }

    #[test]
    fn f32_tenths_are_all_on_step() {
        let spec = KnobSpec::__new("t", "", 0.5f32, 0.1, 1.0, Some(0.1), false, 1.0, &[]);
        assert!(spec.validate().is_ok());
        for v in [0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0] {
            assert!(spec.check(v).is_ok(), "{v} is on the grid");
            assert_eq!(spec.snap(f64::from(v)), Some(v));
        }
        assert!(matches!(spec.check(0.35), Err(KnobError::OffStep { .. })));
    }

    proptest! {
        #[test]
        fn every_grid_value_of_a_float_step_knob_is_accepted_and_snaps_to_itself(
            min in -100.0f64..100.0,
            step in 0.01f64..10.0,
            n in 1u32..100,
        ) {
            assert_grid::<f32>(min, step, n);
            assert_grid::<f64>(min, step, n);
        }
    }

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
