//! Session settings kept on every connection of a deadpool pool.
//!
//! The mechanism: deadpool runs a `post_create` hook on every new connection
//! and a `post_recycle` hook every time an idle connection is checked out.
//! Both hooks compare the connection's *generation* (the version of the
//! settings it last received) with the current one and, only when they
//! differ, send every managed setting in one round trip:
//! `SELECT set_config(name, value, false) FROM unnest($1, $2)` (a `NULL` value
//! restores the session's default, `pg_settings.reset_val`). A checkout
//! therefore always sees the values in force at checkout time; a connection
//! checked out before a change keeps the old values until it is returned and
//! checked out again. When finch changes a value it also checks out every idle
//! connection at once, so they are updated before the application takes them.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use deadpool_postgres::{ClientWrapper, Hook, HookError, Metrics, PoolBuilder};

/// Connections remembered; beyond this the memory is cleared and every
/// connection is synchronized once more (harmless, one extra round trip each).
const MAX_TRACKED: usize = 4096;

const SYNC_SQL: &str = "SELECT set_config(t.n, COALESCE(t.v, \
     (SELECT s.reset_val FROM pg_settings s WHERE s.name = t.n)), false) \
     FROM unnest($1::text[], $2::text[]) AS t(n, v)";

/// Session settings finch keeps on every connection of the application's pool.
///
/// Attach it to the pool's builder, then hand it to
/// [`PgTunerBuilder::sessions`](crate::PgTunerBuilder::sessions):
///
/// ```no_run
/// use deadpool_postgres::{Manager, Pool};
/// use finch_postgres::SessionSettings;
///
/// let pg: tokio_postgres::Config = "postgres://app@127.0.0.1/app".parse()?;
/// let sessions = SessionSettings::new();
/// let pool = sessions
///     .attach(Pool::builder(Manager::new(pg, tokio_postgres::NoTls)).max_size(16))
///     .build()?;
/// # let _ = pool;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// With `RecyclingMethod::Clean` (which runs `RESET ALL` on every checkout)
/// or a custom recycling query that resets settings, use
/// [`sync_every_checkout`](Self::sync_every_checkout).
#[derive(Clone, Default)]
pub struct SessionSettings {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Bumped whenever `values` changes.
    generation: AtomicU64,
    state: Mutex<State>,
    every_checkout: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct State {
    /// Setting name to the value finch wants (`None`: the session default).
    values: BTreeMap<String, Option<String>>,
    /// Connection (by creation instant) to the generation it last received.
    synced: HashMap<Instant, u64>,
    /// Creation instants shared by two connections: always synchronized.
    ambiguous: std::collections::HashSet<Instant>,
}

impl SessionSettings {
    /// Empty: connections keep their defaults until finch changes a setting.
    pub fn new() -> Self {
        SessionSettings::default()
    }

    /// Synchronizes settings on every checkout (one round trip each), for pools
    /// whose recycling resets session settings.
    pub fn sync_every_checkout(self, every: bool) -> Self {
        self.inner.every_checkout.store(every, Ordering::Relaxed);
        self
    }

    /// Adds the `post_create` and `post_recycle` hooks to a pool builder.
    pub fn attach(&self, builder: PoolBuilder) -> PoolBuilder {
        let create = self.clone();
        let recycle = self.clone();
        builder
            .post_create(Hook::async_fn(move |client, metrics| {
                let s = create.clone();
                Box::pin(async move { s.sync(client, metrics, true).await })
            }))
            .post_recycle(Hook::async_fn(move |client, metrics| {
                let s = recycle.clone();
                Box::pin(async move { s.sync(client, metrics, false).await })
            }))
    }

    /// The values finch currently wants, by setting (`None`: the session default).
    pub fn values(&self) -> BTreeMap<String, Option<String>> {
        self.lock().values.clone()
    }

    /// The current generation (bumped on every change).
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    pub(crate) fn set(&self, name: &str, value: Option<String>) {
        let mut state = self.lock();
        state.values.insert(name.to_string(), value);
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Sends every managed setting to `client`, a connection outside the pool
    /// (to check a value while every pooled connection is busy).
    pub(crate) async fn apply_to(
        &self,
        client: &tokio_postgres::Client,
    ) -> Result<(), tokio_postgres::Error> {
        let (names, values): (Vec<String>, Vec<Option<String>>) = self.values().into_iter().unzip();
        if !names.is_empty() {
            client.query(SYNC_SQL, &[&names, &values]).await?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn sync(
        &self,
        client: &mut ClientWrapper,
        metrics: &Metrics,
        created: bool,
    ) -> Result<(), HookError> {
        let key = metrics.created;
        let every = self.inner.every_checkout.load(Ordering::Relaxed);
        let (generation, names, values) = {
            let mut state = self.lock();
            let generation = self.inner.generation.load(Ordering::Acquire);
            if created && state.synced.contains_key(&key) {
                state.ambiguous.insert(key);
            }
            let current = state.synced.get(&key) == Some(&generation)
                && !state.ambiguous.contains(&key)
                && !every;
            if state.values.is_empty() || (current && !created) {
                state.synced.insert(key, generation);
                return Ok(());
            }
            let (names, values): (Vec<String>, Vec<Option<String>>) = state
                .values
                .iter()
                .filter(|(_, v)| !created || v.is_some())
                .map(|(n, v)| (n.clone(), v.clone()))
                .unzip();
            (generation, names, values)
        };
        if !names.is_empty() {
            let stmt = client
                .prepare_cached(SYNC_SQL)
                .await
                .map_err(HookError::Backend)?;
            client
                .query(&stmt, &[&names, &values])
                .await
                .map_err(HookError::Backend)?;
        }
        let mut state = self.lock();
        if state.synced.len() >= MAX_TRACKED {
            state.synced.clear();
            state.ambiguous.clear();
        }
        state.synced.insert(key, generation);
        Ok(())
    }
}

impl std::fmt::Debug for SessionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionSettings")
            .field("generation", &self.generation())
            .field("values", &self.values())
            .finish()
    }
}
