//! The runtime of [finch](https://docs.rs/finch-slo): knobs, SLOs and the MAPE-K loop.
//!
//! This crate is not a public API; depend on `finch-slo`, which re-exports what
//! users need and what `#[knob]` / `#[slo]` generate code against.
//!
//! The loop's parts live in one module each: [`monitor`] (windows and signals),
//! [`analyze`] (compliance, margins, shifts), `plan` (models and search),
//! [`execute`] (generations, appliers, verification, rollback) and
//! [`knowledge`] (observations, decisions and models, kept in a store).

#![cfg_attr(docsrs, feature(doc_cfg))]
pub mod analyze;
pub mod config;
mod decision;
mod engine;
pub mod error;
pub mod execute;
pub mod export;
mod handle;
pub mod knob;
pub mod knowledge;
#[cfg(feature = "lab")]
pub mod lab;
pub mod monitor;
mod plan;
pub mod slo;
pub mod status;
mod telemetry;
mod util;

pub use config::{Capacity, Config, ModelConfig};
pub use engine::Tick;
pub use error::{ApplyError, ConfigError, Error, KnobError, SloError, StoreError};
pub use handle::{Handle, start};
pub use knob::{
    Batch, Knob, KnobBuilder, KnobInfo, KnobKind, KnobRef, KnobSpec, KnobValue, Snapshot, Value,
    knob_by_name, knobs, snapshot,
};
pub use plan::model::Family;
pub use slo::{
    Objective, Outcome, Quantile, Slo, SloBuilder, SloReader, SloRef, SloTimer, SloWindow,
    slo_by_name, slos,
};
pub use status::Status;
pub use util::BoxFuture;

#[doc(hidden)]
pub mod __private;
