//! What the loop saw in one window.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::signals::{Signal, SignalRole};
use crate::slo::Objective;

/// Everything the loop saw in one window: the knob values in force, the
/// workload, other signals and every SLI. Stored in knowledge; models train on
/// clean observations (no knob change during the window).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The instance that made it (several instances can share one store).
    pub instance: String,
    /// Window number within the instance.
    pub seq: u64,
    /// When the window closed, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Window length in seconds.
    pub length_secs: f64,
    /// The knob generation in force at the end of the window.
    pub generation: u64,
    /// No knob changed during the window: usable for training.
    pub clean: bool,
    /// Each knob's value in force, as a position on its numeric axis.
    pub knobs: BTreeMap<String, f64>,
    /// Workload features: request rates per SLO (`<slo>/rate`) and workload signals.
    pub workload: BTreeMap<String, f64>,
    /// Other signals (CPU, memory, in-flight calls, database statistics): context,
    /// not model inputs, because they are consequences of the knobs.
    pub signals: BTreeMap<String, f64>,
    /// Every measured SLI (`<slo>/p99` in seconds, `<slo>/errors` as a ratio).
    pub slis: BTreeMap<String, f64>,
}

impl Observation {
    pub(crate) fn insert_signal(&mut self, s: Signal) {
        if !s.value.is_finite() {
            return;
        }
        match s.role {
            SignalRole::Workload => self.workload.insert(s.name, s.value),
            SignalRole::Internal => self.signals.insert(s.name, s.value),
        };
    }

    /// Total request rate over every SLO.
    pub fn total_rate(&self) -> f64 {
        self.workload
            .iter()
            .filter(|(k, _)| k.ends_with("/rate"))
            .map(|(_, v)| v)
            .sum()
    }
}

/// The key of an SLI in [`Observation::slis`]: `<slo>/<p99|errors>`.
pub fn sli_key(slo: &str, objective: &Objective) -> String {
    format!("{slo}/{}", objective.sli_label())
}

/// The key of an SLO's request rate in [`Observation::workload`].
pub fn workload_key(slo: &str) -> String {
    format!("{slo}/rate")
}
