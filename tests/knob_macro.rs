//! `#[knob]` and `#[derive(KnobValue)]` end to end: defaults, validation,
//! listing, docs and parsing.

use std::time::Duration;

use finch::knob::{KnobKind, KnobRef, Value};
use finch::{Knob, KnobError, KnobValue, knob, knob_by_name, knobs};

/// Connections the recipe service keeps open.
///
/// Grows with load.
#[knob(default = 8, min = 1, max = 64, cost = 1.0, pressure = ["db.waiting", "db.in_use"])]
static DB_POOL: Knob<u32>;

#[knob(default = 16, min = 0, max = 64, step = 4, name = "test.knob.batch")]
static BATCH: Knob<usize>;

#[knob(default = -3, min = -10, max = 10, name = "test.knob.offset")]
static OFFSET: Knob<i32>;

#[knob(default = 0.5, min = 0.0, max = 1, name = "test.knob.ratio", cost = 2)]
static RATIO: Knob<f64>;

#[knob(default = 1.5, min = 0.5, max = 8.0, log, name = "test.knob.factor")]
static FACTOR: Knob<f32>;

#[knob(default = true, name = "test.knob.cache", cost = 0.25)]
static CACHE: Knob<bool>;

#[knob(default = 200ms, min = 10ms, max = 5s, log = true, name = "test.knob.timeout")]
static TIMEOUT: Knob<Duration>;

const FLUSH_DEFAULT: Duration = Duration::from_micros(1500);

#[knob(
    default = FLUSH_DEFAULT,
    min = 100us,
    max = Duration::from_millis(20),
    step = 100us,
    name = "test.knob.flush"
)]
static FLUSH: Knob<std::time::Duration>;

/// How responses are compressed.
#[derive(Clone, Copy, Debug, PartialEq, KnobValue)]
enum Codec {
    None,
    Lz4,
    Zstd,
}

#[knob(default = Codec::Lz4, name = "test.knob.codec", cost = 0.5)]
static CODEC: Knob<Codec>;

#[derive(Clone, Copy, Debug, PartialEq, KnobValue)]
#[repr(u8)]
enum Level {
    Low = 10,
    Mid = 20,
    High = 30,
}

#[knob(default = Level::Mid, min = Level::Mid, max = Level::High, name = "test.knob.level")]
static LEVEL: Knob<Level>;

fn listed(name: &str) -> KnobRef {
    knobs()
        .into_iter()
        .find(|k| k.name() == name)
        .unwrap_or_else(|| panic!("knob {name} is not listed"))
}

#[test]
fn declared_knobs_read_their_defaults() {
    assert_eq!(DB_POOL.get(), 8);
    assert_eq!(OFFSET.get(), -3);
    assert_eq!(RATIO.get(), 0.5);
    assert_eq!(FACTOR.get(), 1.5);
    assert!(CACHE.get());
    assert_eq!(TIMEOUT.get(), Duration::from_millis(200));
    assert_eq!(FLUSH.get(), Duration::from_micros(1500));
    assert_eq!(CODEC.get(), Codec::Lz4);
    assert_eq!(LEVEL.get(), Level::Mid);
    assert_eq!(FLUSH.step(), Some(Duration::from_micros(100)));
    assert!(TIMEOUT.is_log() && FACTOR.is_log() && !DB_POOL.is_log());
    assert_eq!((CACHE.min(), CACHE.max()), (false, true));
    assert_eq!((CODEC.min(), CODEC.max()), (Codec::None, Codec::Zstd));
}

#[test]
fn default_names_follow_the_module_path() {
    assert_eq!(DB_POOL.name(), "knob_macro::DB_POOL");
    assert!(knob_by_name("knob_macro::DB_POOL").is_some());
    assert_eq!(
        knob_by_name("knob_macro::DB_POOL").map(|k| k.pressure()),
        Some(vec!["db.waiting".to_string(), "db.in_use".to_string()])
    );
    assert!(knob_by_name("test.knob.batch").is_some_and(|k| k.pressure().is_empty()));
}

#[test]
fn set_checks_bounds_and_steps() {
    assert!(matches!(BATCH.set(65), Err(KnobError::OutOfBounds { .. })));
    assert!(matches!(BATCH.set(18), Err(KnobError::OffStep { .. })));
    BATCH.set(32).expect("32 is on the step");
    assert_eq!(BATCH.get(), 32);
    assert!(matches!(
        OFFSET.set(-11),
        Err(KnobError::OutOfBounds { .. })
    ));
    assert!(matches!(
        FLUSH.set(Duration::from_micros(150)),
        Err(KnobError::OffStep { .. })
    ));
    assert!(LEVEL.set(Level::Low).is_err());
    LEVEL.set(Level::High).expect("High is within bounds");
    assert_eq!(LEVEL.get(), Level::High);
}

#[test]
fn knobs_lists_values_bounds_and_costs() {
    let pool = listed("knob_macro::DB_POOL");
    assert_eq!(pool.kind(), KnobKind::Unsigned);
    assert_eq!(pool.value(), Value::Unsigned(8));
    assert_eq!(pool.bounds(), (Value::Unsigned(1), Value::Unsigned(64)));
    assert_eq!(pool.cost(), 1.0);

    let ratio = listed("test.knob.ratio");
    assert_eq!(ratio.bounds(), (Value::Float(0.0), Value::Float(1.0)));
    assert_eq!(ratio.cost(), 2.0);

    let timeout = listed("test.knob.timeout");
    assert_eq!(timeout.kind(), KnobKind::Duration);
    assert_eq!(
        timeout.bounds(),
        (
            Value::Duration(Duration::from_millis(10)),
            Value::Duration(Duration::from_secs(5))
        )
    );
    assert!(timeout.is_log());
    assert_eq!(timeout.cost(), 0.0);

    let cache = listed("test.knob.cache");
    assert_eq!(cache.bounds(), (Value::Bool(false), Value::Bool(true)));
    assert_eq!(cache.cost(), 0.25);

    let codec = listed("test.knob.codec");
    assert_eq!(codec.kind(), KnobKind::Choice);
    assert_eq!(codec.choices(), ["None", "Lz4", "Zstd"]);
    assert_eq!(
        codec.bounds(),
        (Value::Choice("None"), Value::Choice("Zstd"))
    );
    assert_eq!(codec.default_value(), Value::Choice("Lz4"));

    assert_eq!(listed("test.knob.batch").step(), Some(4.0));
    assert_eq!(listed("test.knob.offset").value(), Value::Signed(-3));
    assert!(all_registered());
}

/// Every declaration in this file registers: none is reported as a problem
/// (a name missing from `knobs()` would be).
fn all_registered() -> bool {
    [
        "knob_macro::DB_POOL",
        "test.knob.batch",
        "test.knob.offset",
        "test.knob.ratio",
        "test.knob.factor",
        "test.knob.cache",
        "test.knob.timeout",
        "test.knob.flush",
        "test.knob.codec",
        "test.knob.level",
    ]
    .iter()
    .all(|name| knob_by_name(name).is_some())
}

#[test]
fn doc_comments_become_the_knob_doc() {
    assert_eq!(
        DB_POOL.doc(),
        "Connections the recipe service keeps open.\n\nGrows with load."
    );
    assert_eq!(listed("knob_macro::DB_POOL").doc(), DB_POOL.doc());
    assert_eq!(CODEC.doc(), "");
}

#[test]
fn enum_knobs_parse_by_choice_name() {
    let codec = listed("test.knob.codec");
    codec.set_from_str("Zstd").expect("a choice name parses");
    assert_eq!(CODEC.get(), Codec::Zstd);
    codec
        .set_from_str("none")
        .expect("choice names ignore case");
    assert_eq!(CODEC.get(), Codec::None);
    assert!(matches!(
        codec.set_from_str("brotli"),
        Err(KnobError::Parse { .. })
    ));
    assert_eq!(CODEC.get(), Codec::None);
}

#[test]
fn derived_encoding_round_trips() {
    for level in [Level::Low, Level::Mid, Level::High] {
        assert_eq!(Level::from_bits(level.to_bits()), level);
    }
    assert_eq!(Level::High.to_bits(), 30);
    assert_eq!(Level::from_bits(99), Level::Low);
    assert_eq!(Level::High.to_f64(), 2.0);
    assert_eq!(Level::from_f64(7.0), Some(Level::High));
    assert_eq!(Level::from_f64(-1.0), Some(Level::Low));
    assert_eq!(Level::from_f64(0.6), Some(Level::Mid));
    assert_eq!(Level::from_f64(f64::NAN), None);
    assert_eq!(Level::Low.compare(Level::High), std::cmp::Ordering::Less);
    assert_eq!(Level::natural_bounds(), Some((Level::Low, Level::High)));
    assert_eq!(Codec::Zstd.to_value(), Value::Choice("Zstd"));
    assert_eq!(Codec::KIND, KnobKind::Choice);
}
