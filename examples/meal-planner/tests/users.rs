//! `/users`: sign up (hashed), list, get, delete, and bad input.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn sign_up_hashes_the_password_and_the_user_can_be_read_listed_and_deleted() {
    let app = TestApp::new().await;
    let (status, user) = app
        .call(
            Method::POST,
            "/users",
            Some(json!({"name": " Ada ", "email": "Ada@Example.com", "password": "correct horse"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Ada");
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());
    let id = user["id"].as_i64().unwrap();

    let client = app.state.pool().get().await.unwrap();
    let hash: String = client
        .query_one("SELECT password_hash FROM user_info WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct horse"));

    let (status, got) = app.get(&format!("/users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, user);
    app.sign_up(2).await;
    let (status, list) = app.get("/users?limit=10").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 2);

    let (status, _) = app
        .call(Method::DELETE, &format!("/users/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get(&format!("/users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("does not exist"));
}

#[tokio::test]
async fn bad_sign_ups_get_clear_client_errors() {
    let app = TestApp::new().await;
    app.sign_up(1).await;
    let (status, body) = app
        .call(
            Method::POST,
            "/users",
            Some(json!({"name": "again", "email": "COOK1@example.com", "password": "another one"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("already registered"),
        "{body}"
    );

    for (payload, needle) in [
        (
            json!({"name": "x", "email": "not-an-email", "password": "long enough"}),
            "e-mail",
        ),
        (
            json!({"name": "x", "email": "a@b.co", "password": "short"}),
            "password",
        ),
        (
            json!({"name": "  ", "email": "a@b.co", "password": "long enough"}),
            "name",
        ),
    ] {
        let (status, body) = app.call(Method::POST, "/users", Some(payload)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"].as_str().unwrap().contains(needle), "{body}");
    }
    let (status, _) = app
        .call(Method::POST, "/users", Some(json!({"name": "x"})))
        .await;
    assert!(status.is_client_error(), "a missing field: {status}");
    let (status, _) = app.raw(Method::POST, "/users", "{\"name\": ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.get("/users/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.get("/users?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.call(Method::DELETE, "/users/999999", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.count("user_info").await, 1);
}
