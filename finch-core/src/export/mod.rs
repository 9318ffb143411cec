//! Export: with the `prometheus` feature, an exporter and operator routes that
//! serve `/metrics`, the JSON status and knob pins for a running loop. The
//! metrics themselves are emitted through the `metrics` facade every iteration,
//! whatever recorder the application installed.

#[cfg(feature = "prometheus")]
mod prometheus;

#[cfg(feature = "prometheus")]
pub use prometheus::{OperatorAccess, PrometheusExporter, router};
