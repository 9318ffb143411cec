//! The fixed vocabularies: units, meal types and weekdays (`/units`, `/meals`,
//! `/days`), and their mapping between names and ids.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;

/// Units of measure, by id (1-based), as the first migration inserts them.
pub const UNITS: [&str; 10] = [
    "kg", "pound", "lb", "tbsp", "tsp", "ounce", "quantity", "litre", "cup", "grams",
];

/// Meal types, by id (1-based).
pub const MEALS: [&str; 4] = ["Breakfast", "Snack", "Lunch", "Dinner"];

/// Weekdays, by id (1-based).
pub const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// One entry of a vocabulary.
#[derive(Debug, Serialize)]
pub struct Lookup {
    /// Its id.
    pub id: i16,
    /// Its name.
    pub name: String,
}

fn id_of(table: &[&str], what: &str, name: &str) -> Result<i16, AppError> {
    table
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name.trim()))
        .and_then(|i| i16::try_from(i + 1).ok())
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "unknown {what} {name:?}; expected one of {}",
                table.join(", ")
            ))
        })
}

fn name_of(table: &[&'static str], id: i16) -> &'static str {
    usize::try_from(id)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| table.get(i))
        .copied()
        .unwrap_or("unknown")
}

/// The id of a unit name (case-insensitive).
pub fn unit_id(name: &str) -> Result<i16, AppError> {
    id_of(&UNITS, "unit", name)
}

/// The id of a meal type name.
pub fn meal_id(name: &str) -> Result<i16, AppError> {
    id_of(&MEALS, "meal type", name)
}

/// The id of a weekday name.
pub fn day_id(name: &str) -> Result<i16, AppError> {
    id_of(&DAYS, "weekday", name)
}

/// The name of a unit id.
pub fn unit_name(id: i16) -> &'static str {
    name_of(&UNITS, id)
}

/// The name of a meal type id.
pub fn meal_name(id: i16) -> &'static str {
    name_of(&MEALS, id)
}

/// The name of a weekday id.
pub fn day_name(id: i16) -> &'static str {
    name_of(&DAYS, id)
}

/// The lookup routes (for signed-in users).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/units", get(units))
        .route("/meals", get(meals))
        .route("/days", get(days))
}

async fn table(state: &AppState, sql: &str) -> Result<Json<Vec<Lookup>>, AppError> {
    let db = state.db().await?;
    let rows = db.query(sql, &[]).await?;
    Ok(Json(
        rows.iter()
            .map(|r| Lookup {
                id: r.get(0),
                name: r.get(1),
            })
            .collect(),
    ))
}

async fn units(State(state): State<AppState>, _: Caller) -> Result<Json<Vec<Lookup>>, AppError> {
    table(&state, "SELECT id, name FROM unit ORDER BY id").await
}

async fn meals(State(state): State<AppState>, _: Caller) -> Result<Json<Vec<Lookup>>, AppError> {
    table(&state, "SELECT id, name FROM meal_type ORDER BY id").await
}

async fn days(State(state): State<AppState>, _: Caller) -> Result<Json<Vec<Lookup>>, AppError> {
    table(&state, "SELECT id, name FROM weekday ORDER BY id").await
}
