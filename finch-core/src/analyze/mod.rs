//! Analyze: each objective's health as a probability from counts of bad
//! events, workload shifts and trends, drifts of the environment, settling
//! after a change, and which resource is under pressure.
//!
//! Every detector is a likelihood-ratio test on counts, tuned to a false-alarm
//! rate per window rather than to fixed thresholds on noisy values, so it
//! behaves the same at 5 and at 1500 requests per second.

mod drift;
pub(crate) mod health;
mod noise;
mod settle;
mod shift;
pub(crate) mod stats;

#[cfg(test)]
mod detection;

use std::collections::BTreeMap;

use serde::Serialize;

pub use drift::Direction;
use drift::Drift;
pub(crate) use health::Judgement;
use health::ObjectiveHealth;
use noise::Noise;
pub(crate) use noise::needed_margin;
use settle::Settle;
use shift::ShiftDetector;
pub use shift::{Shift, Trend};

use crate::monitor::{Observation, SloSample};
use crate::slo::{Objective, SloRef};

/// An SLO's health: how likely its objectives are to be broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Every objective is more likely than not within its budget.
    Compliant,
    /// Some objective is more likely than not over its budget, not yet confirmed.
    AtRisk,
    /// Some objective is over its budget with high confidence (95 %), until
    /// the evidence says it is likely back within it.
    Violated,
    /// No call measured yet.
    NoData,
}

/// The environment changed: an SLO's latency or errors moved while the
/// configuration and the workload did not.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Incident {
    /// The SLO that moved.
    pub slo: String,
    /// Which way it moved.
    pub direction: Direction,
    /// One minus the chance that noise alone gathers this much evidence.
    pub confidence: f64,
    /// The window it was detected in.
    pub since: u64,
}

/// A resource under pressure: a signal a knob declared rose beyond its usual level.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Saturation {
    /// The knob whose resource it is.
    pub knob: String,
    /// The pressure signal.
    pub signal: String,
    /// Its value on this window.
    pub value: f64,
    /// Its usual value.
    pub usual: f64,
}

/// One SLO on one window.
#[derive(Clone, Debug)]
pub(crate) struct SloAnalysis {
    pub(crate) health: Health,
    /// Per objective: the judgement of the pooled recent windows.
    pub(crate) objectives: Vec<Judgement>,
    /// Per objective: bad events and calls of this window alone.
    pub(crate) window: Vec<(u64, u64)>,
    /// Per objective: bad events and calls of the window before (empty at first).
    pub(crate) previous: Vec<(u64, u64)>,
    /// The latency or errors moved on this window against their baseline.
    pub(crate) drift: Option<Direction>,
}

impl SloAnalysis {
    /// Each objective's bounded margin, `None` before any call.
    pub(crate) fn margins(&self) -> impl Iterator<Item = Option<f64>> + '_ {
        self.objectives
            .iter()
            .map(|j| (j.calls > 0).then_some(j.margin))
    }

    pub(crate) fn worst_margin(&self) -> Option<f64> {
        self.margins().flatten().reduce(f64::min)
    }
}

/// What the analysis of one window concluded.
#[derive(Clone, Debug)]
pub(crate) struct Analysis {
    pub(crate) slos: Vec<SloAnalysis>,
    pub(crate) shift: Option<Shift>,
    pub(crate) trend: Option<Trend>,
    /// The window follows a change and has not settled: judge nothing on it.
    pub(crate) settling: bool,
    pub(crate) incident: Option<Incident>,
    pub(crate) saturated: Vec<Saturation>,
    /// Per objective (SLOs in order, objectives in order): the window-to-window
    /// noise of its SLI, once known.
    pub(crate) noise: Vec<Option<f64>>,
}

impl Analysis {
    /// Some SLO is confirmed violated.
    pub(crate) fn violated(&self) -> bool {
        self.slos.iter().any(|s| s.health == Health::Violated)
    }

    /// Some objective is more likely than not over its budget.
    pub(crate) fn breached(&self) -> bool {
        self.slos
            .iter()
            .flat_map(|s| &s.objectives)
            .any(|j| j.calls > 0 && j.at_risk())
    }

    /// The rate climbs.
    pub(crate) fn rising(&self) -> bool {
        self.trend == Some(Trend::Rising)
    }

    /// The smallest margin over every objective measured.
    pub(crate) fn worst_margin(&self) -> Option<f64> {
        self.slos
            .iter()
            .filter_map(SloAnalysis::worst_margin)
            .reduce(f64::min)
    }

    /// Each objective's margin, flattened like `noise`.
    pub(crate) fn margins(&self) -> impl Iterator<Item = Option<f64>> + '_ {
        self.slos.iter().flat_map(SloAnalysis::margins)
    }

    /// Every objective has measured calls.
    pub(crate) fn complete(&self) -> bool {
        self.margins().all(|m| m.is_some())
    }
}

/// Windows an incident stays reported after its detection.
const INCIDENT_WINDOWS: u32 = 10;
/// Pressure-signal windows before their usual level is known.
const PRESSURE_WARMUP: u32 = 5;
/// Smoothing of a pressure signal's usual level.
const PRESSURE_ALPHA: f64 = 0.1;
/// Standard deviations above its usual level that make a signal saturated.
const PRESSURE_Z: f64 = 3.0;

#[derive(Default)]
struct Usual {
    mean: f64,
    variance: f64,
    windows: u32,
}

struct SloState {
    objectives: Vec<ObjectiveHealth>,
    drift: Drift,
    /// This window's counts per objective: the next window's `previous`.
    last: Vec<(u64, u64)>,
}

pub(crate) struct Analyzer {
    slos: Vec<SloState>,
    shift: ShiftDetector,
    settle: Settle,
    noise: Noise,
    /// Each knob's declared pressure signals.
    pressure: Vec<(String, Vec<String>)>,
    usual: BTreeMap<String, Usual>,
    incident: Option<(Incident, u32)>,
}

impl Analyzer {
    pub(crate) fn new(slos: &[SloRef], pressure: Vec<(String, Vec<String>)>) -> Self {
        Analyzer {
            slos: slos
                .iter()
                .map(|s| SloState {
                    objectives: s
                        .objectives()
                        .iter()
                        .map(|o| ObjectiveHealth::new(o.budget()))
                        .collect(),
                    drift: Drift::new(),
                    last: Vec::new(),
                })
                .collect(),
            shift: ShiftDetector::default(),
            settle: Settle::default(),
            noise: Noise::default(),
            pressure,
            usual: BTreeMap::new(),
            incident: None,
        }
    }

    fn signal(obs: &Observation, name: &str) -> Option<f64> {
        obs.signals
            .get(name)
            .or_else(|| obs.workload.get(name))
            .copied()
    }

    pub(crate) fn analyze(&mut self, obs: &Observation, samples: &[SloSample]) -> Analysis {
        let declared: BTreeMap<String, f64> = self
            .pressure
            .iter()
            .flat_map(|(_, signals)| signals)
            .filter_map(|s| Self::signal(obs, s).map(|v| (s.clone(), v)))
            .collect();
        let in_flight: Vec<u64> = samples.iter().map(|s| s.fresh.in_flight).collect();
        let (changed, settling) =
            self.settle
                .update(&obs.knobs, obs.clean, &in_flight, declared.clone());
        let started: Vec<u64> = samples.iter().map(|s| s.fresh.started).collect();
        let (shift, trend) = self.shift.update(&started, obs.length_secs.max(1e-9));
        let restart = changed || settling || shift.is_some();
        let workload_steady = shift.is_none() && trend.is_none() && self.shift.pressure() < 0.5;

        let mut incident = None;
        let slos = samples
            .iter()
            .zip(&mut self.slos)
            .map(|(sample, st)| {
                let w = &sample.fresh;
                let window: Vec<(u64, u64)> = sample
                    .slo
                    .objectives()
                    .iter()
                    .map(|o| (o.bad_calls(w), w.calls))
                    .collect();
                if restart {
                    st.drift.restart();
                    st.objectives.iter_mut().for_each(ObjectiveHealth::restart);
                }
                // The environment changed only if the SLO was within its
                // objectives before: a service already over budget that gets
                // slower is a backlog growing under the workload it has.
                let healthy = !st
                    .objectives
                    .iter()
                    .any(|h| h.violated() || h.current().at_risk());
                let drift = if settling {
                    None
                } else {
                    st.drift.update(w.counts(), w.calls, w.errors)
                };
                if let Some((direction, evidence)) = drift {
                    // The pool restarts where the SLI moved.
                    st.objectives.iter_mut().for_each(ObjectiveHealth::restart);
                    if workload_steady && healthy && direction == Direction::Worse {
                        incident = Some(Incident {
                            slo: sample.slo.name().to_string(),
                            direction,
                            confidence: 1.0 - (-evidence).exp(),
                            since: obs.seq,
                        });
                    }
                }
                let objectives: Vec<Judgement> = st
                    .objectives
                    .iter_mut()
                    .zip(&window)
                    .map(|(h, &(bad, calls))| {
                        if settling {
                            h.current()
                        } else {
                            h.update(bad, calls)
                        }
                    })
                    .collect();
                let health = if st.objectives.iter().any(ObjectiveHealth::violated) {
                    Health::Violated
                } else if objectives.iter().all(|j| j.calls == 0) {
                    Health::NoData
                } else if objectives.iter().any(|j| j.calls > 0 && j.at_risk()) {
                    Health::AtRisk
                } else {
                    Health::Compliant
                };
                let previous = std::mem::replace(&mut st.last, window.clone());
                SloAnalysis {
                    health,
                    objectives,
                    window,
                    previous,
                    drift: drift.map(|d| d.0),
                }
            })
            .collect();

        if let Some(i) = incident {
            self.incident = Some((i, INCIDENT_WINDOWS));
        } else if let Some((_, left)) = &mut self.incident {
            *left -= 1;
            if *left == 0 {
                self.incident = None;
            }
        }

        let comparable: Vec<Option<f64>> = samples
            .iter()
            .flat_map(|s| {
                s.slo.objectives().iter().zip(&s.slis).map(|(o, v)| {
                    v.map(|v| match o {
                        Objective::Latency { .. } => v.max(1e-7).ln(),
                        Objective::Errors { max } => v / max,
                    })
                })
            })
            .collect();
        self.noise.update(&obs.knobs, obs.total_rate(), &comparable);
        let saturated = self.saturated(&declared, settling);
        Analysis {
            slos,
            shift,
            trend,
            settling,
            incident: self.incident.as_ref().map(|(i, _)| i.clone()),
            saturated,
            noise: self.noise.sigma(),
        }
    }

    /// The declared pressure signals above their usual level, most saturated first.
    fn saturated(&mut self, values: &BTreeMap<String, f64>, settling: bool) -> Vec<Saturation> {
        let mut out: Vec<(f64, Saturation)> = Vec::new();
        for (knob, signals) in &self.pressure {
            for s in signals {
                let (Some(&v), Some(u)) = (values.get(s), self.usual.get(s)) else {
                    continue;
                };
                let sd = u.variance.sqrt();
                let z = (v - u.mean) / sd.max(1e-9 + 0.05 * u.mean.abs());
                if u.windows >= PRESSURE_WARMUP && v > 0.0 && z >= PRESSURE_Z {
                    out.push((
                        z,
                        Saturation {
                            knob: knob.clone(),
                            signal: s.clone(),
                            value: v,
                            usual: u.mean,
                        },
                    ));
                }
            }
        }
        if !settling {
            for (s, &v) in values {
                let u = self.usual.entry(s.clone()).or_default();
                u.windows += 1;
                let a = PRESSURE_ALPHA.max(1.0 / f64::from(u.windows));
                let d = v - u.mean;
                u.mean += a * d;
                u.variance = (1.0 - a) * (u.variance + a * d * d);
            }
        }
        out.sort_by(|a, b| b.0.total_cmp(&a.0));
        out.into_iter().map(|(_, s)| s).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::SloBuilder;
    use crate::slo::SloWindow;

    fn register(name: &str) -> SloRef {
        SloBuilder::new(name)
            .p99(Duration::from_millis(50))
            .register()
            .expect("the SLO registers")
    }

    /// 100 calls spread over `ms` to twice `ms`.
    fn sample(slo: &SloRef, ms: u64) -> SloSample {
        let latencies: Vec<Duration> = (0..100)
            .map(|i| Duration::from_micros(ms * 1000 + i * ms * 10))
            .collect();
        let window = SloWindow::of(&latencies, 0, Duration::from_secs(1));
        SloSample {
            slo: slo.clone(),
            fresh: window.clone(),
            window,
            slis: vec![None],
        }
    }

    fn obs(seq: u64, knob: f64, waiting: f64) -> Observation {
        Observation {
            instance: "t".into(),
            seq,
            at_ms: 0,
            length_secs: 1.0,
            generation: 0,
            clean: true,
            knobs: [("pool".to_string(), knob)].into(),
            workload: BTreeMap::new(),
            signals: [("pool.waiting".to_string(), waiting)].into(),
            slis: BTreeMap::new(),
        }
    }

    #[test]
    fn latency_that_moves_under_an_unchanged_configuration_is_an_incident() {
        let slo = register("analyze.tests.incident");
        let mut a = Analyzer::new(std::slice::from_ref(&slo), Vec::new());
        for seq in 0..20 {
            let an = a.analyze(&obs(seq, 4.0, 0.0), &[sample(&slo, 5)]);
            assert!(an.incident.is_none(), "{seq}");
        }
        let an = a.analyze(&obs(20, 4.0, 0.0), &[sample(&slo, 10)]);
        let i = an.incident.expect("twice as slow with nothing changed");
        assert_eq!((i.direction, i.since), (Direction::Worse, 20));
        assert!(i.confidence > 0.99, "{i:?}");

        // The same slowdown with a knob moved is the change's doing.
        let other = register("analyze.tests.no_incident");
        let mut a = Analyzer::new(std::slice::from_ref(&other), Vec::new());
        for seq in 0..20 {
            a.analyze(&obs(seq, 4.0, 0.0), &[sample(&other, 5)]);
        }
        for seq in 20..40 {
            let an = a.analyze(&obs(seq, 2.0, 0.0), &[sample(&other, 10)]);
            assert!(an.incident.is_none(), "{seq}");
        }
    }

    #[test]
    fn a_service_over_budget_that_gets_slower_is_not_an_incident() {
        // Every call over the bound, window after window (a backlog under the
        // load it has), then twice as slow: the backlog grew, the environment
        // did not change.
        let slo = register("analyze.tests.backlog");
        let mut a = Analyzer::new(std::slice::from_ref(&slo), Vec::new());
        for seq in 0..20 {
            let an = a.analyze(&obs(seq, 4.0, 0.0), &[sample(&slo, 60)]);
            assert!(an.violated(), "{seq}: every call is over 50 ms");
            assert!(an.incident.is_none(), "{seq}");
        }
        for seq in 20..30 {
            let an = a.analyze(&obs(seq, 4.0, 0.0), &[sample(&slo, 120)]);
            assert!(an.incident.is_none(), "{seq}");
        }
    }

    #[test]
    fn each_window_carries_the_counts_of_the_one_before() {
        let slo = register("analyze.tests.previous");
        let mut a = Analyzer::new(std::slice::from_ref(&slo), Vec::new());
        let first = a.analyze(&obs(0, 4.0, 0.0), &[sample(&slo, 5)]);
        assert!(first.slos[0].previous.is_empty());
        let second = a.analyze(&obs(1, 4.0, 0.0), &[sample(&slo, 60)]);
        assert_eq!(second.slos[0].previous, first.slos[0].window);
        assert_ne!(second.slos[0].window, first.slos[0].window);
    }

    #[test]
    fn a_pressure_signal_beyond_its_usual_level_names_its_knob() {
        let slo = register("analyze.tests.saturation");
        let pressure = vec![("pool".to_string(), vec!["pool.waiting".to_string()])];
        let mut a = Analyzer::new(std::slice::from_ref(&slo), pressure);
        for seq in 0..20 {
            let waiting = if seq % 2 == 0 { 0.0 } else { 1.0 };
            let an = a.analyze(&obs(seq, 4.0, waiting), &[sample(&slo, 5)]);
            assert!(an.saturated.is_empty(), "{seq}: {:?}", an.saturated);
        }
        let an = a.analyze(&obs(20, 4.0, 14.0), &[sample(&slo, 5)]);
        let s = an.saturated.first().expect("14 waiting is saturation");
        assert_eq!(
            (s.knob.as_str(), s.signal.as_str()),
            ("pool", "pool.waiting")
        );
        assert!((s.usual - 0.5).abs() < 0.2, "{s:?}");
    }
}
