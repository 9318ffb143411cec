//! The default store: bounded, in memory, gone at exit.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::{Knowledge, KnowledgeStore, ModelBlob, Record, latest_decisions};
use crate::decision::Decision;
use crate::error::StoreError;
use crate::monitor::Observation;
use crate::util::BoxFuture;

/// A bounded in-memory store (the default): the most recent observations and
/// decisions, and the latest model.
///
/// ```
/// let store = finch_core::knowledge::MemoryStore::new(5_000);
/// let config = finch_core::Config::default().store(store);
/// # let _ = config;
/// ```
pub struct MemoryStore {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    observations: VecDeque<Observation>,
    decisions: VecDeque<Decision>,
    model: Option<ModelBlob>,
}

impl MemoryStore {
    /// Keeps at most `capacity` observations and as many decision states.
    pub fn new(capacity: usize) -> Self {
        MemoryStore {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(10_000)
    }
}

impl KnowledgeStore for MemoryStore {
    fn append(&self, records: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for r in records {
            match r {
                Record::Observation(o) => {
                    if !inner
                        .observations
                        .iter()
                        .rev()
                        .take(64)
                        .any(|x| x.seq == o.seq && x.instance == o.instance)
                    {
                        inner.observations.push_back(o);
                    }
                    if inner.observations.len() > self.capacity {
                        inner.observations.pop_front();
                    }
                }
                Record::Decision(d) => {
                    inner.decisions.push_back(d);
                    if inner.decisions.len() > self.capacity {
                        inner.decisions.pop_front();
                    }
                }
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn save_model(&self, model: ModelBlob) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).model = Some(model);
        Box::pin(async { Ok(()) })
    }

    fn load(&self, max_observations: usize) -> BoxFuture<'_, Result<Knowledge, StoreError>> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let skip = inner.observations.len().saturating_sub(max_observations);
        let knowledge = Knowledge {
            observations: inner.observations.iter().skip(skip).cloned().collect(),
            decisions: latest_decisions(inner.decisions.iter().cloned()),
            model: inner.model.clone(),
        };
        Box::pin(async move { Ok(knowledge) })
    }
}
