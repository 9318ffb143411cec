//! finch's own metrics, emitted through the `metrics` facade (a no-op until the
//! application installs a recorder): described once at start, set from each
//! iteration's status.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

use crate::status::Status;

/// Describes finch's metrics to the installed recorder (called by `start`).
pub(crate) fn describe() {
    describe_gauge!("finch_knob_value", "Value in force of each managed knob");
    describe_gauge!(
        "finch_sli",
        "Last window's value of each SLI (seconds for latency quantiles, a ratio for errors)"
    );
    describe_gauge!(
        "finch_slo_objective",
        "Bound of each objective, in the SLI's unit"
    );
    describe_gauge!(
        "finch_slo_compliant",
        "1 while the SLO is measured and not confirmed violated, else 0"
    );
    describe_gauge!(
        "finch_slo_rate",
        Unit::CountPerSecond,
        "Requests per second of each SLO"
    );
    describe_gauge!(
        "finch_cost",
        "Cost of the configuration in force (knob cost x position)"
    );
    describe_gauge!(
        "finch_model_trusted",
        "1 when every SLI model is within its error bound"
    );
    describe_gauge!(
        "finch_model_error",
        "Time-ordered holdout error of each SLI model, relative to the objective's bound"
    );
    describe_gauge!(
        "finch_model_samples",
        "Observations the models were trained on"
    );
    describe_gauge!(
        "finch_knowledge_pending",
        "Records waiting to be written to the knowledge store"
    );
    describe_counter!(
        "finch_knowledge_dropped_total",
        "Records dropped because the knowledge store stayed unreachable past the buffer"
    );
    describe_gauge!(
        "finch_cpu_seconds",
        Unit::Seconds,
        "CPU time the loop has used"
    );
    describe_counter!(
        "finch_decisions_total",
        "Judged decisions by kind and outcome"
    );
    describe_counter!(
        "finch_loop_panics_total",
        "Iterations that panicked; each was caught and the loop went on"
    );
    describe_histogram!(
        "finch_loop_duration_seconds",
        Unit::Seconds,
        "Wall time of one loop iteration"
    );
}

/// Emits the gauges of one iteration: knob values, SLIs and their bounds,
/// compliance, and cost.
pub(crate) fn record(status: &Status) {
    for k in &status.knobs {
        metrics::gauge!("finch_knob_value", "knob" => k.info.name.clone()).set(k.info.position);
    }
    for s in &status.slos {
        let compliant = matches!(
            s.health,
            crate::analyze::Health::Compliant | crate::analyze::Health::AtRisk
        );
        metrics::gauge!("finch_slo_compliant", "slo" => s.name.clone())
            .set(f64::from(u8::from(compliant)));
        metrics::gauge!("finch_slo_rate", "slo" => s.name.clone()).set(s.rate);
        for o in &s.objectives {
            let sli = o.objective.sli_label();
            metrics::gauge!("finch_slo_objective", "slo" => s.name.clone(), "sli" => sli)
                .set(o.objective.bound());
            if let Some(v) = o.sli {
                metrics::gauge!("finch_sli", "slo" => s.name.clone(), "sli" => sli).set(v);
            }
        }
    }
    metrics::gauge!("finch_cost").set(status.cost);
    metrics::gauge!("finch_model_trusted").set(f64::from(u8::from(status.model.trusted)));
    metrics::gauge!("finch_knowledge_pending").set(status.knowledge.pending as f64);
    metrics::gauge!("finch_cpu_seconds").set(status.cpu_secs);
}
