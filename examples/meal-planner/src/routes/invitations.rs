//! Invitations (a house invites a user) and join requests (a user asks to join
//! a house): list by user or by house, create, respond, delete.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use deadpool_postgres::GenericClient;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::AppError;
use crate::extract::{Json as Body, Path};

/// Who asked whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The house invites the user.
    Invitation,
    /// The user asks to join the house.
    JoinRequest,
}

impl Kind {
    fn id(self) -> i16 {
        match self {
            Kind::Invitation => 1,
            Kind::JoinRequest => 2,
        }
    }

    fn from_id(id: i16) -> Self {
        if id == 2 {
            Kind::JoinRequest
        } else {
            Kind::Invitation
        }
    }
}

/// A pending invitation or join request.
#[derive(Debug, Serialize, Deserialize)]
pub struct Pending {
    /// Id.
    pub id: i64,
    /// The house.
    pub house: i64,
    /// The user.
    pub user: i64,
    /// Invitation or join request.
    pub kind: Kind,
}

/// The body of `POST /invitations`.
#[derive(Debug, Deserialize)]
pub struct NewPending {
    /// The house.
    pub house: i64,
    /// The user.
    pub user: i64,
    /// `invitation` or `join_request`.
    pub kind: Kind,
}

/// The body of `POST /invitations/{id}/respond`.
#[derive(Debug, Deserialize)]
pub struct Response {
    /// Accept (the user becomes a resident) or decline.
    pub accept: bool,
}

/// The invitation routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/invitations", post(create))
        .route("/invitations/{id}", axum::routing::delete(delete_pending))
        .route("/invitations/{id}/respond", post(respond))
        .route("/users/{id}/invitations", get(by_user))
        .route("/houses/{id}/invitations", get(by_house))
}

fn pending(r: &tokio_postgres::Row) -> Pending {
    Pending {
        id: r.get(0),
        house: r.get(1),
        user: r.get(2),
        kind: Kind::from_id(r.get(3)),
    }
}

async fn list(
    db: &impl GenericClient,
    exists: &str,
    what: &str,
    select: &str,
    id: i64,
) -> Result<Vec<Pending>, AppError> {
    if db.query_opt(exists, &[&id]).await?.is_none() {
        return Err(AppError::not_found(what, id));
    }
    Ok(db
        .query(select, &[&id])
        .await?
        .iter()
        .map(pending)
        .collect())
}

async fn by_user(
    State(state): State<AppState>,
    Path(user): Path<i64>,
) -> Result<Json<Vec<Pending>>, AppError> {
    let db = state.db().await?;
    let found = list(
        &*db,
        "SELECT 1 FROM user_info WHERE id = $1",
        "user",
        "SELECT id, house_id, user_id, join_type FROM join_pending WHERE user_id = $1 ORDER BY id",
        user,
    )
    .await?;
    Ok(Json(found))
}

async fn by_house(
    State(state): State<AppState>,
    Path(house): Path<i64>,
) -> Result<Json<Vec<Pending>>, AppError> {
    let db = state.db().await?;
    let found = list(
        &*db,
        "SELECT 1 FROM house WHERE id = $1",
        "house",
        "SELECT id, house_id, user_id, join_type FROM join_pending WHERE house_id = $1 ORDER BY id",
        house,
    )
    .await?;
    Ok(Json(found))
}

async fn create(
    State(state): State<AppState>,
    Body(body): Body<NewPending>,
) -> Result<(StatusCode, Json<Pending>), AppError> {
    let mut db = state.db().await?;
    let tx = db.transaction().await?;
    for (sql, what, id) in [
        ("SELECT 1 FROM house WHERE id = $1", "house", body.house),
        ("SELECT 1 FROM user_info WHERE id = $1", "user", body.user),
    ] {
        if tx.query_opt(sql, &[&id]).await?.is_none() {
            return Err(AppError::not_found(what, id));
        }
    }
    let member = tx
        .query_opt(
            "SELECT 1 FROM member_of WHERE house_id = $1 AND user_id = $2",
            &[&body.house, &body.user],
        )
        .await?
        .is_some();
    if member {
        return Err(AppError::Conflict(format!(
            "user {} is already a member of house {}",
            body.user, body.house
        )));
    }
    let row = tx
        .query_one(
            "INSERT INTO join_pending (house_id, user_id, join_type) VALUES ($1, $2, $3)
             RETURNING id, house_id, user_id, join_type",
            &[&body.house, &body.user, &body.kind.id()],
        )
        .await
        .map_err(|e| match AppError::from_db(e) {
            AppError::Conflict(_) => AppError::Conflict(format!(
                "user {} and house {} already have a pending invitation or request",
                body.user, body.house
            )),
            other => other,
        })?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(pending(&row))))
}

/// Accepting makes the user a resident and removes the pending entry, in one
/// transaction; declining only removes it.
async fn respond(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Body(body): Body<Response>,
) -> Result<StatusCode, AppError> {
    let mut db = state.db().await?;
    let tx = db.transaction().await?;
    let row = tx
        .query_opt(
            "DELETE FROM join_pending WHERE id = $1 RETURNING house_id, user_id",
            &[&id],
        )
        .await?
        .ok_or_else(|| AppError::not_found("invitation", id))?;
    if body.accept {
        let (house, user): (i64, i64) = (row.get(0), row.get(1));
        tx.execute(
            "INSERT INTO member_of (user_id, house_id, ownership) VALUES ($1, $2, 2)
             ON CONFLICT DO NOTHING",
            &[&user, &house],
        )
        .await
        .map_err(AppError::from_db)?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_pending(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    let db = state.db().await?;
    let n = db
        .execute("DELETE FROM join_pending WHERE id = $1", &[&id])
        .await?;
    if n == 0 {
        return Err(AppError::not_found("invitation", id));
    }
    Ok(StatusCode::NO_CONTENT)
}
