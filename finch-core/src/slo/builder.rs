//! SLOs declared at run time.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use super::objective::{Objective, Quantile};
use super::registry::{SloRef, register_dynamic};
use super::{Slo, SloSpec};
use crate::error::SloError;

/// Builds and registers an SLO at run time, for operations `#[slo]` cannot wrap.
///
/// ```
/// use std::time::Duration;
/// use finch_core::{Outcome, Quantile, SloBuilder};
///
/// let upload = SloBuilder::new("doc.builder.upload")
///     .latency(Quantile::P95, Duration::from_millis(200))
///     .errors(0.001)
///     .doc("Uploading a file.")
///     .register()?;
/// let timer = upload.start();
/// timer.finish(Outcome::Ok);
/// # Ok::<(), finch_core::SloError>(())
/// ```
#[derive(Debug)]
pub struct SloBuilder {
    spec: SloSpec,
    objectives: Vec<Objective>,
}

impl SloBuilder {
    /// An SLO named `name` (unique across the process).
    pub fn new(name: impl Into<String>) -> Self {
        SloBuilder {
            spec: SloSpec {
                name: Cow::Owned(name.into()),
                doc: Cow::Borrowed(""),
                objectives: Cow::Borrowed(&[]),
            },
            objectives: Vec::new(),
        }
    }

    /// The latency quantile `quantile` must stay below `threshold`.
    pub fn latency(mut self, quantile: Quantile, threshold: Duration) -> Self {
        self.objectives.push(Objective::Latency {
            quantile,
            threshold,
        });
        self
    }

    /// The median must stay below `threshold`.
    pub fn p50(self, threshold: Duration) -> Self {
        self.latency(Quantile::P50, threshold)
    }

    /// The 90th percentile must stay below `threshold`.
    pub fn p90(self, threshold: Duration) -> Self {
        self.latency(Quantile::P90, threshold)
    }

    /// The 95th percentile must stay below `threshold`.
    pub fn p95(self, threshold: Duration) -> Self {
        self.latency(Quantile::P95, threshold)
    }

    /// The 99th percentile must stay below `threshold`.
    pub fn p99(self, threshold: Duration) -> Self {
        self.latency(Quantile::P99, threshold)
    }

    /// The 99.9th percentile must stay below `threshold`.
    pub fn p999(self, threshold: Duration) -> Self {
        self.latency(Quantile::P999, threshold)
    }

    /// The share of failing calls must stay below `max_ratio` (0.01 = 1 %).
    pub fn errors(mut self, max_ratio: f64) -> Self {
        self.objectives.push(Objective::Errors { max: max_ratio });
        self
    }

    /// A description shown in status reports.
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.spec.doc = Cow::Owned(doc.into());
        self
    }

    /// Checks the declaration and registers the SLO.
    pub fn register(mut self) -> Result<SloRef, SloError> {
        self.spec.objectives = Cow::Owned(self.objectives);
        self.spec.validate()?;
        register_dynamic(Arc::new(Slo::from_spec(self.spec)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incoherent_slos_are_refused() {
        assert!(SloBuilder::new("test.slo.none").register().is_err());
        assert!(
            SloBuilder::new("test.slo.twice")
                .p99(Duration::from_millis(1))
                .p99(Duration::from_millis(2))
                .register()
                .is_err()
        );
        assert!(
            SloBuilder::new("test.slo.zero")
                .p50(Duration::ZERO)
                .register()
                .is_err()
        );
        SloBuilder::new("test.slo.dup")
            .p50(Duration::from_millis(1))
            .register()
            .unwrap();
        assert!(matches!(
            SloBuilder::new("test.slo.dup")
                .p50(Duration::from_millis(1))
                .register(),
            Err(SloError::DuplicateName { .. })
        ));
    }

    #[test]
    fn cancelled_and_panicking_calls_are_measured() {
        let slo = SloBuilder::new("test.slo.drops")
            .p99(Duration::from_millis(5))
            .register()
            .unwrap();
        let mut reader = slo.reader();
        drop(slo.start());
        let s = slo.clone();
        let joined = std::thread::spawn(move || {
            let _t = s.start();
            panic!("boom");
        })
        .join();
        assert!(joined.is_err());
        let w = reader.drain(Duration::from_secs(1));
        assert_eq!((w.calls, w.cancelled, w.panicked, w.errors), (2, 1, 1, 1));
        assert_eq!(w.in_flight, 0);
    }
}
