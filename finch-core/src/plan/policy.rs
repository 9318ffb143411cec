//! A policy per workload context: the cheapest configuration seen to hold
//! every objective there.
//!
//! A context is the request rate of each SLO on a logarithmic grid (rates
//! within a factor of 1.3 share a cell; an idle SLO is left out), so both the
//! load and the mix tell contexts apart. A configuration holds in a context
//! when it ran without a violated window for a while and, in that run, every
//! objective's SLI was within its bound for [`HOLD_WINDOWS`] windows in or
//! next to the context (a rate near a cell's edge falls on either side from
//! one window to the next: counting only windows in the very same cell would
//! split one load into two contexts that each rarely hold long enough). The
//! policy keeps the cheapest such configuration per context, and forgets it
//! the first time it fails there.
//!
//! The planner goes to it when the load enters a context it knows (instead of
//! finding the knobs again one probe at a time). To fix a violation in a
//! context it does not know, the nearest one at the same or a higher load
//! serves (what held under more load holds under this one), failing that one
//! a cell below. The policy is rebuilt from the stored
//! observations at a warm start, so a restarted service starts where it left
//! off.
//!
//! Capacities are not part of it: their controller sizes them for the load.

use std::collections::{BTreeMap, VecDeque};

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
/// How many cells above the current one a context may lie and still serve
/// as its policy (1.3² ≈ 1.7 times the load).
const REACH_ABOVE: i32 = 2;
/// The windows of a run whose contexts are kept to count confirmations.
const RUN_MEMORY: usize = 16;

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

/// The configuration in force since the last violated window, and the
/// contexts of its latest windows within every objective.
struct Run {
    point: Vec<u64>,
    contexts: VecDeque<Context>,
}

/// How far `to` lies from `from`, in cells: the largest difference over the
/// SLOs and whether `to` is at least as loaded in every one; `None` when the
/// two do not have the same busy SLOs.
fn offset(from: &Context, to: &Context) -> Option<(i32, bool)> {
    if from.len() != to.len() {
        return None;
    }
    let mut far = 0;
    let mut above = true;
    for ((ka, a), (kb, b)) in from.iter().zip(to) {
        if ka != kb {
            return None;
        }
        far = far.max((b - a).abs());
        above &= b >= a;
    }
    Some((far, above))
}

#[derive(Default)]
pub(crate) struct Policy {
    entries: BTreeMap<Context, Entry>,
    run: Option<Run>,
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
                let run = match self.run.take() {
                    Some(run) if run.point == point => run,
                    _ => Run {
                        point: point.clone(),
                        contexts: VecDeque::new(),
                    },
                };
                let run = self.run.insert(run);
                if run.contexts.len() == RUN_MEMORY {
                    run.contexts.pop_front();
                }
                run.contexts.push_back(context.clone());
                let count = run
                    .contexts
                    .iter()
                    .filter(|c| offset(&context, c).is_some_and(|(far, _)| far <= 1))
                    .count() as u32;
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

    /// The configuration to fix a violation in `context` with: the one known
    /// there, else the nearest context at the same or a higher load (at most
    /// [`REACH_ABOVE`] cells above in any SLO), else one a cell below. Among
    /// contexts equally near, the cheapest configuration.
    pub(crate) fn nearest(&self, context: &Context) -> Option<&Entry> {
        if let Some(e) = self.entries.get(context) {
            return Some(e);
        }
        self.entries
            .iter()
            .filter_map(|(c, e)| {
                let (far, above) = offset(context, c)?;
                let reach = if above { REACH_ABOVE } else { 1 };
                (far <= reach).then_some(((!above, far), e))
            })
            .min_by(|(a, ea), (b, eb)| a.cmp(b).then(ea.cost.total_cmp(&eb.cost)))
            .map(|(_, e)| e)
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
        assert!(!p.entries.contains_key(&c), "not yet held long enough");
        p.learn(2, c.clone(), vec![8], 0.8, Some(true));
        assert_eq!(p.entries.get(&c).map(|e| e.point.clone()), Some(vec![8]));
        // A quiet window (no SLI) neither breaks nor extends the run.
        p.learn(3, c.clone(), vec![4], 0.4, None);
        for seq in 4..7 {
            p.learn(seq, c.clone(), vec![4], 0.4, Some(true));
        }
        assert_eq!(p.entries.get(&c).map(|e| e.point.clone()), Some(vec![4]));
        // A costlier one that holds does not replace it.
        for seq in 7..11 {
            p.learn(seq, c.clone(), vec![16], 1.6, Some(true));
        }
        assert_eq!(p.entries.get(&c).map(|e| e.point.clone()), Some(vec![4]));
        // It fails there: forgotten.
        p.learn(11, c.clone(), vec![4], 0.4, Some(false));
        assert!(!p.entries.contains_key(&c));
    }

    #[test]
    fn a_rate_on_a_cell_edge_still_confirms_its_configuration() {
        // 1053 req/s is the edge between two cells: windows fall on either
        // side, and no three in a row share one.
        let mut p = Policy::default();
        let (low, high) = (ctx(1040.0), ctx(1070.0));
        assert_ne!(low, high);
        for (seq, c) in [&low, &high, &low, &high].into_iter().enumerate() {
            p.learn(seq as u64, c.clone(), vec![8], 0.8, Some(true));
        }
        assert!(p.entries.contains_key(&low) && p.entries.contains_key(&high));
        // A violated window ends the run: the count starts again.
        p.learn(4, low.clone(), vec![4], 0.4, Some(false));
        p.learn(5, low.clone(), vec![4], 0.4, Some(true));
        assert_eq!(p.entries.get(&low).map(|e| e.point.clone()), Some(vec![8]));
    }

    #[test]
    fn an_unknown_context_is_served_by_the_nearest_one_at_more_load() {
        let mut p = Policy::default();
        for (rate, point, cost) in [(100.0, 1, 0.1), (300.0, 3, 0.3), (1000.0, 9, 0.9)] {
            for seq in 0..HOLD_WINDOWS as u64 {
                p.learn(seq, ctx(rate), vec![point], cost, Some(true));
            }
        }
        let point = |rate: f64| p.nearest(&ctx(rate)).map(|e| e.point[0]);
        assert_eq!(point(300.0), Some(3), "the context itself");
        assert_eq!(point(200.0), Some(3), "the nearest above");
        assert_eq!(
            point(380.0),
            Some(3),
            "nothing above within reach: a cell below"
        );
        assert_eq!(point(5000.0), None, "nothing near");
        assert!(
            p.lookup(&ctx(200.0)).is_none(),
            "no entry for that very context"
        );
        let mixed = context(
            &[
                ("api/rate".to_string(), 300.0),
                ("other/rate".to_string(), 10.0),
            ]
            .into(),
        );
        assert!(p.nearest(&mixed).is_none(), "other SLOs, other contexts");
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
