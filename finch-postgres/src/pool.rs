//! The pool's size as a knob: `Pool::resize`, pre-warming connections when growing.

use std::time::{Duration, Instant};

use deadpool_postgres::{Object, Pool, PoolError};

use crate::error::PgError;

/// What a resize did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Resized {
    /// The pool's maximum size before.
    pub from: usize,
    /// The pool's maximum size after.
    pub to: usize,
    /// Connections opened ahead of demand (pre-warmed) while growing.
    pub warmed: usize,
}

/// Takes up to `count` connections at once without waiting for a busy one:
/// idle connections (each runs the pool's `post_recycle` hook), then new ones,
/// opened in parallel, while the pool is below its maximum (each runs
/// `post_create`).
pub(crate) async fn checkout(pool: &Pool, count: usize) -> Result<Vec<Object>, PgError> {
    let mut timeouts = pool.timeouts();
    timeouts.wait = Some(Duration::ZERO);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        let pool = pool.clone();
        tasks.spawn(async move { pool.timeout_get(&timeouts).await });
    }
    let mut held = Vec::with_capacity(count);
    let mut failed = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(obj)) => held.push(obj),
            Ok(Err(PoolError::Timeout(_))) => {}
            Ok(Err(e)) => failed = Some(PgError::from(e)),
            Err(e) => {
                failed = Some(PgError::Task {
                    reason: e.to_string(),
                })
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(held),
    }
}

/// Resizes the pool to `size`. When it grows, opens the new connections at once
/// (holding the idle ones meanwhile so that new ones must be created) and
/// returns them to the pool idle, so the first requests after the growth do not
/// pay for connection set-up.
pub(crate) async fn resize(pool: &Pool, size: usize, prewarm: bool) -> Result<Resized, PgError> {
    let before = pool.status();
    pool.resize(size);
    let mut warmed = 0;
    if prewarm && size > before.max_size {
        let started = Instant::now();
        let now = pool.status();
        let want = now.available + size.saturating_sub(now.size);
        let held = checkout(pool, want).await?;
        warmed = held
            .iter()
            .filter(|o| {
                let m = Object::metrics(o);
                m.recycle_count == 0 && m.created >= started
            })
            .count();
    }
    tracing::info!(
        from = before.max_size,
        to = size,
        warmed,
        "finch-postgres: pool resized"
    );
    Ok(Resized {
        from: before.max_size,
        to: size,
        warmed,
    })
}
