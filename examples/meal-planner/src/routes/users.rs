//! Users: sign up (the password is hashed with Argon2id; the new user is signed
//! in), list and get the caller and their housemates, delete one's own account.

use argon2::{Argon2, PasswordHash, PasswordHasher};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use finch::slo;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::{self, Caller};
use crate::error::AppError;
use crate::extract::{Json as Body, Path, Query};
use crate::routes::text;

/// A user as the API shows it (never with the password hash).
#[derive(Debug, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: i64,
    /// E-mail address, unique.
    pub email: String,
    /// Display name.
    pub name: String,
}

/// The body of `POST /users`.
#[derive(Debug, Deserialize)]
pub struct SignUp {
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Password, 8 to 128 characters.
    pub password: String,
}

/// The answer to `POST /users`: the new user, signed in.
#[derive(Debug, Serialize, Deserialize)]
pub struct SignedUp {
    /// The user.
    #[serde(flatten)]
    pub user: User,
    /// A session token, as `POST /sessions` gives.
    pub token: String,
}

/// Paging of `GET /users`.
#[derive(Debug, Deserialize)]
pub struct Page {
    /// At most this many (1..=1000, default 100).
    pub limit: Option<i64>,
    /// Skip this many (default 0).
    pub offset: Option<i64>,
}

/// The user routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(sign_up))
        .route("/users/{id}", get(get_user).delete(delete_user))
}

/// The caller and the users sharing a house with them.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<Page>,
) -> Result<Json<Vec<User>>, AppError> {
    let limit = page.limit.unwrap_or(100);
    let offset = page.offset.unwrap_or(0);
    super::in_range("limit", limit, 1, 1000)?;
    super::in_range("offset", offset, 0, i64::MAX)?;
    let db = state.db().await?;
    let rows = db
        .query(
            "SELECT id, email, username FROM user_info
             WHERE id = $3 OR id IN (
                 SELECT o.user_id FROM member_of m JOIN member_of o ON o.house_id = m.house_id
                 WHERE m.user_id = $3 AND m.ownership <> 3)
             ORDER BY id LIMIT $1 OFFSET $2",
            &[&limit, &offset, &caller.user],
        )
        .await?;
    Ok(Json(rows.iter().map(user).collect()))
}

fn user(r: &tokio_postgres::Row) -> User {
    User {
        id: r.get(0),
        email: r.get(1),
        name: r.get(2),
    }
}

/// The caller or a housemate; anyone else is a `403`, whether they exist or not.
async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<User>, AppError> {
    let db = state.db().await?;
    let row = db
        .query_opt(
            "SELECT id, email, username FROM user_info
             WHERE id = $1 AND (id = $2 OR EXISTS (
                 SELECT 1 FROM member_of m JOIN member_of o ON o.house_id = m.house_id
                 WHERE m.user_id = $2 AND m.ownership <> 3 AND o.user_id = $1))",
            &[&id, &caller.user],
        )
        .await?
        .ok_or_else(|| AppError::Forbidden(format!("you share no house with user {id}")))?;
    Ok(Json(user(&row)))
}

fn check_email(email: &str) -> Result<String, AppError> {
    let email = text("email", email, 254)?.to_lowercase();
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !email.chars().any(char::is_whitespace)
    });
    if valid {
        Ok(email)
    } else {
        Err(AppError::BadRequest(format!(
            "`email` {email:?} is not an e-mail address"
        )))
    }
}

/// Signing up: the Argon2id hash runs on a blocking thread, under admission
/// control (it costs tens of milliseconds of CPU); the new user is signed in.
#[slo(p95 < 250ms, errors < 1%, name = "meal_planner.users.sign_up")]
async fn sign_up(
    State(state): State<AppState>,
    Body(body): Body<SignUp>,
) -> Result<(StatusCode, Json<SignedUp>), AppError> {
    let name = text("name", &body.name, 64)?;
    let email = check_email(&body.email)?;
    let length = body.password.chars().count();
    if !(8..=128).contains(&length) {
        return Err(AppError::BadRequest(
            "`password` must be 8 to 128 characters long".into(),
        ));
    }
    let hash = {
        let _permit = state.admit().await?;
        let password = body.password;
        tokio::task::spawn_blocking(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h: PasswordHash| h.to_string())
        })
        .await
        .map_err(|e| AppError::Internal(format!("the hashing task failed: {e}")))?
        .map_err(|e| AppError::Internal(format!("cannot hash the password: {e}")))?
    };
    let mut db = state.db().await?;
    let tx = db.transaction().await?;
    let row = tx
        .query_one(
            "INSERT INTO user_info (email, password_hash, username) VALUES ($1, $2, $3)
             RETURNING id, email, username",
            &[&email, &hash, &name],
        )
        .await
        .map_err(|e| match AppError::from_db(e) {
            AppError::Conflict(_) => {
                AppError::Conflict(format!("the e-mail {email} is already registered"))
            }
            other => other,
        })?;
    let user = user(&row);
    let session = auth::open_session(&tx, user.id).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(SignedUp {
            user,
            token: session.token,
        }),
    ))
}

/// Deleting one's own account (its sessions end with it).
async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    caller.is(id)?;
    auth::forget_user(&state, id);
    let db = state.db().await?;
    let n = db
        .execute("DELETE FROM user_info WHERE id = $1", &[&id])
        .await?;
    if n == 0 {
        return Err(AppError::not_found("user", id));
    }
    Ok(StatusCode::NO_CONTENT)
}
