//! Houses: get with residents (members), create (the caller becomes the
//! owner), update and delete (the owner), remove a member (the owner, or the
//! member leaving).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use deadpool_postgres::GenericClient;
use finch::slo;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::{Json as Body, Path};
use crate::routes::lookups::{day_id, day_name};
use crate::routes::{in_range, text};

/// A house with its residents.
#[derive(Debug, Serialize, Deserialize)]
pub struct House {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// The weekday groceries are bought.
    pub grocery_day: String,
    /// People living there.
    pub household_number: i32,
    /// Members and their standing.
    pub residents: Vec<Resident>,
}

/// A member of a house.
#[derive(Debug, Serialize, Deserialize)]
pub struct Resident {
    /// The user's id.
    pub id: i64,
    /// The user's name.
    pub name: String,
    /// `owner`, `resident` or `blocked`.
    pub ownership: String,
}

/// The body of `POST /houses`.
#[derive(Debug, Deserialize)]
pub struct NewHouse {
    /// Name.
    pub name: String,
    /// A weekday name.
    pub grocery_day: String,
    /// People living there (1..=100).
    pub household_number: i32,
}

/// The body of `PATCH /houses/{id}`: the fields to change.
#[derive(Debug, Deserialize)]
pub struct HouseUpdate {
    /// New name.
    pub name: Option<String>,
    /// New grocery day.
    pub grocery_day: Option<String>,
    /// New household size.
    pub household_number: Option<i32>,
}

/// The house routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/houses", post(create))
        .route(
            "/houses/{id}",
            get(get_house).patch(update).delete(delete_house),
        )
        .route("/houses/{id}/members/{user}", delete(remove_member))
}

/// Loads a house and its residents.
pub(crate) async fn load(db: &impl GenericClient, id: i64) -> Result<House, AppError> {
    let row = db
        .query_opt(
            "SELECT id, name, grocery_day, household_number FROM house WHERE id = $1",
            &[&id],
        )
        .await?
        .ok_or_else(|| AppError::not_found("house", id))?;
    let residents = db
        .query(
            "SELECT u.id, u.username, o.name FROM member_of m
             JOIN user_info u ON u.id = m.user_id
             JOIN ownership o ON o.id = m.ownership
             WHERE m.house_id = $1 ORDER BY m.ownership, u.id",
            &[&id],
        )
        .await?;
    Ok(House {
        id: row.get(0),
        name: row.get(1),
        grocery_day: day_name(row.get(2)).to_string(),
        household_number: row.get(3),
        residents: residents
            .iter()
            .map(|r| Resident {
                id: r.get(0),
                name: r.get(1),
                ownership: r.get(2),
            })
            .collect(),
    })
}

async fn get_house(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<House>, AppError> {
    let db = state.db().await?;
    caller.member_of(&*db, id).await?;
    Ok(Json(load(&*db, id).await?))
}

/// Creating a house and the caller's membership as its owner, in one transaction.
#[slo(p95 < 200ms, errors < 1%, name = "meal_planner.houses.create")]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<NewHouse>,
) -> Result<(StatusCode, Json<House>), AppError> {
    let name = text("name", &body.name, 64)?;
    let day = day_id(&body.grocery_day)?;
    in_range("household_number", body.household_number.into(), 1, 100)?;
    let mut db = state.db().await?;
    let tx = db.transaction().await?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO house (name, grocery_day, household_number) VALUES ($1, $2, $3)
             RETURNING id",
            &[&name, &day, &body.household_number],
        )
        .await?
        .get(0);
    tx.execute(
        "INSERT INTO member_of (user_id, house_id, ownership) VALUES ($1, $2, 1)",
        &[&caller.user, &id],
    )
    .await
    .map_err(AppError::from_db)?;
    let house = load(&tx, id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(house)))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(body): Body<HouseUpdate>,
) -> Result<Json<House>, AppError> {
    let name = body
        .name
        .as_deref()
        .map(|n| text("name", n, 64))
        .transpose()?;
    let day = body.grocery_day.as_deref().map(day_id).transpose()?;
    if let Some(n) = body.household_number {
        in_range("household_number", n.into(), 1, 100)?;
    }
    if name.is_none() && day.is_none() && body.household_number.is_none() {
        return Err(AppError::BadRequest(
            "nothing to update: give `name`, `grocery_day` or `household_number`".into(),
        ));
    }
    let db = state.db().await?;
    caller.owner_of(&*db, id).await?;
    let n = db
        .execute(
            "UPDATE house SET name = COALESCE($2, name),
                              grocery_day = COALESCE($3, grocery_day),
                              household_number = COALESCE($4, household_number)
             WHERE id = $1",
            &[&id, &name, &day, &body.household_number],
        )
        .await
        .map_err(AppError::from_db)?;
    if n == 0 {
        return Err(AppError::not_found("house", id));
    }
    Ok(Json(load(&*db, id).await?))
}

async fn delete_house(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    let db = state.db().await?;
    caller.owner_of(&*db, id).await?;
    let n = db
        .execute("DELETE FROM house WHERE id = $1", &[&id])
        .await?;
    if n == 0 {
        return Err(AppError::not_found("house", id));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((house, user)): Path<(i64, i64)>,
) -> Result<StatusCode, AppError> {
    let db = state.db().await?;
    if caller.is(user).is_err() {
        caller.owner_of(&*db, house).await?;
    }
    let n = db
        .execute(
            "DELETE FROM member_of WHERE house_id = $1 AND user_id = $2",
            &[&house, &user],
        )
        .await?;
    if n == 0 {
        return Err(AppError::NotFound(format!(
            "user {user} is not a member of house {house}"
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}
