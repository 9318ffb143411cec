//! The service's own pressure signals, sampled by finch once per window and
//! named `app.<signal>`:
//!
//! | signal | meaning | pressure of |
//! |---|---|---|
//! | `cache_miss_ratio` | recipe reads that missed the cache during the window | [`RECIPE_CACHE_CAPACITY`](crate::tuning::RECIPE_CACHE_CAPACITY) |
//! | `admission_waiting` | requests queued for admission now | [`CONCURRENCY_LIMIT`](crate::tuning::CONCURRENCY_LIMIT) |
//! | `admission_in_use` | requests admitted now | |

use std::sync::{Arc, Mutex};

use finch::BoxFuture;
use finch::monitor::{Signal, SignalError, SignalSource};

use crate::cache::RecipeCache;
use crate::tuning::Admission;

/// The name of the source: its signals show as `app.<signal>`.
pub const SOURCE: &str = "app";

/// Samples the cache's miss ratio and admission's queue.
#[derive(Debug)]
pub struct AppSignals {
    cache: Arc<RecipeCache>,
    admission: Admission,
    last: Mutex<(u64, u64)>,
}

impl AppSignals {
    pub(crate) fn new(cache: Arc<RecipeCache>, admission: Admission) -> Self {
        let last = Mutex::new(cache.hits_and_misses());
        AppSignals {
            cache,
            admission,
            last,
        }
    }

    /// The signals now: the miss ratio since the previous sample (absent if
    /// no recipe was read), the requests waiting for and holding admission.
    pub fn sample_now(&self) -> Vec<Signal> {
        let now = self.cache.hits_and_misses();
        let before = std::mem::replace(
            &mut *self.last.lock().unwrap_or_else(|p| p.into_inner()),
            now,
        );
        let hits = now.0.saturating_sub(before.0);
        let misses = now.1.saturating_sub(before.1);
        let mut out = vec![
            Signal::internal("admission_waiting", self.admission.waiting() as f64),
            Signal::internal("admission_in_use", self.admission.in_use() as f64),
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
    async fn the_miss_ratio_covers_the_window_and_admission_reports_its_queue() {
        let cache = Arc::new(RecipeCache::default());
        let signals = AppSignals::new(Arc::clone(&cache), Admission::following_knob());
        let names = |s: &[Signal]| s.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        let first = signals.sample_now();
        assert_eq!(names(&first), ["admission_waiting", "admission_in_use"]);
        assert!(cache.get(1).is_none());
        let second = signals.sample_now();
        let miss = second
            .iter()
            .find(|s| s.name == "cache_miss_ratio")
            .unwrap();
        assert_eq!(miss.value, 1.0);
        assert_eq!(second[0].value, 0.0);
    }
}
