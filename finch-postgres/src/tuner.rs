//! [`PgTuner`]: PostgreSQL settings and the pool's size as finch knobs.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use deadpool::managed::Manager as _;
use deadpool_postgres::Pool;
use finch_core::{ApplyError, Knob, KnobBuilder, KnobValue};
use serde::Serialize;

use crate::error::PgError;
use crate::owner::{Claim, Owner, Ownership};
use crate::pool::{self, Resized};
use crate::sessions::SessionSettings;
use crate::setting::{self, INFO_SQL, Info, Kind, Scope, Setting, SettingValue};

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

impl PgTunerBuilder {
    /// Lets finch tune setting `name` within `range` (see [`Setting::new`]).
    pub fn setting<V: Into<SettingValue>>(
        self,
        name: impl Into<String>,
        range: RangeInclusive<V>,
    ) -> Self {
        self.tune(Setting::new(name, range))
    }

    /// Lets finch tune a setting declared with [`Setting`] (cost, scale, scope).
    pub fn tune(mut self, setting: Setting) -> Self {
        self.settings.push(setting);
        self
    }

    /// The session hooks attached to the pool (needed for `user` and
    /// `superuser` settings applied on the pool).
    pub fn sessions(mut self, sessions: SessionSettings) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Lets finch size the pool within `range` (knob `pg.pool_size`, cost 1).
    pub fn pool_size(mut self, range: RangeInclusive<u32>) -> Self {
        let cost = self.pool_size.as_ref().map_or(1.0, |(_, c)| *c);
        self.pool_size = Some((range, cost));
        self
    }

    /// The cost weight of the pool-size knob (default 1).
    pub fn pool_cost(mut self, cost: f64) -> Self {
        if let Some((_, c)) = &mut self.pool_size {
            *c = cost;
        }
        self
    }

    /// Whether growing the pool opens the new connections at once (default true).
    pub fn prewarm(mut self, prewarm: bool) -> Self {
        self.prewarm = prewarm;
        self
    }

    /// Prefix of knob names (default `pg.`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Whether [`PgTuner::shutdown`] restores what finch changed (default true).
    pub fn restore_on_shutdown(mut self, restore: bool) -> Self {
        self.restore = restore;
        self
    }

    /// How long to wait for a reloaded setting to be in force (default 2 s).
    pub fn verify_timeout(mut self, timeout: Duration) -> Self {
        self.verify_timeout = timeout;
        self
    }

    /// The schema of the table that records the original values of
    /// server-wide settings (default `finch`, the store's; lowercase letters,
    /// digits, `_`). Instances that share ownership must name the same one.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// How often an instance that does not own a server-wide setting tries to
    /// claim it (default 10 s), to take over when the owner stops.
    pub fn ownership_interval(mut self, every: Duration) -> Self {
        self.ownership_interval = every;
        self
    }

    /// Checks every setting against the server, registers the knobs and
    /// installs their appliers. Settings outside their declared bounds are
    /// brought within them at once.
    pub async fn build(self) -> Result<PgTuner, PgError> {
        let client = self.pool.get().await?;
        let mut seen = BTreeSet::new();
        let mut checked = Vec::new();
        for decl in &self.settings {
            let row = client.query_opt(INFO_SQL, &[&decl.name]).await?;
            let info = match row {
                Some(row) => Info::from_row(&row)?,
                None => {
                    return Err(PgError::UnknownSetting {
                        name: decl.name.clone(),
                    });
                }
            };
            if !seen.insert(info.name.clone()) {
                return Err(PgError::Duplicate { name: info.name });
            }
            let kind = info.kind()?;
            let scope = match info.context.as_str() {
                "user" | "superuser" if !decl.system => Scope::Pool,
                "user" | "superuser" | "sighup" => Scope::System,
                _ => {
                    return Err(PgError::RequiresRestart {
                        name: info.name.clone(),
                        context: info.context.clone(),
                        pending_restart: info.pending_restart,
                    });
                }
            };
            if scope == Scope::Pool && self.sessions.is_none() {
                return Err(PgError::NoSessionHooks { name: info.name });
            }
            let (min, max) = bounds(&info, decl)?;
            check_privileges(&client, &info, scope).await?;
            let current = match scope {
                Scope::Pool => &info.reset_val,
                Scope::System => &info.setting,
            };
            let current = info.read_reported(current).unwrap_or(min);
            checked.push((decl, info, kind, scope, min, max, current));
        }
        drop(client);

        let mut settings = Vec::new();
        let mut out_of_bounds = Vec::new();
        for (decl, info, kind, scope, min, max, current) in checked {
            let default = current.clamp(min, max);
            if !setting::same(default, current) {
                out_of_bounds.push((settings.len(), default));
            }
            let name = decl
                .knob
                .clone()
                .unwrap_or_else(|| format!("{}{}", self.prefix, info.name));
            let memory = info.is_memory();
            let cost = decl.cost.unwrap_or(if memory { 1.0 } else { 0.0 });
            let log = decl.log.unwrap_or(memory && min > 0.0);
            let doc = format!(
                "PostgreSQL setting `{}` (context {}, unit {}), applied {}",
                info.name,
                info.context,
                info.unit.as_deref().unwrap_or("none"),
                match scope {
                    Scope::Pool => "on the pool's sessions",
                    Scope::System => "with ALTER SYSTEM and a reload",
                }
            );
            let pressure = crate::signals::pressure_of(&info.name);
            let knob = match kind {
                Kind::Integer => TypedKnob::Integer(register(
                    KnobBuilder::new(name, default.round() as i64)
                        .bounds(min.round() as i64, max.round() as i64),
                    cost,
                    log,
                    doc,
                    pressure,
                )?),
                Kind::Real => TypedKnob::Real(register(
                    KnobBuilder::new(name, default).bounds(min, max),
                    cost,
                    log,
                    doc,
                    pressure,
                )?),
                Kind::Bool => TypedKnob::Bool(register(
                    KnobBuilder::new(name, default != 0.0),
                    cost,
                    false,
                    doc,
                    pressure,
                )?),
            };
            let masked_by =
                (scope == Scope::System && masking(&info.source)).then(|| info.source.clone());
            if let Some(source) = &masked_by {
                tracing::warn!(
                    setting = %info.name,
                    source = %source,
                    "finch-postgres: a higher-precedence setting masks what ALTER SYSTEM would set"
                );
            }
            settings.push(Managed {
                info,
                kind,
                scope,
                min,
                max,
                knob,
                state: Mutex::new(State {
                    applied: None,
                    in_force: None,
                    masked_by,
                    last_error: None,
                    changed: false,
                    ownership: match scope {
                        Scope::Pool => Ownership::Session,
                        Scope::System => Ownership::Unclaimed,
                    },
                }),
            });
        }

        let pool_knob = match self.pool_size {
            Some((range, cost)) => {
                let (lo, hi) = range.into_inner();
                let original = self.pool.status().max_size;
                let default = u32::try_from(original).unwrap_or(u32::MAX).clamp(lo, hi);
                let knob = KnobBuilder::new(format!("{}pool_size", self.prefix), default)
                    .bounds(lo, hi)
                    .cost(cost)
                    .doc("Connections in the application's PostgreSQL pool (deadpool resize, pre-warmed)")
                    .pressure(crate::signals::POOL_PRESSURE.iter().copied())
                    .register()?;
                Some(PoolKnob {
                    knob,
                    original,
                    changed: Mutex::new(false),
                })
            }
            None => None,
        };

        let owner = Owner::new(self.pool.clone(), &self.schema)?;
        let inner = Arc::new(Inner {
            pool: self.pool,
            sessions: self.sessions,
            settings,
            pool_knob,
            prewarm: self.prewarm,
            restore: self.restore,
            verify_timeout: self.verify_timeout,
            apply: tokio::sync::Mutex::new(()),
            resize: tokio::sync::Mutex::new(()),
            owner: tokio::sync::Mutex::new(owner),
            closed: AtomicBool::new(false),
        });
        for (index, m) in inner.settings.iter().enumerate() {
            let weak = Arc::downgrade(&inner);
            match &m.knob {
                TypedKnob::Integer(k) => install(k, weak, index),
                TypedKnob::Real(k) => install(k, weak, index),
                TypedKnob::Bool(k) => install(k, weak, index),
            }
        }
        if let Some(p) = &inner.pool_knob {
            let weak = Arc::downgrade(&inner);
            p.knob.set_applier(move |size: u32| {
                let weak = weak.clone();
                async move {
                    let inner = weak.upgrade().ok_or_else(gone)?;
                    inner.resize(size).await.map(|_| ()).map_err(Into::into)
                }
            });
            if usize::try_from(p.knob.get()).ok() != Some(p.original) {
                inner.resize(p.knob.get()).await?;
            }
        }
        if inner.settings.iter().any(|m| m.scope == Scope::System) {
            inner.claim_all().await?;
            reclaim(Arc::downgrade(&inner), self.ownership_interval);
        }
        for (index, value) in out_of_bounds {
            if !matches!(
                inner.settings[index].lock().ownership,
                Ownership::Elsewhere { .. }
            ) {
                inner.apply(index, value).await?;
            }
        }
        Ok(PgTuner { inner })
    }
}

fn register<T: KnobValue>(
    builder: KnobBuilder<T>,
    cost: f64,
    log: bool,
    doc: String,
    pressure: &[&str],
) -> Result<Arc<Knob<T>>, PgError> {
    let builder = builder
        .cost(cost)
        .doc(doc)
        .pressure(pressure.iter().copied());
    let builder = if log { builder.log() } else { builder };
    Ok(builder.register()?)
}

/// Claims the server-wide settings nobody owns every `every`, while the tuner lives.
fn reclaim(weak: Weak<Inner>, every: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(inner) = weak.upgrade() else { break };
            if inner.closed.load(Ordering::Acquire) {
                break;
            }
            if let Err(e) = inner.claim_all().await {
                tracing::debug!(error = %finch_core::error::Chain(&e), "finch-postgres: claiming server-wide settings failed");
            }
        }
    });
}

fn gone() -> ApplyError {
    ApplyError::new("the PgTuner was dropped; keep it alive while the finch loop runs")
}

fn install<T: KnobValue>(knob: &Knob<T>, weak: Weak<Inner>, index: usize) {
    knob.set_applier(move |value: T| {
        let weak = weak.clone();
        async move {
            let inner = weak.upgrade().ok_or_else(gone)?;
            inner
                .apply(index, value.to_f64())
                .await
                .map(|_| ())
                .map_err(Into::into)
        }
    });
}

/// The declared bounds in base units, checked against the server's.
fn bounds(info: &Info, decl: &Setting) -> Result<(f64, f64), PgError> {
    let min = info.parse(&decl.min)?;
    let max = info.parse(&decl.max)?;
    let fail = |reason: String| PgError::InvalidBounds {
        name: info.name.clone(),
        min: info.display(min),
        max: info.display(max),
        reason,
    };
    if min > max {
        return Err(fail("the lower bound exceeds the upper one".into()));
    }
    if let (Some(smin), Some(smax)) = (info.min, info.max)
        && (min < smin || max > smax)
    {
        return Err(fail(format!(
            "the server allows {}..={}",
            info.display(smin),
            info.display(smax)
        )));
    }
    Ok((min, max))
}

/// Whether a `pg_settings.source` overrides ALTER SYSTEM for sessions.
fn masking(source: &str) -> bool {
    !matches!(source, "default" | "configuration file")
}

fn is_permission_denied(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
}

async fn check_privileges(
    client: &tokio_postgres::Client,
    info: &Info,
    scope: Scope,
) -> Result<(), PgError> {
    match scope {
        Scope::Pool => {
            // set_config(..., true) is local to the statement's transaction: a
            // trial that changes nothing but fails without the privilege.
            let trial = client
                .query_one(
                    "SELECT set_config($1, (SELECT reset_val FROM pg_settings WHERE name = $1), true)",
                    &[&info.name],
                )
                .await;
            match trial {
                Ok(_) => Ok(()),
                Err(e) if is_permission_denied(&e) => Err(PgError::NotPermitted {
                    action: format!("set `{}` in its sessions", info.name),
                    grant: format!("GRANT SET ON PARAMETER {} TO <app role>;", info.name),
                }),
                Err(e) => Err(e.into()),
            }
        }
        Scope::System => {
            let row = client
                .query_one(
                    "SELECT has_parameter_privilege($1, 'ALTER SYSTEM'), \
                     has_function_privilege('pg_catalog.pg_reload_conf()', 'EXECUTE')",
                    &[&info.name],
                )
                .await?;
            if !row.try_get::<_, bool>(0)? {
                return Err(PgError::NotPermitted {
                    action: format!("ALTER SYSTEM SET {}", info.name),
                    grant: format!(
                        "GRANT ALTER SYSTEM ON PARAMETER {} TO <app role>;",
                        info.name
                    ),
                });
            }
            if !row.try_get::<_, bool>(1)? {
                return Err(PgError::NotPermitted {
                    action: "reload the configuration".into(),
                    grant: "GRANT EXECUTE ON FUNCTION pg_reload_conf() TO <app role>; \
                            (in the application's database)"
                        .into(),
                });
            }
            Ok(())
        }
    }
}

fn advice(source: &str, name: &str, role: &str, db: &str) -> String {
    match source {
        "user" => format!("remove the per-role setting with `ALTER ROLE \"{role}\" RESET {name}`"),
        "database" => {
            format!("remove the per-database setting with `ALTER DATABASE \"{db}\" RESET {name}`")
        }
        "database user" => {
            format!("remove it with `ALTER ROLE \"{role}\" IN DATABASE \"{db}\" RESET {name}`")
        }
        "session" | "client" => format!(
            "the application sets {name} on its connections; drop that, or let finch apply it on the pool"
        ),
        "command line" | "environment variable" => format!(
            "{name} is given on the postgres command line or in its environment; remove it there and restart"
        ),
        _ => format!(
            "find where {name} is set with `SELECT * FROM pg_settings WHERE name = '{name}'`"
        ),
    }
}

impl Managed {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a session sees for a setting.
struct Seen {
    setting: String,
    source: String,
    role: String,
    db: String,
}

async fn seen(client: &tokio_postgres::Client, name: &str) -> Result<Seen, PgError> {
    let row = client
        .query_one(
            "SELECT setting, source, current_user::text, current_database()::text \
             FROM pg_settings WHERE name = $1",
            &[&name],
        )
        .await?;
    Ok(Seen {
        setting: row.try_get(0)?,
        source: row.try_get(1)?,
        role: row.try_get(2)?,
        db: row.try_get(3)?,
    })
}

impl Inner {
    fn index(&self, name: &str) -> Result<usize, PgError> {
        self.settings
            .iter()
            .position(|m| m.info.name == name || m.knob.name() == name)
            .ok_or_else(|| PgError::NotManaged {
                name: name.to_string(),
            })
    }

    async fn apply(&self, index: usize, x: f64) -> Result<Applied, PgError> {
        let m = &self.settings[index];
        let _serial = self.apply.lock().await;
        let result = self.apply_locked(m, x).await;
        let mut state = m.lock();
        match &result {
            Ok(a) => {
                state.in_force = Some(a.value.clone());
                state.masked_by = None;
                state.last_error = None;
                tracing::info!(
                    setting = %m.info.name,
                    value = %a.value,
                    elapsed_ms = a.elapsed.as_secs_f64() * 1e3,
                    "finch-postgres: setting applied"
                );
            }
            Err(PgError::NotOwner { owner, .. }) => {
                tracing::debug!(setting = %m.info.name, owner = %owner, "finch-postgres: not the owner; left alone");
            }
            Err(e) => {
                if let PgError::Masked {
                    source_name,
                    in_force,
                    ..
                } = e
                {
                    state.masked_by = Some(source_name.clone());
                    state.in_force = Some(in_force.clone());
                }
                state.last_error = Some(finch_core::error::Chain(e).to_string());
                tracing::warn!(setting = %m.info.name, error = %finch_core::error::Chain(e), "finch-postgres: setting not applied");
            }
        }
        result
    }

    async fn apply_locked(&self, m: &Managed, x: f64) -> Result<Applied, PgError> {
        let started = Instant::now();
        let value = m.info.format(x);
        let bad_value = || PgError::InvalidValue {
            name: m.info.name.clone(),
            input: value.clone(),
            reason: "not a plain number or on/off".into(),
        };
        let literal = setting::literal(&value).ok_or_else(bad_value)?;
        if !(m.min..=m.max).contains(&x) {
            return Err(PgError::InvalidValue {
                name: m.info.name.clone(),
                input: value,
                reason: format!(
                    "outside the declared bounds {}..={}",
                    m.info.display(m.min),
                    m.info.display(m.max)
                ),
            });
        }
        match m.scope {
            Scope::Pool => {
                let sessions = self
                    .sessions
                    .as_ref()
                    .ok_or_else(|| PgError::NoSessionHooks {
                        name: m.info.name.clone(),
                    })?;
                {
                    let mut state = m.lock();
                    state.applied = Some(x);
                    state.changed = true;
                }
                sessions.set(&m.info.name, Some(value));
                let (connections, seen) = self.sync_idle(&m.info.name).await?;
                self.verified(m, x, seen, started, connections)
            }
            Scope::System => {
                let ident =
                    setting::ident(&m.info.name).ok_or_else(|| PgError::UnknownSetting {
                        name: m.info.name.clone(),
                    })?;
                let mut owner = self.owner.lock().await;
                self.claim(&mut owner, m).await?;
                owner.record(&m.info.name).await?;
                let client = owner.client().await?;
                {
                    let mut state = m.lock();
                    state.applied = Some(x);
                    state.changed = true;
                }
                client
                    .batch_execute(&format!("ALTER SYSTEM SET {ident} = {literal}"))
                    .await?;
                client.query_one("SELECT pg_reload_conf()", &[]).await?;
                let deadline = started + self.verify_timeout;
                loop {
                    let seen = seen(client, &m.info.name).await?;
                    let matches = m
                        .info
                        .read_reported(&seen.setting)
                        .is_some_and(|v| setting::same(v, x));
                    if masking(&seen.source) || matches || Instant::now() >= deadline {
                        return self.verified(m, x, seen, started, 0);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }

    /// Checks what a session sees after applying `x`.
    fn verified(
        &self,
        m: &Managed,
        x: f64,
        seen: Seen,
        started: Instant,
        connections: usize,
    ) -> Result<Applied, PgError> {
        let in_force = m.info.read_reported(&seen.setting);
        let matches = in_force.is_some_and(|v| setting::same(v, x));
        let ours = match m.scope {
            Scope::Pool => seen.source == "session",
            Scope::System => !masking(&seen.source),
        };
        let shown = in_force.map_or(seen.setting.clone(), |v| m.info.display(v));
        if m.scope == Scope::System && masking(&seen.source) && !matches {
            return Err(PgError::Masked {
                name: m.info.name.clone(),
                expected: m.info.display(x),
                in_force: shown,
                advice: advice(&seen.source, &m.info.name, &seen.role, &seen.db),
                source_name: seen.source,
            });
        }
        if !matches || !ours {
            return Err(PgError::NotInForce {
                name: m.info.name.clone(),
                expected: m.info.display(x),
                in_force: shown,
                source_name: seen.source,
            });
        }
        Ok(Applied {
            setting: m.info.name.clone(),
            value: shown,
            source: seen.source,
            connections,
            elapsed: started.elapsed(),
        })
    }

    /// Claims server-wide setting `m` for this instance, or holds its knob and
    /// fails with [`PgError::NotOwner`] when another instance owns it.
    async fn claim(&self, owner: &mut Owner, m: &Managed) -> Result<(), PgError> {
        match owner.claim(&m.info.name).await? {
            Claim::Owned { inherited } => {
                m.knob.hold(None);
                let mut state = m.lock();
                if state.ownership != Ownership::Owned {
                    tracing::info!(setting = %m.info.name, inherited, "finch-postgres: this instance owns the server-wide setting");
                }
                state.ownership = Ownership::Owned;
                // An earlier owner's record: the setting is not at its original.
                state.changed |= inherited;
                Ok(())
            }
            Claim::Elsewhere(ownership) => {
                let by = ownership.describe();
                m.knob.hold(Some(format!(
                    "PostgreSQL setting `{}` is owned by {by}",
                    m.info.name
                )));
                let mut state = m.lock();
                if state.ownership != ownership {
                    tracing::info!(setting = %m.info.name, owner = %by, "finch-postgres: another instance owns the server-wide setting; reading it as context");
                }
                state.ownership = ownership;
                Err(PgError::NotOwner {
                    name: m.info.name.clone(),
                    owner: by,
                })
            }
        }
    }

    /// Claims every server-wide setting; the knob of one owned elsewhere
    /// takes the value in force.
    async fn claim_all(&self) -> Result<(), PgError> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut first = None;
        let mut owner = self.owner.lock().await;
        for m in self.settings.iter().filter(|m| m.scope == Scope::System) {
            let claimed = match self.claim(&mut owner, m).await {
                Err(PgError::NotOwner { .. }) => self.follow(&mut owner, m).await,
                other => other,
            };
            if let Err(e) = claimed {
                m.lock().last_error = Some(finch_core::error::Chain(&e).to_string());
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Sets the knob of a setting owned elsewhere to the value in force.
    async fn follow(&self, owner: &mut Owner, m: &Managed) -> Result<(), PgError> {
        let client = owner.client().await?;
        let seen = seen(client, &m.info.name).await?;
        let Some(x) = m.info.read_reported(&seen.setting) else {
            return Ok(());
        };
        m.lock().in_force = Some(m.info.display(x));
        if (m.min..=m.max).contains(&x) {
            m.knob.set(x)?;
        }
        Ok(())
    }

    /// Updates every idle connection at once (they run the pool's hooks) and
    /// reads the setting on one of them; when every pooled connection is busy,
    /// on a connection of its own given the settings (never waiting for the pool).
    async fn sync_idle(&self, name: &str) -> Result<(usize, Seen), PgError> {
        let idle = self.pool.status().available;
        let held = pool::checkout(&self.pool, idle).await?;
        let seen = match held.first() {
            Some(client) => seen(client, name).await?,
            None => {
                let client = self.pool.manager().create().await?;
                if let Some(sessions) = &self.sessions {
                    sessions.apply_to(&client).await?;
                }
                seen(&client, name).await?
            }
        };
        Ok((held.len(), seen))
    }

    async fn resize(&self, size: u32) -> Result<Resized, PgError> {
        let _serial = self.resize.lock().await;
        let target = usize::try_from(size).unwrap_or(usize::MAX);
        if let Some(p) = &self.pool_knob {
            *p.changed.lock().unwrap_or_else(|e| e.into_inner()) = true;
        }
        pool::resize(&self.pool, target, self.prewarm).await
    }

    async fn restore(&self) -> Result<(), PgError> {
        let mut first: Option<PgError> = None;
        let mut keep = |r: Result<(), PgError>| {
            if let Err(e) = r
                && first.is_none()
            {
                first = Some(e);
            }
        };
        let changed: Vec<&Managed> = self.settings.iter().filter(|m| m.lock().changed).collect();
        for m in changed.iter().filter(|m| m.scope == Scope::Pool) {
            if let Some(s) = &self.sessions {
                s.set(&m.info.name, None);
            }
        }
        if changed.iter().any(|m| m.scope == Scope::Pool) {
            let synced = pool::checkout(&self.pool, self.pool.status().available).await;
            keep(synced.map(drop));
        }
        keep(self.restore_system().await);
        if let Some(p) = &self.pool_knob {
            let was_changed =
                std::mem::take(&mut *p.changed.lock().unwrap_or_else(|e| e.into_inner()));
            if was_changed {
                keep(pool::resize(&self.pool, p.original, false).await.map(drop));
            }
        }
        for m in changed {
            let mut state = m.lock();
            state.changed = false;
            state.applied = None;
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Puts every server-wide setting this instance owns back to its recorded
    /// original, reloads once, then deletes the records of those restored and
    /// gives up ownership of all. Settings owned elsewhere are left alone.
    async fn restore_system(&self) -> Result<(), PgError> {
        let mut owner = self.owner.lock().await;
        let owned: Vec<&Managed> = self
            .settings
            .iter()
            .filter(|m| m.scope == Scope::System && owner.owns(&m.info.name))
            .collect();
        let mut first = None;
        let mut restored = Vec::new();
        for m in &owned {
            match restore_one(&mut owner, m).await {
                Ok(done) => restored.push(done),
                Err(e) => {
                    first.get_or_insert(e);
                    restored.push(false);
                }
            }
        }
        if restored.iter().any(|r| *r) {
            let reloaded = async {
                let client = owner.client().await?;
                client.query_one("SELECT pg_reload_conf()", &[]).await?;
                Ok::<(), PgError>(())
            };
            if let Err(e) = reloaded.await {
                first.get_or_insert(e);
            }
        }
        for (m, done) in owned.iter().zip(restored) {
            if let Err(e) = owner.release(&m.info.name, done).await {
                first.get_or_insert(e);
            }
            m.lock().ownership = Ownership::Unclaimed;
        }
        owner.release_all();
        first.map_or(Ok(()), Err)
    }
}

/// Writes back the recorded original of an owned setting; false when nothing
/// is recorded (this instance never changed it).
async fn restore_one(owner: &mut Owner, m: &Managed) -> Result<bool, PgError> {
    let ident = setting::ident(&m.info.name).ok_or_else(|| PgError::UnknownSetting {
        name: m.info.name.clone(),
    })?;
    let sql = match owner.original(&m.info.name).await? {
        None => return Ok(false),
        Some(None) => format!("ALTER SYSTEM RESET {ident}"),
        Some(Some(value)) => {
            let literal =
                setting::file_literal(&value).ok_or_else(|| PgError::InvalidValue {
                    name: m.info.name.clone(),
                    input: value.clone(),
                    reason: "the recorded original is not a plain value; set it back by hand with ALTER SYSTEM".into(),
                })?;
            format!("ALTER SYSTEM SET {ident} = {literal}")
        }
    };
    owner.client().await?.batch_execute(&sql).await?;
    Ok(true)
}
