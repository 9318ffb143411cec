//! Errors of finch-postgres. Every message says what is wrong and how to fix it.

use thiserror::Error;

/// Why a setting could not be declared, applied or restored, or why the store,
/// the pool or PostgreSQL failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PgError {
    /// `pg_settings` has no row with this name.
    #[error(
        "PostgreSQL has no setting named {name:?}; check the spelling against `SELECT name FROM pg_settings`"
    )]
    UnknownSetting {
        /// The name as given.
        name: String,
    },
    /// The setting's type cannot be tuned.
    #[error(
        "setting `{name}` is of type `{vartype}`; finch tunes only integer, real and bool settings"
    )]
    UnsupportedType {
        /// The setting.
        name: String,
        /// Its `pg_settings.vartype`.
        vartype: String,
    },
    /// The setting only changes with a server restart.
    #[error(
        "setting `{name}` has context `{context}`: it only changes when PostgreSQL restarts, so finch \
         cannot tune it live. Set it in postgresql.conf (or with ALTER SYSTEM) and restart the server{}",
        if *pending_restart { "; note: a change to it is already waiting for a restart (pending_restart)" } else { "" }
    )]
    RequiresRestart {
        /// The setting.
        name: String,
        /// Its `pg_settings.context`.
        context: String,
        /// Whether a change is already waiting for a restart.
        pending_restart: bool,
    },
    /// A value or bound could not be read for this setting.
    #[error("setting `{name}`: cannot use {input:?}: {reason}")]
    InvalidValue {
        /// The setting.
        name: String,
        /// The text given.
        input: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The declared bounds are incoherent or outside what the server allows.
    #[error("setting `{name}`: bounds {min}..={max} are invalid: {reason}")]
    InvalidBounds {
        /// The setting.
        name: String,
        /// Lower bound, in the setting's base unit.
        min: String,
        /// Upper bound, in the setting's base unit.
        max: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The same setting was declared twice.
    #[error("setting `{name}` is declared twice; declare each setting once")]
    Duplicate {
        /// The setting.
        name: String,
    },
    /// A session setting was declared without session hooks on the pool.
    #[error(
        "setting `{name}` is applied to the pool's sessions: build the pool with \
         `SessionSettings::attach` and pass the same `SessionSettings` to `PgTunerBuilder::sessions`"
    )]
    NoSessionHooks {
        /// The setting.
        name: String,
    },
    /// The role lacks a privilege finch needs.
    #[error("the database role may not {action}; grant it with: {grant}")]
    NotPermitted {
        /// What finch tried to do.
        action: String,
        /// The statement that grants it (run as a superuser).
        grant: String,
    },
    /// A higher-precedence source overrides what finch set.
    #[error(
        "setting `{name}`: finch set {expected} but sessions see {in_force} from source `{source_name}`, \
         which takes precedence; {advice}"
    )]
    Masked {
        /// The setting.
        name: String,
        /// What finch set (base unit).
        expected: String,
        /// What sessions see (base unit).
        in_force: String,
        /// `pg_settings.source` of the value in force.
        source_name: String,
        /// How to remove the masking setting.
        advice: String,
    },
    /// The value was applied but PostgreSQL did not report it in force in time.
    #[error(
        "setting `{name}`: PostgreSQL still reports {in_force} (source `{source_name}`) instead of \
         {expected}; raise `PgTunerBuilder::verify_timeout` or check the server log for reload errors"
    )]
    NotInForce {
        /// The setting.
        name: String,
        /// What finch set.
        expected: String,
        /// What PostgreSQL reports.
        in_force: String,
        /// `pg_settings.source` of the value in force.
        source_name: String,
    },
    /// Another finch instance owns this server-wide setting.
    #[error(
        "setting `{name}` is server-wide and owned by {owner}: only the owner changes and restores it. \
         This instance reads it as context and takes it over when the owner stops; to tune it from \
         here, stop the owner"
    )]
    NotOwner {
        /// The setting.
        name: String,
        /// Who owns it.
        owner: String,
    },
    /// No setting of this tuner has this name.
    #[error(
        "this tuner does not manage setting `{name}`; declare it with `PgTunerBuilder::setting`"
    )]
    NotManaged {
        /// The name given.
        name: String,
    },
    /// A name that finch would place in SQL is not a plain identifier.
    #[error(
        "{what} {name:?} is not a plain identifier; use 1 to 63 lowercase letters, digits or `_`, not starting with a digit"
    )]
    InvalidIdentifier {
        /// What the name is for.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// Registering a knob failed.
    #[error(transparent)]
    Knob(#[from] finch_core::KnobError),
    /// PostgreSQL returned an error or the connection failed.
    #[error("PostgreSQL failed; check that the server is up and DATABASE_URL is right")]
    Postgres(#[from] tokio_postgres::Error),
    /// No connection could be taken from the pool.
    #[error("no connection from the pool; check that PostgreSQL is up and the pool is not closed")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A background task of finch-postgres failed.
    #[error("a finch-postgres task failed: {reason}; this is a bug, please report it")]
    Task {
        /// What the runtime said.
        reason: String,
    },
    /// A stored record could not be decoded.
    #[error(
        "finch store: a stored {what} is unreadable ({reason}); it was written by an incompatible finch version"
    )]
    Decode {
        /// The kind of record.
        what: &'static str,
        /// The decoder's error.
        reason: String,
    },
}

impl From<PgError> for finch_core::StoreError {
    fn from(e: PgError) -> Self {
        finch_core::StoreError::with_source("the PostgreSQL knowledge store failed", e)
    }
}

impl From<PgError> for finch_core::ApplyError {
    fn from(e: PgError) -> Self {
        finch_core::ApplyError::with_source("finch-postgres could not apply the setting", e)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use finch_core::error::Chain;

    use super::*;

    #[test]
    fn a_store_or_applier_error_keeps_the_postgres_error_as_its_cause() {
        let pg = || PgError::Task {
            reason: "the task was cancelled".into(),
        };
        let store = finch_core::StoreError::from(pg());
        assert_eq!(store.to_string(), "the PostgreSQL knowledge store failed");
        let cause = store.source().map(|c| c.to_string());
        assert_eq!(cause, Some(pg().to_string()));
        let top = finch_core::Error::from(store);
        assert_eq!(
            Chain(&top).to_string(),
            format!(
                "the knowledge store failed: the PostgreSQL knowledge store failed: {}",
                pg()
            )
        );
        let apply = finch_core::ApplyError::from(pg());
        assert_eq!(
            Chain(&apply).to_string(),
            format!("finch-postgres could not apply the setting: {}", pg())
        );
    }
}
