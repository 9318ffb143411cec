//! `/users`: sign up (hashed, signed in), sign in, list, get, delete, and bad
//! input.

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

    let token = user["token"].as_str().unwrap();
    assert_eq!(token.len(), 64, "{user}");
    let (status, got) = app
        .raw_with(Some(token), Method::GET, &format!("/users/{id}"), "")
        .await;
    assert_eq!(status, StatusCode::OK);
    for field in ["id", "email", "name"] {
        assert_eq!(got[field], user[field]);
    }
    // The caller sees themself and their housemates only.
    let other = app.sign_up(2).await;
    let (status, list) = app.get("/users?limit=10").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], other);

    // A returning user signs in with the password; a wrong one is a 401.
    let (status, session) = app
        .call(
            Method::POST,
            "/sessions",
            Some(json!({"email": "ADA@example.com", "password": "correct horse"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_eq!(session["user"], id);
    let token = session["token"].as_str().unwrap().to_string();
    for wrong in [
        json!({"email": "ada@example.com", "password": "wrong horse"}),
        json!({"email": "nobody@example.com", "password": "correct horse"}),
    ] {
        let (status, body) = app.call(Method::POST, "/sessions", Some(wrong)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }

    let (status, _) = app
        .raw_with(Some(&token), Method::DELETE, &format!("/users/{id}"), "")
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app
        .raw_with(Some(&token), Method::GET, &format!("/users/{id}"), "")
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the account's sessions end"
    );
    assert!(body["error"].as_str().unwrap().contains("POST /sessions"));
}

#[tokio::test]
async fn signing_out_ends_the_session_at_once() {
    let app = TestApp::new().await;
    let user = app.sign_up(1).await;
    let (status, _) = app.get("/days").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call(Method::DELETE, "/sessions", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get("/days").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("user_session").await, 0, "user {user}");
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
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("user_info").await, 1);
}
