//! Invitations (a house's owner invites a user) and join requests (a user asks
//! to join a house): list one's own or one's house's, create, respond (the
//! invited user, or the owner for a request), delete (either side).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use deadpool_postgres::GenericClient;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Caller;
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

async fn list(db: &impl GenericClient, select: &str, id: i64) -> Result<Vec<Pending>, AppError> {
    Ok(db
        .query(select, &[&id])
        .await?
        .iter()
        .map(pending)
        .collect())
}

/// The caller's own invitations and requests.
async fn by_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<i64>,
) -> Result<Json<Vec<Pending>>, AppError> {
    caller.is(user)?;
    let db = state.db().await?;
    let found = list(
        &*db,
        "SELECT id, house_id, user_id, join_type FROM join_pending WHERE user_id = $1 ORDER BY id",
        user,
    )
    .await?;
    Ok(Json(found))
}

/// A house's invitations and requests, for its members.
async fn by_house(
    State(state): State<AppState>,
    caller: Caller,
    Path(house): Path<i64>,
) -> Result<Json<Vec<Pending>>, AppError> {
    let db = state.db().await?;
    caller.member_of(&*db, house).await?;
    let found = list(
        &*db,
        "SELECT id, house_id, user_id, join_type FROM join_pending WHERE house_id = $1 ORDER BY id",
        house,
    )
    .await?;
    Ok(Json(found))
}

/// An invitation comes from the house's owner; a join request from the user
/// asking, for themself.
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<NewPending>,
) -> Result<(StatusCode, Json<Pending>), AppError> {
    let mut db = state.db().await?;
    let tx = db.transaction().await?;
    match body.kind {
        Kind::Invitation => caller.owner_of(&tx, body.house).await?,
        Kind::JoinRequest => caller.is(body.user)?,
    }
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

/// Loads a pending entry (locked) the caller may act on: the invited or asking
/// user's, or one of a house the caller owns. Anyone else gets a `404`.
async fn pending_for(
    db: &impl GenericClient,
    caller: Caller,
    id: i64,
) -> Result<Pending, AppError> {
    let found = db
        .query_opt(
            "SELECT id, house_id, user_id, join_type FROM join_pending WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .map(|r| pending(&r));
    if let Some(p) = found
        && (caller.is(p.user).is_ok() || caller.owner_of(db, p.house).await.is_ok())
    {
        return Ok(p);
    }
    Err(AppError::not_found("invitation", id))
}

/// Accepting makes the user a resident and removes the pending entry, in one
/// transaction; declining only removes it. The invited user answers an
/// invitation; the house's owner answers a join request.
async fn respond(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(body): Body<Response>,
) -> Result<StatusCode, AppError> {
    let mut db = state.db().await?;
    let tx = db.transaction().await?;
    let p = pending_for(&tx, caller, id).await?;
    match p.kind {
        Kind::Invitation => caller.is(p.user)?,
        Kind::JoinRequest => caller.owner_of(&tx, p.house).await?,
    }
    tx.execute("DELETE FROM join_pending WHERE id = $1", &[&id])
        .await?;
    if body.accept {
        let (house, user) = (p.house, p.user);
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

/// Withdrawing or dismissing: the user's or the house owner's to do.
async fn delete_pending(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    let mut db = state.db().await?;
    let tx = db.transaction().await?;
    pending_for(&tx, caller, id).await?;
    tx.execute("DELETE FROM join_pending WHERE id = $1", &[&id])
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
