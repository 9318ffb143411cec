//! Building a [`PgTuner`]: every declared setting checked against the server
//! and registered as a knob, the pool's size too, and the appliers installed.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use finch_core::{ApplyError, Knob, KnobBuilder, KnobValue};

use super::apply::masking;
use super::privileges::check_privileges;
use super::{Inner, Managed, PgTuner, PgTunerBuilder, PoolKnob, State, TypedKnob};
use crate::error::PgError;
use crate::owner::{Owner, Ownership};
use crate::sessions::SessionSettings;
use crate::setting::{self, INFO_SQL, Info, Kind, Scope, Setting, SettingValue};

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

pub(super) fn register<T: KnobValue>(
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
pub(super) fn reclaim(weak: Weak<Inner>, every: Duration) {
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

pub(super) fn gone() -> ApplyError {
    ApplyError::new("the PgTuner was dropped; keep it alive while the finch loop runs")
}

pub(super) fn install<T: KnobValue>(knob: &Knob<T>, weak: Weak<Inner>, index: usize) {
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
pub(super) fn bounds(info: &Info, decl: &Setting) -> Result<(f64, f64), PgError> {
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
