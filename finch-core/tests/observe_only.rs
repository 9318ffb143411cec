//! Observe-only: a service violating its objective, whose knob would be
//! raised, gets a report of what finch would do, and no knob ever moves.

use std::time::Duration;

use finch_core::execute::DecisionOutcome;
use finch_core::{Config, KnobBuilder, Outcome, SloBuilder};

#[tokio::test(flavor = "current_thread")]
async fn observe_only_reports_what_it_would_do_and_changes_nothing() {
    let workers = KnobBuilder::new("observed.workers", 4u32)
        .bounds(1, 32)
        .cost(1.0)
        .register()
        .expect("the knob registers");
    let slo = SloBuilder::new("observed.api")
        .p99(Duration::from_millis(50))
        .register()
        .expect("the SLO registers");
    let finch = finch_core::start(
        Config::default()
            .manual()
            .observe_only()
            .knobs(["observed.workers"])
            .slos(["observed.api"])
            .process_signals(false),
    )
    .expect("the loop starts");
    let mut reported = Vec::new();
    for _ in 0..60 {
        // Every call at 80 ms: the p99 objective of 50 ms is violated.
        for _ in 0..200 {
            slo.record(Duration::from_millis(80), Outcome::Ok);
        }
        let tick = finch.tick().await.expect("the loop runs");
        if let Some(d) = tick.decision {
            reported.push(d);
        }
        assert_eq!(workers.get(), 4, "observe-only changed a knob");
    }
    assert!(
        !reported.is_empty(),
        "a violated objective reports a decision"
    );
    for d in &reported {
        assert!(
            matches!(d.outcome, DecisionOutcome::NotApplied { .. }),
            "{d:#?}"
        );
        assert_eq!(d.outcome_label(), "not_applied");
    }
    // One report per wanted configuration, not one per window.
    for pair in reported.windows(2) {
        assert_ne!(pair[0].changes, pair[1].changes, "{pair:#?}");
    }
    let status = finch.status();
    assert!(
        status
            .decisions
            .iter()
            .any(|d| matches!(d.outcome, DecisionOutcome::NotApplied { .. })),
        "status shows what finch would do"
    );
    finch.shutdown().await;
}
