//! Whether the database role may change a setting, and what to grant when not.

use crate::error::PgError;
use crate::setting::{Info, Scope};

pub(super) fn is_permission_denied(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
}

pub(super) async fn check_privileges(
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
