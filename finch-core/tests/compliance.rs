//! Compliance as a probability from counts of bad calls: a slow call among few
//! is a risk, not a violation; a window of slow calls is a violation at once;
//! good windows clear it as soon as they are evidence enough.

use std::time::Duration;

use finch_core::analyze::Health;
use finch_core::{Config, Outcome, SloBuilder, SloRef};

/// `calls` calls of 10 ms, `slow` of which take `slow_ms` instead.
fn window(slo: &SloRef, calls: u64, slow: u64, slow_ms: u64) {
    for i in 0..calls {
        let ms = if i < slow { slow_ms } else { 10 };
        slo.record(Duration::from_micros(ms * 1000 + i), Outcome::Ok);
    }
}

async fn health_over(name: &str, windows: &[(u64, u64, u64)]) -> Vec<Health> {
    let slo = SloBuilder::new(name)
        .p99(Duration::from_millis(50))
        .register()
        .expect("the SLO registers");
    let finch = finch_core::start(
        Config::default()
            .manual()
            .knobs(Vec::<String>::new())
            .slos([name])
            .process_signals(false),
    )
    .expect("the loop starts");
    let mut out = Vec::new();
    for &(calls, slow, slow_ms) in windows {
        window(&slo, calls, slow, slow_ms);
        let tick = finch.tick().await.expect("the loop runs");
        out.push(tick.health[name]);
    }
    finch.shutdown().await;
    out
}

#[tokio::test(flavor = "current_thread")]
async fn one_slow_call_among_twenty_is_a_risk_not_a_violation() {
    let h = health_over("compliance.few", &[(20, 0, 0), (20, 1, 80), (20, 0, 0)]).await;
    assert_eq!(h[0], Health::Compliant, "{h:?}");
    assert_eq!(h[1], Health::AtRisk, "{h:?}");
    assert!(h.iter().all(|&x| x != Health::Violated), "{h:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_quiet_service_within_its_budget_is_never_violated() {
    // 20 calls a window, one of them slow every tenth window: 0.5 % of calls
    // over the bound, half the budget of a p99.
    let pattern: Vec<(u64, u64, u64)> = (0..80).map(|i| (20, u64::from(i % 10 == 3), 80)).collect();
    let h = health_over("compliance.quiet", &pattern).await;
    assert!(h.iter().all(|&x| x != Health::Violated), "{h:?}");
    assert_eq!(h[79], Health::Compliant, "{h:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_window_of_slow_calls_is_a_violation_at_once_and_good_windows_clear_it() {
    let mut pattern = vec![(100, 0, 0), (100, 0, 0), (100, 100, 200)];
    pattern.extend([(100, 0, 0); 4]);
    let h = health_over("compliance.severe", &pattern).await;
    assert_eq!(h[2], Health::Violated, "{h:?}");
    let cleared = h[3..]
        .iter()
        .position(|&x| x != Health::Violated)
        .expect("good windows clear the violation");
    assert!(cleared <= 2, "{h:?}");
    assert!(
        h[3 + cleared..].iter().all(|&x| x != Health::Violated),
        "{h:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_p99_over_its_bound_on_every_window_is_violated() {
    // 3 % of calls over the bound.
    let h = health_over("compliance.chronic", &[(100, 3, 80); 10]).await;
    assert_eq!(h[9], Health::Violated, "{h:?}");
}
