//! Pin values come from outside (an operator's request, a lab's sweep):
//! `KnobRef::set_from_str` on every kind of knob never panics, never lets a
//! value out of the knob's bounds or off its step, and accepts what the knob
//! displays.

use std::time::Duration;

use finch::knob::KnobRef;
use finch::{KnobBuilder, KnobValue, knob_by_name};
use proptest::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, KnobValue)]
enum Codec {
    None,
    Lz4,
    Zstd,
}

/// Registers one knob of every kind under `prefix`; their names.
fn knobs(prefix: &str) -> Vec<KnobRef> {
    let name = |k: &str| format!("{prefix}.{k}");
    KnobBuilder::new(name("u8"), 8u8)
        .bounds(1, 200)
        .register()
        .expect("the knob registers");
    KnobBuilder::new(name("u32"), 16u32)
        .bounds(2, 1024)
        .step(2)
        .register()
        .expect("the knob registers");
    KnobBuilder::new(name("i64"), -5i64)
        .bounds(-100, 100)
        .register()
        .expect("the knob registers");
    KnobBuilder::new(name("f32"), 0.5f32)
        .bounds(0.1, 1.0)
        .step(0.1)
        .register()
        .expect("the knob registers");
    KnobBuilder::new(name("f64"), 1.0f64)
        .bounds(0.01, 100.0)
        .log()
        .register()
        .expect("the knob registers");
    KnobBuilder::new(name("bool"), false)
        .register()
        .expect("the knob registers");
    KnobBuilder::new(name("duration"), Duration::from_millis(50))
        .bounds(Duration::from_millis(1), Duration::from_secs(10))
        .register()
        .expect("the knob registers");
    KnobBuilder::new(name("codec"), Codec::Lz4)
        .register()
        .expect("the knob registers");
    [
        "u8", "u32", "i64", "f32", "f64", "bool", "duration", "codec",
    ]
    .iter()
    .map(|k| knob_by_name(&name(k)).expect("the knob is listed"))
    .collect()
}

/// Whether `knob`'s value is within its bounds (on the planner's axis).
fn within(knob: &KnobRef) -> bool {
    let info = knob.info();
    if let finch::knob::Value::Choice(name) = info.value {
        return knob.choices().contains(&name);
    }
    let (v, lo, hi) = (info.value.as_f64(), info.min.as_f64(), info.max.as_f64());
    lo <= v && v <= hi
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[-+]?[0-9]{0,22}(\\.[0-9]{0,12})?(e[-+]?[0-9]{1,3})?",
        "[-+]?[0-9.]{0,12} ?(ns|us|µs|ms|s|m|min|h|d|y)?",
        "(none|LZ4|Zstd|true|FALSE|yes|no|On|off|NaN|inf|-inf|infinity)",
        " *[0-9]{1,4} *",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_text_leaves_every_knob_valid(inputs in proptest::collection::vec(text(), 8)) {
        static KNOBS: std::sync::OnceLock<Vec<KnobRef>> = std::sync::OnceLock::new();
        let knobs = KNOBS.get_or_init(|| knobs("pin.any"));
        for (knob, input) in knobs.iter().zip(&inputs) {
            let before = knob.value();
            match knob.set_from_str(input) {
                Ok(_) => {
                    prop_assert!(within(knob), "{input:?} put {} out of bounds", knob.value());
                    // What the knob displays reads back to the same value.
                    let (value, shown) = (knob.value(), knob.value().to_string());
                    knob.set_from_str(&shown)
                        .map_err(|e| TestCaseError::fail(format!("{shown:?}: {e}")))?;
                    // Floats are shown to four significant digits, so only
                    // the other kinds read back exactly.
                    if !matches!(value, finch::knob::Value::Float(_)) {
                        prop_assert_eq!(knob.value(), value);
                    }
                }
                Err(e) => {
                    prop_assert_eq!(knob.value(), before, "a refused {:?} changed nothing", input);
                    prop_assert!(e.to_string().contains(knob.name()), "the error names the knob: {}", e);
                }
            }
        }
    }

    #[test]
    fn every_value_on_the_grid_is_accepted(
        u in 1u32..=512,
        i in -100i64..=100,
        tenth in 1u32..=10,
        ms in 1u64..=10_000,
        choice in 0usize..3,
        spelled in prop::sample::select(vec!["true", "False", "YES", "no", "On", "off", "1", "0"]),
    ) {
        static KNOBS: std::sync::OnceLock<Vec<KnobRef>> = std::sync::OnceLock::new();
        let knobs = KNOBS.get_or_init(|| knobs("pin.grid"));
        let set = |k: usize, text: String| {
            knobs[k]
                .set_from_str(&text)
                .map(|_| knobs[k].value().to_string())
                .map_err(|e| TestCaseError::fail(format!("{text:?} refused: {e}")))
        };
        prop_assert_eq!(set(1, (2 * u).to_string())?, (2 * u).to_string());
        prop_assert_eq!(set(2, i.to_string())?, i.to_string());
        let f = set(3, format!("{:.1}", f64::from(tenth) / 10.0))?;
        prop_assert!((f.parse::<f64>().unwrap() - f64::from(tenth) / 10.0).abs() < 1e-6, "{}", f);
        prop_assert_eq!(
            knobs[6].set_from_str(&format!("{ms}ms")).map(|_| knobs[6].value()),
            Ok(finch::knob::Value::Duration(Duration::from_millis(ms)))
        );
        let name = ["none", "LZ4", "Zstd"][choice];
        prop_assert!(set(7, name.to_string())?.eq_ignore_ascii_case(name));
        let yes = matches!(spelled.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1");
        prop_assert_eq!(set(5, spelled.to_string())?, yes.to_string());
    }
}
