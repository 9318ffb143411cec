//! Analyze: per-SLO compliance with hysteresis, margins to every objective, and
//! workload shifts.

mod noise;
mod shift;

use serde::Serialize;

use noise::Noise;
pub(crate) use noise::needed_margin;
pub use shift::Shift;
pub(crate) use shift::ShiftDetector;

use crate::monitor::{Observation, SloSample};
use crate::slo::Objective;

/// An SLO's health after hysteresis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Every objective holds with the planner's margin to spare.
    Compliant,
    /// Every objective holds, but one is within the margin of its bound.
    AtRisk,
    /// Confirmed violated.
    Violated,
    /// No window with enough calls yet.
    NoData,
}

/// One SLO on one window.
#[derive(Clone, Debug)]
pub(crate) struct SloAnalysis {
    pub(crate) health: Health,
    /// Whether every objective held on this window (`None`: too few calls).
    pub(crate) window_holds: Option<bool>,
    /// Relative margin per objective (`None`: too few calls).
    pub(crate) margins: Vec<Option<f64>>,
}

impl SloAnalysis {
    pub(crate) fn worst_margin(&self) -> Option<f64> {
        self.margins.iter().flatten().copied().reduce(f64::min)
    }
}

/// What the analysis of one window concluded.
#[derive(Clone, Debug)]
pub(crate) struct Analysis {
    pub(crate) slos: Vec<SloAnalysis>,
    pub(crate) shift: Option<Shift>,
    /// The total rate rose above the recent minimum.
    pub(crate) rising: bool,
    /// Per objective (SLOs in order, objectives in order): the window-to-window
    /// noise of its SLI, once known.
    pub(crate) noise: Vec<Option<f64>>,
}

impl Analysis {
    /// Some SLO is confirmed violated.
    pub(crate) fn violated(&self) -> bool {
        self.slos.iter().any(|s| s.health == Health::Violated)
    }

    /// Some objective failed on this very window.
    pub(crate) fn window_violated(&self) -> bool {
        self.slos.iter().any(|s| s.window_holds == Some(false))
    }

    /// The smallest margin over every objective measured on this window.
    pub(crate) fn worst_margin(&self) -> Option<f64> {
        self.slos
            .iter()
            .filter_map(SloAnalysis::worst_margin)
            .reduce(f64::min)
    }

    /// Each objective's margin on this window, flattened like `noise`.
    pub(crate) fn margins(&self) -> impl Iterator<Item = Option<f64>> + '_ {
        self.slos.iter().flat_map(|s| s.margins.iter().copied())
    }

    /// Every SLO had enough calls to judge.
    pub(crate) fn complete(&self) -> bool {
        self.slos.iter().all(|s| s.window_holds.is_some())
    }
}

struct Hysteresis {
    violated: bool,
    /// Whether each of the last windows failed, newest in the lowest bit.
    recent: u16,
    seen: bool,
    bad_streak: u32,
    good_streak: u32,
}

/// A window this far over a bound (relative margin) confirms a violation at once.
const SEVERE: f64 = -0.5;
/// Windows remembered for chronic violations.
const RECENT: u32 = 10;
/// Failed windows among the last [`RECENT`] that confirm a violation even when
/// they never come in a row (an SLO that fails every third window is violated).
const CHRONIC: u32 = 3;

pub(crate) struct Analyzer {
    states: Vec<Hysteresis>,
    shift: ShiftDetector,
    noise: Noise,
    confirm: u32,
    margin: f64,
}

impl Analyzer {
    pub(crate) fn new(slos: usize, confirm: u32, margin: f64) -> Self {
        Analyzer {
            states: (0..slos)
                .map(|_| Hysteresis {
                    violated: false,
                    recent: 0,
                    seen: false,
                    bad_streak: 0,
                    good_streak: 0,
                })
                .collect(),
            shift: ShiftDetector::default(),
            noise: Noise::default(),
            confirm,
            margin,
        }
    }

    pub(crate) fn analyze(&mut self, obs: &Observation, samples: &[SloSample]) -> Analysis {
        let slos = samples
            .iter()
            .zip(&mut self.states)
            .map(|(sample, st)| {
                let margins: Vec<Option<f64>> = sample
                    .slo
                    .objectives()
                    .iter()
                    .zip(&sample.slis)
                    .map(|(o, sli)| sli.map(|v| o.margin(v)))
                    .collect();
                let measured = margins.iter().all(Option::is_some) && !margins.is_empty();
                let worst = margins.iter().flatten().copied().reduce(f64::min);
                let window_holds = if measured {
                    worst.map(|m| m >= 0.0)
                } else {
                    None
                };
                if let Some(holds) = window_holds {
                    st.recent = ((st.recent << 1) | u16::from(!holds)) & ((1 << RECENT) - 1);
                }
                let chronic = st.recent.count_ones() >= CHRONIC;
                match (window_holds, worst) {
                    (Some(false), Some(w)) => {
                        st.seen = true;
                        st.bad_streak += 1;
                        st.good_streak = 0;
                        if st.bad_streak >= self.confirm || w <= SEVERE || chronic {
                            st.violated = true;
                        }
                    }
                    (Some(true), _) => {
                        st.seen = true;
                        st.good_streak += 1;
                        st.bad_streak = 0;
                        if st.good_streak >= self.confirm {
                            st.violated = false;
                        }
                    }
                    _ => {}
                }
                let health = if !st.seen {
                    Health::NoData
                } else if st.violated {
                    Health::Violated
                } else if worst.is_some_and(|w| w < self.margin) {
                    Health::AtRisk
                } else {
                    Health::Compliant
                };
                SloAnalysis {
                    health,
                    window_holds,
                    margins,
                }
            })
            .collect();
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
        let (shift, rising) = self.shift.update(obs);
        Analysis {
            slos,
            shift,
            rising,
            noise: self.noise.sigma(),
        }
    }
}
