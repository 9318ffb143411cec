//! finch's operator routes (`/metrics`, `/finch/status`, pins) on a listener
//! of their own, bound to loopback and kept apart from the public API, behind
//! the token in [`TOKEN_VAR`].

use std::net::SocketAddr;

use axum::Router;
use finch::export::{OperatorAccess, PrometheusExporter, router};
use tokio::net::TcpListener;

/// The environment variable holding the operator token (at least 32 visible
/// ASCII characters, e.g. from `openssl rand -hex 32`).
pub const TOKEN_VAR: &str = "MEAL_PLANNER_ADMIN_TOKEN";

/// What `serve` prints once the operator routes listen; the address follows.
pub const ANNOUNCE: &str = "meal-planner admin on http://";

/// The operator listener could not be set up; the message names the fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AdminError(pub String);

/// 32 random bytes from the operating system's generator, as 64 hex digits.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The operator token from [`TOKEN_VAR`], checked as the routes will.
pub fn token_from_env() -> Result<String, AdminError> {
    let token = std::env::var(TOKEN_VAR).map_err(|_| {
        AdminError(format!(
            "{TOKEN_VAR} is not set: finch's operator routes need a token; set it to at least \
             32 random characters (`export {TOKEN_VAR}=$(openssl rand -hex 32)`), or run with \
             --without-finch"
        ))
    })?;
    OperatorAccess::new(&token, ["localhost"])
        .map_err(|e| AdminError(format!("{TOKEN_VAR}: {e}")))?;
    Ok(token)
}

/// Binds the operator listener; refuses anything but a loopback address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, AdminError> {
    if !addr.ip().is_loopback() {
        return Err(AdminError(format!(
            "--admin-addr {addr} is not a loopback address; the operator routes listen on \
             127.0.0.1 or ::1 only (reach them remotely through an SSH tunnel)"
        )));
    }
    TcpListener::bind(addr)
        .await
        .map_err(|e| AdminError(format!("cannot bind the operator routes to {addr}: {e}")))
}

/// The operator routes for `finch`, answering requests with `token` addressed
/// to `addr` by its IP or as `localhost`.
pub fn routes(
    finch: &finch::Handle,
    exporter: PrometheusExporter,
    token: &str,
    addr: SocketAddr,
) -> Result<Router, AdminError> {
    let port = addr.port();
    let access = OperatorAccess::new(token, [addr.to_string(), format!("localhost:{port}")])
        .map_err(|e| AdminError(format!("{TOKEN_VAR}: {e}")))?;
    Ok(router(finch, exporter, access))
}
