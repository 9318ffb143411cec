//! Capacities are declared on managed knobs: a declaration naming anything
//! else is refused at start with the fix.

use std::time::Duration;

use finch_core::{Capacity, Config, KnobBuilder, SloBuilder};

#[tokio::test(flavor = "current_thread")]
async fn a_capacity_on_an_unknown_knob_is_refused_at_start() {
    KnobBuilder::new("capacity_test.pool", 4u32)
        .bounds(1, 64)
        .cost(1.0)
        .register()
        .expect("knob registers");
    SloBuilder::new("capacity_test.api")
        .p99(Duration::from_millis(50))
        .register()
        .expect("slo registers");
    let base = || {
        Config::default()
            .manual()
            .knobs(["capacity_test.pool"])
            .slos(["capacity_test.api"])
            .process_signals(false)
    };
    for capacity in [
        Capacity::new("capacity_test.nope", "pool.busy"),
        Capacity::new("capacity_test.pool", "pool.busy").at_least("capacity_test.nope", 2.0),
    ] {
        let err = finch_core::start(base().capacity(capacity))
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("`capacity_test.nope`") && err.contains("finch::knobs()"),
            "{err}"
        );
    }
    let finch = finch_core::start(
        base().capacity(Capacity::new("capacity_test.pool", "pool.busy").waiting("pool.waiting")),
    )
    .expect("a capacity on a managed knob starts");
    finch.shutdown().await;
}
