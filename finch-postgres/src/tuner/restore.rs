//! Putting back what finch changed.

use super::{Inner, Managed};
use crate::error::PgError;
use crate::owner::{Owner, Ownership};
use crate::pool;
use crate::setting::{self, Scope};

impl Inner {
    pub(super) async fn restore(&self) -> Result<(), PgError> {
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
    pub(super) async fn restore_system(&self) -> Result<(), PgError> {
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
pub(super) async fn restore_one(owner: &mut Owner, m: &Managed) -> Result<bool, PgError> {
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
