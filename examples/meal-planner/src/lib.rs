//! # meal-planner: a PostgreSQL CRUD service tuned by finch
//!
//! Households plan their meals: users belong to houses, houses keep recipes, a
//! weekly schedule of 28 slots and a pantry. The service is an axum 0.8 router
//! over tokio-postgres and deadpool-postgres; [`app`] builds it from an
//! [`AppState`], so tests drive it with `tower::ServiceExt::oneshot` and no socket.
//!
//! finch tunes it: the routes that matter carry `#[slo]` objectives, and the
//! knobs of [`tuning`] (a recipe cache, a concurrency limit, a pantry batch size,
//! and through finch-postgres the pool size and PostgreSQL's `work_mem`) have
//! real costs, and all but `work_mem` real effects at this scale (see the
//! README). [`loadgen`] drives it with open-loop load and interference; [`demo`]
//! runs the whole adaptation demo; [`lab`] makes it a subject of finch's
//! proving ground, on which [`evaluate`] and [`overhead`] run.

pub mod admin;
pub mod auth;
pub mod cache;
mod chart;
pub mod db;
pub mod demo;
pub mod error;
pub mod evaluate;
pub mod extract;
pub mod lab;
pub mod loadgen;
pub mod overhead;
pub mod routes;
pub mod signals;
pub mod tuning;

use std::sync::Arc;

use axum::Router;
use deadpool_postgres::{Object, Pool};
use finch::monitor::{Held, Occupancy};

pub use error::AppError;

use crate::auth::SessionCache;
use crate::cache::RecipeCache;
use crate::tuning::{Admission, Admitted};

/// What every handler shares: the pool, the recipe cache, admission control
/// and the validated sessions.
#[derive(Clone, Debug)]
pub struct AppState {
    pool: Pool,
    cache: Arc<RecipeCache>,
    admission: Admission,
    connections: Connections,
    sessions: Arc<SessionCache>,
}

/// The pool's connections held and awaited, integrated over time.
#[derive(Clone, Debug, Default)]
pub(crate) struct Connections {
    pub(crate) busy: Occupancy,
    pub(crate) queued: Occupancy,
}

/// A database connection held by an admitted request.
pub struct Db {
    client: Object,
    _held: Held,
    _admitted: Admitted,
}

impl std::ops::Deref for Db {
    type Target = Object;

    fn deref(&self) -> &Object {
        &self.client
    }
}

impl std::ops::DerefMut for Db {
    fn deref_mut(&mut self) -> &mut Object {
        &mut self.client
    }
}

impl AppState {
    /// State over `pool`, with an empty cache and admission following
    /// [`CONCURRENCY_LIMIT`](tuning::CONCURRENCY_LIMIT). Needs a tokio runtime.
    pub fn new(pool: Pool) -> Self {
        AppState {
            pool,
            cache: Arc::new(RecipeCache::default()),
            admission: Admission::following_knob(),
            connections: Connections::default(),
            sessions: Arc::new(SessionCache::default()),
        }
    }

    /// The connection pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The recipe cache.
    pub fn cache(&self) -> &RecipeCache {
        &self.cache
    }

    /// Sessions validated lately.
    pub fn sessions(&self) -> &SessionCache {
        &self.sessions
    }

    /// The service's pressure signals, for `finch::Config::signal`.
    pub fn signals(&self) -> signals::AppSignals {
        signals::AppSignals::new(
            Arc::clone(&self.cache),
            self.admission.clone(),
            self.connections.clone(),
        )
    }

    /// Waits for admission, then for a connection.
    pub async fn db(&self) -> Result<Db, AppError> {
        let admitted = self.admission.admit().await?;
        let queued = self.connections.queued.enter();
        let client = self.pool.get().await?;
        drop(queued);
        Ok(Db {
            client,
            _held: self.connections.busy.enter(),
            _admitted: admitted,
        })
    }

    /// Waits for admission only (for CPU-bound work such as password hashing).
    pub async fn admit(&self) -> Result<Admitted, AppError> {
        self.admission.admit().await
    }
}

/// The service's router: every route of the domain, and a JSON `404` for the rest.
/// finch's operator routes are not part of it: [`admin`] serves them on a
/// listener of their own.
pub fn app(state: AppState) -> Router {
    routes::router().with_state(state)
}
