//! The service's knobs, and the machinery that makes each one take effect.
//!
//! | knob | effect | cost |
//! |---|---|---|
//! | [`RECIPE_CACHE_CAPACITY`] | recipe reads served from memory skip three queries | memory: every entry is a whole recipe |
//! | [`CONCURRENCY_LIMIT`] | requests allowed to work on the database or hash passwords at once; the rest queue | each admitted request holds memory, a connection and CPU; a high limit lets overload through to PostgreSQL |
//! | [`PANTRY_BATCH`] | pantry items written per statement: fewer round trips, each statement larger | none besides statement size (a free knob) |
//! | [`POOL_SIZE_KNOB`] ([`database_knobs`]) | connections that serve queries at once | each connection is a PostgreSQL backend process (memory, `max_connections`) |
//! | [`WORK_MEM_KNOB`] ([`database_knobs`]) | memory a sort or hash of a query may use before it spills to temporary files | memory: up to that much per sort or hash node, per connection |

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use finch::error::Chain;
use finch::monitor::{Held, Occupancy};
use finch::postgres::{PgTuner, SessionSettings, Setting};
use finch::{Capacity, Knob, knob};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::AppError;

/// Recipes kept in the in-process read cache.
#[knob(
    default = 64,
    min = 16,
    max = 4096,
    log,
    cost = 1.0,
    pressure = "app.cache_miss_ratio",
    name = "meal_planner.recipe_cache_capacity"
)]
pub static RECIPE_CACHE_CAPACITY: Knob<u32>;

/// Requests that may use the database (or hash a password) at once.
#[knob(
    default = 8,
    min = 1,
    max = 64,
    cost = 0.5,
    pressure = "app.admission_queued",
    name = "meal_planner.concurrency_limit"
)]
pub static CONCURRENCY_LIMIT: Knob<u32>;

/// Pantry items written per statement by `PUT /storages/{house}`.
#[knob(
    default = 8,
    min = 1,
    max = 64,
    log,
    name = "meal_planner.pantry_batch"
)]
pub static PANTRY_BATCH: Knob<u32>;

/// How long a request waits for admission before it is refused with `503`.
pub const ADMISSION_TIMEOUT: Duration = Duration::from_secs(2);

/// Prefix of the knobs [`database_knobs`] registers through finch-postgres.
const DATABASE_KNOB_PREFIX: &str = "meal_planner.pg.";

/// Name of the pool-size knob [`database_knobs`] registers.
pub const POOL_SIZE_KNOB: &str = "meal_planner.pg.pool_size";

/// Name of the `work_mem` knob [`database_knobs`] registers (in kB, the
/// setting's base unit).
pub const WORK_MEM_KNOB: &str = "meal_planner.pg.work_mem";

/// Default size of the connection pool.
pub const DEFAULT_POOL_SIZE: u32 = 4;

/// Admission control: a semaphore whose permits follow [`CONCURRENCY_LIMIT`],
/// with the requests admitted and queued integrated over time (the
/// capacity's busy and waiting signals).
#[derive(Clone, Debug)]
pub struct Admission {
    permits: Arc<Semaphore>,
    busy: Occupancy,
    queued: Occupancy,
}

/// An admitted request's permit; dropping it admits the next.
#[derive(Debug)]
pub struct Admitted {
    _held: Held,
    _permit: OwnedSemaphorePermit,
}

impl Admission {
    /// A semaphore sized to the knob's current value, and a task that resizes
    /// it whenever the knob changes (it ends with the runtime).
    pub fn following_knob() -> Self {
        let current = CONCURRENCY_LIMIT.get();
        let permits = Arc::new(Semaphore::new(current as usize));
        tokio::spawn(follow(Arc::downgrade(&permits), current));
        Admission {
            permits,
            busy: Occupancy::new(),
            queued: Occupancy::new(),
        }
    }

    /// Requests admitted (holding a permit).
    pub fn busy(&self) -> &Occupancy {
        &self.busy
    }

    /// Requests waiting for a permit.
    pub fn queued(&self) -> &Occupancy {
        &self.queued
    }

    /// Waits for a permit, up to [`ADMISSION_TIMEOUT`].
    pub async fn admit(&self) -> Result<Admitted, AppError> {
        let queued = self.queued.enter();
        let admitted =
            tokio::time::timeout(ADMISSION_TIMEOUT, Arc::clone(&self.permits).acquire_owned())
                .await;
        drop(queued);
        match admitted {
            Ok(Ok(permit)) => Ok(Admitted {
                _held: self.busy.enter(),
                _permit: permit,
            }),
            Ok(Err(_)) | Err(_) => Err(AppError::Busy),
        }
    }
}

/// The pool and the concurrency limit as capacities, sized by finch from
/// queueing on the signals of [`AppSignals`](crate::signals::AppSignals): each
/// from the connections (requests) busy and waiting on average over a window,
/// the limit kept at least twice the pool so admitted requests can keep every
/// connection busy while others run their non-database work.
pub fn capacities() -> [Capacity; 2] {
    [
        Capacity::new(POOL_SIZE_KNOB, "app.pool_busy")
            .waiting("app.pool_queued")
            .served("app.pool_served"),
        Capacity::new(CONCURRENCY_LIMIT.name(), "app.admission_busy")
            .waiting("app.admission_queued")
            .served("app.admission_served")
            .at_least(POOL_SIZE_KNOB, 2.0),
    ]
}

/// Adds or withdraws permits as the knob moves; withdrawn permits are taken as
/// running requests release them.
async fn follow(permits: std::sync::Weak<Semaphore>, mut current: u32) {
    let mut rx = CONCURRENCY_LIMIT.watch();
    while rx.changed().await.is_ok() {
        let want = *rx.borrow_and_update();
        let Some(sem) = permits.upgrade() else {
            return;
        };
        if want > current {
            sem.add_permits((want - current) as usize);
        } else if want < current {
            match sem.acquire_many(current - want).await {
                Ok(p) => p.forget(),
                Err(_) => return,
            }
        }
        current = want;
    }
}

/// Knobs that act on the database, registered at run time because they need
/// the pool. Keep this value alive while finch's loop runs (the knobs' appliers
/// hold only a weak reference to the tuner), then call [`shutdown`](Self::shutdown)
/// after the loop's, so PostgreSQL's settings and the pool's size are restored.
#[derive(Debug)]
pub struct DatabaseKnobs {
    tuner: PgTuner,
}

impl DatabaseKnobs {
    /// Whether `knob` is one of these knobs.
    pub fn owns(&self, knob: &str) -> bool {
        self.tuner.knobs().iter().any(|k| k == knob)
    }

    /// Sets one of these knobs (`value` as text: `8`, `4MB`, `4096`) and
    /// applies it at once, as the loop's applier would: the pool is resized
    /// (new connections opened) or the setting is set on every pooled
    /// connection and verified. Use it before `finch::start` to run from a
    /// given configuration.
    pub async fn set(&self, knob: &str, value: &str) -> Result<(), AppError> {
        let fail = |e: &dyn std::fmt::Display| {
            AppError::Internal(format!("cannot set {knob} to {value}: {e}"))
        };
        if knob == POOL_SIZE_KNOB {
            let size: u32 = value.trim().parse().map_err(|e| fail(&e))?;
            self.tuner.resize_pool(size).await.map_err(|e| fail(&e))?;
        } else {
            self.tuner.set(knob, value).await.map_err(|e| fail(&e))?;
        }
        Ok(())
    }

    /// Restores what finch changed: `work_mem` back to the session default on
    /// every pooled connection, and the pool's original size.
    pub async fn shutdown(self) -> Result<(), AppError> {
        self.tuner.shutdown().await.map_err(|e| {
            AppError::Internal(format!(
                "cannot restore the PostgreSQL settings: {}",
                Chain(&e)
            ))
        })
    }
}

/// Registers the knobs that drive the database side of the service through
/// finch-postgres, for `pool` (built with `sessions` attached, see
/// [`db::pool`](crate::db::pool)):
///
/// - [`POOL_SIZE_KNOB`], 2 to 32 connections (cost 1): resizes the pool live
///   and opens the new connections before the change counts as applied, so the
///   first requests after growing do not pay for the connection set-up;
/// - [`WORK_MEM_KNOB`], `work_mem` from 1MB to 256MB (cost 1, searched on a
///   log scale): set on every pooled connection with `set_config`, verified
///   with what a pooled session reports.
///
/// `build` checks the setting against `pg_settings` and the role's privileges
/// (`work_mem` needs none). Call it once per process, after the pool is built.
pub async fn database_knobs(
    pool: &Pool,
    sessions: &SessionSettings,
) -> Result<DatabaseKnobs, AppError> {
    let tuner = PgTuner::builder(pool.clone())
        .sessions(sessions.clone())
        .prefix(DATABASE_KNOB_PREFIX)
        .tune(Setting::new("work_mem", "1MB"..="256MB").cost(1.0))
        .pool_size(2..=32)
        .pool_cost(1.0)
        .build()
        .await
        .map_err(|e| AppError::Internal(format!("cannot tune PostgreSQL: {}", Chain(&e))))?;
    Ok(DatabaseKnobs { tuner })
}
