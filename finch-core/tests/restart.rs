//! Restart: a loop started on the file store of an earlier run resumes warm,
//! with its observations, decisions and model.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Sim;
use finch_core::execute::DecisionKind;
use finch_core::knowledge::{FileStore, Knowledge, KnowledgeStore, ModelBlob, Numbering, Record};
use finch_core::{BoxFuture, StoreError};

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
    assert!(
        before
            .decisions
            .iter()
            .any(|d| d.verdict.is_some() && d.changes.iter().any(|c| c.probed)),
        "verified probes carry their verdict, to be recalled at the restart"
    );
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

/// A store that never answers a read (an outage at start).
struct Unanswering;

impl KnowledgeStore for Unanswering {
    fn append(&self, _: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::new("down")) })
    }

    fn save_model(&self, _: ModelBlob) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::new("down")) })
    }

    fn load(&self, _: usize) -> BoxFuture<'_, Result<Knowledge, StoreError>> {
        Box::pin(std::future::pending())
    }

    fn last_numbers(&self, _: &str) -> BoxFuture<'_, Result<Option<Numbering>, StoreError>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_store_silent_at_start_never_restarts_numbering_at_one() {
    let sim = Sim::new("restart-silent", 4);
    let started_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let config = sim.config().interval(Duration::from_millis(10));
    let finch = finch_core::start(config.store(Unanswering)).unwrap();
    let tick = finch.tick().await.unwrap();
    assert!(
        tick.observation.seq > started_ms,
        "numbered on from the clock, past anything an earlier run wrote: {}",
        tick.observation.seq
    );
    let d = finch.pin("restart-silent.workers", "3").await.unwrap();
    assert!(d.id > started_ms, "decision ids too: {}", d.id);
    finch.shutdown().await;
}
