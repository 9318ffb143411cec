//! Recipes: a catalogue every signed-in user may search and read (one recipe
//! through the cache); a house's recipes for its members; one's own; create
//! (the caller is the author) with types, steps and step ingredients in one
//! transaction; update a field, replace a step's ingredients or delete (the
//! author); add to a house (its members).

use std::collections::{BTreeSet, HashMap};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use deadpool_postgres::GenericClient;
use finch::slo;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::{Json as Body, Path, Query};
use crate::routes::lookups::{meal_id, meal_name, unit_id, unit_name};
use crate::routes::{in_range, text};
use crate::{AppState, Db};

/// A whole recipe.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Recipe {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Portions it makes.
    pub serves_for: i32,
    /// An image URL, if any.
    pub image: Option<String>,
    /// Meal types it suits (`Breakfast`, `Snack`, `Lunch`, `Dinner`).
    pub types: Vec<String>,
    /// Its steps, in order.
    pub steps: Vec<Step>,
}

/// One step of a recipe.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Step {
    /// Its number, from 1.
    pub id: i32,
    /// What to do.
    pub text: String,
    /// What it uses.
    pub ingredients: Vec<Ingredient>,
}

/// An amount of an ingredient.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ingredient {
    /// The ingredient's name (created when new).
    pub name: String,
    /// A unit name (`/units`).
    pub unit: String,
    /// How much, more than 0.
    pub amount: f32,
}

/// A recipe in a list.
#[derive(Debug, Serialize, Deserialize)]
pub struct RecipeSummary {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Portions it makes.
    pub serves_for: i32,
    /// An image URL, if any.
    pub image: Option<String>,
}

/// The body of `POST /recipes`.
#[derive(Debug, Deserialize)]
pub struct NewRecipe {
    /// Name.
    pub name: String,
    /// Portions it makes (1..=100).
    pub serves_for: i32,
    /// An image URL.
    pub image: Option<String>,
    /// Meal types (at least one).
    pub types: Vec<String>,
    /// Steps (1..=50).
    pub steps: Vec<NewStep>,
    /// A house of the caller's to add the recipe to.
    pub house: Option<i64>,
}

/// A step of a new recipe.
#[derive(Debug, Deserialize)]
pub struct NewStep {
    /// What to do.
    pub text: String,
    /// What it uses (at most 50).
    #[serde(default)]
    pub ingredients: Vec<Ingredient>,
}

/// The body of `PATCH /recipes/{id}`: the fields to change.
#[derive(Debug, Deserialize)]
pub struct RecipeUpdate {
    /// New name.
    pub name: Option<String>,
    /// New portions.
    pub serves_for: Option<i32>,
    /// New image URL.
    pub image: Option<String>,
}

/// The query of `GET /recipes`.
#[derive(Debug, Deserialize)]
pub struct Search {
    /// Part of the name (case-insensitive); all recipes without it.
    pub name: Option<String>,
    /// At most this many (1..=200, default 50).
    pub limit: Option<i64>,
}

/// The body of `POST /houses/{id}/recipes`.
#[derive(Debug, Deserialize)]
pub struct HouseRecipe {
    /// The recipe to add.
    pub recipe: i64,
}

/// The recipe routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/recipes", get(search).post(create))
        .route(
            "/recipes/{id}",
            get(get_recipe).patch(update).delete(delete_recipe),
        )
        .route(
            "/recipes/{id}/steps/{step}/ingredients",
            put(replace_ingredients),
        )
        .route("/houses/{id}/recipes", get(by_house).post(add_to_house))
        .route("/users/{id}/recipes", get(by_user))
}

fn summary(r: &tokio_postgres::Row) -> RecipeSummary {
    RecipeSummary {
        id: r.get(0),
        name: r.get(1),
        serves_for: r.get(2),
        image: r.get(3),
    }
}

/// Escapes `LIKE` wildcards so the text matches literally.
fn like_pattern(part: &str) -> String {
    let mut pattern = String::with_capacity(part.len() + 2);
    pattern.push('%');
    for c in part.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Searching recipes by name.
#[slo(p95 < 100ms, name = "meal_planner.recipes.search")]
async fn search(
    State(state): State<AppState>,
    _: Caller,
    Query(q): Query<Search>,
) -> Result<Json<Vec<RecipeSummary>>, AppError> {
    let limit = q.limit.unwrap_or(50);
    in_range("limit", limit, 1, 200)?;
    let pattern = like_pattern(q.name.as_deref().unwrap_or("").trim());
    let db = state.db().await?;
    let rows = db
        .query(
            "SELECT id, name, serves_for, image FROM recipe
             WHERE lower(name) LIKE $1 ORDER BY id DESC LIMIT $2",
            &[&pattern, &limit],
        )
        .await?;
    Ok(Json(rows.iter().map(summary).collect()))
}

/// Loads a whole recipe: three queries (the recipe with its types, its steps,
/// their ingredients).
async fn load(db: &impl GenericClient, id: i64) -> Result<Recipe, AppError> {
    let row = db
        .query_opt(
            "SELECT r.id, r.name, r.serves_for, r.image,
                    COALESCE(array_agg(t.meal_type ORDER BY t.meal_type)
                             FILTER (WHERE t.meal_type IS NOT NULL), '{}')
             FROM recipe r LEFT JOIN recipe_type t ON t.recipe_id = r.id
             WHERE r.id = $1 GROUP BY r.id",
            &[&id],
        )
        .await?
        .ok_or_else(|| AppError::not_found("recipe", id))?;
    let types: Vec<i16> = row.get(4);
    let mut steps: Vec<Step> = db
        .query(
            "SELECT id, text FROM step WHERE recipe_id = $1 ORDER BY id",
            &[&id],
        )
        .await?
        .iter()
        .map(|r| Step {
            id: r.get(0),
            text: r.get(1),
            ingredients: Vec::new(),
        })
        .collect();
    let uses = db
        .query(
            "SELECT si.step_id, i.name, si.unit, si.amount
             FROM step_ingredient si JOIN ingredient i ON i.id = si.ingredient_id
             WHERE si.recipe_id = $1 ORDER BY si.step_id, i.name",
            &[&id],
        )
        .await?;
    for u in &uses {
        let step: i32 = u.get(0);
        if let Some(s) = steps.iter_mut().find(|s| s.id == step) {
            s.ingredients.push(Ingredient {
                name: u.get(1),
                unit: unit_name(u.get(2)).to_string(),
                amount: u.get(3),
            });
        }
    }
    Ok(Recipe {
        id: row.get(0),
        name: row.get(1),
        serves_for: row.get(2),
        image: row.get(3),
        types: types
            .into_iter()
            .map(|t| meal_name(t).to_string())
            .collect(),
        steps,
    })
}

fn json_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Reading one recipe: from the cache when it holds it, else from PostgreSQL.
#[slo(p99 < 50ms, name = "meal_planner.recipes.get")]
async fn get_recipe(
    State(state): State<AppState>,
    _: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    if let Some(body) = state.cache().get(id) {
        return Ok(json_response(body));
    }
    let epoch = state.cache().epoch();
    let db = state.db().await?;
    let recipe = load(&*db, id).await?;
    drop(db);
    let body = Bytes::from(
        serde_json::to_vec(&recipe)
            .map_err(|e| AppError::Internal(format!("cannot encode recipe {id}: {e}")))?,
    );
    state.cache().offer(epoch, id, body.clone());
    Ok(json_response(body))
}

/// A new recipe after validation: ids resolved, names normalized.
struct ValidRecipe {
    name: String,
    serves_for: i32,
    image: Option<String>,
    types: Vec<i16>,
    steps: Vec<(String, Vec<ValidUse>)>,
    house: Option<i64>,
}

/// An ingredient use after validation.
pub(crate) struct ValidUse {
    pub(crate) name: String,
    pub(crate) unit: i16,
    pub(crate) amount: f32,
}

/// Checks an ingredient name and normalizes it (trimmed, lower case).
pub(crate) fn ingredient_name(name: &str) -> Result<String, AppError> {
    Ok(text("ingredient name", name, 64)?.to_lowercase())
}

/// Checks an amount: finite, within `lo..=1e6`.
pub(crate) fn amount(value: f32, lo: f32, positive: bool) -> Result<f32, AppError> {
    let ok = value.is_finite() && value <= 1e6 && if positive { value > lo } else { value >= lo };
    if ok {
        Ok(value)
    } else {
        let bound = if positive {
            "more than 0"
        } else {
            "at least 0"
        };
        Err(AppError::BadRequest(format!(
            "`amount` must be {bound} and at most 1000000, got {value}"
        )))
    }
}

fn valid_uses(step: usize, uses: &[Ingredient]) -> Result<Vec<ValidUse>, AppError> {
    if uses.len() > 50 {
        return Err(AppError::BadRequest(format!(
            "step {step} has {} ingredients; at most 50",
            uses.len()
        )));
    }
    let mut seen = BTreeSet::new();
    uses.iter()
        .map(|u| {
            let name = ingredient_name(&u.name)?;
            if !seen.insert(name.clone()) {
                return Err(AppError::BadRequest(format!(
                    "ingredient {name:?} appears twice in step {step}"
                )));
            }
            Ok(ValidUse {
                name,
                unit: unit_id(&u.unit)?,
                amount: amount(u.amount, 0.0, true)?,
            })
        })
        .collect()
}

fn validate(body: &NewRecipe) -> Result<ValidRecipe, AppError> {
    let name = text("name", &body.name, 128)?;
    in_range("serves_for", body.serves_for.into(), 1, 100)?;
    let image = body
        .image
        .as_deref()
        .map(|i| text("image", i, 2048))
        .transpose()?;
    if body.types.is_empty() {
        return Err(AppError::BadRequest(
            "`types` needs at least one meal type".into(),
        ));
    }
    let types: BTreeSet<i16> = body
        .types
        .iter()
        .map(|t| meal_id(t))
        .collect::<Result<_, _>>()?;
    if body.steps.is_empty() || body.steps.len() > 50 {
        return Err(AppError::BadRequest(format!(
            "a recipe needs 1 to 50 steps, got {}",
            body.steps.len()
        )));
    }
    let steps = body
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Ok((
                text("step text", &s.text, 2000)?,
                valid_uses(i + 1, &s.ingredients)?,
            ))
        })
        .collect::<Result<_, AppError>>()?;
    Ok(ValidRecipe {
        name,
        serves_for: body.serves_for,
        image,
        types: types.into_iter().collect(),
        steps,
        house: body.house,
    })
}

/// Creates the ingredients that do not exist yet and returns the ids of all
/// `names`. Names are inserted in sorted order, so concurrent writers lock them
/// in the same order.
pub(crate) async fn ingredient_id_map(
    db: &impl GenericClient,
    names: &[String],
) -> Result<HashMap<String, i64>, AppError> {
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    sorted.dedup();
    db.execute(
        "INSERT INTO ingredient (name) SELECT n FROM unnest($1::text[]) AS n ORDER BY n
         ON CONFLICT (name) DO NOTHING",
        &[&sorted],
    )
    .await
    .map_err(AppError::from_db)?;
    let rows = db
        .query(
            "SELECT name, id FROM ingredient WHERE name = ANY($1)",
            &[&sorted],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Inserts the uses of one step.
async fn insert_uses(
    db: &impl GenericClient,
    recipe: i64,
    step: i32,
    uses: &[ValidUse],
    ids: &HashMap<String, i64>,
) -> Result<(), AppError> {
    let mut ingredients = Vec::with_capacity(uses.len());
    for u in uses {
        let id = ids.get(&u.name).copied().ok_or_else(|| {
            AppError::Internal(format!("ingredient {:?} was not created", u.name))
        })?;
        ingredients.push(id);
    }
    let units: Vec<i16> = uses.iter().map(|u| u.unit).collect();
    let amounts: Vec<f32> = uses.iter().map(|u| u.amount).collect();
    db.execute(
        "INSERT INTO step_ingredient (recipe_id, step_id, ingredient_id, unit, amount)
         SELECT $1, $2, i, u, a FROM unnest($3::bigint[], $4::smallint[], $5::real[]) AS x(i, u, a)",
        &[&recipe, &step, &ingredients, &units, &amounts],
    )
    .await
    .map_err(AppError::from_db)?;
    Ok(())
}

async fn create_tx(db: &mut Db, author: Caller, r: &ValidRecipe) -> Result<Recipe, AppError> {
    let tx = db.transaction().await?;
    if let Some(house) = r.house {
        author.member_of(&tx, house).await?;
    }
    let id: i64 = tx
        .query_one(
            "INSERT INTO recipe (name, serves_for, image) VALUES ($1, $2, $3) RETURNING id",
            &[&r.name, &r.serves_for, &r.image],
        )
        .await
        .map_err(AppError::from_db)?
        .get(0);
    tx.execute(
        "INSERT INTO recipe_type (recipe_id, meal_type) SELECT $1, t FROM unnest($2::smallint[]) AS t",
        &[&id, &r.types],
    )
    .await?;
    tx.execute(
        "INSERT INTO user_recipe (user_id, recipe_id) VALUES ($1, $2)",
        &[&author.user, &id],
    )
    .await?;
    if let Some(house) = r.house {
        tx.execute(
            "INSERT INTO house_recipe (house_id, recipe_id) VALUES ($1, $2)",
            &[&house, &id],
        )
        .await?;
    }
    let step_ids: Vec<i32> = (1..=r.steps.len())
        .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
        .collect();
    let texts: Vec<&str> = r.steps.iter().map(|(t, _)| t.as_str()).collect();
    tx.execute(
        "INSERT INTO step (recipe_id, id, text) SELECT $1, s, t FROM unnest($2::int[], $3::text[]) AS x(s, t)",
        &[&id, &step_ids, &texts],
    )
    .await?;
    let names: Vec<String> = r
        .steps
        .iter()
        .flat_map(|(_, uses)| uses.iter().map(|u| u.name.clone()))
        .collect();
    if !names.is_empty() {
        let ids = ingredient_id_map(&tx, &names).await?;
        for (step, (_, uses)) in step_ids.iter().zip(&r.steps) {
            if !uses.is_empty() {
                insert_uses(&tx, id, *step, uses, &ids).await?;
            }
        }
    }
    let recipe = load(&tx, id).await?;
    tx.commit().await?;
    Ok(recipe)
}

/// Creating a recipe with its types, steps and ingredients, in one transaction
/// (run again on a deadlock with a concurrent writer).
#[slo(p95 < 300ms, errors < 1%, name = "meal_planner.recipes.create")]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<NewRecipe>,
) -> Result<(StatusCode, Json<Recipe>), AppError> {
    let valid = validate(&body)?;
    let mut db = state.db().await?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match create_tx(&mut db, caller, &valid).await {
            Err(e) if e.is_retryable() && attempt < 3 => continue,
            result => return result.map(|r| (StatusCode::CREATED, Json(r))),
        }
    }
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(body): Body<RecipeUpdate>,
) -> Result<Json<Recipe>, AppError> {
    let name = body
        .name
        .as_deref()
        .map(|n| text("name", n, 128))
        .transpose()?;
    let image = body
        .image
        .as_deref()
        .map(|i| text("image", i, 2048))
        .transpose()?;
    if let Some(s) = body.serves_for {
        in_range("serves_for", s.into(), 1, 100)?;
    }
    if name.is_none() && image.is_none() && body.serves_for.is_none() {
        return Err(AppError::BadRequest(
            "nothing to update: give `name`, `serves_for` or `image`".into(),
        ));
    }
    let mut db = state.db().await?;
    let tx = db.transaction().await?;
    caller.author_of(&tx, id).await?;
    let n = tx
        .execute(
            "UPDATE recipe SET name = COALESCE($2, name),
                               serves_for = COALESCE($3, serves_for),
                               image = COALESCE($4, image)
             WHERE id = $1",
            &[&id, &name, &body.serves_for, &image],
        )
        .await
        .map_err(AppError::from_db)?;
    if n == 0 {
        return Err(AppError::not_found("recipe", id));
    }
    let recipe = load(&tx, id).await?;
    tx.commit().await?;
    state.cache().invalidate(id);
    Ok(Json(recipe))
}

async fn replace_ingredients(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, step)): Path<(i64, i32)>,
    Body(body): Body<Vec<Ingredient>>,
) -> Result<Json<Recipe>, AppError> {
    let uses = valid_uses(usize::try_from(step).unwrap_or(0), &body)?;
    let mut db = state.db().await?;
    let tx = db.transaction().await?;
    caller.author_of(&tx, id).await?;
    if tx
        .query_opt(
            "SELECT 1 FROM step WHERE recipe_id = $1 AND id = $2 FOR UPDATE",
            &[&id, &step],
        )
        .await?
        .is_none()
    {
        return Err(AppError::NotFound(format!(
            "recipe {id} has no step {step}"
        )));
    }
    tx.execute(
        "DELETE FROM step_ingredient WHERE recipe_id = $1 AND step_id = $2",
        &[&id, &step],
    )
    .await?;
    if !uses.is_empty() {
        let names: Vec<String> = uses.iter().map(|u| u.name.clone()).collect();
        let ids = ingredient_id_map(&tx, &names).await?;
        insert_uses(&tx, id, step, &uses, &ids).await?;
    }
    let recipe = load(&tx, id).await?;
    tx.commit().await?;
    state.cache().invalidate(id);
    Ok(Json(recipe))
}

async fn delete_recipe(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    let db = state.db().await?;
    caller.author_of(&*db, id).await?;
    let n = db
        .execute("DELETE FROM recipe WHERE id = $1", &[&id])
        .await?;
    state.cache().invalidate(id);
    if n == 0 {
        return Err(AppError::not_found("recipe", id));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn by_house(
    State(state): State<AppState>,
    caller: Caller,
    Path(house): Path<i64>,
) -> Result<Json<Vec<RecipeSummary>>, AppError> {
    let db = state.db().await?;
    caller.member_of(&*db, house).await?;
    let rows = db
        .query(
            "SELECT r.id, r.name, r.serves_for, r.image FROM house_recipe h
             JOIN recipe r ON r.id = h.recipe_id WHERE h.house_id = $1 ORDER BY r.id",
            &[&house],
        )
        .await?;
    Ok(Json(rows.iter().map(summary).collect()))
}

/// The recipes the caller wrote.
async fn by_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<i64>,
) -> Result<Json<Vec<RecipeSummary>>, AppError> {
    caller.is(user)?;
    let db = state.db().await?;
    let rows = db
        .query(
            "SELECT r.id, r.name, r.serves_for, r.image FROM user_recipe u
             JOIN recipe r ON r.id = u.recipe_id WHERE u.user_id = $1 ORDER BY r.id",
            &[&user],
        )
        .await?;
    Ok(Json(rows.iter().map(summary).collect()))
}

async fn add_to_house(
    State(state): State<AppState>,
    caller: Caller,
    Path(house): Path<i64>,
    Body(body): Body<HouseRecipe>,
) -> Result<StatusCode, AppError> {
    let db = state.db().await?;
    caller.member_of(&*db, house).await?;
    db.execute(
        "INSERT INTO house_recipe (house_id, recipe_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&house, &body.recipe],
    )
    .await
    .map_err(|e| match AppError::from_db(e) {
        AppError::NotFound(_) => AppError::not_found("recipe", body.recipe),
        other => other,
    })?;
    Ok(StatusCode::NO_CONTENT)
}
