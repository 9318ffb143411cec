//! One iteration of the loop: Monitor → Analyze → verify the last change →
//! Plan → Execute, with Knowledge recorded throughout and models retrained in
//! the background.
//!
//! This file holds the engine's state and the iteration; `warm` reads back
//! what was stored before the first window, `training` runs the models'
//! training lifecycle, `status` assembles what the handle serves, and
//! `operator` applies an operator's pins.

mod operator;
mod status;
mod training;
mod warm;

pub(crate) use self::training::{Trainer, standard as standard_trainer};

use std::collections::{BTreeMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::analyze::{Analyzer, Health, Incident, Saturation, Shift, Trend};
use crate::config::Config;
use crate::decision::{Change, Decision, DecisionKind, DecisionOutcome, Intent, Verdict};
use crate::error::StoreError;
use crate::execute::{Baseline, Executor};
use crate::knob::KnobRef;
use crate::knob::space::Space;
use crate::knowledge::{Journal, Record, unseal};
use crate::monitor::{Monitor, Observation, sli_key};
use crate::plan::model::{Models, TrainError};
use crate::plan::{Context, Goal, Planner, Proposal};
use crate::slo::SloRef;
use crate::status::{ObjectiveStatus, SloStatus, Status};
use crate::util::panic_message;

/// What one iteration saw and did.
#[derive(Clone, Debug, Serialize)]
pub struct Tick {
    /// The observation of the window that closed.
    pub observation: Observation,
    /// Each SLO's health after this window.
    pub health: BTreeMap<String, Health>,
    /// The change judged on this window, in its final state.
    pub judged: Option<Decision>,
    /// The change made after this window.
    pub decision: Option<Decision>,
    /// The window follows a change and has not settled: it is neither
    /// verified on nor trained on.
    pub settling: bool,
    /// A workload shift (rate or mix) completed on this window.
    pub shift: Option<Shift>,
    /// A trend of the request rate over the recent windows.
    pub trend: Option<Trend>,
    /// An environment drift, while one is reported.
    pub incident: Option<Incident>,
    /// Knobs whose pressure signals rose beyond their usual level, most
    /// saturated first.
    pub saturated: Vec<Saturation>,
}

type Training = JoinHandle<(Result<Models, TrainError>, Duration)>;

/// Windows of the configuration in force that anchor the model's predictions.
const ANCHOR_WINDOWS: usize = 8;
/// Save the model every this many trainings (and at shutdown).
const SAVE_EVERY: u64 = 10;

pub(crate) struct Engine {
    cfg: Config,
    slos: Vec<SloRef>,
    goals: Vec<Goal>,
    monitor: Monitor,
    analyzer: Analyzer,
    planner: Planner,
    executor: Executor,
    journal: Journal,
    history: VecDeque<Observation>,
    segment: Segment,
    new_clean: usize,
    training: Option<Training>,
    trainer: Trainer,
    trainings: u64,
    model_error: Option<String>,
    shared_cursor: u64,
    decisions: VecDeque<Decision>,
    next_decision: u64,
    since_change: u64,
    /// In observe-only mode, the configuration last reported as wanted.
    observed: Option<Vec<u64>>,
    iterations: u64,
    warmed: bool,
    cpu: Duration,
    status: Arc<Mutex<Status>>,
}

/// The clean windows measured under one configuration.
#[derive(Default)]
struct Segment {
    /// The knobs' values in force.
    knobs: BTreeMap<String, f64>,
    /// Each recent clean window's SLIs, oldest first.
    slis: VecDeque<BTreeMap<String, f64>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Engine {
    pub(crate) fn new(
        cfg: Config,
        knobs: Vec<KnobRef>,
        slos: Vec<SloRef>,
        status: Arc<Mutex<Status>>,
        trainer: Trainer,
    ) -> Self {
        // Capacities are sized from queueing, not searched.
        let frozen = cfg.frozen.clone();
        let sized: Vec<String> = cfg.capacities.iter().map(|c| c.knob.clone()).collect();
        let space = Space::new(&knobs, &|name| {
            frozen.contains(name) || sized.iter().any(|s| s == name)
        });
        let goals = slos
            .iter()
            .flat_map(|s| {
                s.objectives().iter().map(|o| Goal {
                    key: sli_key(s.name(), o),
                    objective: *o,
                })
            })
            .collect();
        let monitor = Monitor::new(
            &slos,
            cfg.signals.clone(),
            cfg.process_signals,
            knobs.clone(),
            space.current(),
        );
        let pressure = knobs
            .iter()
            .map(|k| (k.name().to_string(), k.pressure()))
            .filter(|(_, p)| !p.is_empty())
            .collect();
        let engine = Engine {
            analyzer: Analyzer::new(&slos, pressure),
            planner: Planner::new(space, &cfg),
            executor: Executor::new(cfg.apply_timeout),
            journal: Journal::new(Arc::clone(&cfg.store), cfg.journal_capacity),
            monitor,
            goals,
            slos,
            history: VecDeque::new(),
            segment: Segment::default(),
            new_clean: 0,
            training: None,
            trainer,
            trainings: 0,
            model_error: None,
            shared_cursor: 0,
            decisions: VecDeque::new(),
            next_decision: 1,
            since_change: u64::MAX / 2,
            observed: None,
            iterations: 0,
            warmed: false,
            cpu: Duration::ZERO,
            status,
            cfg,
        };
        engine.publish_declarations();
        engine
    }

    /// Lists the managed knobs and SLOs in the status before any window
    /// closed: values and objectives are known from the start, SLIs are not.
    fn publish_declarations(&self) {
        let space = &self.planner.space;
        let slos = self
            .slos
            .iter()
            .map(|s| SloStatus {
                name: s.name().to_string(),
                health: Health::NoData,
                rate: 0.0,
                calls: 0,
                errors: 0,
                in_flight: 0,
                drift: None,
                objectives: s
                    .objectives()
                    .iter()
                    .map(|o| ObjectiveStatus {
                        objective: *o,
                        display: o.to_string(),
                        sli: None,
                        margin: None,
                        over_budget: 0.0,
                    })
                    .collect(),
            })
            .collect();
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        status.cost = space.cost(&space.current());
        status.max_cost = space.max_cost();
        status.knobs = self.knob_statuses();
        status.slos = slos;
    }

    fn store_timeout(&self) -> Duration {
        self.cfg
            .interval
            .clamp(Duration::from_millis(50), Duration::from_secs(2))
    }

    /// Keeps the SLIs of the windows measured under the configuration in force.
    fn track_segment(&mut self, obs: &Observation) {
        if !obs.clean || self.segment.knobs != obs.knobs {
            self.segment = Segment {
                knobs: obs.knobs.clone(),
                slis: VecDeque::new(),
            };
        }
        if obs.clean {
            self.segment.slis.push_back(obs.slis.clone());
            if self.segment.slis.len() > ANCHOR_WINDOWS {
                self.segment.slis.pop_front();
            }
        }
    }

    /// The mean of each SLI over the recent windows under the configuration in force.
    fn anchor(&self) -> (BTreeMap<String, f64>, usize) {
        let windows = &self.segment.slis;
        let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
        for w in windows {
            for (k, v) in w {
                let e = sums.entry(k.clone()).or_insert((0.0, 0));
                e.0 += v;
                e.1 += 1;
            }
        }
        let mean = sums
            .into_iter()
            .map(|(k, (s, n))| (k, s / n as f64))
            .collect();
        (mean, windows.len())
    }

    fn push_history(&mut self, o: Observation) {
        self.history.push_back(o);
        while self.history.len() > self.cfg.model.max_samples {
            self.history.pop_front();
        }
    }

    fn remember(&mut self, d: Decision) {
        match self.decisions.iter_mut().find(|x| x.id == d.id) {
            Some(slot) => *slot = d,
            None => self.decisions.push_back(d),
        }
        while self.decisions.len() > self.cfg.decision_history {
            self.decisions.pop_front();
        }
    }

    fn log_decision(&mut self, d: &Decision) {
        if !matches!(d.outcome, DecisionOutcome::Pending) {
            metrics::counter!(
                "finch_decisions_total",
                "kind" => d.kind.as_str(),
                "outcome" => d.outcome_label()
            )
            .increment(1);
        }
        self.journal.push(Record::Decision(d.clone()));
        self.remember(d.clone());
    }

    fn positions(&self) -> BTreeMap<String, f64> {
        self.planner
            .space
            .dims
            .iter()
            .map(|d| (d.name().to_string(), d.position(d.knob.erased().bits())))
            .collect()
    }

    fn new_decision(
        &mut self,
        obs: &Observation,
        kind: DecisionKind,
        before: &[u64],
        after: &[u64],
        reason: String,
    ) -> Decision {
        let space = &self.planner.space;
        let changes = space
            .dims
            .iter()
            .zip(before.iter().zip(after))
            .filter(|(_, (b, a))| b != a)
            .map(|(d, (&b, &a))| Change {
                knob: d.name().to_string(),
                from: d.knob.erased().value_of(b).to_string(),
                to: d.knob.erased().value_of(a).to_string(),
                probed: false,
            })
            .collect();
        let id = self.next_decision;
        self.next_decision += 1;
        Decision {
            id,
            instance: self.cfg.instance.clone(),
            window: obs.seq,
            at_ms: now_ms(),
            kind,
            changes,
            reason,
            measured_before: obs.slis.clone(),
            predicted_before: BTreeMap::new(),
            predicted_after: BTreeMap::new(),
            cost_before: space.cost(before),
            cost_after: space.cost(after),
            outcome: DecisionOutcome::Pending,
            verdict: None,
        }
    }

    /// Runs one iteration under supervision: a panic anywhere in it is
    /// caught, reported (status, metric, log) and recovered from, so the loop
    /// goes on with the next window.
    pub(crate) async fn supervised_tick(&mut self) -> Result<Tick, crate::Error> {
        let panic = match AssertUnwindSafe(self.tick()).catch_unwind().await {
            Ok(tick) => return Ok(tick),
            Err(panic) => panic_message(&*panic),
        };
        metrics::counter!("finch_loop_panics_total").increment(1);
        tracing::error!(panic = %panic, "finch: an iteration panicked; recovering");
        let recovered = AssertUnwindSafe(self.recover(&panic))
            .catch_unwind()
            .await
            .map_err(|again| panic_message(&*again));
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        status.faults += 1;
        status.last_fault = Some(panic.clone());
        status.decisions = self.decisions.iter().cloned().collect();
        if let Err(again) = recovered {
            let reason = format!(
                "an iteration panicked ({panic}) and recovering from it panicked too ({again})"
            );
            tracing::error!(reason = %reason, "finch: the loop stopped");
            status.running = false;
            status.stopped = Some(reason);
        }
        Err(crate::Error::IterationPanicked { message: panic })
    }

    /// Puts the loop back on its feet after a panicked iteration: the change
    /// being verified cannot be judged on that window, so a cost cut is rolled
    /// back (the safe side) and any other change is kept unjudged; the next
    /// window starts on the configuration in force.
    async fn recover(&mut self, panic: &str) {
        #[cfg(test)]
        assert!(
            !tests::recovery_fails(&self.cfg.instance),
            "injected recovery panic"
        );
        if let Some(p) = self.executor.abandon() {
            self.planner
                .feedback(&p.after, p.intent, &p.probe, Verdict::Unknown);
            let mut d = p.decision;
            d.verdict = Some(Verdict::Unknown);
            let cut = d.cost_after < d.cost_before;
            d.outcome = if cut {
                DecisionOutcome::RolledBack {
                    reason: format!("an iteration panicked before it was verified: {panic}"),
                }
            } else {
                DecisionOutcome::Kept {
                    note: format!("not judged: an iteration panicked: {panic}; kept"),
                }
            };
            self.log_decision(&d);
            if cut {
                let obs = self.last_observation();
                let reason = format!("undoing decision {}: an iteration panicked", d.id);
                self.roll_back(&obs, &p.before, reason).await;
                self.since_change = 0;
            }
        }
        self.monitor.start_window(self.planner.space.current());
        self.journal.flush(self.store_timeout()).await;
    }

    /// Restores `before` and logs the rollback decision.
    async fn roll_back(&mut self, obs: &Observation, before: &[u64], reason: String) -> Decision {
        let current = self.planner.space.current();
        let mut back = self.new_decision(obs, DecisionKind::Rollback, &current, before, reason);
        back.outcome = match self.executor.apply(&self.planner.space, before).await {
            Ok(_) => DecisionOutcome::Kept {
                note: "previous configuration restored".into(),
            },
            Err(e) => DecisionOutcome::ApplyFailed { reason: e },
        };
        self.log_decision(&back);
        back
    }

    /// The last observation, or an empty one before the first window.
    fn last_observation(&self) -> Observation {
        self.history.back().cloned().unwrap_or_else(|| Observation {
            instance: self.cfg.instance.clone(),
            seq: 0,
            at_ms: now_ms(),
            length_secs: 0.0,
            generation: 0,
            clean: false,
            knobs: BTreeMap::new(),
            workload: BTreeMap::new(),
            signals: BTreeMap::new(),
            slis: BTreeMap::new(),
        })
    }

    /// Runs one iteration.
    /// Logs what the planner wants without applying it (observe-only mode);
    /// a configuration already reported is not reported again.
    fn observe(&mut self, obs: &Observation, p: Proposal) -> Option<Decision> {
        if self.observed.as_ref() == Some(&p.target) {
            return None;
        }
        self.observed = Some(p.target.clone());
        let before = self.planner.space.current();
        let mut d = self.new_decision(obs, p.kind, &before, &p.target, p.reason);
        d.predicted_before = p.predicted_before;
        d.predicted_after = p.predicted_after;
        d.outcome = DecisionOutcome::NotApplied {
            note: "observe-only: decided, not applied".into(),
        };
        self.log_decision(&d);
        Some(d)
    }

    async fn tick(&mut self) -> Tick {
        let started = Instant::now();
        if !self.warmed {
            self.warm_start().await;
        }
        self.collect_training(false).await;
        self.pull_shared().await;

        let nominal = self.cfg.manual.then_some(self.cfg.interval);
        let knobs = self.positions();
        let bits = self.planner.space.current();
        let (obs, samples) = self
            .monitor
            .observe(
                nominal,
                self.store_timeout(),
                knobs,
                bits,
                &self.cfg.instance,
            )
            .await;

        let (analysis, cpu) = on_cpu(|| self.analyzer.analyze(&obs, &samples));
        self.cpu += cpu;
        // A knob changed during the window: it mixes two configurations and
        // judges no change.
        let mixed = !obs.clean;
        let mut obs = obs;
        // A settling window still carries the previous configuration's backlog.
        obs.clean &= !analysis.settling;
        self.planner.observe(&obs, &analysis);
        self.track_segment(&obs);
        self.journal.push(Record::Observation(obs.clone()));
        // A window counts for training when it measured any SLI: an SLO
        // called too rarely must not keep the others' models from learning.
        if obs.clean && !obs.slis.is_empty() {
            self.new_clean += 1;
        }
        self.planner.learn(&obs, &self.goals);
        self.push_history(obs.clone());

        let mut changed = false;
        let mut judged = None;
        let mut decision = None;

        if let Some(p) = self.executor.pending()
            && self.planner.space.current() != p.after
            && let Some(p) = self.executor.abandon()
        {
            let mut d = p.decision;
            d.verdict = Some(Verdict::Unknown);
            d.outcome = DecisionOutcome::Kept {
                note: "superseded by a change made outside the loop".into(),
            };
            self.log_decision(&d);
            judged = Some(d);
        }
        if !mixed && let Some(j) = self.executor.verify(&analysis) {
            let p = j.pending;
            self.planner
                .feedback(&p.after, p.intent, &p.probe, j.verdict);
            let mut d = p.decision;
            d.verdict = Some(j.verdict);
            d.outcome = if j.rollback {
                DecisionOutcome::RolledBack {
                    reason: j.note.clone(),
                }
            } else {
                DecisionOutcome::Kept {
                    note: j.note.clone(),
                }
            };
            self.log_decision(&d);
            if j.rollback {
                let reason = format!("undoing decision {}: {}", d.id, j.note);
                decision = Some(self.roll_back(&obs, &p.before, reason).await);
                changed = true;
            }
            judged = Some(d);
        }

        // Decide first, then act. Capacities are sized every window, whatever
        // else is going on (a probe they interrupt is not judged); the other
        // knobs are planned when no change is being verified.
        let (sizing, proposal) = if changed {
            (None, None)
        } else {
            let ctx = Context {
                obs: &obs,
                analysis: &analysis,
                goals: &self.goals,
                since_change: self.since_change,
                anchor: self.anchor(),
            };
            let planner = &mut self.planner;
            let pending = self.executor.pending().is_some();
            let (decided, cpu) = on_cpu(|| match planner.size_capacities(&ctx) {
                Some(sizing) => (Some(sizing), None),
                None if pending => (None, None),
                None => (None, planner.plan(&ctx)),
            });
            self.cpu += cpu;
            decided
        };

        // Observe-only: report what would be done, once per wanted
        // configuration, and change nothing.
        let (sizing, proposal) = if self.cfg.observe_only {
            if let Some(p) = sizing.or(proposal) {
                decision = self.observe(&obs, p);
            }
            (None, None)
        } else {
            (sizing, proposal)
        };

        if let Some(p) = sizing {
            if let Some(pending) = self.executor.abandon() {
                self.planner.feedback(
                    &pending.after,
                    pending.intent,
                    &pending.probe,
                    Verdict::Unknown,
                );
                let mut old = pending.decision;
                old.verdict = Some(Verdict::Unknown);
                old.outcome = DecisionOutcome::Kept {
                    note: "not judged: capacities were resized meanwhile; kept".into(),
                };
                self.log_decision(&old);
                judged.get_or_insert(old);
            }
            let before = self.planner.space.current();
            let mut d = self.new_decision(&obs, p.kind, &before, &p.target, p.reason);
            d.outcome = match self.executor.apply(&self.planner.space, &p.target).await {
                Ok(_) => DecisionOutcome::Kept {
                    note: "sized from queueing; its controller watches it".into(),
                },
                Err(e) => DecisionOutcome::ApplyFailed { reason: e },
            };
            changed = matches!(d.outcome, DecisionOutcome::Kept { .. });
            self.log_decision(&d);
            decision = Some(d);
        }

        if let Some(p) = proposal {
            let before = self.planner.space.current();
            let mut d = self.new_decision(&obs, p.kind, &before, &p.target, p.reason);
            let space = &self.planner.space;
            for c in &mut d.changes {
                c.probed = p.probe.iter().any(|&(i, _)| space.dims[i].name() == c.knob);
            }
            d.predicted_before = p.predicted_before;
            d.predicted_after = p.predicted_after;
            match self.executor.apply(&self.planner.space, &p.target).await {
                Ok(_) => {
                    self.log_decision(&d);
                    if p.intent == Intent::Fix || d.cost_after > d.cost_before {
                        self.planner.add_floor(&before);
                    }
                    let baselines = Baseline::of(&analysis);
                    self.executor
                        .track(d.clone(), before, p.target, p.intent, p.probe, baselines);
                    changed = true;
                }
                Err(e) => {
                    d.outcome = DecisionOutcome::ApplyFailed { reason: e };
                    self.log_decision(&d);
                    self.planner
                        .feedback(&p.target, p.intent, &p.probe, Verdict::Regressed);
                }
            }
            decision = Some(d);
        }
        self.since_change = if changed {
            0
        } else {
            self.since_change.saturating_add(1)
        };
        self.monitor.start_window(self.planner.space.current());

        self.maybe_train().await;
        self.journal.flush(self.store_timeout()).await;
        self.iterations += 1;

        let elapsed = started.elapsed();
        metrics::histogram!("finch_loop_duration_seconds").record(elapsed.as_secs_f64());
        self.publish_status(&samples, &analysis, elapsed);
        Tick {
            health: self
                .slos
                .iter()
                .zip(&analysis.slos)
                .map(|(s, a)| (s.name().to_string(), a.health))
                .collect(),
            observation: obs,
            judged,
            decision,
            settling: analysis.settling,
            shift: analysis.shift.clone(),
            trend: analysis.trend,
            incident: analysis.incident.clone(),
            saturated: analysis.saturated.clone(),
        }
    }

    /// Flushes knowledge and saves the model.
    pub(crate) async fn finish(&mut self) {
        self.collect_training(true).await;
        if let Some(m) = self.planner.models().cloned() {
            self.save_model(&m).await;
        }
        self.journal.flush(Duration::from_secs(5)).await;
        let store = Arc::clone(self.journal.store());
        if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(5), store.flush()).await {
            tracing::warn!(error = %crate::error::Chain(&e), "finch: knowledge not flushed");
        }
        let pending = self.journal.status().pending;
        if pending > 0 {
            tracing::warn!(
                pending,
                "finch: knowledge records could not be written before shutdown"
            );
        }
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .running = false;
    }

    pub(crate) fn managed_knobs(&self) -> Vec<String> {
        self.planner
            .space
            .dims
            .iter()
            .map(|d| d.name().to_string())
            .collect()
    }
}

/// Waits up to `wait` for a store call; a failure or a timeout is logged
/// with `what` and gives `None`.
async fn ask<T>(
    wait: Duration,
    call: impl Future<Output = Result<T, StoreError>>,
    what: &str,
) -> Option<T> {
    match tokio::time::timeout(wait, call).await {
        Ok(Ok(answer)) => Some(answer),
        Ok(Err(e)) => {
            tracing::warn!(error = %crate::error::Chain(&e), "finch: {what}");
            None
        }
        Err(_) => {
            tracing::warn!("finch: {what} (the store did not answer in time)");
            None
        }
    }
}

/// A stored model, checked (seal and checksum) before it is decoded; a
/// damaged blob is refused and must not take the loop down with it.
fn decode_model(blob: &[u8]) -> Result<Models, String> {
    let bytes = unseal(blob)?;
    std::panic::catch_unwind(|| Models::from_bytes(bytes))
        .map_err(|panic| format!("its decoder panicked: {}", panic_message(&*panic)))?
        .map_err(|e| e.to_string())
}

/// Runs `f` and measures the CPU time this thread spent in it.
fn on_cpu<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = cpu_time::ThreadTime::now();
    let out = f();
    (out, start.elapsed())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::knowledge::seal;
    use crate::{KnobBuilder, Outcome, SloBuilder};

    /// How the injected trainer of a test behaves.
    const TRAIN: u8 = 0;
    const PANIC: u8 = 1;
    const FAIL: u8 = 2;

    /// A trainer that trains, panics or fails as `mode` says.
    fn switchable(mode: Arc<AtomicU8>) -> Trainer {
        Arc::new(move |set, cfg, seed| match mode.load(Ordering::Relaxed) {
            PANIC => panic!("injected training panic"),
            FAIL => Err(TrainError::Fit("injected training failure".into())),
            _ => crate::plan::model::train(set, cfg, seed),
        })
    }

    /// Instances whose recovery from a panicked iteration panics too.
    static RECOVERY_FAULTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

    pub(super) fn recovery_fails(instance: &str) -> bool {
        RECOVERY_FAULTS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|i| i == instance)
    }

    /// A signal source that always panics.
    struct Panicking;

    impl crate::monitor::SignalSource for Panicking {
        fn name(&self) -> &str {
            "panicking"
        }

        fn sample(
            &self,
        ) -> crate::BoxFuture<'_, Result<Vec<crate::monitor::Signal>, crate::monitor::SignalError>>
        {
            panic!("injected sampling panic")
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        /// Stored model bytes from anywhere are refused with an error or
        /// decoded; the decoder never panics on them.
        #[test]
        fn any_stored_model_is_refused_or_decoded_without_a_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)
        ) {
            for blob in [bytes.clone(), seal(&bytes)] {
                if let Err(e) = decode_model(&blob) {
                    proptest::prop_assert!(!e.contains("panicked"), "{}", e);
                }
            }
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_loop_that_cannot_recover_says_it_stopped_and_why() {
        KnobBuilder::new("engine.stop.workers", 4u32)
            .bounds(1, 16)
            .register()
            .unwrap();
        let instance = "engine-stop";
        RECOVERY_FAULTS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(instance.to_string());
        let finch = crate::start(
            Config::default()
                .manual()
                .instance(instance)
                .knobs(["engine.stop.workers"])
                .slos(Vec::<String>::new())
                .signal(Panicking)
                .process_signals(false),
        )
        .unwrap();
        assert!(matches!(
            finch.tick().await,
            Err(crate::Error::IterationPanicked { .. })
        ));
        let status = finch.status();
        assert!(!status.running, "the loop says it stopped");
        let why = status.stopped.unwrap_or_default();
        assert!(
            why.contains("injected sampling panic") && why.contains("injected recovery panic"),
            "{why}"
        );
        assert!(matches!(finch.tick().await, Err(crate::Error::Stopped)));
        finch.shutdown().await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panicking_or_failing_training_leaves_the_loop_on_the_previous_model() {
        let workers = KnobBuilder::new("engine.faults.workers", 4u32)
            .bounds(1, 16)
            .cost(1.0)
            .register()
            .unwrap();
        let slo = SloBuilder::new("engine.faults.api")
            .p99(Duration::from_millis(50))
            .register()
            .unwrap();
        let mode = Arc::new(AtomicU8::new(TRAIN));
        let finch = crate::handle::launch(
            Config::default()
                .manual()
                .instance("engine-faults")
                .knobs(["engine.faults.workers"])
                .slos(["engine.faults.api"])
                .process_signals(false),
            switchable(Arc::clone(&mode)),
        )
        .unwrap();
        let window = |i: u64| {
            let base = 20_000 / u64::from(workers.get());
            for k in 0..100 {
                slo.record(
                    Duration::from_micros(base + (k * 37 + i * 11) % 500),
                    Outcome::Ok,
                );
            }
        };
        let mut i = 0;
        while finch.status().model.trainings == 0 {
            window(i);
            finch.tick().await.unwrap();
            i += 1;
            assert!(i < 200, "the model never trained");
        }
        let trained = finch.status().model;
        assert!(trained.trained && trained.last_error.is_none());

        for (fault, says) in [
            (PANIC, "injected training panic"),
            (FAIL, "injected training failure"),
        ] {
            mode.store(fault, Ordering::Relaxed);
            for _ in 0..20 {
                window(i);
                finch.tick().await.unwrap();
                i += 1;
            }
            let model = finch.status().model;
            assert_eq!(model.trainings, trained.trainings, "no training succeeded");
            assert!(model.trained, "the previous model stays in use");
            assert_eq!(model.samples, trained.samples);
            let error = model.last_error.unwrap_or_default();
            assert!(error.contains(says), "mode {fault} is reported: {error}");
            assert!((1..=16).contains(&workers.get()));
        }

        mode.store(TRAIN, Ordering::Relaxed);
        for _ in 0..10 {
            window(i);
            finch.tick().await.unwrap();
            i += 1;
        }
        let model = finch.status().model;
        assert!(model.trainings > trained.trainings, "training resumes");
        assert!(model.last_error.is_none());
        finch.shutdown().await;
    }
}
