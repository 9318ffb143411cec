//! A stationary load settles: no oscillation, few changes.

mod common;

use common::{Sim, compliance};

#[tokio::test(flavor = "current_thread")]
async fn a_stationary_load_does_not_cause_oscillation() {
    let mut sim = Sim::new("steady", 3);
    let finch = finch_core::start(sim.config()).unwrap();
    let runs = sim.run(&finch, &[350.0; 240]).await;
    let tail = &runs[140..];
    let changes = tail.iter().filter(|r| r.changed).count();
    assert!(changes <= 3, "{changes} changes in the last 100 windows");
    // No flip-flop: a knob never returns to a value it left within 10 windows.
    let workers: Vec<u32> = tail.iter().map(|r| r.workers).collect();
    for i in 0..workers.len() {
        for j in i + 1..(i + 10).min(workers.len()) {
            for k in j + 1..(i + 10).min(workers.len()) {
                assert!(
                    !(workers[i] != workers[j] && workers[i] == workers[k]),
                    "workers flip-flop around window {}: {:?}",
                    140 + i,
                    &workers[i..(i + 10).min(workers.len())]
                );
            }
        }
    }
    assert!(compliance(tail, 0.100) >= 0.9);
    finch.shutdown().await;
}
