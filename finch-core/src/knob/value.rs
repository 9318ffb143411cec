//! The types a knob can hold, and their type-erased form.

use std::cmp::Ordering;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What kind of value a knob holds; decides how the planner moves along it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnobKind {
    /// An unsigned integer (`u8` … `u64`, `usize`).
    Unsigned,
    /// A signed integer (`i8` … `i64`, `isize`).
    Signed,
    /// A floating-point number (`f64`, `f32`).
    Float,
    /// `true` or `false`; `true` counts as the costlier setting.
    Bool,
    /// A [`Duration`], searched in seconds.
    Duration,
    /// One of a fixed set of choices (a user enum deriving `KnobValue`),
    /// ordered from cheapest to costliest.
    Choice,
}

/// A value a [`Knob`](crate::Knob) can hold.
///
/// Implemented for the integer types, `f64`, `f32`, `bool` and [`Duration`]; user
/// enums with a fixed set of fieldless variants derive it with
/// `#[derive(finch::KnobValue)]`.
///
/// Every value has a lossless 64-bit encoding (so reads are one atomic load) and a
/// position on a numeric axis (`to_f64`), which is where the planner searches.
pub trait KnobValue: Copy + Send + Sync + fmt::Debug + 'static {
    /// The kind of value.
    const KIND: KnobKind;

    /// The relative precision of the type's values (its machine epsilon): the
    /// step grid of a knob tolerates rounding errors of this relative size.
    /// `f64::EPSILON` unless the type is coarser (`f32`).
    const PRECISION: f64 = f64::EPSILON;

    /// The lossless 64-bit encoding of the value.
    fn to_bits(self) -> u64;

    /// Decodes a value encoded by [`to_bits`](Self::to_bits). Any input yields
    /// some value (never panics); only encodings of valid values are ever stored.
    fn from_bits(bits: u64) -> Self;

    /// The value's position on the planner's numeric axis.
    fn to_f64(self) -> f64;

    /// The value nearest to `x` (rounded and saturated); `None` for NaN.
    fn from_f64(x: f64) -> Option<Self>;

    /// Total order used for bounds checks.
    fn compare(self, other: Self) -> Ordering;

    /// The type's own bounds, for types that have a natural range (`bool`, enums).
    fn natural_bounds() -> Option<(Self, Self)> {
        None
    }

    /// Names of the choices, in order, for [`KnobKind::Choice`].
    fn choices() -> &'static [&'static str] {
        &[]
    }

    /// The type-erased form of the value.
    fn to_value(self) -> Value;
}

/// A knob value with its type erased: what `finch::knobs()` and the status report show.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// An unsigned integer.
    Unsigned(u64),
    /// A signed integer.
    Signed(i64),
    /// A floating-point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A duration.
    #[serde(serialize_with = "serialize_secs")]
    Duration(Duration),
    /// One of a fixed set of named choices.
    Choice(&'static str),
}

impl Value {
    /// The value's position on the planner's numeric axis (choices: their index
    /// is not known here, so this is only meaningful for numeric values).
    pub fn as_f64(&self) -> f64 {
        match *self {
            Value::Unsigned(v) => v as f64,
            Value::Signed(v) => v as f64,
            Value::Float(v) => v,
            Value::Bool(v) => f64::from(u8::from(v)),
            Value::Duration(v) => v.as_secs_f64(),
            Value::Choice(_) => f64::NAN,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unsigned(v) => write!(f, "{v}"),
            Value::Signed(v) => write!(f, "{v}"),
            Value::Float(v) => match f.precision() {
                Some(p) => write!(f, "{v:.p$}"),
                None => f.write_str(&significant(*v)),
            },
            Value::Bool(v) => write!(f, "{v}"),
            Value::Duration(v) => write!(f, "{v:?}"),
            Value::Choice(v) => f.write_str(v),
        }
    }
}

/// `v` with four significant digits and no trailing zeros, as people read a
/// setting (`38.05` rather than `38.05462768008706`).
fn significant(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return v.to_string();
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = usize::try_from(3 - magnitude).unwrap_or(0);
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn serialize_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl KnobValue for $t {
            const KIND: KnobKind = KnobKind::Unsigned;
            #[inline(always)]
            fn to_bits(self) -> u64 { self as u64 }
            #[inline(always)]
            fn from_bits(bits: u64) -> Self { bits as $t }
            fn to_f64(self) -> f64 { self as f64 }
            fn from_f64(x: f64) -> Option<Self> {
                // `as` saturates at the type's bounds.
                (!x.is_nan()).then(|| x.round() as $t)
            }
            fn compare(self, other: Self) -> Ordering { self.cmp(&other) }
            fn to_value(self) -> Value { Value::Unsigned(self as u64) }
        }
    )*};
}

macro_rules! signed {
    ($($t:ty),*) => {$(
        impl KnobValue for $t {
            const KIND: KnobKind = KnobKind::Signed;
            #[inline(always)]
            fn to_bits(self) -> u64 { self as i64 as u64 }
            #[inline(always)]
            fn from_bits(bits: u64) -> Self { bits as i64 as $t }
            fn to_f64(self) -> f64 { self as f64 }
            fn from_f64(x: f64) -> Option<Self> {
                (!x.is_nan()).then(|| x.round() as $t)
            }
            fn compare(self, other: Self) -> Ordering { self.cmp(&other) }
            fn to_value(self) -> Value { Value::Signed(self as i64) }
        }
    )*};
}

unsigned!(u8, u16, u32, u64, usize);
signed!(i8, i16, i32, i64, isize);

impl KnobValue for f64 {
    const KIND: KnobKind = KnobKind::Float;
    #[inline(always)]
    fn to_bits(self) -> u64 {
        f64::to_bits(self)
    }
    #[inline(always)]
    fn from_bits(bits: u64) -> Self {
        f64::from_bits(bits)
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(x: f64) -> Option<Self> {
        (!x.is_nan()).then_some(x)
    }
    fn compare(self, other: Self) -> Ordering {
        self.total_cmp(&other)
    }
    fn to_value(self) -> Value {
        Value::Float(self)
    }
}

impl KnobValue for f32 {
    const KIND: KnobKind = KnobKind::Float;
    const PRECISION: f64 = f32::EPSILON as f64;
    #[inline(always)]
    fn to_bits(self) -> u64 {
        u64::from(f32::to_bits(self))
    }
    #[inline(always)]
    fn from_bits(bits: u64) -> Self {
        f32::from_bits(bits as u32)
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn from_f64(x: f64) -> Option<Self> {
        (!x.is_nan()).then_some(x as f32)
    }
    fn compare(self, other: Self) -> Ordering {
        self.total_cmp(&other)
    }
    fn to_value(self) -> Value {
        Value::Float(f64::from(self))
    }
}

impl KnobValue for bool {
    const KIND: KnobKind = KnobKind::Bool;
    #[inline(always)]
    fn to_bits(self) -> u64 {
        u64::from(self)
    }
    #[inline(always)]
    fn from_bits(bits: u64) -> Self {
        bits != 0
    }
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
    fn from_f64(x: f64) -> Option<Self> {
        (!x.is_nan()).then_some(x >= 0.5)
    }
    fn compare(self, other: Self) -> Ordering {
        self.cmp(&other)
    }
    fn natural_bounds() -> Option<(Self, Self)> {
        Some((false, true))
    }
    fn to_value(self) -> Value {
        Value::Bool(self)
    }
}

/// Durations are stored as whole nanoseconds (up to about 584 years).
impl KnobValue for Duration {
    const KIND: KnobKind = KnobKind::Duration;
    #[inline(always)]
    fn to_bits(self) -> u64 {
        u64::try_from(self.as_nanos()).unwrap_or(u64::MAX)
    }
    #[inline(always)]
    fn from_bits(bits: u64) -> Self {
        Duration::from_nanos(bits)
    }
    fn to_f64(self) -> f64 {
        self.as_secs_f64()
    }
    fn from_f64(x: f64) -> Option<Self> {
        if x.is_nan() {
            return None;
        }
        let nanos = (x * 1e9).round().clamp(0.0, u64::MAX as f64);
        Some(Duration::from_nanos(nanos as u64))
    }
    fn compare(self, other: Self) -> Ordering {
        self.cmp(&other)
    }
    fn to_value(self) -> Value {
        Value::Duration(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_display_with_four_significant_digits() {
        assert_eq!(Value::Float(38.05462768008706).to_string(), "38.05");
        assert_eq!(Value::Float(64.0).to_string(), "64");
        assert_eq!(Value::Float(0.000_123_456).to_string(), "0.0001235");
        assert_eq!(Value::Float(12_345.6).to_string(), "12346");
        assert_eq!(format!("{:.1}", Value::Float(2.25)), "2.2");
    }

    fn roundtrip<T: KnobValue + PartialEq>(v: T) {
        assert_eq!(T::from_bits(v.to_bits()), v);
    }

    #[test]
    fn bits_roundtrip() {
        roundtrip(u64::MAX);
        roundtrip(0u8);
        roundtrip(-5i32);
        roundtrip(i64::MIN);
        roundtrip(-0.0f64);
        roundtrip(1.5f32);
        roundtrip(true);
        roundtrip(Duration::from_micros(1500));
    }

    #[test]
    fn from_f64_rounds_and_saturates() {
        assert_eq!(u8::from_f64(300.0), Some(255));
        assert_eq!(u32::from_f64(-3.0), Some(0));
        assert_eq!(i16::from_f64(2.6), Some(3));
        assert_eq!(u32::from_f64(f64::NAN), None);
        assert_eq!(bool::from_f64(0.7), Some(true));
        assert_eq!(Duration::from_f64(0.25), Some(Duration::from_millis(250)));
        assert_eq!(Duration::from_f64(-1.0), Some(Duration::ZERO));
        assert_eq!(f64::from_f64(f64::INFINITY), Some(f64::INFINITY));
    }

    #[test]
    fn value_serializes_plainly() {
        let json = serde_json::to_string(&[
            Value::Duration(Duration::from_millis(1500)),
            Value::Unsigned(8),
            Value::Choice("zstd"),
        ])
        .unwrap();
        assert_eq!(json, r#"[1.5,8,"zstd"]"#);
    }
}
