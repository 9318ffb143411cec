//! `/houses`: create (the caller owns it), get with residents, update, a
//! member leaving, delete, and bad input.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn a_house_is_created_with_its_owner_updated_and_deleted() {
    let app = TestApp::new().await;
    let owner = app.sign_up(1).await;
    let house = app.house(owner).await;
    let (status, body) = app.get(&format!("/houses/{house}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["grocery_day"], "Friday");
    assert_eq!(body["residents"][0]["id"], owner);
    assert_eq!(body["residents"][0]["ownership"], "owner");

    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/houses/{house}"),
            Some(json!({"grocery_day": "monday", "household_number": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["grocery_day"], "Monday");
    assert_eq!(body["household_number"], 2);
    assert_eq!(body["name"], "home");

    let guest = app.sign_up(2).await;
    let client = app.state.pool().get().await.unwrap();
    client
        .execute(
            "INSERT INTO member_of (user_id, house_id, ownership) VALUES ($1, $2, 2)",
            &[&guest, &house],
        )
        .await
        .unwrap();
    let (status, body) = app.get(&format!("/houses/{house}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["residents"].as_array().unwrap().len(), 2);
    let leave = format!("/houses/{house}/members/{guest}");
    let (status, _) = app.call(Method::DELETE, &leave, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "a member leaves");
    let (status, _) = app.get(&format!("/houses/{house}")).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "and no longer sees the house"
    );
    app.act_as(Some(owner));
    let (_, body) = app.get(&format!("/houses/{house}")).await;
    assert_eq!(body["residents"].as_array().unwrap().len(), 1);
    let (status, _) = app.call(Method::DELETE, &leave, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = app
        .call(Method::DELETE, &format!("/houses/{house}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&format!("/houses/{house}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("house").await, 0);
}

#[tokio::test]
async fn bad_houses_are_refused_and_leave_nothing_behind() {
    let app = TestApp::new().await;
    let owner = app.sign_up(1).await;
    for (payload, needle) in [
        (
            json!({"name": "h", "grocery_day": "Funday", "household_number": 3}),
            "weekday",
        ),
        (
            json!({"name": "h", "grocery_day": "Friday", "household_number": 0}),
            "household_number",
        ),
        (
            json!({"name": "", "grocery_day": "Friday", "household_number": 3}),
            "name",
        ),
    ] {
        let (status, body) = app.call(Method::POST, "/houses", Some(payload)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"].as_str().unwrap().contains(needle), "{body}");
    }
    let (status, _) = app.raw(Method::POST, "/houses", "not json").await;
    assert!(status.is_client_error());
    let house = app.house(owner).await;
    let (status, _) = app
        .call(Method::PATCH, &format!("/houses/{house}"), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .call(Method::PATCH, "/houses/999999", Some(json!({"name": "x"})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("house").await, 1);
    assert_eq!(app.count("member_of").await, 1);
}
