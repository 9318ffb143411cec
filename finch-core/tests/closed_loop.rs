//! The loop against a simulated service: a violated objective comes back within
//! a bounded number of intervals, and cost comes down when load falls.

mod common;

use common::{Sim, compliance};

const BOUND: f64 = 0.100;

#[tokio::test(flavor = "current_thread")]
async fn a_violated_objective_comes_back_within_a_bounded_number_of_intervals() {
    let mut sim = Sim::new("recover", 1);
    let finch = finch_core::start(sim.config()).unwrap();
    let calm = sim.run(&finch, &[100.0; 30]).await;
    assert!(compliance(&calm, BOUND) >= 0.9);

    // The default two workers cannot serve 600 requests per second.
    let surge = sim.run(&finch, &[600.0; 80]).await;
    assert!(
        surge[0].p99.is_some_and(|p| p > BOUND),
        "the surge violates at first"
    );
    let recovered = surge
        .windows(3)
        .position(|w| w.iter().all(|r| r.p99.is_some_and(|p| p <= BOUND)))
        .expect("compliance comes back");
    assert!(
        recovered <= 12,
        "back within 12 intervals, took {recovered}"
    );
    assert!(
        compliance(&surge[20..], BOUND) >= 0.9,
        "then holds: {:.2}",
        compliance(&surge[20..], BOUND)
    );
    finch.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn cost_goes_down_when_load_drops() {
    let mut sim = Sim::new("save", 2);
    let finch = finch_core::start(sim.config()).unwrap();
    let high = sim.run(&finch, &[700.0; 80]).await;
    let peak = high[40..].iter().map(|r| r.cost).fold(0.0, f64::max);
    let low = sim.run(&finch, &[60.0; 80]).await;
    let end = low.last().map(|r| r.cost).unwrap();
    assert!(
        end < 0.5 * peak,
        "cost {end:.2} at the end vs {peak:.2} at peak"
    );
    assert!(
        compliance(&low, BOUND) >= 0.9,
        "lowering cost kept the objective: {:.2}",
        compliance(&low, BOUND)
    );
    let status = finch.status();
    let reasons: Vec<&str> = status.decisions.iter().map(|d| d.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("cost")),
        "decisions say why: {reasons:?}"
    );
    finch.shutdown().await;
}
