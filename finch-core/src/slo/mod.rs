//! SLOs: objectives on an operation's latency and errors, measured cheaply.
//!
//! Every call is recorded into the SLO's own lock-free histogram and counters
//! (no locks, no allocation, no locked instruction: each thread counts into
//! counters of its own); the loop drains one window per interval with an
//! [`SloReader`].

mod builder;
pub(crate) mod clock;
mod counts;
mod histogram;
#[cfg(feature = "tower")]
mod layer;
mod objective;
mod registry;
mod timer;
mod window;

use std::borrow::Cow;
use std::time::Duration;

pub use builder::SloBuilder;
pub(crate) use clock::calibrate as calibrate_clock;
pub use histogram::QUANTILE_RELATIVE_ERROR;
#[cfg(feature = "tower")]
pub use layer::{SloLayer, SloService};
pub use objective::{Objective, Quantile};
#[doc(hidden)]
pub use registry::StaticSlo;
pub(crate) use registry::problems;
pub use registry::{SloRef, slo_by_name, slos};
#[doc(hidden)]
pub use timer::{IsErrOther, IsErrResult, OutcomeOf, ThreadTimer};
pub use timer::{Outcome, SloTimer};
pub use window::{SloReader, SloWindow};

use counts::CallCounts;

/// What was declared about an SLO.
#[derive(Clone, Debug)]
pub struct SloSpec {
    pub(crate) name: Cow<'static, str>,
    pub(crate) doc: Cow<'static, str>,
    pub(crate) objectives: Cow<'static, [Objective]>,
}

impl SloSpec {
    /// A constant declaration, as `#[slo]` writes it.
    #[doc(hidden)]
    pub const fn __new(
        name: &'static str,
        doc: &'static str,
        objectives: &'static [Objective],
    ) -> Self {
        SloSpec {
            name: Cow::Borrowed(name),
            doc: Cow::Borrowed(doc),
            objectives: Cow::Borrowed(objectives),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), crate::SloError> {
        let invalid = |reason: String| crate::SloError::InvalidSpec {
            slo: self.name.to_string(),
            reason,
        };
        if self.name.is_empty() {
            return Err(invalid("the name is empty".into()));
        }
        if self.objectives.is_empty() {
            return Err(invalid(
                "no objective; add one such as `p99 < 50ms` or `errors < 1%`".into(),
            ));
        }
        for (i, o) in self.objectives.iter().enumerate() {
            o.validate().map_err(invalid)?;
            if self.objectives[..i]
                .iter()
                .any(|p| p.sli_label() == o.sli_label())
            {
                return Err(invalid(format!("`{}` is bounded twice", o.sli_label())));
            }
        }
        Ok(())
    }
}

/// An operation with objectives. Declared with `#[slo]` on a function or built
/// at run time with [`SloBuilder`].
///
/// ```
/// use std::time::Duration;
/// use finch_core::{Outcome, SloBuilder};
///
/// let slo = SloBuilder::new("doc.slo.checkout")
///     .p99(Duration::from_millis(50))
///     .errors(0.01)
///     .register()?;
/// let timer = slo.start();
/// // … do the work …
/// timer.finish(Outcome::Ok);
/// slo.record(Duration::from_millis(3), Outcome::Error);
/// assert_eq!(slo.calls(), 2);
/// # Ok::<(), finch_core::SloError>(())
/// ```
pub struct Slo {
    spec: SloSpec,
    counts: CallCounts,
}

impl Slo {
    /// An SLO from a constant declaration.
    pub(crate) const fn from_spec(spec: SloSpec) -> Self {
        Slo {
            spec,
            counts: CallCounts::new(),
        }
    }

    /// The SLO's stable name (default: module path and function name).
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The documentation given with the declaration.
    pub fn doc(&self) -> &str {
        &self.spec.doc
    }

    /// The objectives; all must hold.
    pub fn objectives(&self) -> &[Objective] {
        &self.spec.objectives
    }

    /// Starts timing one call. Finish it with [`SloTimer::finish`]; a timer dropped
    /// unfinished records the call as cancelled (or as a panic while unwinding).
    #[inline]
    pub fn start(&self) -> SloTimer<'_> {
        self.begin();
        SloTimer::new(self)
    }

    /// Starts timing one call that ends on this thread.
    #[inline(always)]
    pub(crate) fn start_on_this_thread(&self) -> ThreadTimer<'_> {
        ThreadTimer::new(self.counts.recorder())
    }

    #[inline(always)]
    pub(crate) fn begin(&self) {
        self.counts.begin();
    }

    /// Records a call measured elsewhere (a simulation, a replayed trace).
    pub fn record(&self, latency: Duration, outcome: Outcome) {
        let recorder = self.counts.recorder();
        recorder.begin();
        recorder.complete(
            u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX),
            outcome,
        );
    }

    #[inline]
    pub(crate) fn complete(&self, nanos: u64, outcome: Outcome) {
        self.counts.complete(nanos, outcome);
    }

    /// Calls started since the process began.
    pub fn calls(&self) -> u64 {
        self.counts.started()
    }
}

impl std::fmt::Debug for Slo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slo")
            .field("name", &self.spec.name)
            .field("objectives", &self.spec.objectives)
            .field("calls", &self.calls())
            .finish()
    }
}
