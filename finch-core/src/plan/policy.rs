//! A policy per workload context: the cheapest configuration seen to hold
//! every objective there.
//!
//! A context is the request rate of each SLO on a logarithmic grid (rates
//! within a factor of 1.3 share a cell; an idle SLO is left out), so both the
//! load and the mix tell contexts apart. A configuration holds in a context
//! when every objective's SLI is within its bound for [`HOLD_WINDOWS`]
//! windows in a row there; the policy keeps the cheapest such configuration,
//! and forgets it the first time it fails there. The planner goes straight to
//! it when the load enters a context it knows (instead of finding the knobs
//! again one probe at a time), and it is rebuilt from the stored observations
//! at a warm start, so a restarted service starts where it left off.
//!
//! Capacities are not part of it: their controller sizes them for the load.

use std::collections::BTreeMap;

use crate::monitor::Observation;

use super::Goal;

/// Rates within this factor share a context.
const RATE_CELL: f64 = 1.3;
/// A rate below this (requests per second) counts as idle.
const IDLE_RATE: f64 = 0.5;
/// Consecutive windows within every objective for a configuration to count
/// as holding in a context.
pub(crate) const HOLD_WINDOWS: u32 = 3;
/// Contexts remembered at most (the least recently confirmed go first).
const MAX_CONTEXTS: usize = 256;

/// A workload context: each busy SLO's rate cell.
pub(crate) type Context = Vec<(String, i32)>;

/// The context of a window's workload.
pub(crate) fn context(workload: &BTreeMap<String, f64>) -> Context {
    workload
        .iter()
        .filter(|(k, r)| k.ends_with("/rate") && r.is_finite() && **r >= IDLE_RATE)
        .map(|(k, r)| (k.clone(), (r.ln() / RATE_CELL.ln()).round() as i32))
        .collect()
}

/// Whether every goal's SLI in `obs` is within its bound; `None` if some
/// goal was not measured (too few calls): such a window neither confirms nor
/// refutes a configuration.
pub(crate) fn compliant(obs: &Observation, goals: &[Goal]) -> Option<bool> {
    let mut all = true;
    for g in goals {
        let v = *obs.slis.get(&g.key)?;
        all &= v.is_finite() && g.objective.margin(v) >= 0.0;
    }
    Some(all)
}

/// A configuration that held in a context.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    pub(crate) point: Vec<u64>,
    pub(crate) cost: f64,
    /// The windows it held for, the last time it was confirmed.
    pub(crate) windows: u32,
    /// When it was last confirmed (window number).
    seen: u64,
}

#[derive(Default)]
pub(crate) struct Policy {
    entries: BTreeMap<Context, Entry>,
    /// The context and configuration of the current run of good windows.
    run: Option<(Context, Vec<u64>, u32)>,
}

impl Policy {
    /// Learns from one window: its context, the configuration in force (the
    /// searched knobs only), its cost, and whether it held every objective.
    pub(crate) fn learn(
        &mut self,
        seq: u64,
        context: Context,
        point: Vec<u64>,
        cost: f64,
        held: Option<bool>,
    ) {
        match held {
            None => {}
            Some(false) => {
                self.run = None;
                if self.entries.get(&context).is_some_and(|e| e.point == point) {
                    self.entries.remove(&context);
                }
            }
            Some(true) => {
                let count = match &self.run {
                    Some((c, p, n)) if *c == context && *p == point => n + 1,
                    _ => 1,
                };
                self.run = Some((context.clone(), point.clone(), count));
                if count < HOLD_WINDOWS || context.is_empty() {
                    return;
                }
                let better = self
                    .entries
                    .get(&context)
                    .is_none_or(|e| e.point == point || cost < e.cost);
                if better {
                    self.entries.insert(
                        context,
                        Entry {
                            point,
                            cost,
                            windows: count,
                            seen: seq,
                        },
                    );
                    self.bound();
                }
            }
        }
    }

    /// The configuration known to hold in `context`.
    pub(crate) fn lookup(&self, context: &Context) -> Option<&Entry> {
        self.entries.get(context)
    }

    /// Contexts known.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn bound(&mut self) {
        while self.entries.len() > MAX_CONTEXTS {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.seen)
                .map(|(c, _)| c.clone())
            else {
                return;
            };
            self.entries.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(rate: f64) -> Context {
        context(&[("api/rate".to_string(), rate)].into())
    }

    #[test]
    fn rates_within_the_cell_share_a_context_and_idle_slos_are_left_out() {
        assert_eq!(ctx(100.0), ctx(105.0));
        assert_ne!(ctx(100.0), ctx(200.0));
        assert!(ctx(0.1).is_empty());
        let mixed = context(
            &[
                ("read/rate".to_string(), 900.0),
                ("write/rate".to_string(), 100.0),
            ]
            .into(),
        );
        let shifted = context(
            &[
                ("read/rate".to_string(), 500.0),
                ("write/rate".to_string(), 500.0),
            ]
            .into(),
        );
        assert_ne!(mixed, shifted, "the mix tells contexts apart");
    }

    #[test]
    fn keeps_the_cheapest_configuration_that_held_and_forgets_one_that_failed() {
        let mut p = Policy::default();
        let c = ctx(100.0);
        for seq in 0..HOLD_WINDOWS as u64 - 1 {
            p.learn(seq, c.clone(), vec![8], 0.8, Some(true));
        }
        assert!(p.lookup(&c).is_none(), "not yet held long enough");
        p.learn(2, c.clone(), vec![8], 0.8, Some(true));
        assert_eq!(p.lookup(&c).map(|e| e.point.clone()), Some(vec![8]));
        // A quiet window (no SLI) neither breaks nor extends the run.
        p.learn(3, c.clone(), vec![4], 0.4, None);
        for seq in 4..7 {
            p.learn(seq, c.clone(), vec![4], 0.4, Some(true));
        }
        assert_eq!(p.lookup(&c).map(|e| e.point.clone()), Some(vec![4]));
        // A costlier one that holds does not replace it.
        for seq in 7..11 {
            p.learn(seq, c.clone(), vec![16], 1.6, Some(true));
        }
        assert_eq!(p.lookup(&c).map(|e| e.point.clone()), Some(vec![4]));
        // It fails there: forgotten.
        p.learn(11, c.clone(), vec![4], 0.4, Some(false));
        assert!(p.lookup(&c).is_none());
    }

    #[test]
    fn the_number_of_contexts_is_bounded() {
        let mut p = Policy::default();
        for i in 0..(MAX_CONTEXTS as u64 + 20) {
            let c = context(&[(format!("slo{i}/rate"), 10.0)].into());
            for k in 0..HOLD_WINDOWS as u64 {
                p.learn(i * 10 + k, c.clone(), vec![i], 1.0, Some(true));
            }
        }
        assert!(p.len() <= MAX_CONTEXTS);
    }
}
