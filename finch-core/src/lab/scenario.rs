//! Scenarios: the scripted workload of an experiment, in windows.

use std::time::Duration;

use serde::Serialize;

/// One phase of a scripted workload: a rate (optionally ramping) and a mix of
/// operations, for a number of windows.
///
/// ```
/// use finch_core::lab::Phase;
///
/// let rush = Phase::new("rush", 120, 250.0).ramp_to(400.0).mix([("read", 0.6), ("write", 0.4)]);
/// assert_eq!(rush.windows, 120);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Phase {
    /// A short name for reports ("rush").
    pub name: String,
    /// How many windows the phase lasts.
    pub windows: u32,
    /// Requests per second at the start of the phase.
    pub rate: f64,
    /// Requests per second at the end of the phase (linear ramp); `None`: constant.
    pub ramp_to: Option<f64>,
    /// Share of each operation, by name (normalised when read); empty: the
    /// subject's own default mix.
    pub mix: Vec<(String, f64)>,
}

impl Phase {
    /// A phase of `windows` windows at `rate` requests per second.
    pub fn new(name: impl Into<String>, windows: u32, rate: f64) -> Self {
        Phase {
            name: name.into(),
            windows,
            rate,
            ramp_to: None,
            mix: Vec::new(),
        }
    }

    /// Ramps the rate linearly to `rate` by the phase's last window.
    pub fn ramp_to(mut self, rate: f64) -> Self {
        self.ramp_to = Some(rate);
        self
    }

    /// Sets the share of each operation.
    pub fn mix<I, S>(mut self, shares: I) -> Self
    where
        I: IntoIterator<Item = (S, f64)>,
        S: Into<String>,
    {
        self.mix = shares.into_iter().map(|(k, v)| (k.into(), v)).collect();
        self
    }

    /// The rate in the phase's `i`-th window.
    fn rate_at(&self, i: u32) -> f64 {
        match self.ramp_to {
            Some(end) if self.windows > 1 => {
                let t = f64::from(i) / f64::from(self.windows - 1);
                self.rate + (end - self.rate) * t
            }
            _ => self.rate,
        }
    }
}

/// An injected fault: something in the environment that changes, unannounced,
/// between two windows. The subject gives `kind` its meaning ("db-slow",
/// "cpu-neighbour") and `magnitude` its unit.
///
/// ```
/// use finch_core::lab::Fault;
///
/// let slow_db = Fault::new("db-slow", 3.5).during(200, 260);
/// assert!(slow_db.active(200) && !slow_db.active(260));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fault {
    /// What kind of fault, in the subject's vocabulary.
    pub kind: String,
    /// How strong (e.g. a slowdown factor).
    pub magnitude: f64,
    /// First window (from the start of the phases) the fault is active.
    pub from: u32,
    /// First window it is no longer active.
    pub until: u32,
}

impl Fault {
    /// A fault of `kind` with `magnitude`, active from the first window until
    /// [`during`](Self::during) says otherwise.
    pub fn new(kind: impl Into<String>, magnitude: f64) -> Self {
        Fault {
            kind: kind.into(),
            magnitude,
            from: 0,
            until: u32::MAX,
        }
    }

    /// Active in windows `from..until`.
    pub fn during(mut self, from: u32, until: u32) -> Self {
        self.from = from;
        self.until = until;
        self
    }

    /// Whether the fault is active in window `w`.
    pub fn active(&self, w: u32) -> bool {
        (self.from..self.until).contains(&w)
    }
}

/// A scripted experiment: warm-up windows (not judged), then phases, with
/// faults injected at given windows.
///
/// ```
/// use std::time::Duration;
/// use finch_core::lab::{Fault, Phase, Scenario};
///
/// let s = Scenario::new("spike", Duration::from_secs(1))
///     .describe("200 req/s, a spike to 900, back to 200")
///     .phase(Phase::new("calm", 60, 200.0))
///     .phase(Phase::new("spike", 30, 900.0))
///     .phase(Phase::new("after", 60, 200.0))
///     .fault(Fault::new("db-slow", 2.0).during(100, 120));
/// assert_eq!(s.windows(), 150);
/// assert_eq!(s.shifts(), vec![60, 90, 100, 120]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scenario {
    /// A short name ("spike").
    pub name: String,
    /// One line on what happens.
    pub description: String,
    /// The length of a window (finch's interval in the finch arms).
    #[serde(serialize_with = "secs")]
    pub window: Duration,
    /// Windows run before the phases, under the first phase's workload; not judged.
    pub warm_up: u32,
    /// The phases, in order.
    pub phases: Vec<Phase>,
    /// Faults injected along the way.
    pub faults: Vec<Fault>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Scenario {
    /// An empty scenario with windows of `window`.
    pub fn new(name: impl Into<String>, window: Duration) -> Self {
        Scenario {
            name: name.into(),
            description: String::new(),
            window,
            warm_up: 0,
            phases: Vec::new(),
            faults: Vec::new(),
        }
    }

    /// Says in one line what happens.
    pub fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Runs `windows` unjudged windows first.
    pub fn warm_up(mut self, windows: u32) -> Self {
        self.warm_up = windows;
        self
    }

    /// Appends a phase.
    pub fn phase(mut self, phase: Phase) -> Self {
        self.phases.push(phase);
        self
    }

    /// Injects a fault.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// Judged windows (the phases' total).
    pub fn windows(&self) -> u32 {
        self.phases.iter().map(|p| p.windows).sum()
    }

    /// The windows where the workload or the environment changes: every phase
    /// start but the first, every fault's start and end; sorted, distinct.
    pub fn shifts(&self) -> Vec<u32> {
        let total = self.windows();
        let mut at = Vec::new();
        let mut start = 0;
        for p in &self.phases {
            if start > 0 {
                at.push(start);
            }
            start += p.windows;
        }
        for f in &self.faults {
            at.extend(
                [f.from, f.until]
                    .into_iter()
                    .filter(|&w| w > 0 && w < total),
            );
        }
        at.sort_unstable();
        at.dedup();
        at
    }

    /// The plan of every window, warm-up first (negative-free: warm-up windows
    /// carry `warm_up = true` and the first phase's workload).
    pub fn plans(&self) -> Vec<WindowPlan> {
        let mut out = Vec::with_capacity((self.warm_up + self.windows()) as usize);
        if let Some(first) = self.phases.first() {
            for _ in 0..self.warm_up {
                out.push(WindowPlan {
                    index: 0,
                    warm_up: true,
                    phase: 0,
                    rate: first.rate,
                    length: self.window,
                    faults: Vec::new(),
                });
            }
        }
        let mut index = 0;
        for (pi, p) in self.phases.iter().enumerate() {
            for i in 0..p.windows {
                out.push(WindowPlan {
                    index,
                    warm_up: false,
                    phase: pi,
                    rate: p.rate_at(i).max(0.0),
                    length: self.window,
                    faults: (0..self.faults.len())
                        .filter(|&f| self.faults[f].active(index))
                        .collect(),
                });
                index += 1;
            }
        }
        out
    }

    /// The judged windows cut at every shift: the periods in which neither
    /// the workload's phase nor the faults change.
    pub fn segments(&self) -> Vec<std::ops::Range<u32>> {
        let mut cuts = vec![0];
        cuts.extend(self.shifts());
        cuts.push(self.windows());
        cuts.windows(2).map(|c| c[0]..c[1]).collect()
    }
}

/// What the subject is asked to do in one window.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowPlan {
    /// The judged window's index from the first phase's start (0 in warm-up).
    pub index: u32,
    /// A warm-up window: run, but not judged.
    pub warm_up: bool,
    /// Index of the phase in [`Scenario::phases`].
    pub phase: usize,
    /// Requests per second in this window.
    pub rate: f64,
    /// The window's length.
    pub length: Duration,
    /// Indices in [`Scenario::faults`] of the faults active in this window.
    pub faults: Vec<usize>,
}

impl WindowPlan {
    /// The magnitude of the active fault of `kind`, if one is active.
    pub fn fault<'a>(&self, scenario: &'a Scenario, kind: &str) -> Option<&'a Fault> {
        self.faults
            .iter()
            .filter_map(|&i| scenario.faults.get(i))
            .find(|f| f.kind == kind)
    }

    /// The share of each operation of `operations` in this window, from the
    /// phase's mix (operations it does not name get 0; an empty mix: equal shares).
    pub fn shares(&self, scenario: &Scenario, operations: &[&str]) -> Vec<f64> {
        let mix = scenario
            .phases
            .get(self.phase)
            .map(|p| p.mix.as_slice())
            .unwrap_or(&[]);
        let raw: Vec<f64> = operations
            .iter()
            .map(|op| {
                if mix.is_empty() {
                    1.0
                } else {
                    mix.iter()
                        .filter(|(k, _)| k == op)
                        .map(|(_, v)| v.max(0.0))
                        .sum()
                }
            })
            .collect();
        let total: f64 = raw.iter().sum();
        if total > 0.0 {
            raw.iter().map(|v| v / total).collect()
        } else {
            vec![0.0; operations.len()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_reach_their_end_rate_and_faults_mark_their_windows() {
        let s = Scenario::new("t", Duration::from_secs(1))
            .warm_up(2)
            .phase(Phase::new("a", 5, 10.0).ramp_to(50.0))
            .phase(Phase::new("b", 3, 7.0).mix([("r", 3.0), ("w", 1.0)]))
            .fault(Fault::new("slow", 2.0).during(4, 6));
        let plans = s.plans();
        assert_eq!(plans.len(), 10);
        assert!(plans[0].warm_up && plans[1].warm_up);
        assert_eq!(plans[2].rate, 10.0);
        assert_eq!(plans[6].rate, 50.0);
        assert_eq!(plans[7].phase, 1);
        assert_eq!(plans[6].faults, vec![0]);
        assert!(plans[8].faults.is_empty());
        assert_eq!(plans[7].fault(&s, "slow").map(|f| f.magnitude), Some(2.0));
        assert_eq!(plans[7].shares(&s, &["r", "w", "x"]), vec![0.75, 0.25, 0.0]);
        assert_eq!(plans[2].shares(&s, &["r", "w"]), vec![0.5, 0.5]);
        assert_eq!(s.shifts(), vec![4, 5, 6]);
        assert_eq!(s.segments(), vec![0..4, 4..5, 5..6, 6..8]);
    }
}
