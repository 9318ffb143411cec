//! The loop's side of knowledge: a bounded queue of records not yet accepted by
//! the store, retried every iteration.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{KnowledgeStore, Record};

/// Records written per attempt.
const BATCH: usize = 512;

/// How the knowledge store is doing, for status reports.
#[derive(Clone, Debug, Default, Serialize)]
pub struct JournalStatus {
    /// Records written to the store.
    pub written: u64,
    /// Records waiting for the store.
    pub pending: usize,
    /// Records dropped because the queue was full while the store was unreachable.
    pub dropped: u64,
    /// The store's last error, if the last attempt failed.
    pub last_error: Option<String>,
}

pub(crate) struct Journal {
    store: Arc<dyn KnowledgeStore>,
    queue: VecDeque<Record>,
    capacity: usize,
    status: JournalStatus,
}

impl Journal {
    pub(crate) fn new(store: Arc<dyn KnowledgeStore>, capacity: usize) -> Self {
        Journal {
            store,
            queue: VecDeque::new(),
            capacity: capacity.max(1),
            status: JournalStatus::default(),
        }
    }

    pub(crate) fn store(&self) -> &Arc<dyn KnowledgeStore> {
        &self.store
    }

    pub(crate) fn push(&mut self, record: Record) {
        self.queue.push_back(record);
        while self.queue.len() > self.capacity {
            self.queue.pop_front();
            self.status.dropped += 1;
            metrics::counter!("finch_knowledge_dropped_total").increment(1);
        }
    }

    /// Writes queued records in batches until the queue is empty, the store
    /// fails, or `budget` is spent.
    pub(crate) async fn flush(&mut self, budget: Duration) {
        let deadline = tokio::time::Instant::now() + budget;
        while !self.queue.is_empty() {
            let n = self.queue.len().min(BATCH);
            let batch: Vec<Record> = self.queue.iter().take(n).cloned().collect();
            match tokio::time::timeout_at(deadline, self.store.append(batch)).await {
                Ok(Ok(())) => {
                    self.queue.drain(..n);
                    self.status.written += n as u64;
                    self.status.last_error = None;
                }
                Ok(Err(e)) => {
                    self.status.last_error = Some(crate::error::Chain(&e).to_string());
                    break;
                }
                Err(_) => {
                    self.status.last_error = Some("the store did not answer in time".into());
                    break;
                }
            }
        }
        self.status.pending = self.queue.len();
    }

    pub(crate) fn status(&self) -> JournalStatus {
        JournalStatus {
            pending: self.queue.len(),
            ..self.status.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::error::StoreError;
    use crate::knowledge::{Knowledge, ModelBlob};
    use crate::util::BoxFuture;

    #[derive(Default)]
    struct Flaky {
        down: AtomicBool,
        got: Mutex<Vec<Record>>,
    }

    impl KnowledgeStore for Flaky {
        fn append(&self, records: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>> {
            let down = self.down.load(Ordering::SeqCst);
            if !down {
                self.got.lock().unwrap().extend(records);
            }
            Box::pin(async move {
                if down {
                    Err(StoreError::new("down"))
                } else {
                    Ok(())
                }
            })
        }
        fn save_model(&self, _: ModelBlob) -> BoxFuture<'_, Result<(), StoreError>> {
            Box::pin(async { Ok(()) })
        }
        fn load(&self, _: usize) -> BoxFuture<'_, Result<Knowledge, StoreError>> {
            Box::pin(async { Ok(Knowledge::default()) })
        }
    }

    fn rec(seq: u64) -> Record {
        Record::Observation(crate::monitor::Observation {
            instance: "t".into(),
            seq,
            at_ms: 0,
            length_secs: 1.0,
            generation: 0,
            clean: true,
            knobs: Default::default(),
            workload: Default::default(),
            signals: Default::default(),
            slis: Default::default(),
        })
    }

    #[tokio::test]
    async fn records_wait_for_the_store_and_overflow_is_counted() {
        let store = Arc::new(Flaky::default());
        store.down.store(true, Ordering::SeqCst);
        let mut j = Journal::new(store.clone(), 3);
        for s in 1..=5 {
            j.push(rec(s));
            j.flush(Duration::from_millis(50)).await;
        }
        let st = j.status();
        assert_eq!((st.pending, st.dropped), (3, 2));
        assert_eq!(st.last_error.as_deref(), Some("down"));
        store.down.store(false, Ordering::SeqCst);
        j.flush(Duration::from_millis(50)).await;
        let got = store.got.lock().unwrap();
        let seqs: Vec<u64> = got
            .iter()
            .map(|r| match r {
                Record::Observation(o) => o.seq,
                Record::Decision(d) => d.id,
            })
            .collect();
        assert_eq!(seqs, vec![3, 4, 5]);
        assert_eq!(j.status().written, 3);
    }
}
