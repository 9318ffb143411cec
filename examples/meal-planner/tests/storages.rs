//! `/storages`: upsert (in batches), get, delete items, delete all, bad input.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use meal_planner::tuning::PANTRY_BATCH;
use serde_json::{Value, json};

fn items(n: usize, amount: f32) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"name": format!("Food {i:02}"), "amount": amount + i as f32, "unit": "grams"}))
            .collect(),
    )
}

#[tokio::test]
async fn upserts_create_ingredients_update_amounts_whatever_the_batch_size() {
    let app = TestApp::new().await;
    let owner = app.sign_up(1).await;
    let house = app.house(owner).await;
    let path = format!("/storages/{house}");

    PANTRY_BATCH.set(3).unwrap();
    let (status, pantry) = app.call(Method::PUT, &path, Some(items(10, 1.0))).await;
    assert_eq!(status, StatusCode::OK, "{pantry}");
    assert_eq!(pantry.as_array().unwrap().len(), 10);
    assert_eq!(
        pantry[0],
        json!({"name": "food 00", "amount": 1.0, "unit": "grams"})
    );
    assert_eq!(app.count("ingredient").await, 10);

    PANTRY_BATCH.set(64).unwrap();
    let (status, pantry) = app.call(Method::PUT, &path, Some(items(12, 100.0))).await;
    assert_eq!(status, StatusCode::OK, "{pantry}");
    assert_eq!(pantry.as_array().unwrap().len(), 12);
    assert_eq!(pantry[9]["amount"], 109.0);
    assert_eq!(app.count("ingredient").await, 12);

    let (status, pantry) = app
        .call(
            Method::PUT,
            &path,
            Some(json!([{"name": "salt", "amount": 1, "unit": "tsp"}, {"name": "SALT", "amount": 2, "unit": "tbsp"}])),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let salt = pantry
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "salt")
        .unwrap();
    assert_eq!(salt["amount"], 2.0, "the last of a repeated name wins");
    assert_eq!(salt["unit"], "tbsp");

    let (status, got) = app.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, pantry);

    let (status, left) = app
        .call(
            Method::DELETE,
            &format!("{path}/items"),
            Some(json!({"names": ["salt", "food 00"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(left.as_array().unwrap().len(), 11);
    let (status, _) = app.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, empty) = app.get(&path).await;
    assert_eq!(empty, json!([]));
}

#[tokio::test]
async fn bad_pantry_input_is_refused_and_nothing_is_half_written() {
    let app = TestApp::new().await;
    let owner = app.sign_up(1).await;
    let house = app.house(owner).await;
    let path = format!("/storages/{house}");

    let mut bad = items(5, 1.0);
    bad[4]["amount"] = json!(-1);
    let (status, body) = app.call(Method::PUT, &path, Some(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("amount"), "{body}");
    let mut bad = items(5, 1.0);
    bad[2]["unit"] = json!("barrel");
    let (status, _) = app.call(Method::PUT, &path, Some(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.call(Method::PUT, &path, Some(json!([]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.call(Method::PUT, &path, Some(items(201, 1.0))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.raw(Method::PUT, &path, "{\"name\": \"x\"}").await;
    assert!(status.is_client_error());
    let (status, _) = app
        .call(Method::PUT, "/storages/424242", Some(items(3, 1.0)))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("item_in_storage").await, 0);
    assert_eq!(
        app.count("ingredient").await,
        0,
        "a refused upsert creates no ingredient"
    );

    let (status, _) = app.get("/storages/424242").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.call(Method::DELETE, "/storages/424242", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("{path}/items"),
            Some(json!({"names": []})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
