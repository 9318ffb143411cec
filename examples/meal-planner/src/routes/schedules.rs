//! Schedules: a house's week of 7 days × 4 meals, for its members. Create the
//! 28 empty slots, set a slot, get, delete, and the shopping list the plan
//! implies.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use deadpool_postgres::GenericClient;
use finch::slo;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::{Json as Body, Path};
use crate::routes::lookups::{day_id, day_name, meal_id, meal_name, unit_name};

/// A house's week.
#[derive(Debug, Serialize, Deserialize)]
pub struct Schedule {
    /// The house.
    pub house: i64,
    /// The 28 slots, Monday's breakfast first.
    pub slots: Vec<Slot>,
}

/// One meal of the week.
#[derive(Debug, Serialize, Deserialize)]
pub struct Slot {
    /// Weekday name.
    pub day: String,
    /// Meal type name.
    #[serde(rename = "type")]
    pub meal: String,
    /// The planned recipe, if any.
    pub recipe: Option<PlannedRecipe>,
}

/// A recipe in a slot.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlannedRecipe {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
}

/// The body of `PUT /schedules/{house}`.
#[derive(Debug, Deserialize)]
pub struct SetSlot {
    /// Weekday name.
    pub day: String,
    /// Meal type name.
    #[serde(rename = "type")]
    pub meal: String,
    /// The recipe to plan; `null` empties the slot.
    pub recipe: Option<i64>,
}

/// What to buy: the planned recipes' ingredients (scaled to the household)
/// less what the pantry holds in the same unit.
#[derive(Debug, Serialize, Deserialize)]
pub struct ShoppingItem {
    /// Ingredient name.
    pub name: String,
    /// Unit name.
    pub unit: String,
    /// How much is missing.
    pub amount: f32,
}

/// The schedule routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/schedules/{house}",
            post(create)
                .put(set_slot)
                .get(get_schedule)
                .delete(delete_schedule),
        )
        .route("/schedules/{house}/shopping-list", get(shopping_list))
}

async fn load(db: &impl GenericClient, house: i64) -> Result<Schedule, AppError> {
    let rows = db
        .query(
            "SELECT s.weekday, s.meal_type, r.id, r.name FROM schedule s
             LEFT JOIN recipe r ON r.id = s.recipe_id
             WHERE s.house_id = $1 ORDER BY s.weekday, s.meal_type",
            &[&house],
        )
        .await?;
    if rows.is_empty() {
        return Err(AppError::NotFound(format!(
            "house {house} has no schedule; create it with POST /schedules/{house}"
        )));
    }
    Ok(Schedule {
        house,
        slots: rows
            .iter()
            .map(|r| Slot {
                day: day_name(r.get(0)).to_string(),
                meal: meal_name(r.get(1)).to_string(),
                recipe: r
                    .get::<_, Option<i64>>(2)
                    .map(|id| PlannedRecipe { id, name: r.get(3) }),
            })
            .collect(),
    })
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(house): Path<i64>,
) -> Result<(StatusCode, Json<Schedule>), AppError> {
    let db = state.db().await?;
    caller.member_of(&*db, house).await?;
    db.execute(
        "INSERT INTO schedule (house_id, weekday, meal_type)
         SELECT $1, d, m FROM generate_series(1, 7) AS d, generate_series(1, 4) AS m",
        &[&house],
    )
    .await
    .map_err(|e| match AppError::from_db(e) {
        AppError::Conflict(_) => AppError::Conflict(format!("house {house} has a schedule")),
        AppError::NotFound(_) => AppError::not_found("house", house),
        other => other,
    })?;
    Ok((StatusCode::CREATED, Json(load(&*db, house).await?)))
}

/// Planning one meal; returns the whole week.
#[slo(p95 < 100ms, errors < 1%, name = "meal_planner.schedules.set")]
async fn set_slot(
    State(state): State<AppState>,
    caller: Caller,
    Path(house): Path<i64>,
    Body(body): Body<SetSlot>,
) -> Result<Json<Schedule>, AppError> {
    let day = day_id(&body.day)?;
    let meal = meal_id(&body.meal)?;
    let db = state.db().await?;
    // The membership check rides on the update (this route is hot); a miss
    // is told apart afterwards.
    let n = db
        .execute(
            "UPDATE schedule SET recipe_id = $4
             WHERE house_id = $1 AND weekday = $2 AND meal_type = $3
               AND EXISTS (SELECT 1 FROM member_of
                           WHERE house_id = $1 AND user_id = $5 AND ownership IN (1, 2))",
            &[&house, &day, &meal, &body.recipe, &caller.user],
        )
        .await
        .map_err(|e| match (AppError::from_db(e), body.recipe) {
            (AppError::NotFound(_), Some(recipe)) => AppError::not_found("recipe", recipe),
            (other, _) => other,
        })?;
    if n == 0 {
        caller.member_of(&*db, house).await?;
        return Err(AppError::NotFound(format!(
            "house {house} has no schedule; create it with POST /schedules/{house}"
        )));
    }
    Ok(Json(load(&*db, house).await?))
}

async fn get_schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(house): Path<i64>,
) -> Result<Json<Schedule>, AppError> {
    let db = state.db().await?;
    caller.member_of(&*db, house).await?;
    Ok(Json(load(&*db, house).await?))
}

async fn delete_schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(house): Path<i64>,
) -> Result<StatusCode, AppError> {
    let db = state.db().await?;
    caller.member_of(&*db, house).await?;
    let n = db
        .execute("DELETE FROM schedule WHERE house_id = $1", &[&house])
        .await?;
    if n == 0 {
        return Err(AppError::NotFound(format!("house {house} has no schedule")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The week's shopping list: one aggregating query over the schedule, the
/// recipes' step ingredients and the pantry.
#[slo(p95 < 100ms, name = "meal_planner.schedules.shopping_list")]
async fn shopping_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(house): Path<i64>,
) -> Result<Json<Vec<ShoppingItem>>, AppError> {
    let db = state.db().await?;
    caller.member_of(&*db, house).await?;
    let rows = db
        .query(
            "WITH need AS (
                 SELECT si.ingredient_id, si.unit,
                        SUM(si.amount * h.household_number / r.serves_for)::real AS amount
                 FROM schedule s
                 JOIN house h ON h.id = s.house_id
                 JOIN recipe r ON r.id = s.recipe_id
                 JOIN step_ingredient si ON si.recipe_id = r.id
                 WHERE s.house_id = $1
                 GROUP BY si.ingredient_id, si.unit
             )
             SELECT i.name, n.unit, (n.amount - COALESCE(p.amount, 0))::real
             FROM need n
             JOIN ingredient i ON i.id = n.ingredient_id
             LEFT JOIN item_in_storage p
                    ON p.house_id = $1 AND p.ingredient_id = n.ingredient_id AND p.unit = n.unit
             WHERE n.amount - COALESCE(p.amount, 0) > 0
             ORDER BY i.name, n.unit",
            &[&house],
        )
        .await?;
    Ok(Json(
        rows.iter()
            .map(|r| ShoppingItem {
                name: r.get(0),
                unit: unit_name(r.get(1)).to_string(),
                amount: r.get(2),
            })
            .collect(),
    ))
}
