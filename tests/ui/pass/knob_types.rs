//! Knobs of every supported type, with every key.

use std::time::Duration;

use finch::knob::Value;
use finch::{Knob, KnobValue, knob, knob_by_name};

#[knob(default = 8, min = 1, max = 255)]
static A_U8: Knob<u8>;
#[knob(default = 8, min = 1, max = 1024, step = 1)]
static A_U16: Knob<u16>;
/// Connections the recipe service keeps open.
#[knob(default = 8, min = 1, max = 64, cost = 1.0)]
pub static DB_POOL: Knob<u32>;
#[knob(default = u64::MAX, min = 0, max = u64::MAX)]
pub(crate) static A_U64: Knob<u64>;
#[knob(default = 16, min = 0, max = 64, step = 4, log = false)]
static A_USIZE: Knob<usize>;
#[knob(default = -8, min = -128, max = 127)]
static A_I8: Knob<i8>;
#[knob(default = 0, min = -1000, max = 1000, cost = 0)]
static A_I16: Knob<i16>;
#[knob(default = -3, min = -10, max = 10, step = 1)]
static A_I32: Knob<i32>;
#[knob(default = i64::MIN, min = i64::MIN, max = 0)]
static A_I64: Knob<i64>;
#[knob(default = 2, min = 1, max = 1 << 20, log)]
static A_ISIZE: Knob<isize>;
#[knob(default = 0.5, min = 0, max = 1, step = 0.25, cost = 2)]
static A_F32: Knob<f32>;
#[knob(default = -0.5, min = -1.0, max = 1e3, cost = 0.5)]
static A_F64: Knob<f64>;
#[knob(default = 1.5, min = 0.001, max = 100.0, log = true)]
static LOG_F64: Knob<core::primitive::f64>;
#[knob(default = true)]
static CACHE: Knob<bool>;
#[knob(default = false, min = false, max = true, cost = 3.0)]
static STRICT: Knob<bool>;

#[knob(default = 200ms, min = 10ms, max = 5s, log, name = "pass.timeout")]
static TIMEOUT: Knob<Duration>;
#[knob(default = 100us, min = 10ns, max = 1.5s, step = 10ns)]
static SPIN: Knob<std::time::Duration>;
const FLUSH: Duration = Duration::from_millis(20);
#[knob(default = FLUSH, min = Duration::ZERO, max = Duration::from_secs(60))]
static FLUSH_EVERY: Knob<core::time::Duration>;

/// How responses are compressed.
#[derive(Clone, Copy, Debug, PartialEq, KnobValue)]
pub enum Codec {
    None,
    Lz4,
    Zstd,
}

#[knob(default = Codec::Lz4, cost = 0.5, name = "pass.codec")]
static CODEC: Knob<Codec>;
#[knob(default = Codec::Lz4, min = Codec::Lz4, max = Codec::Zstd)]
static CODEC_BOUNDED: Knob<Codec>;

mod nested {
    use finch::{Knob, knob};

    /// A knob in a submodule, seen from outside.
    #[knob(default = 3, min = 1, max = 9)]
    pub static RETRIES: Knob<u8>;
}

fn main() {
    assert_eq!(A_U8.get(), 8);
    assert_eq!(A_U16.get(), 8);
    assert_eq!(DB_POOL.get(), 8);
    assert_eq!(A_U64.get(), u64::MAX);
    assert_eq!(A_USIZE.get(), 16);
    assert_eq!(A_I8.get(), -8);
    assert_eq!(A_I16.get(), 0);
    assert_eq!(A_I32.get(), -3);
    assert_eq!(A_I64.get(), i64::MIN);
    assert_eq!(A_ISIZE.get(), 2);
    assert_eq!(A_F32.get(), 0.5);
    assert_eq!(A_F64.get(), -0.5);
    assert_eq!(LOG_F64.get(), 1.5);
    assert!(CACHE.get());
    assert!(!STRICT.get());
    assert_eq!(TIMEOUT.get(), Duration::from_millis(200));
    assert_eq!(SPIN.get(), Duration::from_micros(100));
    assert_eq!(SPIN.max(), Duration::from_millis(1500));
    assert_eq!(FLUSH_EVERY.get(), FLUSH);
    assert_eq!(CODEC.get(), Codec::Lz4);
    assert_eq!(CODEC_BOUNDED.min(), Codec::Lz4);
    assert_eq!(nested::RETRIES.get(), 3);
    assert_eq!(DB_POOL.doc(), "Connections the recipe service keeps open.");

    let names = [
        "crate::A_U8",
        "crate::A_U16",
        "crate::DB_POOL",
        "crate::A_U64",
        "crate::A_USIZE",
        "crate::A_I8",
        "crate::A_I16",
        "crate::A_I32",
        "crate::A_I64",
        "crate::A_ISIZE",
        "crate::A_F32",
        "crate::A_F64",
        "crate::LOG_F64",
        "crate::CACHE",
        "crate::STRICT",
        "pass.timeout",
        "crate::SPIN",
        "crate::FLUSH_EVERY",
        "pass.codec",
        "crate::CODEC_BOUNDED",
        "crate::nested::RETRIES",
    ];
    for name in names {
        // Default names start with the crate's path, which trybuild chooses.
        let name = name.replace("crate", module_path!());
        assert!(knob_by_name(&name).is_some(), "{name} is not registered");
    }
    let codec = knob_by_name("pass.codec").unwrap();
    assert_eq!(codec.value(), Value::Choice("Lz4"));
    codec.set_from_str("Zstd").unwrap();
    assert_eq!(CODEC.get(), Codec::Zstd);
}
