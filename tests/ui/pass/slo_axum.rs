//! An `#[slo]` axum handler still implements `Handler`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use finch::slo;

#[derive(Clone, Default)]
struct App {
    recipes: Arc<Vec<String>>,
}

/// Looks a recipe up.
#[slo(p99 < 50ms)]
async fn get_recipe(State(app): State<App>, Path(id): Path<usize>) -> Result<String, StatusCode> {
    tokio::task::yield_now().await;
    let recipe = app.recipes.get(id).ok_or(StatusCode::NOT_FOUND)?;
    Ok(recipe.clone())
}

#[slo(p95 < 200ms, errors < 1%)]
async fn create_recipe(State(app): State<App>, body: String) -> impl IntoResponse {
    tokio::task::yield_now().await;
    (
        StatusCode::CREATED,
        format!("{} + {body}", app.recipes.len()),
    )
}

#[slo(p99 < 5ms)]
async fn health() -> &'static str {
    "ok"
}

fn main() {
    let app: Router = Router::new()
        .route("/recipes/{id}", get(get_recipe))
        .route("/recipes", post(create_recipe))
        .route("/health", get(health))
        .with_state(App::default());
    drop(app);
    let name = format!("{}::get_recipe", module_path!());
    assert!(finch::slo_by_name(&name).is_some());
}
