//! # finch: services that configure themselves
//!
//! Mark tunable parameters with [`#[knob]`](macro@knob) and endpoints with
//! [`#[slo]`](macro@slo), call `finch::start` in `main`, and an in-process
//! MAPE-K loop learns, from finch's own measurements, how knobs and workload
//! drive each service-level indicator, then hot-swaps knob values so every
//! objective holds at the lowest cost.
//!
//! Without `finch::start` everything still works: knobs return their values,
//! `#[slo]` records into lock-free histograms for a few nanoseconds a call.
//!
//! The package is `finch-slo` (`finch` on crates.io is an unrelated crate):
//! `cargo add finch-slo`, or in `Cargo.toml` `finch-slo = "0.1"`, and the code
//! says `finch::…`. Renaming the dependency breaks the macros, whose
//! expansions name `::finch::…`. Only this crate is public API; the
//! `finch-core`, `finch-macros` and `finch-postgres` crates behind it are not.
//!
//! ## Knobs
//!
//! A [`Knob<T>`] holds an integer, `f64`, `bool`, [`Duration`](std::time::Duration)
//! or an enum deriving [`KnobValue`](derive@KnobValue). [`Knob::get`] is one relaxed
//! atomic load. Knobs can also be registered at run time with [`KnobBuilder`];
//! [`knobs()`] lists both kinds. Several changes commit together as one
//! generation ([`knob::Batch`]); [`knob::snapshot()`] gives a consistent view of all knobs.
//!
//! ## SLOs
//!
//! An [`Slo`] bounds latency quantiles (`p50 p90 p95 p99 p999`) and the error
//! ratio of an operation. `#[slo]` wraps sync and async functions and methods;
//! an `Err` return counts as an error; cancelled futures and panics are measured.
//! [`SloBuilder`] declares SLOs at run time and [`Slo::start`] times manual
//! measurements; with the `tower` feature, `slo::SloLayer` applies one to a route.

#![cfg_attr(docsrs, feature(doc_cfg))]
pub use finch_core::{
    ApplyError, Capacity, Config, ConfigError, Error, Handle, Knob, KnobBuilder, KnobError,
    KnobValue, Objective, Outcome, Quantile, Slo, SloBuilder, SloError, Status, knob_by_name,
    knobs, slo_by_name, slos, start,
};

/// Knobs beyond declaring one: the registry's view of every knob, values of
/// any type, and changes committed together.
pub mod knob {
    pub use finch_core::{Batch, KnobInfo, KnobKind, KnobRef, Snapshot, Value, snapshot};
}

/// SLOs beyond declaring one: the registry's view, manual timing, windows
/// read by hand, and (feature `tower`) a layer for routes.
pub mod slo {
    pub use finch_core::slo::QUANTILE_RELATIVE_ERROR;
    #[cfg(feature = "tower")]
    pub use finch_core::slo::{SloLayer, SloService};
    pub use finch_core::{SloReader, SloRef, SloTimer, SloWindow};
}

/// The loop's models: how they are trained and which family fits them.
pub mod model {
    pub use finch_core::{Family, ModelConfig};
}

/// Reporting finch's errors: they keep their causes as
/// [`source`](std::error::Error::source), and [`Chain`](error::Chain) prints
/// an error with all of them on one line.
pub mod error {
    pub use finch_core::error::Chain;
}

/// The loop's decisions: what changed, why, what was predicted, how it turned out.
pub mod decision {
    pub use finch_core::execute::{Change, Decision, DecisionKind, DecisionOutcome, Verdict};
}

/// Where the loop keeps observations, decisions and models.
pub mod knowledge {
    pub use finch_core::knowledge::{
        DEFAULT_MAX_LOG_BYTES, FileStore, Knowledge, KnowledgeStore, MemoryStore, ModelBlob,
        Numbering, Record,
    };
    pub use finch_core::{BoxFuture, StoreError};
}

/// What the loop observes each window, and signals other crates contribute.
pub mod monitor {
    pub use finch_core::BoxFuture;
    pub use finch_core::monitor::{
        Held, Observation, Occupancy, Signal, SignalError, SignalRole, SignalSource, Usage,
    };
}

/// The parts of [`Status`], and what a manual iteration returns.
pub mod status {
    pub use finch_core::Tick;
    pub use finch_core::analyze::{Direction, Health, Incident, Saturation, Shift, Trend};
    pub use finch_core::knowledge::JournalStatus;
    pub use finch_core::status::{
        KnobStatus, ModelStatus, ObjectiveStatus, SliModelStatus, SloStatus,
    };
}

/// Serving finch's metrics, status and operator pins (feature `prometheus`).
#[cfg(feature = "prometheus")]
pub mod export {
    pub use finch_core::export::{OperatorAccess, PrometheusExporter, router};
}

/// The proving ground (feature `lab`): experiments that run a service under
/// scripted workloads and faults in several arms over seeds, judged from the
/// harness's own per-request records; and the parts of simulated services in
/// virtual time.
#[cfg(feature = "lab")]
pub mod lab {
    pub use finch_core::lab::*;
}

/// PostgreSQL: live settings and pool size as knobs, PostgreSQL signals, and a
/// knowledge store shared by replicas (feature `postgres`).
#[cfg(feature = "postgres")]
pub mod postgres {
    pub use finch_postgres::*;
}

#[cfg(feature = "macros")]
pub use finch_macros::{KnobValue, knob, slo};

/// What the macros generate code against. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use finch_core::__private::*;
}
