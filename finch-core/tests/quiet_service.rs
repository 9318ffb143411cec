//! A quiet service within its objectives, with the default configuration:
//! at 15 requests per second, a true p99 of 42 ms (objective 50 ms) and a true
//! error ratio of 0.3 % (objective 1 %), a costly knob that has no effect is
//! never raised. A p99 read off 15 calls is the slowest call; health judged on
//! counts of bad calls knows that it does not know.

use std::time::Duration;

use finch_core::{Config, KnobBuilder, Outcome, SloBuilder};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[tokio::test(flavor = "current_thread")]
async fn a_quiet_service_within_its_objectives_never_raises_a_costly_knob() {
    for seed in [1, 2, 3, 15] {
        quiet_service(seed).await;
    }
}

/// Five minutes of the quiet service, with its own knob and SLO.
async fn quiet_service(seed: u64) {
    let knob = format!("quiet{seed}.workers");
    let api = format!("quiet{seed}.api");
    let workers = KnobBuilder::new(knob.as_str(), 4u32)
        .bounds(1, 32)
        .cost(1.0)
        .register()
        .expect("the knob registers");
    let slo = SloBuilder::new(api.as_str())
        .p99(Duration::from_millis(50))
        .errors(0.01)
        .register()
        .expect("the SLO registers");
    let finch = finch_core::start(
        Config::default()
            .manual()
            .knobs([knob.as_str()])
            .slos([api.as_str()])
            .process_signals(false),
    )
    .expect("the loop starts");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Exponential latencies with a p99 of 42 ms: 0.42 % of calls over 50 ms.
    let mean = 0.042 / 100f64.ln();
    let mut raised = Vec::new();
    for _ in 0..300 {
        let mut t = 0.0;
        loop {
            let u: f64 = rng.random_range(1e-12..1.0);
            t += -u.ln() / 15.0;
            if t >= 1.0 {
                break;
            }
            let v: f64 = rng.random_range(1e-12..1.0);
            let outcome = if rng.random_range(0.0..1.0) < 0.003 {
                Outcome::Error
            } else {
                Outcome::Ok
            };
            slo.record(Duration::from_secs_f64(-v.ln() * mean), outcome);
        }
        let tick = finch.tick().await.expect("the loop runs");
        if let Some(d) = tick.decision
            && d.cost_after > d.cost_before
        {
            raised.push(d);
        }
    }
    assert!(
        raised.is_empty(),
        "seed {seed}: raised a costly knob: {raised:#?}"
    );
    assert!(workers.get() <= 4, "seed {seed}: {}", workers.get());
    finch.shutdown().await;
}
