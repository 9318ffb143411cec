//! One owner at a time for each server-wide (`ALTER SYSTEM`) setting among the
//! finch instances on a database.
//!
//! - **Ownership** is a session-level advisory lock, keyed by the setting's
//!   name, taken on a connection of its own (opened by the pool's manager,
//!   outside the pool) and held for as long as the instance owns the setting.
//!   The session ending (shutdown, crash, a lost connection) releases it.
//! - **The original value** (the setting's `ALTER SYSTEM` entry, or none) is
//!   written to `<schema>.system_originals` before the owner's first change
//!   and deleted only once the owner has put it back, so an owner that
//!   restarts after a crash restores the real original, not the tuned value
//!   left in postgresql.auto.conf.

use std::collections::BTreeSet;

use deadpool::managed::Manager as _;
use deadpool_postgres::{ClientWrapper, Pool};

use crate::error::PgError;
use crate::setting::plain_identifier;

/// The advisory-lock class of finch's server-wide settings (`finc`); the
/// object is [`lock_key`] of the setting's name.
const LOCK_CLASS: i32 = 0x6669_6e63;
/// The lock (class + 1) that serializes creating the table.
const TABLE_LOCK: (i32, i32) = (LOCK_CLASS + 1, 0);

/// The advisory-lock key of a setting: a CRC-32 of its name, made non-negative.
pub(crate) fn lock_key(name: &str) -> i32 {
    i32::try_from(crc32fast::hash(name.as_bytes()) & 0x7fff_ffff).unwrap_or(0)
}

/// Who owns a server-wide setting, as seen by this instance.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Ownership {
    /// Applied on the pool's own sessions: no ownership needed.
    Session,
    /// This instance owns it: it alone changes it and restores it.
    Owned,
    /// Another finch instance owns it: this one never changes it and reads its
    /// value as context; it claims it again when the owner lets go.
    Elsewhere {
        /// The owner's backend process id, when PostgreSQL shows it.
        pid: Option<i32>,
    },
    /// Not claimed yet, or the last claim failed (see `last_error`).
    Unclaimed,
}

impl Ownership {
    /// A short description of the owner, for messages and held knobs.
    pub(crate) fn describe(&self) -> String {
        match self {
            Ownership::Elsewhere { pid: Some(pid) } => {
                format!("another finch instance (PostgreSQL backend pid {pid})")
            }
            Ownership::Elsewhere { pid: None } => "another finch instance".to_string(),
            Ownership::Owned => "this instance".to_string(),
            Ownership::Session | Ownership::Unclaimed => "nobody".to_string(),
        }
    }
}

/// The result of claiming a setting.
pub(crate) enum Claim {
    /// This instance owns it; `inherited` when an earlier owner left an
    /// original behind without restoring it (it crashed).
    Owned { inherited: bool },
    /// Another instance owns it.
    Elsewhere(Ownership),
}

/// The dedicated connection and the settings whose lock it holds.
pub(crate) struct Owner {
    pool: Pool,
    schema: String,
    table: String,
    conn: Option<ClientWrapper>,
    held: BTreeSet<String>,
}

impl Owner {
    /// Ownership for the pool's database, with originals in `schema`.
    pub(crate) fn new(pool: Pool, schema: &str) -> Result<Owner, PgError> {
        let schema = plain_identifier("schema", schema)?;
        Ok(Owner {
            pool,
            table: format!("{schema}.system_originals"),
            schema,
            conn: None,
            held: BTreeSet::new(),
        })
    }

    /// Whether this instance holds the lock of `name` now.
    pub(crate) fn owns(&self, name: &str) -> bool {
        self.held.contains(name) && self.conn.as_ref().is_some_and(|c| !c.is_closed())
    }

    /// The dedicated connection, opened outside the pool when needed. A closed
    /// connection took its locks with it: ownership starts over.
    pub(crate) async fn client(&mut self) -> Result<&ClientWrapper, PgError> {
        let conn = match self.conn.take() {
            Some(c) if !c.is_closed() => c,
            _ => {
                self.held.clear();
                self.pool.manager().create().await?
            }
        };
        Ok(self.conn.insert(conn))
    }

    /// Takes ownership of setting `name` if nobody holds it.
    pub(crate) async fn claim(&mut self, name: &str) -> Result<Claim, PgError> {
        if self.owns(name) {
            return Ok(Claim::Owned { inherited: false });
        }
        let key = lock_key(name);
        let client = self.client().await?;
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&LOCK_CLASS, &key])
            .await?
            .try_get(0)?;
        if !got {
            let pid = client
                .query_opt(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
                     AND classid::int8 = $1 AND objid::int8 = $2 AND objsubid = 2",
                    &[&i64::from(LOCK_CLASS), &i64::from(key)],
                )
                .await?
                .map(|row| row.try_get(0))
                .transpose()?;
            return Ok(Claim::Elsewhere(Ownership::Elsewhere { pid }));
        }
        self.held.insert(name.to_string());
        let inherited = self.original(name).await?.is_some();
        Ok(Claim::Owned { inherited })
    }

    /// Records the original `ALTER SYSTEM` entry of owned setting `name`
    /// unless a record is there: call it before every change.
    pub(crate) async fn record(&mut self, name: &str) -> Result<(), PgError> {
        let (schema, table) = (self.schema.clone(), self.table.clone());
        let client = self.client().await?;
        ensure_table(client, &schema, &table).await?;
        record_original(client, &table, name).await
    }

    /// The recorded original `ALTER SYSTEM` entry of a setting: `Some(None)`
    /// when it had none (restore with `RESET`), `None` when nothing is recorded
    /// (no owner changed it since the last restore).
    pub(crate) async fn original(&mut self, name: &str) -> Result<Option<Option<String>>, PgError> {
        let table = self.table.clone();
        let client = self.client().await?;
        if !table_exists(client, &table).await? {
            return Ok(None);
        }
        let sql = format!("SELECT value FROM {table} WHERE name = $1");
        let row = client.query_opt(&sql, &[&name]).await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Deletes the record of a restored setting and gives up its ownership.
    pub(crate) async fn release(&mut self, name: &str, restored: bool) -> Result<(), PgError> {
        if !self.owns(name) {
            return Ok(());
        }
        let sql = format!("DELETE FROM {} WHERE name = $1", self.table);
        let client = self.client().await?;
        if restored {
            client.execute(&sql, &[&name]).await?;
        }
        client
            .query_one(
                "SELECT pg_advisory_unlock($1, $2)",
                &[&LOCK_CLASS, &lock_key(name)],
            )
            .await?;
        self.held.remove(name);
        if self.held.is_empty() {
            self.conn = None;
        }
        Ok(())
    }
}

impl Owner {
    /// Gives up every ownership: closing the connection ends its session and
    /// with it every lock.
    pub(crate) fn release_all(&mut self) {
        self.held.clear();
        self.conn = None;
    }
}

/// Creates the table of originals once, under a transaction-level lock so
/// instances starting together do not race.
async fn ensure_table(client: &ClientWrapper, schema: &str, table: &str) -> Result<(), PgError> {
    if table_exists(client, table).await? {
        return Ok(());
    }
    let created = client
        .batch_execute(&format!(
            "BEGIN;
             SELECT pg_advisory_xact_lock({}, {});
             CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {table} (
                 name        text PRIMARY KEY,
                 value       text,
                 recorded_at timestamptz NOT NULL DEFAULT now());
             COMMIT;",
            TABLE_LOCK.0, TABLE_LOCK.1
        ))
        .await;
    match created {
        Ok(()) => Ok(()),
        Err(e) => {
            if let Err(rollback) = client.batch_execute("ROLLBACK").await {
                tracing::debug!(error = %rollback, "finch-postgres: rollback after a failed CREATE");
            }
            if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) {
                Err(PgError::NotPermitted {
                    action: format!(
                        "create {table}, where finch records the original values of server-wide settings"
                    ),
                    grant: "GRANT CREATE ON DATABASE <app database> TO <app role>; \
                            (or create the schema for the role beforehand)"
                        .into(),
                })
            } else {
                Err(e.into())
            }
        }
    }
}

async fn table_exists(client: &ClientWrapper, table: &str) -> Result<bool, PgError> {
    Ok(client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await?
        .try_get(0)?)
}

/// Records the setting's `ALTER SYSTEM` entry now unless a record is there
/// (left by an owner that did not restore: that one is the original).
///
/// The entry is read from postgresql.auto.conf itself (`pg_file_settings`,
/// readable by superusers and `pg_read_all_settings`, part of `pg_monitor`),
/// so a change another owner just wrote counts even before the reload reaches
/// this session; without that privilege, from `pg_settings`.
async fn record_original(client: &ClientWrapper, table: &str, name: &str) -> Result<(), PgError> {
    let from_file: bool = client
        .query_one(
            "SELECT has_function_privilege('pg_catalog.pg_show_all_file_settings()', 'EXECUTE')",
            &[],
        )
        .await?
        .try_get(0)?;
    let entry = if from_file {
        "(SELECT f.setting FROM pg_file_settings f WHERE f.name = $1 \
          AND f.sourcefile LIKE '%postgresql.auto.conf' ORDER BY f.seqno DESC LIMIT 1)"
    } else {
        "(SELECT CASE WHEN s.source = 'configuration file' \
          AND s.sourcefile LIKE '%postgresql.auto.conf' THEN s.setting END \
          FROM pg_settings s WHERE s.name = $1)"
    };
    client
        .execute(
            &format!(
                "INSERT INTO {table} (name, value) VALUES ($1, {entry}) \
                 ON CONFLICT (name) DO NOTHING"
            ),
            &[&name],
        )
        .await?;
    Ok(())
}
