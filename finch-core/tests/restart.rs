//! Restart: a loop started on the file store of an earlier run resumes warm,
//! with its observations, decisions and model.

mod common;

use common::Sim;
use finch_core::execute::DecisionKind;
use finch_core::knowledge::FileStore;

#[tokio::test(flavor = "current_thread")]
async fn a_restarted_loop_resumes_warm_from_the_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = Sim::new("restart", 4);

    let first =
        finch_core::start(sim.config().store(FileStore::open(dir.path()).unwrap())).unwrap();
    sim.run(&first, &[350.0; 60]).await;
    let before = first.status();
    assert!(before.model.trusted, "the first run learned a model");
    let last_decision = before.decisions.last().map(|d| d.id).unwrap();
    first.shutdown().await;

    // The service restarts: knobs are back at their defaults.
    sim.workers.set(2).unwrap();
    sim.cache_mb.set(64.0).unwrap();
    sim.batch.set(8).unwrap();

    let second =
        finch_core::start(sim.config().store(FileStore::open(dir.path()).unwrap())).unwrap();
    let tick = sim.step(&second, 350.0).await;
    let after = second.status();
    assert!(
        after.model.trained && after.model.trusted,
        "the model is back"
    );
    assert!(
        after.model.available >= before.model.available,
        "observations are back: {} of {}",
        after.model.available,
        before.model.available
    );
    assert!(
        tick.observation.seq > 60,
        "windows are numbered on from the last run: {}",
        tick.observation.seq
    );
    let d = tick
        .decision
        .expect("the violated objective is acted on at once");
    assert_eq!(
        d.kind,
        DecisionKind::Exploit,
        "with the model, not by exploring: {}",
        d.reason
    );
    assert!(d.id > last_decision, "decision ids continue");
    let recovered = sim.run(&second, &[350.0; 4]).await;
    assert!(
        recovered
            .iter()
            .skip(1)
            .all(|r| r.p99.is_some_and(|p| p <= 0.100)),
        "back in compliance within two windows"
    );
    second.shutdown().await;
}
