//! Applying a value: on every session or with `ALTER SYSTEM`, then reading
//! `pg_settings` until it is in force.

use std::time::{Duration, Instant};

use deadpool::managed::Manager as _;

use super::{Applied, Inner, Managed};
use crate::error::PgError;
use crate::pool::{self, Resized};
use crate::setting::{self, Scope};

/// What a session sees for a setting.
pub(super) struct Seen {
    pub(super) setting: String,
    pub(super) source: String,
    pub(super) role: String,
    pub(super) db: String,
}

pub(super) async fn seen(client: &tokio_postgres::Client, name: &str) -> Result<Seen, PgError> {
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
    pub(super) fn index(&self, name: &str) -> Result<usize, PgError> {
        self.settings
            .iter()
            .position(|m| m.info.name == name || m.knob.name() == name)
            .ok_or_else(|| PgError::NotManaged {
                name: name.to_string(),
            })
    }

    pub(super) async fn apply(&self, index: usize, x: f64) -> Result<Applied, PgError> {
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

    pub(super) async fn apply_locked(&self, m: &Managed, x: f64) -> Result<Applied, PgError> {
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
    pub(super) fn verified(
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

    /// Updates every idle connection at once (they run the pool's hooks) and
    /// reads the setting on one of them; when every pooled connection is busy,
    /// on a connection of its own given the settings (never waiting for the pool).
    pub(super) async fn sync_idle(&self, name: &str) -> Result<(usize, Seen), PgError> {
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

    pub(super) async fn resize(&self, size: u32) -> Result<Resized, PgError> {
        let _serial = self.resize.lock().await;
        let target = usize::try_from(size).unwrap_or(usize::MAX);
        if let Some(p) = &self.pool_knob {
            *p.changed.lock().unwrap_or_else(|e| e.into_inner()) = true;
        }
        pool::resize(&self.pool, target, self.prewarm).await
    }
}

/// Whether a `pg_settings.source` overrides ALTER SYSTEM for sessions.
pub(super) fn masking(source: &str) -> bool {
    !matches!(source, "default" | "configuration file")
}

pub(super) fn advice(source: &str, name: &str, role: &str, db: &str) -> String {
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
