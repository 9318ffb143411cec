//! `/invitations`: the owner invites, a user asks to join; listed by user and
//! house; the invited user or the owner answers; delete; bad input.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn invitations_and_join_requests_are_listed_and_answered() {
    let app = TestApp::new().await;
    let owner = app.sign_up(1).await;
    let guest = app.sign_up(2).await;
    let other = app.sign_up(3).await;
    let house = app.house(owner).await;

    // The owner invites; the other user asks, for themself.
    let (status, invite) = app
        .call(
            Method::POST,
            "/invitations",
            Some(json!({"house": house, "user": guest, "kind": "invitation"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    app.act_as(Some(other));
    let (status, request) = app
        .call(
            Method::POST,
            "/invitations",
            Some(json!({"house": house, "user": other, "kind": "join_request"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");

    app.act_as(Some(guest));
    let (_, mine) = app.get(&format!("/users/{guest}/invitations")).await;
    assert_eq!(mine, json!([invite]));
    app.act_as(Some(owner));
    let (_, theirs) = app.get(&format!("/houses/{house}/invitations")).await;
    assert_eq!(theirs.as_array().unwrap().len(), 2);
    assert_eq!(theirs[1]["kind"], "join_request");

    // The invited user accepts the invitation.
    app.act_as(Some(guest));
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/invitations/{}/respond", invite["id"]),
            Some(json!({"accept": true})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, home) = app.get(&format!("/houses/{house}")).await;
    let residents = home["residents"].as_array().unwrap();
    assert_eq!(residents.len(), 2);
    assert_eq!(residents[1]["ownership"], "resident");

    // The owner declines the request.
    app.act_as(Some(owner));
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/invitations/{}/respond", request["id"]),
            Some(json!({"accept": false})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, home) = app.get(&format!("/houses/{house}")).await;
    assert_eq!(home["residents"].as_array().unwrap().len(), 2);
    let (_, theirs) = app.get(&format!("/houses/{house}/invitations")).await;
    assert_eq!(theirs, json!([]));

    let (_, again) = app
        .call(
            Method::POST,
            "/invitations",
            Some(json!({"house": house, "user": other, "kind": "invitation"})),
        )
        .await;
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/invitations/{}", again["id"]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.count("join_pending").await, 0);
}

#[tokio::test]
async fn bad_invitations_get_client_errors() {
    let app = TestApp::new().await;
    let owner = app.sign_up(1).await;
    let guest = app.sign_up(2).await;
    let house = app.house(owner).await;
    let invite = json!({"house": house, "user": guest, "kind": "invitation"});

    app.call(Method::POST, "/invitations", Some(invite.clone()))
        .await;
    let (status, body) = app.call(Method::POST, "/invitations", Some(invite)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body["error"].as_str().unwrap().contains("pending"),
        "{body}"
    );
    let (status, body) = app
        .call(
            Method::POST,
            "/invitations",
            Some(json!({"house": house, "user": owner, "kind": "invitation"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body["error"].as_str().unwrap().contains("already a member"),
        "{body}"
    );
    let (status, _) = app
        .call(
            Method::POST,
            "/invitations",
            Some(json!({"house": house, "user": 9999, "kind": "invitation"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            Method::POST,
            "/invitations",
            Some(json!({"house": 9999, "user": guest, "kind": "invitation"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not the owner of house 9999");
    let (status, _) = app
        .call(
            Method::POST,
            "/invitations",
            Some(json!({"house": house, "user": guest, "kind": "bribe"})),
        )
        .await;
    assert!(status.is_client_error());
    let (status, _) = app
        .call(
            Method::POST,
            "/invitations/4242/respond",
            Some(json!({"accept": true})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call(Method::DELETE, "/invitations/4242", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/users/4242/invitations").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get("/houses/4242/invitations").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("join_pending").await, 1);
}
