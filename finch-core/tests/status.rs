//! The status lists what the loop manages from the moment it starts, before
//! any window closed; the handle's `Debug` says whether it runs and what it
//! manages.

use std::time::Duration;

use finch_core::analyze::Health;
use finch_core::{Config, KnobBuilder, SloBuilder};

#[tokio::test(flavor = "current_thread")]
async fn status_lists_knobs_and_slos_right_after_start() {
    let workers = KnobBuilder::new("status.start.workers", 4u32).bounds(1, 32);
    workers.cost(1.0).register().expect("the knob registers");
    let api = SloBuilder::new("status.start.api").p99(Duration::from_millis(50));
    api.errors(0.01).register().expect("the SLO registers");
    let config = Config::default().manual().process_signals(false);
    let finch = finch_core::start(
        config
            .knobs(["status.start.workers"])
            .slos(["status.start.api"]),
    )
    .expect("the loop starts");

    let status = finch.status();
    assert!(status.running);
    assert_eq!(status.iterations, 0);
    let knobs: Vec<_> = status.knobs.iter().map(|k| k.info.name.as_str()).collect();
    assert_eq!(knobs, ["status.start.workers"]);
    assert!(status.max_cost > 0.0 && status.cost > 0.0);
    assert_eq!(status.slos.len(), 1);
    let api = &status.slos[0];
    assert_eq!(api.name, "status.start.api");
    assert_eq!(api.health, Health::NoData);
    let objectives: Vec<_> = api.objectives.iter().map(|o| o.display.as_str()).collect();
    assert_eq!(objectives.len(), 2, "{objectives:?}");
    assert!(api.objectives.iter().all(|o| o.sli.is_none()));

    finch.tick().await.expect("an iteration runs");
    let after = finch.status();
    assert_eq!(after.knobs.len(), 1);
    assert_eq!(after.slos.len(), 1);
    let debug = format!("{finch:?}");
    assert!(
        debug.contains("running: true") && debug.contains("\"status.start.workers\""),
        "{debug}"
    );
    finch.shutdown().await;
}
