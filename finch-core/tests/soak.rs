//! Soak: a simulated week of five-minute windows (manual ticks) on the
//! synthetic service, with the knowledge store failing for the fourth day.
//! The loop's memory and the store's log stay under their bounds, every
//! observation reaches the store exactly once and in order (those queued
//! during the outage at the first iteration after it), and the log reopens
//! with its newest records.
//!
//! It takes about 45 s unoptimised on two cores, so it is ignored by default:
//! `cargo test --release -p finch-core --test soak -- --ignored --nocapture`
//! runs it and prints its figures (BENCHMARKS.md, "Soak").

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Sim;
use finch_core::knowledge::{FileStore, Knowledge, KnowledgeStore, ModelBlob, Record};
use finch_core::{ModelConfig, StoreError};

const DAY: u64 = 288;
const WEEK: u64 = 7 * DAY;
const OUTAGE: std::ops::Range<u64> = 3 * DAY..4 * DAY;
const MAX_LOG_BYTES: u64 = 256 << 10;
const JOURNAL: usize = 2_000;
const MAX_SAMPLES: usize = 600;
const DECISIONS: usize = 64;

/// A file store that fails every call while `down`, and remembers the
/// observations it accepted.
struct Flaky(Arc<State>);

struct State {
    inner: FileStore,
    down: AtomicBool,
    accepted: Mutex<Vec<u64>>,
    refused: AtomicU64,
}

impl State {
    fn fail<T: Send + 'static>(
        &self,
    ) -> Option<finch_core::BoxFuture<'static, Result<T, StoreError>>> {
        self.down.load(Ordering::SeqCst).then(|| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            Box::pin(async { Err(StoreError::new("injected outage")) }) as _
        })
    }
}

impl KnowledgeStore for Flaky {
    fn append(&self, records: Vec<Record>) -> finch_core::BoxFuture<'_, Result<(), StoreError>> {
        if let Some(failed) = self.0.fail() {
            return failed;
        }
        let state = Arc::clone(&self.0);
        Box::pin(async move {
            let seqs: Vec<u64> = records
                .iter()
                .filter_map(|r| match r {
                    Record::Observation(o) => Some(o.seq),
                    Record::Decision(_) => None,
                })
                .collect();
            state.inner.append(records).await?;
            state
                .accepted
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(seqs);
            Ok(())
        })
    }

    fn save_model(&self, model: ModelBlob) -> finch_core::BoxFuture<'_, Result<(), StoreError>> {
        self.0
            .fail()
            .unwrap_or_else(|| self.0.inner.save_model(model))
    }

    fn load(&self, max: usize) -> finch_core::BoxFuture<'_, Result<Knowledge, StoreError>> {
        self.0.fail().unwrap_or_else(|| self.0.inner.load(max))
    }

    fn flush(&self) -> finch_core::BoxFuture<'_, Result<(), StoreError>> {
        self.0.fail().unwrap_or_else(|| self.0.inner.flush())
    }
}

/// Requests in window `w`: a diurnal cycle between 60 and 300 per window.
fn load(w: u64) -> f64 {
    let phase = (w % DAY) as f64 / DAY as f64 * std::f64::consts::TAU;
    180.0 - 120.0 * phase.cos()
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "a simulated week: run with --release -- --ignored (see the module docs)"]
async fn a_week_with_a_day_of_store_outage_stays_bounded_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("journal.log");
    let state = Arc::new(State {
        inner: FileStore::open(dir.path())
            .unwrap()
            .max_log_bytes(MAX_LOG_BYTES),
        down: AtomicBool::new(false),
        accepted: Mutex::new(Vec::new()),
        refused: AtomicU64::new(0),
    });
    let mut sim = Sim::new("soak", 7);
    let finch = finch_core::start(
        sim.config()
            .interval(Duration::from_secs(300))
            .journal_capacity(JOURNAL)
            .model(ModelConfig {
                max_samples: MAX_SAMPLES,
                ..ModelConfig::default()
            })
            .store(Flaky(Arc::clone(&state))),
    )
    .unwrap();

    let started = Instant::now();
    let (mut peak_pending, mut peak_log, mut caught_up_after) = (0, 0, None);
    for w in 0..WEEK {
        state.down.store(OUTAGE.contains(&w), Ordering::SeqCst);
        sim.step(&finch, load(w)).await;
        let status = finch.status();
        let k = &status.knowledge;
        assert_eq!(k.dropped, 0, "nothing dropped at window {w}");
        assert!(k.pending <= JOURNAL, "the journal stays bounded");
        assert!(
            status.model.available <= MAX_SAMPLES,
            "history stays bounded"
        );
        assert!(status.decisions.len() <= DECISIONS);
        let size = std::fs::metadata(&log).map_or(0, |m| m.len());
        assert!(size <= MAX_LOG_BYTES, "{size} bytes at window {w}");
        peak_log = peak_log.max(size);
        peak_pending = peak_pending.max(k.pending);
        if OUTAGE.contains(&w) {
            assert!(k.last_error.is_some(), "the outage is reported");
        } else if w >= OUTAGE.end && caught_up_after.is_none() && k.pending == 0 {
            caught_up_after = Some(w + 1 - OUTAGE.end);
        }
    }
    let wall = started.elapsed();
    let caught_up_after = caught_up_after.unwrap();
    assert_eq!(
        caught_up_after, 1,
        "the queue is written at the first iteration after the outage"
    );
    assert!(peak_pending as u64 >= DAY, "a day's records were queued");
    finch.shutdown().await;

    let accepted = state.accepted.lock().unwrap().clone();
    assert_eq!(
        accepted,
        (1..=WEEK).collect::<Vec<_>>(),
        "every observation written once, in order"
    );
    let refused = state.refused.load(Ordering::Relaxed);
    drop(Arc::into_inner(state).expect("the loop let go of the store"));
    let kept: Vec<u64> = FileStore::open(dir.path())
        .unwrap()
        .load(usize::MAX)
        .await
        .unwrap()
        .observations
        .iter()
        .map(|o| o.seq)
        .collect();
    assert_eq!(kept.last(), Some(&WEEK), "the newest observation is kept");
    assert!(
        kept.windows(2).all(|p| p[1] == p[0] + 1),
        "the log keeps a contiguous tail"
    );
    println!(
        "soak: {WEEK} windows in {:.1} s; journal peak {peak_pending} records (bound {JOURNAL}), \
         caught up {caught_up_after} iteration after the outage; log peak {peak_log} bytes \
         (bound {MAX_LOG_BYTES}), {} observations kept after compaction; {} store calls refused",
        wall.as_secs_f64(),
        kept.len(),
        refused
    );
}
