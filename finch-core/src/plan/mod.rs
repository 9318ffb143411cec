//! Plan: choose the next configuration.
//!
//! Once the SLI models are trusted, the planner searches candidates inside a
//! trust region around the configuration in force and takes the cheapest one
//! predicted to meet every objective with margin (else the least violating).
//! Before that, it explores safely: one knob, one small step at a time (with a
//! free knob not known to help riding along on a costly step), towards
//! more capacity when an objective is violated and towards less cost when every
//! objective holds with room to spare. Every move is verified and undone if it
//! made things worse; a free knob's step kept without a verdict (the load kept
//! rising meanwhile) is not probed back the other way, so no knob goes up,
//! down and up again on steps nobody judged.
//!
//! Under a load the analysis confirms is climbing, the planner looks ahead
//! (`forecast`): where the rate is heading a few windows on, it puts in place
//! what held at that load before (the policy), or what the model predicts is
//! needed there, so that knobs that act late (a cache filling) are ready when
//! the load arrives; and a model-planned cost cut must hold at that load too.
//!
//! One mechanism per file: `capacity` sizes capacities from queueing,
//! `explore` steps one knob at a time, `exploit` searches with the model,
//! `follow` applies the policy that `policy` keeps, `forecast` looks ahead,
//! `recovery` follows an incident, `model` trains the SLI models; this file
//! decides which of them acts on a window.

pub(crate) mod capacity;
mod exploit;
mod explore;
mod follow;
mod forecast;
pub(crate) mod model;
pub(crate) mod policy;
mod recovery;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::analyze::Analysis;
use crate::analyze::health::judge;
use crate::config::Config;
use crate::decision::{Decision, DecisionKind, Intent, Verdict};
use crate::knob::space::{self, Space};
use crate::monitor::Observation;
use crate::slo::Objective;
use model::{KnobAxis, Models, Predict, Target, TrainingSet, workload_feature};

/// A configuration the planner wants, with its justification.
pub(crate) struct Proposal {
    pub(crate) target: Vec<u64>,
    pub(crate) kind: DecisionKind,
    pub(crate) intent: Intent,
    pub(crate) reason: String,
    pub(crate) predicted_before: BTreeMap<String, f64>,
    pub(crate) predicted_after: BTreeMap<String, f64>,
    /// The knobs and directions of an exploratory step (empty for others).
    pub(crate) probe: Vec<(usize, i8)>,
}

impl Proposal {
    /// An exploratory step: no model prediction, and the knobs and
    /// directions it probes.
    fn explore(target: Vec<u64>, intent: Intent, reason: String, probe: Vec<(usize, i8)>) -> Self {
        Proposal {
            target,
            kind: DecisionKind::Explore,
            intent,
            reason,
            predicted_before: BTreeMap::new(),
            predicted_after: BTreeMap::new(),
            probe,
        }
    }
}

/// How the planner follows its policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Follow {
    /// An objective is violated: the configuration of the nearest context
    /// known at the same or a higher load serves; only what adds moves.
    Fix,
    /// Ahead of a rising load: the configuration known at the load forecast,
    /// only what adds.
    Ahead,
    /// The workload moved: the configuration known for it, cheaper or
    /// costlier.
    Move,
}

/// An objective the planner must meet: its SLI key and bound.
pub(crate) struct Goal {
    pub(crate) key: String,
    pub(crate) objective: Objective,
}

pub(crate) struct Context<'a> {
    pub(crate) obs: &'a Observation,
    pub(crate) analysis: &'a Analysis,
    pub(crate) goals: &'a [Goal],
    /// Windows since the last change.
    pub(crate) since_change: u64,
    /// Mean of each SLI over the recent windows under the configuration in force,
    /// and how many windows that is.
    pub(crate) anchor: (BTreeMap<String, f64>, usize),
}

/// A margin this low (the log of budget over estimated bad fraction: about 28 %
/// over budget) calls for a bigger step.
const SEVERE: f64 = -0.25;
/// Windows a cost cut is held back after one failed (doubling on repeats).
const TABU_WINDOWS: u64 = 20;
/// Windows an exploratory direction stays ruled out after it showed no effect
/// or made things worse: long enough that a knob without effect is not probed
/// again in the same episode.
const PROBE_TABU_WINDOWS: u64 = 60;
/// Windows a configuration found inadequate keeps ruling out everything no
/// costlier than it (while the load is no lighter).
const FLOOR_WINDOWS: u64 = 600;
/// A floor holds while the request rate is above this share of the rate it
/// was found at: what could not serve a load cannot serve more of it.
const FLOOR_RATE: f64 = 0.8;
/// A configuration this close (normalized) above a floor counts as under it.
const FLOOR_TOLERANCE: f64 = 0.05;
/// A cost-lowering move must save at least this share of the total cost range.
const MIN_SAVING: f64 = 0.02;
/// Margin beyond the needed one before an exploratory cost cut is tried.
const SAVE_HEADROOM: f64 = 0.15;
/// Margin beyond the needed one a model-planned cost cut must be predicted to
/// keep, so that a cut and the correction that would follow it are never both
/// predicted worthwhile (hysteresis).
const SAVE_BAND: f64 = 0.05;
/// Windows after a fix that improved things during which no other knob is
/// probed: the backlog the violation left takes a few windows to drain, and
/// every window of a drain looks better than the one before, whatever was
/// changed in it.
const PATIENCE_WINDOWS: u64 = 6;
/// Windows a capacity keeps its size after a resize before it is sized again
/// (new connections opening, the backlog moving onto them).
const CAPACITY_SETTLE: u64 = 2;
/// Windows in a row an objective must be at risk before its run of windows can
/// confirm it violated.
const RISK_WINDOWS: u32 = 3;
/// A forecast rise of the load smaller than this is not anticipated.
const MIN_RISE: f64 = 1.05;
/// Weight of the current window in correcting the model's bias.
const BIAS_WEIGHT: f64 = 0.5;

/// A configuration found unable to meet the objectives.
struct Floor {
    units: Vec<f64>,
    rate: f64,
    until: u64,
    /// Found while the environment was degraded (an incident): it lapses
    /// when the environment recovers.
    incident: bool,
}

pub(crate) struct Planner {
    pub(crate) space: Space,
    models: Option<Arc<Models>>,
    rng: ChaCha8Rng,
    max_step: f64,
    explore_step: f64,
    cooldown: u64,
    margin: f64,
    candidates: usize,
    trust_error: f64,
    seq: u64,
    helpful: HashMap<usize, i8>,
    tabu_dir: HashMap<(usize, i8), u64>,
    /// Configurations found inadequate (normalized), the request rate they
    /// failed at, and their expiry.
    floors: Vec<Floor>,
    /// The request rate of the latest window.
    rate: f64,
    save_blocked_until: u64,
    save_backoff: u64,
    /// Capacity knobs, sized from queueing.
    capacities: Vec<capacity::Controller>,
    /// The window capacities were last resized in.
    sized_at: Option<u64>,
    /// The window a fix was last found to improve things in.
    improved_at: Option<u64>,
    /// The cheapest configuration seen to hold, per workload context.
    policy: policy::Policy,
    /// Where the request rate is heading.
    forecast: forecast::RateForecast,
    /// Whether an incident is still degrading the environment.
    recovery: recovery::Recovery,
    /// The searched costly knobs' values in the latest window, and the
    /// window one of them last moved in.
    last_costly: Vec<u64>,
    moved_at: u64,
    /// The last window observed and, per objective, its run of windows at
    /// risk (more likely than not over budget) up to it.
    at_risk: (u64, Vec<RiskRun>),
}

/// An objective's consecutive windows at risk, and its bad events and calls
/// over them.
#[derive(Clone, Copy, Debug, Default)]
struct RiskRun {
    windows: u32,
    bad: u64,
    calls: u64,
    budget: f64,
}

impl Planner {
    pub(crate) fn new(space: Space, cfg: &Config) -> Self {
        let capacities = cfg
            .capacities
            .iter()
            .filter(|c| !cfg.frozen.contains(&c.knob))
            .filter_map(|c| {
                let dim = space.index(&c.knob)?;
                Some(capacity::Controller::new(dim, c.clone()))
            })
            .collect();
        Planner {
            space,
            models: None,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            max_step: cfg.max_step,
            explore_step: cfg.explore_step,
            cooldown: u64::from(cfg.cooldown),
            margin: cfg.margin,
            candidates: cfg.candidates,
            trust_error: cfg.model.trust_error,
            seq: 0,
            helpful: HashMap::new(),
            tabu_dir: HashMap::new(),
            floors: Vec::new(),
            rate: 0.0,
            save_blocked_until: 0,
            save_backoff: TABU_WINDOWS,
            capacities,
            sized_at: None,
            improved_at: None,
            policy: policy::Policy::default(),
            forecast: forecast::RateForecast::default(),
            recovery: recovery::Recovery::default(),
            last_costly: Vec::new(),
            moved_at: 0,
            at_risk: (0, Vec::new()),
        }
    }

    pub(crate) fn models(&self) -> Option<&Arc<Models>> {
        self.models.as_ref()
    }

    /// Installs newly trained models (if they describe the knobs as they are).
    pub(crate) fn set_models(&mut self, models: Arc<Models>) -> bool {
        let fits = models.knobs == self.axes();
        if fits {
            self.models = Some(models);
        }
        fits
    }

    /// The models, if they are trusted.
    pub(crate) fn trusted(&self) -> Option<Arc<Models>> {
        self.models
            .as_ref()
            .filter(|m| m.trusted(self.trust_error))
            .cloned()
    }

    pub(crate) fn axes(&self) -> Vec<KnobAxis> {
        self.space
            .dims
            .iter()
            .map(|d| KnobAxis {
                name: d.name().to_string(),
                lo: d.knob.erased().min_bits(),
                hi: d.knob.erased().max_bits(),
            })
            .collect()
    }

    /// Takes in a window that just closed and its analysis, whether or not
    /// anything is planned on it: the rate (for the forecast), a workload
    /// shift, how long some objective has been likely over its budget.
    pub(crate) fn observe(&mut self, obs: &Observation, analysis: &Analysis) {
        self.record_rate(obs.seq, obs.total_rate());
        let holds = self.capacities.iter().map(|c| c.held(obs)).collect();
        let costly = self.searched_costly(&self.space.current());
        if costly != self.last_costly {
            self.moved_at = obs.seq;
            self.last_costly = costly;
        }
        let still = obs.seq.saturating_sub(self.moved_at);
        if self
            .recovery
            .update(holds, analysis.incident.is_some(), still)
        {
            // What failed in the slower environment may hold again.
            self.floors.retain(|f| !f.incident);
        }
        if let Some(shift) = &analysis.shift {
            self.on_shift(shift.mix_changed());
        }
        // Each objective's own windows while it stays at risk, pooled anew:
        // the analysis restarts its pools whenever the configuration changes,
        // so an objective narrowly over budget through a stream of capacity
        // resizes is never confirmed there.
        let consecutive = self.at_risk.0 + 1 == obs.seq;
        let judged = analysis
            .slos
            .iter()
            .flat_map(|s| s.objectives.iter().zip(&s.window));
        let runs: Vec<RiskRun> = judged
            .enumerate()
            .map(|(i, (j, &(bad, calls)))| {
                let before = self
                    .at_risk
                    .1
                    .get(i)
                    .copied()
                    .filter(|_| consecutive)
                    .unwrap_or_default();
                if j.calls > 0 && j.at_risk() {
                    RiskRun {
                        windows: before.windows + 1,
                        bad: before.bad + bad,
                        calls: before.calls + calls,
                        budget: j.budget,
                    }
                } else {
                    RiskRun::default()
                }
            })
            .collect();
        self.at_risk = (obs.seq, runs);
    }

    /// Some objective has been at risk for [`RISK_WINDOWS`] windows in a row
    /// up to window `seq`, and its bad events over those windows alone put
    /// it over budget with the confidence of a confirmed violation.
    fn lasting_risk(&self, seq: u64) -> bool {
        self.at_risk.0 == seq
            && self
                .at_risk
                .1
                .iter()
                .any(|r| r.windows >= RISK_WINDOWS && judge(r.bad, r.calls, r.budget).confident())
    }

    /// Window `seq`, which just closed, served `rate` requests per second.
    fn record_rate(&mut self, seq: u64, rate: f64) {
        self.rate = rate;
        self.forecast.push(seq, rate);
    }

    /// A new workload regime: exploration may retry what failed; with another
    /// mix, what failed may suffice again.
    fn on_shift(&mut self, mix_changed: bool) {
        self.tabu_dir.clear();
        self.save_blocked_until = 0;
        self.save_backoff = TABU_WINDOWS;
        if mix_changed {
            self.floors.clear();
        }
    }

    /// Records that `point` could not meet the objectives at the current rate:
    /// while the load is no lighter, nothing no costlier on every costly knob
    /// is proposed.
    pub(crate) fn add_floor(&mut self, point: &[u64]) {
        self.floors.push(Floor {
            units: self.space.units(point),
            rate: self.rate,
            until: self.seq + FLOOR_WINDOWS,
            incident: self.recovery.degraded(),
        });
    }

    /// Whether `point` is no costlier than a known inadequate configuration on
    /// every costly knob, at a load no lighter than the one it failed at.
    fn under_floor(&self, point: &[u64]) -> bool {
        let units = self.space.units(point);
        self.floors.iter().any(|floor| {
            self.rate >= floor.rate * FLOOR_RATE
                && self
                    .space
                    .dims
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.cost > 0.0)
                    .all(|(i, _)| units[i] <= floor.units[i] + FLOOR_TOLERANCE)
        })
    }

    /// Learns from a verified change.
    pub(crate) fn feedback(
        &mut self,
        after: &[u64],
        intent: Intent,
        probe: &[(usize, i8)],
        verdict: Verdict,
    ) {
        let seq = self.seq;
        self.credit(seq, intent, probe, verdict);
        match verdict {
            Verdict::Improved => self.improved_at = Some(seq),
            Verdict::Held if intent == Intent::Save => self.save_backoff = TABU_WINDOWS,
            Verdict::Regressed if intent == Intent::Save => {
                self.add_floor(after);
                self.save_blocked_until = seq + self.save_backoff;
                self.save_backoff = (self.save_backoff * 2).min(TABU_WINDOWS * 16);
            }
            _ => {}
        }
    }

    /// Credits the knobs a change probed with its verdict (judged after
    /// window `seq`): the way a fix helped, or a way that did nothing or harm.
    fn credit(&mut self, seq: u64, intent: Intent, probe: &[(usize, i8)], verdict: Verdict) {
        match verdict {
            Verdict::Improved | Verdict::Held if intent == Intent::Fix => {
                for &(i, dir) in probe {
                    self.helpful.insert(i, dir);
                }
            }
            Verdict::NoEffect | Verdict::Regressed => {
                for &(i, dir) in probe {
                    self.tabu_dir.insert((i, dir), seq + PROBE_TABU_WINDOWS);
                    if self.helpful.get(&i) == Some(&dir) {
                        self.helpful.remove(&i);
                    }
                }
            }
            // A free knob's step kept unjudged is not probed back the other
            // way (up, down, up: an oscillation that learns nothing); a
            // costly one only ever goes up for a fix and down for a saving.
            Verdict::Unknown => {
                for &(i, dir) in probe {
                    if self.space.dims.get(i).is_some_and(|d| d.cost <= 0.0) {
                        self.tabu_dir.insert((i, -dir), seq + PROBE_TABU_WINDOWS);
                    }
                }
            }
            _ => {}
        }
    }

    /// Learns again, at a warm start, what a stored decision's verdict taught
    /// of the knobs it probed; whether it probed any this run still has.
    pub(crate) fn recall(&mut self, decision: &Decision, verdict: Verdict) -> bool {
        let probe: Vec<(usize, i8)> = decision
            .changes
            .iter()
            .filter(|c| c.probed)
            .filter_map(|c| {
                let i = self.space.index(&c.knob)?;
                let d = &self.space.dims[i];
                let from = d.knob.erased().parse(&c.from).ok()?;
                let to = d.knob.erased().parse(&c.to).ok()?;
                Some((i, d.direction(from, to)))
            })
            .collect();
        let intent = if decision.cost_after < decision.cost_before {
            Intent::Save
        } else {
            Intent::Fix
        };
        self.credit(decision.window, intent, &probe, verdict);
        !probe.is_empty()
    }

    /// Whether a fix may not move knob `i` in direction `dir`: a verified
    /// change found that move did nothing (or harm), or the opposite one
    /// helped.
    fn ruled_out(&self, (i, dir): (usize, i8)) -> bool {
        self.tabu_dir.contains_key(&(i, dir)) || self.helpful.get(&i) == Some(&-dir)
    }

    /// The values of `point`'s searched costly knobs.
    fn searched_costly(&self, point: &[u64]) -> Vec<u64> {
        (0..self.space.dims.len())
            .filter(|&i| self.space.dims[i].cost > 0.0 && !self.is_capacity(i))
            .filter_map(|i| point.get(i).copied())
            .collect()
    }

    /// Whether dimension `i` is a capacity (sized by its controller, not
    /// searched).
    fn is_capacity(&self, i: usize) -> bool {
        self.capacities.iter().any(|c| c.dim == i)
    }

    /// The searched knobs of a window's configuration (capacities zeroed) and
    /// their cost; `None` if a knob's value is missing or invalid.
    fn searched(&self, knobs: &BTreeMap<String, f64>) -> Option<(Vec<u64>, f64)> {
        let mut point = Vec::with_capacity(self.space.dims.len());
        let mut cost = 0.0;
        for (i, d) in self.space.dims.iter().enumerate() {
            if self.is_capacity(i) {
                point.push(0);
                continue;
            }
            let bits = d.knob.erased().snap(*knobs.get(d.name())?)?;
            cost += d.cost * d.unit(bits);
            point.push(bits);
        }
        Some((point, cost))
    }

    /// Learns the policy from one window (a clean one confirms or refutes the
    /// configuration it ran with; others are skipped).
    pub(crate) fn learn(&mut self, obs: &Observation, goals: &[Goal]) {
        let Some((point, cost)) = self.searched(&obs.knobs) else {
            return;
        };
        let held = if obs.clean {
            policy::compliant(obs, goals)
        } else {
            None
        };
        let context = policy::context(&obs.workload);
        self.policy.learn(obs.seq, context, point, cost, held);
    }

    /// Contexts the policy knows.
    pub(crate) fn policy_len(&self) -> usize {
        self.policy.len()
    }

    /// Decides whether and where to move. `None`: stay.
    pub(crate) fn plan(&mut self, ctx: &Context<'_>) -> Option<Proposal> {
        self.seq = ctx.obs.seq;
        let seq = self.seq;
        self.tabu_dir.retain(|_, until| *until > seq);
        self.rate = ctx.obs.total_rate();
        self.floors.retain(|f| f.until > seq);
        if !self.space.dims.iter().any(space::Dim::movable) {
            return None;
        }
        let a = ctx.analysis;
        if a.settling {
            return None;
        }
        let worst = a.worst_margin()?;
        let current = self.space.current();
        let trusted = self.trusted();
        let why = if trusted.is_some() {
            "the model has not seen a workload like this one"
        } else {
            "the model is not trusted"
        };
        let trusted = trusted.filter(|m| m.familiar(&workload_row(m.as_ref(), ctx.obs, 1.0)));
        // Act on a confirmed violation, or on a likely one when the workload
        // just shifted; one slow call among few is not a violation.
        // An objective at risk window after window, whose windows together
        // confirm it over budget, is violated.
        let lasting = self.lasting_risk(seq);
        let urgent = a.violated() || (a.breached() && (a.shift.is_some() || lasting));
        if urgent && let Some(p) = self.follow_policy(ctx, &current, Follow::Fix, 1.0) {
            return Some(p);
        }
        // The workload moved to a context the policy knows: go to what held
        // there (cheaper or costlier) before anything is violated.
        if !urgent
            && a.shift.is_some()
            && a.incident.is_none()
            && let Some(p) = self.follow_policy(ctx, &current, Follow::Move, 1.0)
        {
            return Some(p);
        }
        if urgent {
            if let Some(models) = &trusted
                && let Some(p) = self.exploit(models.as_ref(), ctx, &current, Intent::Fix, 1.0)
            {
                return Some(p);
            }
            return self.explore_fix(&current, worst, why);
        }
        if let Some(p) = self.anticipate(ctx, &current) {
            return Some(p);
        }
        if a.breached()
            || a.rising()
            || a.incident.is_some()
            || ctx.since_change < self.cooldown
            || seq < self.save_blocked_until
        {
            return None;
        }
        if let Some(models) = &trusted {
            // Every objective is likely within budget (judged on counts): a
            // predicted thin margin alone does not justify paying more.
            // A cut must also hold at the load the forecast expects.
            let cost = self.space.cost(&current);
            let rise = self.forecast.rise().unwrap_or(1.0);
            return self
                .exploit(models.as_ref(), ctx, &current, Intent::Save, rise)
                .filter(|p| self.space.cost(&p.target) <= cost);
        }
        let needed = self.margins(ctx);
        let roomy = a
            .margins()
            .zip(&needed)
            .all(|(m, n)| m.is_some_and(|m| m >= n + SAVE_HEADROOM));
        if a.complete() && roomy {
            // A cheaper configuration known to hold at this load: straight there.
            if let Some(p) = self
                .follow_policy(ctx, &current, Follow::Move, 1.0)
                .filter(|p| self.space.cost(&p.target) < self.space.cost(&current))
            {
                return Some(p);
            }
            return self.explore_save(&current, worst, why);
        }
        None
    }

    /// Ahead of a climbing load: where the model knows the load the rate is
    /// heading for, and predicts the configuration in force will not hold
    /// there, a fix now, so that knobs that act late (a cache filling) are in
    /// place when the load arrives.
    fn anticipate(&mut self, ctx: &Context<'_>, current: &[u64]) -> Option<Proposal> {
        let a = ctx.analysis;
        if !a.rising() || a.incident.is_some() || ctx.since_change < self.cooldown {
            return None;
        }
        let rise = self.forecast.rise().filter(|r| *r >= MIN_RISE)?;
        if let Some(p) = self.follow_policy(ctx, current, Follow::Ahead, rise) {
            return Some(p);
        }
        let models = self.trusted()?;
        if !models.familiar(&workload_row(models.as_ref(), ctx.obs, rise)) {
            return None;
        }
        self.exploit(models.as_ref(), ctx, current, Intent::Fix, rise)
    }

    /// Sizes every capacity knob from queueing, every window (a pending probe
    /// or not); one proposal moves all of those that need it.
    pub(crate) fn size_capacities(&mut self, ctx: &Context<'_>) -> Option<Proposal> {
        self.seq = ctx.obs.seq;
        let current = self.space.current();
        let mut target = current.clone();
        let mut reasons = Vec::new();
        let mut grow = false;
        let rate = ctx.obs.total_rate();
        // Changes to other knobs do not unsettle a capacity: it is sized on
        // its own signals, which a probe elsewhere must not hold back.
        let settled = self
            .sized_at
            .is_none_or(|at| self.seq >= at + CAPACITY_SETTLE);
        for c in &mut self.capacities {
            let Some(d) = self.space.dims.get(c.dim) else {
                continue;
            };
            // Capacities are frozen for the search (`movable` is false for
            // them); only a pin or an empty range stops their controller.
            if d.knob.is_pinned() || d.hi.partial_cmp(&d.lo) != Some(std::cmp::Ordering::Greater) {
                continue;
            }
            let Some((busy, waiting, served)) = c.signals(ctx.obs) else {
                continue;
            };
            let size = d.position(current[c.dim]);
            let load = capacity::Load {
                rate,
                busy,
                waiting,
                served,
                incident: ctx.analysis.incident.is_some(),
                breached: ctx.analysis.breached(),
            };
            let Some(sizing) = c.size(ctx.obs.seq, size, load, settled) else {
                continue;
            };
            let wanted = sizing.size.clamp(d.lo, d.hi);
            let Some(bits) = d.knob.erased().snap(wanted) else {
                continue;
            };
            if bits != current[c.dim] {
                target[c.dim] = bits;
                grow |= sizing.grow;
                reasons.push((c.dim, sizing.reason));
            }
        }
        // Coupled capacities move together: a limit stays a multiple of the
        // pool behind it.
        for c in &self.capacities {
            let Some((other, factor)) = &c.spec().at_least else {
                continue;
            };
            let (Some(d), Some(o)) = (self.space.dims.get(c.dim), self.space.index(other)) else {
                continue;
            };
            if d.knob.is_pinned() {
                continue;
            }
            let wanted = (self.space.dims[o].position(target[o]) * factor).ceil();
            if d.position(target[c.dim]) < wanted
                && let Some(bits) = d.knob.erased().snap(wanted.clamp(d.lo, d.hi))
                && bits != target[c.dim]
            {
                target[c.dim] = bits;
                grow = true;
                reasons.push((
                    c.dim,
                    format!("`{}` kept at {factor} × `{other}` = {wanted}", d.name()),
                ));
            }
        }
        if target == current {
            return None;
        }
        self.sized_at = Some(self.seq);
        let reasons: Vec<String> = reasons
            .into_iter()
            .filter(|(dim, _)| target[*dim] != current[*dim])
            .map(|(_, r)| r)
            .collect();
        Some(Proposal {
            target,
            kind: DecisionKind::Exploit,
            intent: if grow { Intent::Fix } else { Intent::Save },
            reason: format!("capacity from queueing: {}", reasons.join("; ")),
            predicted_before: BTreeMap::new(),
            predicted_after: BTreeMap::new(),
            probe: Vec::new(),
        })
    }

    /// The training set of clean, complete observations, in time order.
    pub(crate) fn training_set<'a>(
        &self,
        observations: impl Iterator<Item = &'a Observation>,
        goals: &[Goal],
    ) -> TrainingSet {
        let obs: Vec<&Observation> = observations
            .filter(|o| o.clean)
            .filter(|o| {
                self.space
                    .dims
                    .iter()
                    .all(|d| o.knobs.contains_key(d.name()))
            })
            .collect();
        let mut workload: Vec<String> = obs
            .iter()
            .flat_map(|o| o.workload.keys())
            .cloned()
            .collect();
        workload.sort();
        workload.dedup();
        let rows =
            obs.iter()
                .map(|o| {
                    let mut row: Vec<f64> = workload
                        .iter()
                        .map(|k| feature(k, o.workload.get(k).copied().unwrap_or(0.0)))
                        .collect();
                    row.extend(
                        self.space.dims.iter().map(|d| {
                            d.normalize(o.knobs.get(d.name()).copied().unwrap_or(f64::NAN))
                        }),
                    );
                    row
                })
                .collect();
        let targets = goals
            .iter()
            .map(|g| Target {
                key: g.key.clone(),
                latency: matches!(g.objective, Objective::Latency { .. }),
                bound: g.objective.bound(),
                values: obs.iter().map(|o| o.slis.get(&g.key).copied()).collect(),
            })
            .collect();
        TrainingSet {
            workload,
            knobs: self.axes(),
            rows,
            targets,
        }
    }
}

/// The knobs `to` moves away from `from`, each with its direction along the
/// knob's axis.
fn moves<'a>(
    space: &'a Space,
    from: &'a [u64],
    to: &'a [u64],
) -> impl Iterator<Item = (usize, i8)> + 'a {
    space
        .dims
        .iter()
        .zip(from.iter().zip(to))
        .enumerate()
        .filter(|(_, (_, (a, b)))| a != b)
        .map(|(i, (d, (&a, &b)))| (i, d.direction(a, b)))
}

/// The workload features of `obs`, in the order `models` reads them, its
/// rates multiplied by `rise` (1: as measured).
fn workload_row(models: &dyn Predict, obs: &Observation, rise: f64) -> Vec<f64> {
    models
        .workload()
        .iter()
        .map(|k| {
            feature(
                k,
                at_rise(k, obs.workload.get(k).copied().unwrap_or(0.0), rise),
            )
        })
        .collect()
}

/// A workload value when the load is `rise` times what was measured: rates
/// scale, other signals (the mix) stay.
fn at_rise(key: &str, value: f64, rise: f64) -> f64 {
    if key.ends_with("/rate") {
        value * rise
    } else {
        value
    }
}

/// A workload value as a model input: rates on a log scale, other signals as they are.
fn feature(key: &str, value: f64) -> f64 {
    if key.ends_with("/rate") {
        workload_feature(value)
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;
    use crate::analyze::{Health, SloAnalysis, Trend};
    use crate::knob::knob_by_name;
    use crate::{KnobBuilder, KnobRef};

    /// A model that answers with whatever it is given: NaN, infinities, negative
    /// or huge latencies.
    struct Hostile {
        values: Vec<f64>,
    }

    impl Predict for Hostile {
        fn workload(&self) -> &[String] {
            &[]
        }

        fn predict(&self, rows: &[Vec<f64>]) -> Vec<(String, Option<Vec<f64>>)> {
            let v = (0..rows.len())
                .map(|i| self.values[i % self.values.len()])
                .collect();
            vec![("hostile.api/p99".to_string(), Some(v))]
        }

        fn familiar(&self, _: &[f64]) -> bool {
            true
        }
    }

    fn knobs() -> Vec<KnobRef> {
        static ONCE: OnceLock<()> = OnceLock::new();
        ONCE.get_or_init(|| {
            KnobBuilder::new("hostile.workers", 8u32)
                .bounds(1, 64)
                .cost(1.0)
                .register()
                .unwrap();
            KnobBuilder::new("hostile.cache", 0.5f64)
                .bounds(0.01, 1.0)
                .log()
                .cost(0.3)
                .register()
                .unwrap();
            KnobBuilder::new("hostile.batch", 16u16)
                .bounds(2, 256)
                .step(2)
                .register()
                .unwrap();
            KnobBuilder::new("hostile.flag", false)
                .cost(0.1)
                .register()
                .unwrap();
        });
        [
            "hostile.workers",
            "hostile.cache",
            "hostile.batch",
            "hostile.flag",
        ]
        .iter()
        .map(|n| knob_by_name(n).unwrap())
        .collect()
    }

    fn observation(p99: f64) -> Observation {
        Observation {
            instance: "t".into(),
            seq: 5,
            at_ms: 0,
            length_secs: 1.0,
            generation: 0,
            clean: true,
            knobs: BTreeMap::new(),
            workload: BTreeMap::new(),
            signals: BTreeMap::new(),
            slis: [("hostile.api/p99".to_string(), p99)].into(),
        }
    }

    fn analysis(margin: f64) -> Analysis {
        let fraction = 0.01 / margin.exp();
        let judgement = crate::analyze::Judgement {
            bad: (fraction * 1000.0) as u64,
            calls: 1000,
            budget: 0.01,
            estimate: fraction,
            over: if margin < 0.0 { 0.99 } else { 0.01 },
            margin,
        };
        Analysis {
            slos: vec![SloAnalysis {
                health: if margin < 0.0 {
                    Health::Violated
                } else {
                    Health::Compliant
                },
                objectives: vec![judgement],
                window: vec![(judgement.bad, 1000)],
                previous: Vec::new(),
                drift: None,
            }],
            shift: None,
            trend: None,
            settling: false,
            incident: None,
            saturated: Vec::new(),
            noise: vec![None],
        }
    }

    /// The objective the hostile models answer for: p99 under 50 ms.
    fn p99_goal() -> [Goal; 1] {
        [Goal {
            key: "hostile.api/p99".into(),
            objective: Objective::Latency {
                quantile: crate::Quantile::P99,
                threshold: std::time::Duration::from_millis(50),
            },
        }]
    }

    /// A planning context ten windows after the last change, with no anchor.
    fn context<'a>(obs: &'a Observation, a: &'a Analysis, goals: &'a [Goal]) -> Context<'a> {
        Context {
            obs,
            analysis: a,
            goals,
            since_change: 10,
            anchor: (BTreeMap::new(), 0),
        }
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            Just(-0.0),
            -1e12..1e12f64,
            0.0..0.2f64,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Whatever the model says, a plan holds only valid values (inside the
        /// bounds, on the step) and moves each knob at most the trust region.
        #[test]
        fn plans_stay_valid_whatever_the_model_says(
            values in proptest::collection::vec(value(), 1..40),
            seed in any::<u64>(),
            violated in any::<bool>(),
        ) {
            let config = Config::default().seed(seed).candidates(64);
            let mut planner = Planner::new(Space::new(&knobs(), &|_| false), &config);
            let goals = p99_goal();
            let (p99, margin) = if violated { (0.08, -0.6) } else { (0.01, 0.8) };
            let obs = observation(p99);
            let a = analysis(margin);
            let anchor = (obs.slis.clone(), 3);
            let ctx = Context { obs: &obs, analysis: &a, goals: &goals, since_change: 10, anchor };
            let current = planner.space.current();
            let intent = if violated { Intent::Fix } else { Intent::Save };
            if let Some(p) = planner.exploit(&Hostile { values }, &ctx, &current, intent, 1.0) {
                for (i, d) in planner.space.dims.iter().enumerate() {
                    prop_assert!(d.knob.erased().check_bits(p.target[i]).is_ok());
                    let moved = (d.unit(p.target[i]) - d.unit(current[i])).abs();
                    let grid = d.knob.erased().step_size().unwrap_or(1.0)
                        / (d.position(d.knob.erased().max_bits()) - d.position(d.knob.erased().min_bits()));
                    prop_assert!(moved <= config.max_step + grid + 1e-9, "{} moved {moved}", d.name());
                }
                for v in p.predicted_after.values() {
                    prop_assert!(v.is_finite());
                }
            }
        }
    }

    #[test]
    fn what_failed_during_an_incident_lapses_once_the_environment_recovers() {
        let config = Config::default().capacity(crate::Capacity::new("hostile.workers", "w.busy"));
        let mut planner = Planner::new(Space::new(&knobs(), &|_| false), &config);
        let current = planner.space.current();
        let mut cheaper = current.clone();
        cheaper[1] = planner.space.dims[1]
            .step(current[1], -1.0, 0.5)
            .expect("the cache can shrink");
        // Each call holds a worker 20 ms (2 busy at 100 calls/s), then the
        // environment slows it to 50 ms and an incident is reported.
        let window = |seq: u64, busy: f64| {
            let mut obs = observation(0.01);
            obs.seq = seq;
            obs.workload.insert("api/rate".into(), 100.0);
            obs.signals.insert("w.busy".into(), busy);
            obs
        };
        let calm = analysis(0.8);
        let mut incident = analysis(-0.6);
        incident.incident = Some(crate::analyze::Incident {
            slo: "hostile.api".into(),
            direction: crate::analyze::Direction::Worse,
            confidence: 0.99,
            since: 2,
        });
        planner.observe(&window(1, 2.0), &calm);
        planner.observe(&window(2, 5.0), &incident);
        planner.add_floor(&current);
        assert!(planner.under_floor(&cheaper), "what failed rules out less");
        // The report ends; the calls still hold their workers long.
        for seq in 3..40 {
            planner.observe(&window(seq, 5.0), &calm);
            assert!(planner.under_floor(&cheaper), "window {seq}: still slow");
        }
        // Holding times back to their level before the incident.
        planner.observe(&window(40, 2.2), &calm);
        assert!(!planner.under_floor(&cheaper), "the floor lapsed");
        // A floor found in a healthy environment stays.
        planner.add_floor(&current);
        planner.observe(&window(41, 2.0), &calm);
        assert!(planner.under_floor(&cheaper));
    }

    /// A planner over the hostile knobs (64 candidates per plan) and a window
    /// whose p99 of 80 ms violates its 50 ms objective.
    fn violated() -> (Planner, Observation, Analysis, [Goal; 1]) {
        let config = Config::default().candidates(64);
        let planner = Planner::new(Space::new(&knobs(), &|_| false), &config);
        (planner, observation(0.08), analysis(-0.6), p99_goal())
    }

    #[test]
    fn a_model_that_only_answers_nan_changes_nothing() {
        let (mut planner, obs, a, goals) = violated();
        let ctx = context(&obs, &a, &goals);
        let current = planner.space.current();
        let nan = Hostile {
            values: vec![f64::NAN],
        };
        assert!(
            planner
                .exploit(&nan, &ctx, &current, Intent::Fix, 1.0)
                .is_none()
        );
    }

    /// A stored decision of window `window` that probed `knob` from `from`
    /// to `to`, judged `verdict`.
    fn stored(window: u64, knob: &str, from: &str, to: &str, verdict: Verdict) -> Decision {
        Decision {
            id: window,
            instance: "t".into(),
            window,
            at_ms: 0,
            kind: DecisionKind::Explore,
            changes: vec![crate::decision::Change {
                knob: knob.into(),
                from: from.into(),
                to: to.into(),
                probed: true,
            }],
            reason: String::new(),
            measured_before: BTreeMap::new(),
            predicted_before: BTreeMap::new(),
            predicted_after: BTreeMap::new(),
            cost_before: 0.5,
            cost_after: 0.6,
            outcome: crate::decision::DecisionOutcome::Pending,
            verdict: Some(verdict),
        }
    }

    #[test]
    fn a_warm_start_recalls_which_knob_helped_and_which_did_nothing() {
        let mut planner = Planner::new(Space::new(&knobs(), &|_| false), &Config::default());
        // An earlier run: more workers did nothing; a larger cache helped.
        let no_effect = stored(3, "hostile.workers", "8", "12", Verdict::NoEffect);
        assert!(planner.recall(&no_effect, Verdict::NoEffect));
        let helped = stored(4, "hostile.cache", "0.5", "0.8", Verdict::Improved);
        assert!(planner.recall(&helped, Verdict::Improved));
        let gone = stored(5, "gone.knob", "1", "2", Verdict::Improved);
        assert!(
            !planner.recall(&gone, Verdict::Improved),
            "a knob this run does not have teaches nothing"
        );
        let goals = p99_goal();
        let obs = observation(0.08);
        let a = analysis(-0.6);
        let ctx = context(&obs, &a, &goals);
        let p = planner.plan(&ctx).expect("a violation is explored");
        assert_eq!(
            p.probe
                .first()
                .map(|&(i, dir)| (planner.space.dims[i].name(), dir)),
            Some(("hostile.cache", 1)),
            "the knob known to help goes first: {}",
            p.reason
        );
        let workers = 0;
        assert!(planner.ruled_out((workers, 1)), "more workers did nothing");
    }

    #[test]
    fn a_model_fix_moves_no_knob_a_verified_change_ruled_out() {
        let (mut planner, obs, a, goals) = violated();
        let ctx = context(&obs, &a, &goals);
        let current = planner.space.current();
        // The model believes every move away from the configuration in force
        // helps.
        let eager = Hostile {
            values: std::iter::once(0.08)
                .chain(std::iter::repeat_n(0.01, 63))
                .collect(),
        };
        planner.feedback(&current, Intent::Fix, &[(0, 1)], Verdict::NoEffect);
        planner.feedback(&current, Intent::Fix, &[(2, 1)], Verdict::Improved);
        let mut fixes = 0;
        for _ in 0..20 {
            if let Some(p) = planner.exploit(&eager, &ctx, &current, Intent::Fix, 1.0) {
                fixes += 1;
                let dims = &planner.space.dims;
                let moved = |i: usize| dims[i].unit(p.target[i]) - dims[i].unit(current[i]);
                assert!(moved(0) <= 0.0, "workers were found to do nothing going up");
                assert!(moved(2) >= 0.0, "batch helped going up: not back down");
                assert!(!p.probe.is_empty(), "a fix is judged knob by knob");
            }
        }
        assert!(fixes > 0, "the model's fixes were planned");
    }

    #[test]
    fn a_free_knob_rides_along_with_a_costly_exploratory_fix() {
        let mut planner = Planner::new(Space::new(&knobs(), &|_| false), &Config::default());
        let goals = p99_goal();
        let obs = observation(0.08);
        let a = analysis(-0.6);
        let ctx = context(&obs, &a, &goals);
        let named = |planner: &Planner, p: &Proposal| -> Vec<(String, i8)> {
            p.probe
                .iter()
                .map(|&(i, dir)| (planner.space.dims[i].name().to_string(), dir))
                .collect()
        };
        let p = planner.plan(&ctx).expect("a violation is explored");
        assert_eq!(
            named(&planner, &p),
            vec![("hostile.workers".into(), 1), ("hostile.batch".into(), 1)]
        );
        assert!(
            p.reason.contains("with free `hostile.batch`"),
            "{}",
            p.reason
        );
        // Neither helped: both directions are ruled out; the next step takes
        // the next costly knob, and the free one the other way.
        planner.feedback(&p.target, p.intent, &p.probe, Verdict::NoEffect);
        let p = planner.plan(&ctx).expect("explores on");
        assert_eq!(
            named(&planner, &p),
            vec![("hostile.cache".into(), 1), ("hostile.batch".into(), -1)]
        );
        // That one helped: both are remembered as helpful, their way.
        planner.feedback(&p.target, p.intent, &p.probe, Verdict::Improved);
        assert_eq!(planner.helpful.len(), 2);
    }

    #[test]
    fn a_free_knob_kept_unjudged_is_not_probed_back_the_other_way() {
        let (mut planner, obs, a, goals) = violated();
        let ctx = context(&obs, &a, &goals);
        let p = planner.plan(&ctx).expect("a violation is explored");
        let batch = planner.space.index("hostile.batch").expect("batch");
        assert!(p.probe.contains(&(batch, 1)), "{:?}", p.probe);
        // At its top a free knob not known to help may step down...
        let mut top = planner.space.current();
        top[batch] = planner.space.dims[batch]
            .knob
            .erased()
            .snap(256.0)
            .expect("in range");
        let share = planner.explore_step;
        assert_eq!(
            planner.first_step(batch, &top, share).map(|s| s.0),
            Some(-1)
        );
        // ...unless its step up was kept without a verdict (the load kept
        // rising): down again would undo what nobody judged, and the next
        // window up again, an oscillation.
        planner.feedback(&p.target, p.intent, &p.probe, Verdict::Unknown);
        assert_eq!(planner.first_step(batch, &top, share), None);
        // A costly knob kept unjudged still goes down when cost is cut.
        let workers = p.probe[0].0;
        assert!(!planner.ruled_out((workers, -1)));
    }

    #[test]
    fn a_fix_never_lowers_a_costly_knob_whatever_the_model_says() {
        let (mut planner, obs, a, goals) = violated();
        let ctx = context(&obs, &a, &goals);
        let current = planner.space.current();
        // Every candidate predicted to meet the objective: the cheapest would
        // cut every costly knob.
        let easy = Hostile { values: vec![0.01] };
        if let Some(p) = planner.exploit(&easy, &ctx, &current, Intent::Fix, 1.0) {
            for (i, d) in planner.space.dims.iter().enumerate() {
                if d.cost > 0.0 {
                    assert!(d.unit(p.target[i]) >= d.unit(current[i]), "{}", d.name());
                }
            }
        }
    }

    /// A window at `rate` requests per second with the knobs in force.
    fn window_at(planner: &Planner, seq: u64, rate: f64, p99: f64) -> Observation {
        let mut obs = observation(p99);
        obs.seq = seq;
        obs.workload = [("hostile.api/rate".to_string(), rate)].into();
        obs.knobs = planner
            .space
            .dims
            .iter()
            .map(|d| {
                let k = d.knob.erased();
                (d.name().to_string(), k.position_of(k.bits()))
            })
            .collect();
        obs
    }

    #[test]
    fn an_objective_at_risk_window_after_window_is_fixed_once_its_windows_confirm_it() {
        let mut planner = Planner::new(Space::new(&knobs(), &|_| false), &Config::default());
        let goals = p99_goal();
        // 1.4 % of calls over the bound (budget 1 %): each window's pool is
        // at risk, never confirmed.
        let mut a = analysis(-0.4);
        a.slos[0].health = Health::AtRisk;
        a.slos[0].objectives[0].over = 0.7;
        assert!(a.breached() && !a.violated());
        let mut obs = observation(0.06);
        for seq in 1..=u64::from(RISK_WINDOWS) {
            obs.seq = seq;
            planner.observe(&obs, &a);
            let ctx = context(&obs, &a, &goals);
            let p = planner.plan(&ctx);
            if seq < u64::from(RISK_WINDOWS) {
                assert!(p.is_none(), "window {seq}: {:?}", p.map(|p| p.reason));
            } else {
                // 42 of 3000 calls over the bound: confirmed.
                let p = p.expect("a lasting risk is fixed");
                assert_eq!(p.intent, Intent::Fix);
            }
        }
        // A window within budget starts the run again.
        obs.seq += 1;
        planner.observe(&obs, &analysis(0.3));
        obs.seq += 1;
        planner.observe(&obs, &a);
        assert_eq!(planner.at_risk.1[0].windows, 1);
        // As few bad events as a quiet service within its budget shows never
        // add up to a confirmed violation, however long the run.
        let mut quiet = a.clone();
        quiet.slos[0].window = vec![(1, 150)];
        for _ in 0..10 {
            obs.seq += 1;
            planner.observe(&obs, &quiet);
            assert!(!planner.lasting_risk(obs.seq));
        }
    }

    #[test]
    fn a_climbing_load_gets_ahead_of_it_what_held_where_it_is_heading() {
        let knobs = knobs();
        let mut planner = Planner::new(Space::new(&knobs, &|_| false), &Config::default());
        let goals = p99_goal();
        let workers = knob_by_name("hostile.workers").unwrap();
        let many = workers.erased().parse("32").unwrap();
        // Learned earlier: at about 270 req/s, 32 workers held.
        for seq in 0..u64::from(policy::HOLD_WINDOWS) {
            let mut obs = window_at(&planner, seq, 270.0, 0.01);
            obs.knobs
                .insert("hostile.workers".into(), workers.erased().position_of(many));
            planner.learn(&obs, &goals);
        }
        // Now the load climbs 4 % a window from 130 req/s, still served well.
        let mut seq = 100;
        let mut rate = 130.0;
        for _ in 0..10 {
            planner.record_rate(seq, rate);
            seq += 1;
            rate *= 1.04;
        }
        let obs = window_at(&planner, seq - 1, rate / 1.04, 0.01);
        let mut a = analysis(0.8);
        a.trend = Some(Trend::Rising);
        let ctx = context(&obs, &a, &goals);
        let p = planner.plan(&ctx).expect("a move ahead of the load");
        let i = planner.space.index("hostile.workers").unwrap();
        assert_eq!(p.target[i], many);
        assert_eq!(p.intent, Intent::Fix);
        assert!(p.reason.contains("the load is rising"), "{}", p.reason);
        // Without a confirmed rising trend, the forecast alone moves nothing.
        a.trend = None;
        let ctx = context(&obs, &a, &goals);
        assert!(
            planner
                .plan(&ctx)
                .is_none_or(|p| !p.reason.contains("rising")),
        );
    }

    #[test]
    fn a_forecast_fix_measures_the_model_bias_where_the_service_is() {
        /// Predicts the p99 from the rate alone: 20 ms at 100 req/s, growing
        /// with its cube.
        struct Load;
        impl Predict for Load {
            fn workload(&self) -> &[String] {
                static W: OnceLock<Vec<String>> = OnceLock::new();
                W.get_or_init(|| vec!["hostile.api/rate".to_string()])
            }
            fn predict(&self, rows: &[Vec<f64>]) -> Vec<(String, Option<Vec<f64>>)> {
                let v = rows
                    .iter()
                    .map(|r| {
                        let rate = r[0].exp_m1();
                        // More workers (the second feature) halve it at most.
                        0.02 * (rate / 100.0).powi(3) * (1.0 - 0.5 * r[1])
                    })
                    .collect();
                vec![("hostile.api/p99".to_string(), Some(v))]
            }
            fn familiar(&self, _: &[f64]) -> bool {
                true
            }
        }
        let mut planner = Planner::new(
            Space::new(&knobs(), &|_| false),
            &Config::default().candidates(64),
        );
        let goals = p99_goal();
        let current = planner.space.current();
        let mut obs = window_at(&planner, 5, 100.0, 0.02);
        obs.slis.insert("hostile.api/p99".into(), 0.02);
        let a = analysis(0.6);
        let ctx = Context {
            anchor: (obs.slis.clone(), 3),
            ..context(&obs, &a, &goals)
        };
        // At the measured load every objective holds: nothing to fix.
        assert!(
            planner
                .exploit(&Load, &ctx, &current, Intent::Fix, 1.0)
                .is_none()
        );
        // At 1.5 times the load the p99 is predicted over 50 ms with the
        // workers in force: a fix adds workers now.
        let p = planner
            .exploit(&Load, &ctx, &current, Intent::Fix, 1.5)
            .expect("a fix ahead of the load");
        assert!(planner.space.cost(&p.target) > planner.space.cost(&current));
        assert!(
            p.reason.starts_with("the load is rising: 150 req/s"),
            "{}",
            p.reason
        );
    }

    #[test]
    fn a_model_that_predicts_everything_feasible_lowers_cost_within_the_trust_region() {
        let config = Config::default().candidates(64);
        let mut planner = Planner::new(Space::new(&knobs(), &|_| false), &config);
        let goals = p99_goal();
        let obs = observation(0.01);
        let a = analysis(0.8);
        let ctx = context(&obs, &a, &goals);
        let current = planner.space.current();
        let easy = Hostile { values: vec![0.01] };
        let p = planner
            .exploit(&easy, &ctx, &current, Intent::Save, 1.0)
            .expect("a cheaper feasible configuration");
        assert!(planner.space.cost(&p.target) < planner.space.cost(&current));
        assert_eq!(p.kind, DecisionKind::Exploit);
        assert!(p.reason.contains("cheaper"), "{}", p.reason);
    }
}
