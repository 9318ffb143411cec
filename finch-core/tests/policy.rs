//! The policy: a restarted service, at a load where a configuration was seen
//! to hold every objective, goes straight back to it on its first violation
//! instead of finding the knob again one probe at a time.

use std::time::Duration;

use finch_core::execute::DecisionOutcome;
use finch_core::knowledge::FileStore;
use finch_core::{Config, KnobBuilder, Outcome, SloBuilder};

/// Calls of one window: 10 ms each with a cache of 32 or more, else 80 ms.
fn window(slo: &finch_core::SloRef, cache: u32) {
    let latency = if cache >= 32 { 10 } else { 80 };
    for _ in 0..200 {
        slo.record(Duration::from_millis(latency), Outcome::Ok);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_restarted_service_goes_straight_to_what_held_at_this_load() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let cache = KnobBuilder::new("policy.cache", 1u32)
        .bounds(1, 64)
        .log()
        .cost(1.0)
        .register()
        .expect("the knob registers");
    let slo = SloBuilder::new("policy.api")
        .p99(Duration::from_millis(50))
        .register()
        .expect("the SLO registers");
    let config = || {
        Config::default()
            .manual()
            .knobs(["policy.cache"])
            .slos(["policy.api"])
            .process_signals(false)
    };

    // First run: an operator runs the cache at 40 (frozen); every window holds.
    cache.set(40).expect("a valid value");
    let first = finch_core::start(
        config()
            .freeze("policy.cache")
            .store(FileStore::open(dir.path()).expect("the store opens")),
    )
    .expect("the loop starts");
    for _ in 0..10 {
        window(&slo, cache.get());
        first.tick().await.expect("the loop runs");
    }
    first.shutdown().await;

    // The service restarts with its default cache, at the same load.
    cache.set(1).expect("a valid value");
    let second =
        finch_core::start(config().store(FileStore::open(dir.path()).expect("the store reopens")))
            .expect("the loop starts");
    let mut decisions = Vec::new();
    for _ in 0..3 {
        window(&slo, cache.get());
        let tick = second.tick().await.expect("the loop runs");
        decisions.extend(tick.decision);
    }
    let first_move = decisions.first().expect("a violated objective is acted on");
    assert_eq!(cache.get(), 40, "{decisions:#?}");
    assert!(
        first_move.reason.contains("within every objective"),
        "{}",
        first_move.reason
    );
    assert!(
        !matches!(first_move.outcome, DecisionOutcome::ApplyFailed { .. }),
        "{first_move:#?}"
    );
    second.shutdown().await;
}
