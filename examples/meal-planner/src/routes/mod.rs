//! The routes, one module per group.

pub mod houses;
pub mod invitations;
pub mod lookups;
pub mod recipes;
pub mod schedules;
pub mod storages;
pub mod users;

use axum::Router;
use axum::http::Uri;

use crate::AppState;
use crate::error::AppError;

/// Every route of the service, waiting for its state. All but sign-up
/// (`POST /users`), sign-in (`POST /sessions`) and `GET /health` take a
/// [`Caller`](crate::auth::Caller): anonymous requests get `401`.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(crate::auth::router())
        .merge(lookups::router())
        .merge(users::router())
        .merge(houses::router())
        .merge(recipes::router())
        .merge(storages::router())
        .merge(schedules::router())
        .merge(invitations::router())
        .route("/health", axum::routing::get(health))
        .fallback(not_found)
}

/// `GET /health`: the process answers (anonymous; touches no data).
async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found(uri: Uri) -> AppError {
    AppError::NotFound(format!("no route for {}", uri.path()))
}

/// Checks a name-like text field: trimmed, non-empty, at most `max` characters.
pub(crate) fn text(field: &str, value: &str, max: usize) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::BadRequest(format!("`{field}` must not be empty")));
    }
    if value.chars().count() > max {
        return Err(AppError::BadRequest(format!(
            "`{field}` is longer than {max} characters"
        )));
    }
    Ok(value.to_string())
}

/// Checks an integer is within `lo..=hi`.
pub(crate) fn in_range(field: &str, value: i64, lo: i64, hi: i64) -> Result<(), AppError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!(
            "`{field}` must be between {lo} and {hi}, got {value}"
        )))
    }
}
