//! Storages (a house's pantry), for its members: get, upsert a list of items
//! (creating missing ingredients), delete some items, delete all.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use deadpool_postgres::GenericClient;
use finch::slo;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::{Json as Body, Path};
use crate::routes::lookups::{unit_id, unit_name};
use crate::routes::recipes::{ValidUse, amount, ingredient_id_map, ingredient_name};
use crate::tuning::PANTRY_BATCH;
use crate::{AppState, Db};

/// An item in a pantry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Item {
    /// The ingredient's name.
    pub name: String,
    /// How much (at least 0).
    pub amount: f32,
    /// A unit name.
    pub unit: String,
}

/// The body of `DELETE /storages/{house}/items`.
#[derive(Debug, Deserialize)]
pub struct ItemNames {
    /// Names of the ingredients to remove.
    pub names: Vec<String>,
}

/// The most items one upsert takes.
pub const MAX_ITEMS: usize = 200;

/// The storage routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/storages/{house}",
            get(get_storage).put(upsert).delete(clear),
        )
        .route("/storages/{house}/items", delete(delete_items))
}

async fn items(db: &impl GenericClient, house: i64) -> Result<Vec<Item>, AppError> {
    let rows = db
        .query(
            "SELECT i.name, s.amount, s.unit FROM item_in_storage s
             JOIN ingredient i ON i.id = s.ingredient_id
             WHERE s.house_id = $1 ORDER BY i.name",
            &[&house],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Item {
            name: r.get(0),
            amount: r.get(1),
            unit: unit_name(r.get(2)).to_string(),
        })
        .collect())
}

async fn get_storage(
    State(state): State<AppState>,
    caller: Caller,
    Path(house): Path<i64>,
) -> Result<Json<Vec<Item>>, AppError> {
    let db = state.db().await?;
    caller.member_of(&*db, house).await?;
    Ok(Json(items(&*db, house).await?))
}

/// Validates items; a name given twice keeps its last amount. Sorted by name,
/// so concurrent upserts lock rows in the same order.
fn validate(body: &[Item]) -> Result<Vec<ValidUse>, AppError> {
    if body.is_empty() || body.len() > MAX_ITEMS {
        return Err(AppError::BadRequest(format!(
            "give 1 to {MAX_ITEMS} items, got {}",
            body.len()
        )));
    }
    let mut by_name = BTreeMap::new();
    for item in body {
        let name = ingredient_name(&item.name)?;
        let unit = unit_id(&item.unit)?;
        let amount = amount(item.amount, 0.0, false)?;
        by_name.insert(name.clone(), ValidUse { name, unit, amount });
    }
    Ok(by_name.into_values().collect())
}

async fn upsert_tx(
    db: &mut Db,
    caller: Caller,
    house: i64,
    uses: &[ValidUse],
    batch: usize,
) -> Result<Vec<Item>, AppError> {
    let tx = db.transaction().await?;
    caller.member_of(&tx, house).await?;
    for chunk in uses.chunks(batch) {
        let names: Vec<String> = chunk.iter().map(|u| u.name.clone()).collect();
        let ids = ingredient_id_map(&tx, &names).await?;
        let mut ingredients = Vec::with_capacity(chunk.len());
        for u in chunk {
            let id = ids.get(&u.name).copied().ok_or_else(|| {
                AppError::Internal(format!("ingredient {:?} was not created", u.name))
            })?;
            ingredients.push(id);
        }
        let units: Vec<i16> = chunk.iter().map(|u| u.unit).collect();
        let amounts: Vec<f32> = chunk.iter().map(|u| u.amount).collect();
        tx.execute(
            "INSERT INTO item_in_storage (house_id, ingredient_id, amount, unit)
             SELECT $1, i, a, u FROM unnest($2::bigint[], $3::real[], $4::smallint[]) AS x(i, a, u)
             ON CONFLICT (house_id, ingredient_id)
             DO UPDATE SET amount = EXCLUDED.amount, unit = EXCLUDED.unit",
            &[&house, &ingredients, &amounts, &units],
        )
        .await
        .map_err(AppError::from_db)?;
    }
    let all = items(&tx, house).await?;
    tx.commit().await?;
    Ok(all)
}

/// Upserting pantry items in one transaction, [`PANTRY_BATCH`] items per
/// statement; returns the whole pantry.
#[slo(p95 < 150ms, errors < 1%, name = "meal_planner.storages.upsert")]
async fn upsert(
    State(state): State<AppState>,
    caller: Caller,
    Path(house): Path<i64>,
    Body(body): Body<Vec<Item>>,
) -> Result<Json<Vec<Item>>, AppError> {
    let uses = validate(&body)?;
    let batch = PANTRY_BATCH.get().max(1) as usize;
    let mut db = state.db().await?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match upsert_tx(&mut db, caller, house, &uses, batch).await {
            Err(e) if e.is_retryable() && attempt < 3 => continue,
            result => return result.map(Json),
        }
    }
}

async fn delete_items(
    State(state): State<AppState>,
    caller: Caller,
    Path(house): Path<i64>,
    Body(body): Body<ItemNames>,
) -> Result<Json<Vec<Item>>, AppError> {
    if body.names.is_empty() || body.names.len() > MAX_ITEMS {
        return Err(AppError::BadRequest(format!(
            "give 1 to {MAX_ITEMS} names, got {}",
            body.names.len()
        )));
    }
    let names = body
        .names
        .iter()
        .map(|n| ingredient_name(n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut db = state.db().await?;
    let tx = db.transaction().await?;
    caller.member_of(&tx, house).await?;
    tx.execute(
        "DELETE FROM item_in_storage s USING ingredient i
         WHERE s.ingredient_id = i.id AND s.house_id = $1 AND i.name = ANY($2)",
        &[&house, &names],
    )
    .await?;
    let all = items(&tx, house).await?;
    tx.commit().await?;
    Ok(Json(all))
}

async fn clear(
    State(state): State<AppState>,
    caller: Caller,
    Path(house): Path<i64>,
) -> Result<StatusCode, AppError> {
    let db = state.db().await?;
    caller.member_of(&*db, house).await?;
    db.execute("DELETE FROM item_in_storage WHERE house_id = $1", &[&house])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
