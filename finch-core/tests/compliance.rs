//! Compliance with hysteresis: one bad window is noise, a run of them or a
//! chronic share of them is a violation, and good windows clear it.

use std::time::Duration;

use finch_core::analyze::Health;
use finch_core::{Config, Outcome, SloBuilder, SloRef};

fn window(slo: &SloRef, ms: u64) {
    for i in 0..100 {
        slo.record(Duration::from_micros(ms * 1000 + i), Outcome::Ok);
    }
}

async fn health_over(name: &str, pattern: &[u64]) -> Vec<Health> {
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
    for &ms in pattern {
        window(&slo, ms);
        let tick = finch.tick().await.expect("the loop runs");
        out.push(tick.health[name]);
    }
    finch.shutdown().await;
    out
}

#[tokio::test(flavor = "current_thread")]
async fn one_bad_window_is_noise_but_two_in_a_row_are_a_violation() {
    let h = health_over("compliance.streak", &[10, 10, 60, 10, 60, 60, 10, 10, 10]).await;
    assert_eq!(h[2], Health::AtRisk, "one bad window: {h:?}");
    assert_ne!(h[3], Health::Violated, "{h:?}");
    assert_eq!(h[5], Health::Violated, "two in a row: {h:?}");
    assert_eq!(
        h[6],
        Health::Violated,
        "one good window does not clear it: {h:?}"
    );
    assert_ne!(h[7], Health::Violated, "two good windows do: {h:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn an_slo_failing_every_third_window_is_violated() {
    let h = health_over("compliance.chronic", &[60, 10, 10, 60, 10, 10, 60, 10, 10]).await;
    assert!(h[..6].iter().all(|&x| x != Health::Violated), "{h:?}");
    assert_eq!(
        h[6],
        Health::Violated,
        "the third failure in ten windows: {h:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_window_far_over_its_bound_is_a_violation_at_once() {
    let h = health_over("compliance.severe", &[10, 10, 200]).await;
    assert_eq!(h[2], Health::Violated, "{h:?}");
}
