//! Ownership of server-wide settings among the finch instances on a database.

use std::sync::atomic::Ordering;

use super::apply::seen;
use super::{Inner, Managed};
use crate::error::PgError;
use crate::owner::{Claim, Owner, Ownership};
use crate::setting::Scope;

impl Inner {
    /// Claims server-wide setting `m` for this instance, or holds its knob and
    /// fails with [`PgError::NotOwner`] when another instance owns it.
    pub(super) async fn claim(&self, owner: &mut Owner, m: &Managed) -> Result<(), PgError> {
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
    pub(super) async fn claim_all(&self) -> Result<(), PgError> {
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
    pub(super) async fn follow(&self, owner: &mut Owner, m: &Managed) -> Result<(), PgError> {
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
}
