//! `#[derive(KnobValue)]` on enums with explicit discriminants, a repr, raw
//! identifiers and restricted visibility.

use finch::KnobValue;
use finch::knob::{KnobKind, Value};

#[derive(Clone, Copy, Debug, PartialEq, KnobValue)]
#[repr(u8)]
enum Level {
    Low = 10,
    Mid = 20,
    High = 30,
}

#[derive(Clone, Copy, Debug, PartialEq, KnobValue)]
enum Signed {
    Minus = -5,
    Zero = 0,
    r#Type,
}

mod inner {
    /// One choice only.
    #[derive(Clone, Copy, Debug, PartialEq, finch::KnobValue)]
    pub(crate) enum Single {
        /// The only variant.
        Only,
    }
}

fn main() {
    assert_eq!(Level::KIND, KnobKind::Choice);
    for l in [Level::Low, Level::Mid, Level::High] {
        assert_eq!(Level::from_bits(l.to_bits()), l);
    }
    for s in [Signed::Minus, Signed::Zero, Signed::r#Type] {
        assert_eq!(Signed::from_bits(s.to_bits()), s);
    }
    assert_eq!(Signed::choices(), ["Minus", "Zero", "Type"]);
    assert_eq!(Signed::r#Type.to_value(), Value::Choice("Type"));
    assert_eq!(Level::from_f64(1.4), Some(Level::Mid));
    assert_eq!(Level::__FINCH_MIN, Level::Low);
    assert_eq!(Level::__FINCH_MAX, Level::High);
    assert_eq!(
        inner::Single::natural_bounds(),
        Some((inner::Single::Only, inner::Single::Only))
    );
}
