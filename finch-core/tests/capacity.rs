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
            .expect_err("refused")
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

/// Busy and waiting connections, as a pool would report them.
struct PoolSignals;

impl finch_core::monitor::SignalSource for PoolSignals {
    fn name(&self) -> &str {
        "grow_test_pool"
    }

    fn sample(
        &self,
    ) -> finch_core::BoxFuture<
        '_,
        Result<Vec<finch_core::monitor::Signal>, finch_core::monitor::SignalError>,
    > {
        use finch_core::monitor::Signal;
        Box::pin(async {
            Ok(vec![
                Signal::internal("busy", 4.0),
                Signal::internal("waiting", 6.0),
            ])
        })
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_declared_capacity_is_sized_by_the_loop() {
    let pool = KnobBuilder::new("grow_test.pool", 4u32)
        .bounds(1, 64)
        .cost(1.0)
        .register()
        .expect("knob registers");
    let slo = SloBuilder::new("grow_test.api")
        .p99(Duration::from_millis(50))
        .register()
        .expect("slo registers");
    let finch = finch_core::start(
        Config::default()
            .manual()
            .knobs(["grow_test.pool"])
            .slos(["grow_test.api"])
            .process_signals(false)
            .signal(PoolSignals)
            .capacity(
                Capacity::new("grow_test.pool", "grow_test_pool.busy")
                    .waiting("grow_test_pool.waiting"),
            ),
    )
    .expect("the loop starts");
    // Every connection busy and six calls waiting for one, window after window.
    for _ in 0..3 {
        for _ in 0..200 {
            slo.record(Duration::from_millis(5), finch_core::Outcome::Ok);
        }
        finch.tick().await.expect("the loop runs");
    }
    assert!(pool.get() > 4, "the pool was not grown: {}", pool.get());
    finch.shutdown().await;
}
