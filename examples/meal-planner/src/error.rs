//! The one error type of the service and how it becomes an HTTP response.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio_postgres::error::SqlState;

/// Everything a request can fail with. Client mistakes map to 4xx with a
/// message that says what to fix; only faults of the service itself are 5xx.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input is malformed or out of range.
    #[error("{0}")]
    BadRequest(String),
    /// No valid session: the message says how to sign in.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but the data belongs to someone else (another household).
    #[error("{0}")]
    Forbidden(String),
    /// The addressed thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with existing data (a duplicate e-mail, an existing schedule).
    #[error("{0}")]
    Conflict(String),
    /// The service is saturated: no admission within the queue timeout.
    #[error("the service is busy; retry later")]
    Busy,
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] tokio_postgres::Error),
    /// No database connection could be had.
    #[error("no database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// Another internal fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// A `404 Not Found` naming what is missing, as in `recipe 7 does not exist`.
    pub fn not_found(what: &str, id: i64) -> Self {
        AppError::NotFound(format!("{what} {id} does not exist"))
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Pool(deadpool_postgres::PoolError::Timeout(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::Database(_) | AppError::Pool(_) | AppError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Maps constraint violations caused by the input to client errors:
    /// unique violations become `409`, foreign-key, check and range violations `400`/`404`.
    pub fn from_db(e: tokio_postgres::Error) -> Self {
        let Some(db) = e.as_db_error() else {
            return AppError::Database(e);
        };
        let code = db.code();
        let detail = db.detail().unwrap_or(db.message()).to_string();
        if *code == SqlState::UNIQUE_VIOLATION {
            AppError::Conflict(detail)
        } else if *code == SqlState::FOREIGN_KEY_VIOLATION {
            AppError::NotFound(detail)
        } else if *code == SqlState::CHECK_VIOLATION
            || *code == SqlState::NOT_NULL_VIOLATION
            || *code == SqlState::NUMERIC_VALUE_OUT_OF_RANGE
            || *code == SqlState::STRING_DATA_RIGHT_TRUNCATION
            || *code == SqlState::INVALID_TEXT_REPRESENTATION
            || *code == SqlState::CHARACTER_NOT_IN_REPERTOIRE
        {
            AppError::BadRequest(detail)
        } else {
            AppError::Database(e)
        }
    }

    /// Whether the failed transaction may simply be run again (a deadlock or
    /// a serialization failure between concurrent writers).
    pub fn is_retryable(&self) -> bool {
        match self {
            AppError::Database(e) => e.code().is_some_and(|c| {
                *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
            }),
            _ => false,
        }
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

/// A server fault's body says nothing of its cause (no table, column or
/// driver text); the cause goes to the log.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let error = if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(error = %self, "request refused");
            "the service is busy; retry later".to_string()
        } else if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            "internal error; it was logged, retry later".to_string()
        } else {
            self.to_string()
        };
        (status, Json(ErrorBody { error })).into_response()
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        AppError::BadRequest(r.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        AppError::BadRequest(r.body_text())
    }
}

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> Self {
        AppError::BadRequest(r.body_text())
    }
}
