//! The in-process cache of recipe reads, sized by
//! [`RECIPE_CACHE_CAPACITY`].

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use lru::LruCache;

use crate::tuning::RECIPE_CACHE_CAPACITY;

/// A least-recently-used cache of whole recipes by id, kept as their JSON.
///
/// Writers [`invalidate`](Self::invalidate) after they commit. A reader takes an
/// [`epoch`](Self::epoch) before it reads the database and offers the result with
/// it: if any invalidation happened meanwhile, the (possibly stale) result is
/// not cached.
#[derive(Debug)]
pub struct RecipeCache {
    entries: Mutex<LruCache<i64, Bytes>>,
    epoch: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Default for RecipeCache {
    fn default() -> Self {
        RecipeCache {
            entries: Mutex::new(LruCache::new(capacity())),
            epoch: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }
}

fn capacity() -> NonZeroUsize {
    NonZeroUsize::new(RECIPE_CACHE_CAPACITY.get() as usize).unwrap_or(NonZeroUsize::MIN)
}

impl RecipeCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, LruCache<i64, Bytes>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let cap = capacity();
        if entries.cap() != cap {
            entries.resize(cap);
        }
        entries
    }

    /// The cached recipe, if any.
    pub fn get(&self, id: i64) -> Option<Bytes> {
        let found = self.entries().get(&id).cloned();
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// The invalidation epoch, to pass to [`offer`](Self::offer).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches a recipe read at `epoch`, unless something was invalidated since.
    pub fn offer(&self, epoch: u64, id: i64, recipe: Bytes) {
        let mut entries = self.entries();
        if self.epoch.load(Ordering::Acquire) == epoch {
            entries.put(id, recipe);
        }
    }

    /// Drops a recipe after a write that changed or deleted it.
    pub fn invalidate(&self, id: i64) {
        let mut entries = self.entries();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.pop(&id);
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads served from the cache and reads that missed, since start.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}
