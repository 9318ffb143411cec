//! [`PgTuner`]: PostgreSQL settings and the pool's size as finch knobs.
//!
//! `build` checks the declared settings against the server and registers
//! their knobs, `privileges` whether the role may change them, `apply` carries
//! a value to the sessions or `ALTER SYSTEM` and verifies it, `claim` decides
//! which instance owns a server-wide setting, `restore` puts back what finch
//! changed.

use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use finch_core::Knob;
use serde::Serialize;

use crate::error::PgError;
use crate::owner::{Owner, Ownership};
use crate::pool::Resized;
use crate::sessions::SessionSettings;
use crate::setting::{Info, Kind, Scope, Setting, SettingValue};

mod apply;
mod build;
mod claim;
mod privileges;
mod restore;

/// Tunes PostgreSQL settings and the size of the application's pool as finch
/// knobs.
///
/// [`PgTuner::builder`] declares what finch may change; [`PgTunerBuilder::build`]
/// checks every setting against `pg_settings` (existence, type, unit, the
/// server's own bounds, context, privileges), registers one knob per setting
/// (named `pg.<setting>` by default, in the setting's base unit) and installs
/// the appliers the loop runs:
///
/// | context | how finch applies it |
/// |---|---|
/// | `user`, `superuser` | `set_config(name, value, false)` on every connection of the pool (see [`SessionSettings`]); with [`Setting::system`], as `sighup` |
/// | `sighup` | `ALTER SYSTEM SET` + `pg_reload_conf()`, outside a transaction |
/// | `postmaster` and others | refused: [`PgError::RequiresRestart`] |
///
/// A server-wide (`ALTER SYSTEM`) setting has one owner among the finch
/// instances on the database: the one holding a session-level advisory lock,
/// keyed by the setting's name, on a connection of its own. Only the owner
/// changes the setting and restores it; it records the setting's original
/// `ALTER SYSTEM` entry in `<schema>.system_originals` (see
/// [`PgTunerBuilder::schema`]) before its first change, so an owner restarted
/// after a crash restores the real original. Every other instance holds the
/// knob ([`Knob::hold`]): its loop never changes it and records the value the
/// owner set as context, and [`SettingStatus::ownership`] says who owns it.
/// They claim it again every [`PgTunerBuilder::ownership_interval`], so one of
/// them takes over when the owner stops.
///
/// After each change finch reads `pg_settings` on one of the pool's sessions
/// until the new value is in force; when a higher-precedence source (a per-role
/// or per-database setting, the command line) overrides it, the applier fails
/// with [`PgError::Masked`], which the loop records and rolls back.
/// [`shutdown`](PgTuner::shutdown) restores what finch changed.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use deadpool_postgres::{Manager, Pool};
/// use finch_postgres::{PgTuner, SessionSettings, Setting};
///
/// let pg: tokio_postgres::Config = "postgres://app@127.0.0.1/app".parse()?;
/// let sessions = SessionSettings::new();
/// let pool = sessions
///     .attach(Pool::builder(Manager::new(pg, tokio_postgres::NoTls)).max_size(8))
///     .build()?;
///
/// let tuner = PgTuner::builder(pool.clone())
///     .sessions(sessions)
///     .setting("work_mem", "1MB"..="256MB")
///     .tune(Setting::new("random_page_cost", 1.0..=4.0))
///     .tune(Setting::new("checkpoint_timeout", "30s"..="1h"))
///     .pool_size(2..=32)
///     .build()
///     .await?;
///
/// let finch = finch_core::start(finch_core::Config::default())?;
/// // ... serve ...
/// finch.shutdown().await;
/// tuner.shutdown().await?; // restores work_mem, random_page_cost, checkpoint_timeout, pool size
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PgTuner {
    inner: Arc<Inner>,
}

/// Declares what a [`PgTuner`] may change. See [`PgTuner::builder`].
#[must_use]
pub struct PgTunerBuilder {
    pool: Pool,
    sessions: Option<SessionSettings>,
    settings: Vec<Setting>,
    pool_size: Option<(RangeInclusive<u32>, f64)>,
    prewarm: bool,
    prefix: String,
    restore: bool,
    verify_timeout: Duration,
    schema: String,
    ownership_interval: Duration,
}

/// What applying a setting did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Applied {
    /// The setting.
    pub setting: String,
    /// The value now in force, with its unit.
    pub value: String,
    /// `pg_settings.source` on the application's session (`session` for pool
    /// settings, `configuration file` for ALTER SYSTEM).
    pub source: String,
    /// Idle connections updated at once (pool settings).
    pub connections: usize,
    /// Time from the first statement to the verified value.
    pub elapsed: Duration,
}

/// One managed setting, for status reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SettingStatus {
    /// The setting.
    pub name: String,
    /// The knob that drives it.
    pub knob: String,
    /// `pg_settings.context`.
    pub context: String,
    /// Where finch applies it.
    pub scope: Scope,
    /// Its type.
    pub kind: Kind,
    /// `pg_settings.unit` (the base unit of values and bounds).
    pub unit: Option<String>,
    /// The lower bound, in the base unit.
    pub min: f64,
    /// The upper bound, in the base unit.
    pub max: f64,
    /// What finch last applied (base unit), if anything.
    pub applied: Option<f64>,
    /// The value last verified in force, with its unit.
    pub in_force: Option<String>,
    /// The source masking finch's value (`user`, `database`, `command line`...), if any.
    pub masked_by: Option<String>,
    /// The last error applying it.
    pub last_error: Option<String>,
    /// Whether finch changed it (and restores it on shutdown).
    pub changed: bool,
    /// Who owns it among the instances (server-wide settings have one owner).
    pub ownership: Ownership,
}

enum TypedKnob {
    Integer(Arc<Knob<i64>>),
    Real(Arc<Knob<f64>>),
    Bool(Arc<Knob<bool>>),
}

impl TypedKnob {
    fn name(&self) -> &str {
        match self {
            TypedKnob::Integer(k) => k.name(),
            TypedKnob::Real(k) => k.name(),
            TypedKnob::Bool(k) => k.name(),
        }
    }

    fn set(&self, x: f64) -> Result<(), PgError> {
        match self {
            TypedKnob::Integer(k) => k.set(x.round() as i64),
            TypedKnob::Real(k) => k.set(x),
            TypedKnob::Bool(k) => k.set(x != 0.0),
        }?;
        Ok(())
    }

    fn hold(&self, by: Option<String>) {
        match self {
            TypedKnob::Integer(k) => k.hold(by),
            TypedKnob::Real(k) => k.hold(by),
            TypedKnob::Bool(k) => k.hold(by),
        }
    }
}

struct Managed {
    info: Info,
    kind: Kind,
    scope: Scope,
    min: f64,
    max: f64,
    knob: TypedKnob,
    state: Mutex<State>,
}

struct State {
    applied: Option<f64>,
    in_force: Option<String>,
    masked_by: Option<String>,
    last_error: Option<String>,
    changed: bool,
    ownership: Ownership,
}

struct PoolKnob {
    knob: Arc<Knob<u32>>,
    original: usize,
    changed: Mutex<bool>,
}

struct Inner {
    pool: Pool,
    sessions: Option<SessionSettings>,
    settings: Vec<Managed>,
    pool_knob: Option<PoolKnob>,
    prewarm: bool,
    restore: bool,
    verify_timeout: Duration,
    /// Serializes setting changes (not resizes: those need no connection).
    apply: tokio::sync::Mutex<()>,
    /// Serializes resizes.
    resize: tokio::sync::Mutex<()>,
    /// Ownership of the server-wide settings and its connection.
    owner: tokio::sync::Mutex<Owner>,
    /// Set by shutdown: no more claims.
    closed: AtomicBool,
}

impl PgTuner {
    /// Starts declaring what finch may tune on the application's `pool`.
    pub fn builder(pool: Pool) -> PgTunerBuilder {
        PgTunerBuilder {
            pool,
            sessions: None,
            settings: Vec::new(),
            pool_size: None,
            prewarm: true,
            prefix: "pg.".to_string(),
            restore: true,
            verify_timeout: Duration::from_secs(2),
            schema: "finch".to_string(),
            ownership_interval: Duration::from_secs(10),
        }
    }

    /// Names of the knobs this tuner registered (for `Config::knobs`).
    pub fn knobs(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .settings
            .iter()
            .map(|m| m.knob.name().to_string())
            .collect();
        if let Some(p) = &self.inner.pool_knob {
            names.push(p.knob.name().to_string());
        }
        names
    }

    /// The pool-size knob, if one was declared.
    pub fn pool_knob(&self) -> Option<Arc<Knob<u32>>> {
        self.inner.pool_knob.as_ref().map(|p| Arc::clone(&p.knob))
    }

    /// Sets a managed setting (by setting or knob name) to `value` and applies
    /// it at once, as the loop's applier would; the knob shows the new value.
    ///
    /// ```no_run
    /// # async fn f(tuner: finch_postgres::PgTuner) -> Result<(), finch_postgres::PgError> {
    /// let applied = tuner.set("work_mem", "64MB").await?;
    /// assert_eq!(applied.value, "65536kB");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn set(
        &self,
        name: &str,
        value: impl Into<SettingValue>,
    ) -> Result<Applied, PgError> {
        let index = self.inner.index(name)?;
        let managed = &self.inner.settings[index];
        let x = managed.info.parse(&value.into())?;
        managed.knob.set(x)?;
        self.inner.apply(index, x).await
    }

    /// Resizes the pool through its knob, pre-warming new connections.
    pub async fn resize_pool(&self, size: u32) -> Result<Resized, PgError> {
        let p = self
            .inner
            .pool_knob
            .as_ref()
            .ok_or_else(|| PgError::NotManaged {
                name: "pool size".into(),
            })?;
        p.knob.set(size)?;
        self.inner.resize(size).await
    }

    /// The managed settings: bounds, what finch applied, what is in force, masking.
    pub fn status(&self) -> Vec<SettingStatus> {
        self.inner
            .settings
            .iter()
            .map(|m| {
                let s = m.lock();
                SettingStatus {
                    name: m.info.name.clone(),
                    knob: m.knob.name().to_string(),
                    context: m.info.context.clone(),
                    scope: m.scope,
                    kind: m.kind,
                    unit: m.info.unit.clone(),
                    min: m.min,
                    max: m.max,
                    applied: s.applied,
                    in_force: s.in_force.clone(),
                    masked_by: s.masked_by.clone(),
                    last_error: s.last_error.clone(),
                    changed: s.changed,
                    ownership: s.ownership.clone(),
                }
            })
            .collect()
    }

    /// Settings of the server waiting for a restart (`pg_settings.pending_restart`),
    /// e.g. a `postmaster` setting changed in postgresql.conf: advice for the operator.
    pub async fn pending_restart(&self) -> Result<Vec<String>, PgError> {
        let client = self.inner.pool.get().await?;
        let rows = client
            .query(
                "SELECT name FROM pg_settings WHERE pending_restart ORDER BY name",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(PgError::from))
            .collect()
    }

    /// Claims every server-wide setting that no instance owns now (as the
    /// tuner does every [`PgTunerBuilder::ownership_interval`]): an owned one is
    /// handed to the loop, one owned elsewhere is held, its knob showing the
    /// value in force. Returns the first error; the others are in
    /// [`status`](Self::status).
    pub async fn claim_ownership(&self) -> Result<(), PgError> {
        self.inner.claim_all().await
    }

    /// Restores everything finch changed: pool settings back to the session
    /// defaults, the server-wide settings this instance owns back to their
    /// recorded original (reset, or the earlier ALTER SYSTEM value) with one
    /// reload, giving up their ownership, and the pool's size. Server-wide
    /// settings another instance owns are left to it. Tries every setting and
    /// returns the first error.
    pub async fn restore(&self) -> Result<(), PgError> {
        self.inner.restore().await
    }

    /// Stops claiming server-wide settings and restores what finch changed
    /// (unless [`PgTunerBuilder::restore_on_shutdown`] was turned off; the
    /// ownership is given up all the same). Call it after `Handle::shutdown`.
    pub async fn shutdown(self) -> Result<(), PgError> {
        self.inner.closed.store(true, Ordering::Release);
        if self.inner.restore {
            self.inner.restore().await
        } else {
            self.inner.owner.lock().await.release_all();
            Ok(())
        }
    }
}

impl std::fmt::Debug for PgTuner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTuner")
            .field("knobs", &self.knobs())
            .finish_non_exhaustive()
    }
}

impl Managed {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
