//! The status the handle serves: each knob's value and state, each SLO's
//! health, the latest decisions, published after every window.

use std::time::Duration;

use super::Engine;
use crate::analyze::Analysis;
use crate::monitor::SloSample;
use crate::status::{KnobStatus, ModelStatus, ObjectiveStatus, SliModelStatus, SloStatus, Status};
use crate::telemetry;

impl Engine {
    pub(super) fn knob_statuses(&self) -> Vec<KnobStatus> {
        self.planner
            .space
            .dims
            .iter()
            .map(|d| KnobStatus {
                info: d.knob.info(),
                frozen: self.cfg.frozen.contains(d.name()),
            })
            .collect()
    }

    pub(super) fn publish_status(
        &self,
        samples: &[SloSample],
        analysis: &Analysis,
        elapsed: Duration,
    ) {
        let space = &self.planner.space;
        let current = space.current();
        let models = self.planner.models();
        let model = ModelStatus {
            trained: models.is_some(),
            trusted: self.planner.trusted().is_some(),
            samples: models.map_or(0, |m| m.samples),
            available: self.history.iter().filter(|o| o.clean).count(),
            training_secs: models.map_or(0.0, |m| m.train_secs),
            trainings: self.trainings,
            slis: models
                .map(|m| {
                    m.slis
                        .iter()
                        .map(|s| SliModelStatus {
                            sli: s.key.clone(),
                            family: s.family,
                            holdout_error: s.holdout_error,
                            samples: s.samples,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            last_error: self.model_error.clone(),
        };
        let slos = samples
            .iter()
            .zip(&analysis.slos)
            .map(|(s, a)| SloStatus {
                name: s.slo.name().to_string(),
                health: a.health,
                rate: s.window.started as f64 / s.window.length.as_secs_f64().max(1e-9),
                calls: s.window.calls,
                errors: s.window.errors,
                in_flight: s.window.in_flight,
                drift: a.drift,
                objectives: s
                    .slo
                    .objectives()
                    .iter()
                    .zip(&s.slis)
                    .zip(&a.objectives)
                    .map(|((o, sli), j)| ObjectiveStatus {
                        objective: *o,
                        display: o.to_string(),
                        sli: *sli,
                        margin: (j.calls > 0).then_some(j.margin),
                        over_budget: j.over,
                    })
                    .collect(),
            })
            .collect();
        let status = Status {
            instance: self.cfg.instance.clone(),
            running: true,
            iterations: self.iterations,
            cost: space.cost(&current),
            max_cost: space.max_cost(),
            knobs: self.knob_statuses(),
            slos,
            model,
            decisions: self.decisions.iter().cloned().collect(),
            knowledge: self.journal.status(),
            last_iteration_secs: elapsed.as_secs_f64(),
            cpu_secs: self.cpu.as_secs_f64(),
            ..Status::default()
        };
        telemetry::record(&status);
        let mut shared = self.status.lock().unwrap_or_else(|p| p.into_inner());
        *shared = Status {
            faults: shared.faults,
            last_fault: shared.last_fault.take(),
            ..status
        };
    }
}
