//! The service's own pressure signals, sampled by finch once per window and
//! named `app.<signal>`:
//!
//! | signal | meaning | pressure of |
//! |---|---|---|
//! | `cache_miss_ratio` | recipe reads that missed the cache during the window | [`RECIPE_CACHE_CAPACITY`](crate::tuning::RECIPE_CACHE_CAPACITY) |
//! | `admission_busy` | requests admitted, on average over the window | [`CONCURRENCY_LIMIT`](crate::tuning::CONCURRENCY_LIMIT) (capacity) |
//! | `admission_queued` | requests waiting for admission, on average | [`CONCURRENCY_LIMIT`](crate::tuning::CONCURRENCY_LIMIT) |
//! | `pool_busy` | connections held by requests, on average | the pool size (capacity) |
//! | `admission_served` | requests admitted per second | [`CONCURRENCY_LIMIT`](crate::tuning::CONCURRENCY_LIMIT) (capacity) |
//! | `pool_queued` | admitted requests waiting for a connection, on average | the pool size |
//! | `pool_served` | connections handed out per second | the pool size (capacity) |
//!
//! The averages are exact time integrals ([`Occupancy`](finch::monitor::Occupancy)),
//! not gauges read once per window: the capacities of
//! [`tuning::capacities`](crate::tuning::capacities) are sized from them.

use std::sync::{Arc, Mutex};

use finch::monitor::{BoxFuture, Signal, SignalError, SignalSource};

use crate::Connections;
use crate::cache::RecipeCache;
use crate::tuning::Admission;

/// The name of the source: its signals show as `app.<signal>`.
pub const SOURCE: &str = "app";

/// Samples the cache's miss ratio, admission's and the pool's occupancy.
#[derive(Debug)]
pub struct AppSignals {
    cache: Arc<RecipeCache>,
    admission: Admission,
    connections: Connections,
    last: Mutex<(u64, u64)>,
}

impl AppSignals {
    pub(crate) fn new(
        cache: Arc<RecipeCache>,
        admission: Admission,
        connections: Connections,
    ) -> Self {
        let last = Mutex::new(cache.hits_and_misses());
        AppSignals {
            cache,
            admission,
            connections,
            last,
        }
    }

    /// The signals now: the miss ratio since the previous sample (absent if
    /// no recipe was read), and the mean requests and connections busy and
    /// waiting since the previous sample.
    pub fn sample_now(&self) -> Vec<Signal> {
        let now = self.cache.hits_and_misses();
        let before = std::mem::replace(
            &mut *self.last.lock().unwrap_or_else(|p| p.into_inner()),
            now,
        );
        let hits = now.0.saturating_sub(before.0);
        let misses = now.1.saturating_sub(before.1);
        let admitted = self.admission.busy().window();
        let connections = self.connections.busy.window();
        let mut out = vec![
            Signal::internal("admission_busy", admitted.mean),
            Signal::internal("admission_queued", self.admission.queued().window().mean),
            Signal::internal("admission_served", admitted.per_sec()),
            Signal::internal("pool_busy", connections.mean),
            Signal::internal("pool_queued", self.connections.queued.window().mean),
            Signal::internal("pool_served", connections.per_sec()),
        ];
        if hits + misses > 0 {
            out.push(Signal::internal(
                "cache_miss_ratio",
                misses as f64 / (hits + misses) as f64,
            ));
        }
        out
    }
}

impl SignalSource for AppSignals {
    fn name(&self) -> &str {
        SOURCE
    }

    fn sample(&self) -> BoxFuture<'_, Result<Vec<Signal>, SignalError>> {
        Box::pin(async move { Ok(self.sample_now()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn the_miss_ratio_and_the_occupancies_cover_the_window() {
        let cache = Arc::new(RecipeCache::default());
        let admission = Admission::following_knob();
        let signals = AppSignals::new(
            Arc::clone(&cache),
            admission.clone(),
            Connections::default(),
        );
        let names = |s: &[Signal]| s.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        let first = signals.sample_now();
        assert_eq!(
            names(&first),
            [
                "admission_busy",
                "admission_queued",
                "admission_served",
                "pool_busy",
                "pool_queued",
                "pool_served"
            ]
        );
        assert!(cache.get(1).is_none());
        let second = signals.sample_now();
        let miss = second
            .iter()
            .find(|s| s.name == "cache_miss_ratio")
            .unwrap();
        assert_eq!(miss.value, 1.0);
        assert_eq!(second[0].value, 0.0);
        // A request admitted through the next window counts for all of it.
        let admitted = admission.admit().await.unwrap();
        let _ = signals.sample_now();
        let third = signals.sample_now();
        assert_eq!(third[0].name, "admission_busy");
        assert!(third[0].value > 0.99 && third[0].value <= 1.0, "{third:?}");
        drop(admitted);
    }
}
