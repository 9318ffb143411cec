//! Signals other crates contribute to observations.

use crate::util::BoxFuture;

/// What a signal tells the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalRole {
    /// Describes the demand on the service, independent of the knobs (e.g. the
    /// size of the data queried). Used as a model input.
    Workload,
    /// A consequence of the knobs and the workload (CPU, cache hit ratio, lock
    /// waits). Recorded for explanation, not used as a model input: a model fed
    /// with consequences would credit them instead of the knobs.
    Internal,
}

/// One sampled value.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    /// Name, unique within its source.
    pub name: String,
    /// The value for the window (a rate, a ratio, a gauge).
    pub value: f64,
    /// Whether it is a model input.
    pub role: SignalRole,
}

impl Signal {
    /// A signal describing the workload (a model input).
    pub fn workload(name: impl Into<String>, value: f64) -> Self {
        Signal {
            name: name.into(),
            value,
            role: SignalRole::Workload,
        }
    }

    /// A signal recorded for context and explanation.
    pub fn internal(name: impl Into<String>, value: f64) -> Self {
        Signal {
            name: name.into(),
            value,
            role: SignalRole::Internal,
        }
    }
}

/// A signal source failed this window; the loop goes on without its signals.
pub type SignalError = Box<dyn std::error::Error + Send + Sync>;

/// A source of signals sampled once per window (finch-postgres adds PostgreSQL's).
///
/// ```
/// use finch_core::{BoxFuture, monitor::{Signal, SignalError, SignalSource}};
///
/// struct QueueDepth;
///
/// impl SignalSource for QueueDepth {
///     fn name(&self) -> &str { "queue" }
///     fn sample(&self) -> BoxFuture<'_, Result<Vec<Signal>, SignalError>> {
///         Box::pin(async { Ok(vec![Signal::internal("depth", 3.0)]) })
///     }
/// }
/// ```
pub trait SignalSource: Send + Sync + 'static {
    /// Prefix of this source's signal names.
    fn name(&self) -> &str;

    /// Samples the signals for the window that just closed. Counters should be
    /// reported as per-window deltas or rates. Runs with a timeout.
    fn sample(&self) -> BoxFuture<'_, Result<Vec<Signal>, SignalError>>;
}
