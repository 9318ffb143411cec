//! `/schedules`: the 28 slots, setting one, the shopping list, delete, bad input.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn a_week_is_created_planned_and_turned_into_a_shopping_list() {
    let app = TestApp::new().await;
    let owner = app.sign_up(1).await;
    let house = app.house(owner).await;
    let recipe = app.recipe(owner, "Soup").await["id"].as_i64().unwrap();
    let path = format!("/schedules/{house}");

    let (status, week) = app.call(Method::POST, &path, None).await;
    assert_eq!(status, StatusCode::CREATED, "{week}");
    let slots = week["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 28);
    assert_eq!(
        slots[0],
        json!({"day": "Monday", "type": "Breakfast", "recipe": null})
    );
    let (status, _) = app.call(Method::POST, &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT);

    for day in ["Tuesday", "Friday"] {
        let (status, week) = app
            .call(
                Method::PUT,
                &path,
                Some(json!({"day": day, "type": "dinner", "recipe": recipe})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{week}");
        assert_eq!(week["slots"].as_array().unwrap().len(), 28);
    }
    let (_, week) = app.get(&path).await;
    assert_eq!(week["slots"][7]["recipe"]["name"], "Soup");

    // The soup serves 2 and the house has 4 people: twice the amounts, twice planned.
    app.call(
        Method::PUT,
        &format!("/storages/{house}"),
        Some(json!([{"name": "tomato", "amount": 1000, "unit": "grams"}, {"name": "lentil", "amount": 300, "unit": "grams"}])),
    )
    .await;
    let (status, list) = app.get(&format!("{path}/shopping-list")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list,
        json!([
            {"name": "lentil", "unit": "grams", "amount": 500.0},
            {"name": "onion", "unit": "quantity", "amount": 4.0},
            {"name": "tomato", "unit": "grams", "amount": 600.0}
        ])
    );

    let (status, _) = app
        .call(
            Method::PUT,
            &path,
            Some(json!({"day": "Tuesday", "type": "Dinner", "recipe": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_schedule_requests_get_client_errors() {
    let app = TestApp::new().await;
    let owner = app.sign_up(1).await;
    let house = app.house(owner).await;
    let path = format!("/schedules/{house}");

    let slot = json!({"day": "Monday", "type": "Lunch", "recipe": null});
    let (status, body) = app.call(Method::PUT, &path, Some(slot.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no schedule yet");
    assert!(body["error"].as_str().unwrap().contains("POST /schedules"));
    let (status, _) = app.call(Method::POST, "/schedules/987654", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("schedule").await, 0);

    app.call(Method::POST, &path, None).await;
    let (status, body) = app
        .call(
            Method::PUT,
            &path,
            Some(json!({"day": "Monday", "type": "Lunch", "recipe": 31337})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"].as_str().unwrap().contains("recipe 31337"),
        "{body}"
    );
    for bad in [
        json!({"day": "Someday", "type": "Lunch", "recipe": null}),
        json!({"day": "Monday", "type": "Elevenses", "recipe": null}),
    ] {
        let (status, _) = app.call(Method::PUT, &path, Some(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (status, _) = app
        .call(Method::PUT, &path, Some(json!({"day": "Monday"})))
        .await;
    assert!(status.is_client_error());
    let (status, _) = app.get("/schedules/987654/shopping-list").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.call(Method::DELETE, "/schedules/987654", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
