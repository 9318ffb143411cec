//! The design brief's example as written (bodies filled in), compiled as a crate
//! outside the workspace: it reads its knobs, records its SLOs, lists both
//! through `finch::knobs()` and `finch::slos()`, and runs the loop.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use finch::{Knob, knob, slo};

#[derive(serde::Serialize)]
struct Recipe {
    id: u32,
    pool: u32,
}

struct House;

#[derive(Debug)]
struct AppError;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }
}

/// Connections the recipe service keeps open.
#[knob(default = 8, min = 1, max = 64, cost = 1.0)]
static DB_POOL: Knob<u32>;

#[slo(p99 < 50ms)]
async fn get_recipe(id: u32) -> Result<Json<Recipe>, AppError> {
    Ok(Json(Recipe {
        id,
        pool: DB_POOL.get(),
    }))
}

#[slo(p95 < 200ms, errors < 1%)]
fn create_house(fail: bool) -> Result<House, AppError> {
    if fail { Err(AppError) } else { Ok(House) }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let finch = finch::start(finch::Config::default())?;
    let slos = finch::slos();
    let get = slos
        .iter()
        .find(|s| s.name().ends_with("get_recipe"))
        .ok_or("get_recipe is not listed")?;
    let create = slos
        .iter()
        .find(|s| s.name().ends_with("create_house"))
        .ok_or("create_house is not listed")?;
    let (mut get, mut create) = (get.reader(), create.reader());
    for id in 0..10 {
        let Json(recipe) = get_recipe(id).await.map_err(|_| "get_recipe failed")?;
        assert_eq!(recipe.pool, 8);
    }
    assert!(create_house(false).is_ok());
    assert!(create_house(true).is_err());

    let knob = finch::knobs()
        .into_iter()
        .find(|k| k.name().ends_with("DB_POOL"))
        .ok_or("DB_POOL is not listed")?;
    let info = knob.info();
    assert_eq!((info.min.to_string(), info.max.to_string()), ("1".into(), "64".into()));
    assert_eq!(info.cost, 1.0);

    let second = std::time::Duration::from_secs(1);
    let w = get.drain(second);
    assert_eq!(w.calls, 10);
    assert!(w.quantile(0.99).is_some());
    let w = create.drain(second);
    assert_eq!((w.calls, w.errors), (2, 1));

    finch.shutdown().await;
    Ok(())
}
