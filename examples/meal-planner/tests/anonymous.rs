//! Without a valid session every route answers `401` naming how to sign in,
//! except sign-up, sign-in and health.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;

/// Every route of the service but sign-up, sign-in and health, with ids that
/// exist (user 1, house 1, recipe 1, invitation 1).
const GUARDED: &[(Method, &str)] = &[
    (Method::GET, "/units"),
    (Method::GET, "/meals"),
    (Method::GET, "/days"),
    (Method::GET, "/users"),
    (Method::GET, "/users/1"),
    (Method::DELETE, "/users/1"),
    (Method::DELETE, "/sessions"),
    (Method::POST, "/houses"),
    (Method::GET, "/houses/1"),
    (Method::PATCH, "/houses/1"),
    (Method::DELETE, "/houses/1"),
    (Method::DELETE, "/houses/1/members/1"),
    (Method::POST, "/invitations"),
    (Method::DELETE, "/invitations/1"),
    (Method::POST, "/invitations/1/respond"),
    (Method::GET, "/users/1/invitations"),
    (Method::GET, "/houses/1/invitations"),
    (Method::GET, "/recipes"),
    (Method::POST, "/recipes"),
    (Method::GET, "/recipes/1"),
    (Method::PATCH, "/recipes/1"),
    (Method::DELETE, "/recipes/1"),
    (Method::PUT, "/recipes/1/steps/1/ingredients"),
    (Method::GET, "/houses/1/recipes"),
    (Method::POST, "/houses/1/recipes"),
    (Method::GET, "/users/1/recipes"),
    (Method::GET, "/storages/1"),
    (Method::PUT, "/storages/1"),
    (Method::DELETE, "/storages/1"),
    (Method::DELETE, "/storages/1/items"),
    (Method::POST, "/schedules/1"),
    (Method::PUT, "/schedules/1"),
    (Method::GET, "/schedules/1"),
    (Method::DELETE, "/schedules/1"),
    (Method::GET, "/schedules/1/shopping-list"),
];

#[tokio::test]
async fn anonymous_and_forged_sessions_get_401_on_every_guarded_route() {
    let app = TestApp::new().await;
    let owner = app.sign_up(1).await;
    let house = app.house(owner).await;
    let recipe = app.recipe(owner, "Soup").await["id"].as_i64().unwrap();
    assert_eq!((owner, house, recipe), (1, 1, 1));
    let guest = app.sign_up(2).await;
    app.act_as(Some(owner));
    let (status, _) = app.pending(house, guest, "invitation").await;
    assert_eq!(status, StatusCode::CREATED);
    let valid = app.token(owner);
    let forged = "0".repeat(valid.len());

    for token in [None, Some(forged.as_str()), Some("")] {
        for (method, path) in GUARDED {
            let (status, body) = app.raw_with(token, method.clone(), path, "{}").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
            assert!(
                body["error"].as_str().unwrap().contains("POST /sessions"),
                "{method} {path}: the error names how to sign in: {body}"
            );
        }
    }
    // Nothing was changed on the way.
    assert_eq!(app.count("user_info").await, 2);
    assert_eq!(app.count("house").await, 1);
    assert_eq!(app.count("recipe").await, 1);
    assert_eq!(app.count("join_pending").await, 1);

    let (status, _) = app.raw_with(None, Method::GET, "/health", "").await;
    assert_eq!(status, StatusCode::OK);
    let signup = json!({"name": "c", "email": "c@example.com", "password": "long enough"});
    let (status, _) = app
        .raw_with(None, Method::POST, "/users", &signup.to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let login = json!({"email": "c@example.com", "password": "long enough"});
    let (status, _) = app
        .raw_with(None, Method::POST, "/sessions", &login.to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED);
}
