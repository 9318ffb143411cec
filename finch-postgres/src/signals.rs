//! PostgreSQL's view of the workload, sampled once per window.

use std::sync::Mutex;
use std::time::Instant;

use deadpool_postgres::Pool;
use finch_core::BoxFuture;
use finch_core::monitor::{Signal, SignalError, SignalSource};

use crate::error::PgError;

const DATABASE_SQL: &str = "SELECT xact_commit, xact_rollback, blks_hit, blks_read, \
     temp_bytes, deadlocks FROM pg_stat_database WHERE datname = current_database()";

const ACTIVITY_SQL: &str = "SELECT \
     count(*) FILTER (WHERE state = 'active'), \
     count(*) FILTER (WHERE state IN ('idle in transaction', 'idle in transaction (aborted)')), \
     count(*) FILTER (WHERE wait_event_type = 'Lock') \
     FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";

/// Signals from PostgreSQL and the application's pool, named `pg.<signal>`:
///
/// | signal | meaning |
/// |---|---|
/// | `commits_per_sec`, `rollbacks_per_sec` | `pg_stat_database` transactions of the app's database, per second of the window |
/// | `hit_ratio`, `read_ratio` | buffer hits (reads) / (hits + reads) during the window |
/// | `temp_bytes_per_sec` | bytes spilled to temporary files (e.g. sorts beyond `work_mem`) |
/// | `deadlocks` | deadlocks detected during the window |
/// | `active`, `idle_in_transaction`, `lock_waiting` | `pg_stat_activity` sessions of the database now |
/// | `pool_size`, `pool_available`, `pool_waiting`, `pool_max`, `pool_in_use` | the deadpool pool now |
///
/// The knobs of [`PgTuner`](crate::PgTuner) declare their pressure signals
/// among these: the pool size `pool_waiting`, `work_mem` and its kin
/// `temp_bytes_per_sec`, `shared_buffers` and `effective_cache_size`
/// `read_ratio`.
///
/// Counters are reported as per-window deltas: the first sample reports only
/// the gauges. Every signal is `Internal` (recorded for explanation, not a model
/// input), because each is a consequence of the knobs as much as of the demand.
/// Reading `pg_stat_activity` for other roles' sessions needs `pg_monitor`
/// (or `pg_read_all_stats`).
///
/// ```no_run
/// # fn f(pool: deadpool_postgres::Pool) {
/// let config = finch_core::Config::default().signal(finch_postgres::PgSignals::new(pool));
/// # let _ = config;
/// # }
/// ```
pub struct PgSignals {
    pool: Pool,
    last: Mutex<Option<(Instant, Counters)>>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    commits: i64,
    rollbacks: i64,
    hits: i64,
    reads: i64,
    temp_bytes: i64,
    deadlocks: i64,
}

impl PgSignals {
    /// Signals of the database `pool` connects to, and of `pool` itself.
    pub fn new(pool: Pool) -> Self {
        PgSignals {
            pool,
            last: Mutex::new(None),
        }
    }

    /// Samples the signals now (what the loop calls once per window).
    pub async fn sample_now(&self) -> Result<Vec<Signal>, PgError> {
        let status = self.pool.status();
        let client = self.pool.get().await?;
        let db = client.query_one(DATABASE_SQL, &[]).await?;
        let act = client.query_one(ACTIVITY_SQL, &[]).await?;
        drop(client);
        let now = Instant::now();
        let counters = Counters {
            commits: db.try_get(0)?,
            rollbacks: db.try_get(1)?,
            hits: db.try_get(2)?,
            reads: db.try_get(3)?,
            temp_bytes: db.try_get(4)?,
            deadlocks: db.try_get(5)?,
        };
        let gauge = |i: usize| act.try_get::<_, i64>(i).map(|v| v as f64);
        let mut out = vec![
            Signal::internal("active", gauge(0)?),
            Signal::internal("idle_in_transaction", gauge(1)?),
            Signal::internal("lock_waiting", gauge(2)?),
            Signal::internal("pool_size", status.size as f64),
            Signal::internal("pool_available", status.available as f64),
            Signal::internal("pool_waiting", status.waiting as f64),
            Signal::internal(
                "pool_in_use",
                status.size.saturating_sub(status.available) as f64,
            ),
            Signal::internal("pool_max", status.max_size as f64),
        ];
        let previous = self
            .last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace((now, counters));
        if let Some((then, before)) = previous {
            let secs = now.duration_since(then).as_secs_f64().max(1e-3);
            // Counters only grow; a reset (pg_stat_reset) shows as a negative delta: skip it.
            let delta = |a: i64, b: i64| (a >= b).then(|| (a - b) as f64);
            if let Some(d) = delta(counters.commits, before.commits) {
                out.push(Signal::internal("commits_per_sec", d / secs));
            }
            if let Some(d) = delta(counters.rollbacks, before.rollbacks) {
                out.push(Signal::internal("rollbacks_per_sec", d / secs));
            }
            if let Some(d) = delta(counters.temp_bytes, before.temp_bytes) {
                out.push(Signal::internal("temp_bytes_per_sec", d / secs));
            }
            if let Some(d) = delta(counters.deadlocks, before.deadlocks) {
                out.push(Signal::internal("deadlocks", d));
            }
            if let (Some(h), Some(r)) = (
                delta(counters.hits, before.hits),
                delta(counters.reads, before.reads),
            ) && h + r > 0.0
            {
                out.push(Signal::internal("hit_ratio", h / (h + r)));
                out.push(Signal::internal("read_ratio", r / (h + r)));
            }
        }
        Ok(out)
    }
}

/// The name of [`PgSignals`]' source: its signals show as `pg.<name>`.
pub(crate) const SOURCE: &str = "pg";

/// The pressure signals of the pool size: calls waiting for a connection.
pub(crate) const POOL_PRESSURE: &[&str] = &["pg.pool_waiting"];

/// The signals that show a setting's resource under pressure: temporary files
/// for `work_mem`-like settings, reads that missed the buffer cache for
/// `shared_buffers` and `effective_cache_size`.
pub(crate) fn pressure_of(setting: &str) -> &'static [&'static str] {
    match setting {
        "work_mem" | "hash_mem_multiplier" | "maintenance_work_mem" | "temp_buffers" => {
            &["pg.temp_bytes_per_sec"]
        }
        "shared_buffers" | "effective_cache_size" => &["pg.read_ratio"],
        _ => &[],
    }
}

impl SignalSource for PgSignals {
    fn name(&self) -> &str {
        SOURCE
    }

    fn sample(&self) -> BoxFuture<'_, Result<Vec<Signal>, SignalError>> {
        Box::pin(async move { self.sample_now().await.map_err(SignalError::from) })
    }
}

impl std::fmt::Debug for PgSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSignals").finish_non_exhaustive()
    }
}
