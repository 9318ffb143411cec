//! PostgreSQL for [finch](https://docs.rs/finch-slo): live settings and the pool's
//! size as knobs, PostgreSQL's own signals, and a knowledge store shared by the
//! replicas of a service.
//!
//! This crate is not a public API on its own: depend on `finch-slo` with the
//! `postgres` feature and use it as `finch::postgres`.
//!
//! - [`PgTuner`] turns declared PostgreSQL settings (`work_mem`,
//!   `random_page_cost`, `checkpoint_timeout`...) and the size of a
//!   deadpool-postgres pool into knobs the loop tunes live. Session settings
//!   reach every pooled connection through [`SessionSettings`] hooks; `sighup`
//!   settings go through `ALTER SYSTEM` and a reload; restart-only settings are
//!   refused with advice.
//! - [`PgSignals`] feeds the model with `pg_stat_database` deltas,
//!   `pg_stat_activity` counts and the pool's status.
//! - [`PgStore`] keeps observations, decisions and models in PostgreSQL so
//!   several instances learn from each other.
//!
//! # Privileges
//!
//! finch-postgres needs no superuser. For a role `app` tuning `work_mem` (on
//! its own sessions) and `checkpoint_timeout` (server-wide), and keeping its
//! knowledge in schema `finch` of database `appdb`:
//!
//! ```sql
//! GRANT ALTER SYSTEM ON PARAMETER checkpoint_timeout TO app;  -- sighup settings (and .system())
//! GRANT SET ON PARAMETER some_superuser_setting TO app;        -- only for `superuser`-context ones
//! \c appdb
//! GRANT EXECUTE ON FUNCTION pg_reload_conf() TO app;           -- per database
//! GRANT pg_monitor TO app;                                     -- pg_stat_activity of every role
//! GRANT CREATE ON DATABASE appdb TO app;                       -- schema `finch`: the store, and the
//!                                                              -- originals of ALTER SYSTEM settings
//! ```
//!
//! `pg_monitor` (through `pg_read_all_settings`) also lets the tuner read a
//! server-wide setting's original entry from postgresql.auto.conf itself.
//!
//! `user`-context settings such as `work_mem` need nothing: any role may `SET`
//! them on its own sessions. [`PgTunerBuilder::build`] checks these privileges
//! and names the missing `GRANT` in its error.
//!
//! # Safety of the SQL
//!
//! Setting names are looked up in `pg_settings` with a bound parameter and only
//! the server's own spelling is used afterwards; session values go through
//! `set_config($1, $2, false)`. `ALTER SYSTEM` takes no parameters, so its
//! identifier is the checked name, double-quoted, and its value a number or
//! `on`/`off` produced by finch, validated and written as a quoted literal.

#![cfg_attr(docsrs, feature(doc_cfg))]
mod error;
mod owner;
mod pool;
mod sessions;
mod setting;
mod signals;
mod store;
mod tuner;

pub use error::PgError;
pub use owner::Ownership;
pub use pool::Resized;
pub use sessions::SessionSettings;
pub use setting::{Kind, Scope, Setting, SettingValue};
pub use signals::PgSignals;
pub use store::{DEFAULT_MAX_ROWS, PgStore};
pub use tuner::{Applied, PgTuner, PgTunerBuilder, SettingStatus};

/// Re-exported so applications build pools with the same versions finch uses.
pub use deadpool_postgres;
/// Re-exported so applications use the same client version finch uses.
pub use tokio_postgres;
