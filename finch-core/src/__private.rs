//! What `#[knob]` and `#[slo]` generate code against. Not a public API.

pub use inventory;

pub use crate::knob::StaticKnob;

/// The encoding of a `Duration` default, computed in a constant.
pub const fn duration_bits(d: core::time::Duration) -> u64 {
    let nanos = d.as_nanos();
    if nanos > u64::MAX as u128 {
        u64::MAX
    } else {
        nanos as u64
    }
}

pub use crate::slo::{IsErrOther, IsErrResult, OutcomeOf, SloSpec, StaticSlo, ThreadTimer};

/// Starts timing a call of a sync `#[slo]` function, which ends on the thread
/// it started on.
#[inline(always)]
pub fn start_sync(slo: &Slo) -> ThreadTimer<'_> {
    slo.start_on_this_thread()
}

pub use crate::knob::{Knob, KnobKind, KnobSpec, KnobValue, Value};
pub use crate::slo::{Objective, Outcome, Quantile, Slo};

/// The knob a `#[knob]` static holds. `default_bits` must be
/// `spec.default.to_bits()`; registration checks it.
pub const fn knob<T: KnobValue>(spec: KnobSpec<T>, default_bits: u64) -> Knob<T> {
    Knob::from_spec(spec, default_bits)
}

/// The SLO a `#[slo]` function records into.
pub const fn slo(spec: SloSpec) -> Slo {
    Slo::from_spec(spec)
}

/// Runs the body of a sync `#[slo]` function. Taking the closure as `FnOnce`
/// lets the body move captured arguments out and return references derived
/// from them (`fn get(&mut self) -> &mut T`).
#[inline(always)]
pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
    body()
}
