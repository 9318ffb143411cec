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
    take(pool, count, None).await
}

/// As [`checkout`]; with `new_since`, keeps only connections opened since
/// then, handing any other back to the pool at once.
async fn take(
    pool: &Pool,
    count: usize,
    new_since: Option<Instant>,
) -> Result<Vec<Object>, PgError> {
    let mut timeouts = pool.timeouts();
    timeouts.wait = Some(Duration::ZERO);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        let pool = pool.clone();
        tasks.spawn(async move {
            let obj = pool.timeout_get(&timeouts).await?;
            let m = Object::metrics(&obj);
            let keep = new_since.is_none_or(|t| m.recycle_count == 0 && m.created >= t);
            Ok::<Option<Object>, PoolError>(keep.then_some(obj))
        });
    }
    let mut held = Vec::with_capacity(count);
    let mut failed = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(obj)) => held.extend(obj),
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

/// Resizes the pool to `size`. It needs no connection of the pool: a pool
/// whose every connection is checked out grows all the same. When it grows,
/// `prewarm` is set and no connection is idle (the growth answers demand),
/// it opens connections for the new slots at once and returns them idle, so
/// the first requests after the growth do not pay for connection set-up.
/// It never holds an idle connection: with idle ones there is nothing to
/// warm (they serve the next requests), and one handed to it while it opens
/// goes back at once, so the service is never kept from its connections.
pub(crate) async fn resize(pool: &Pool, size: usize, prewarm: bool) -> Result<Resized, PgError> {
    let before = pool.status();
    pool.resize(size);
    let mut warmed = 0;
    let now = pool.status();
    if prewarm && size > before.max_size && now.available == 0 {
        warmed = open(pool, size.saturating_sub(now.size)).await?;
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

/// Opens up to `count` new connections in parallel without waiting for a free
/// slot, and returns them to the pool idle once all are open (holding them
/// until then, so that each task opens one); an idle connection a task is
/// handed instead goes back at once. Returns how many were opened.
async fn open(pool: &Pool, count: usize) -> Result<usize, PgError> {
    Ok(take(pool, count, Some(Instant::now())).await?.len())
}
