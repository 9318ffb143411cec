//! A user of one household can neither read nor change another household's
//! data, nor join it by sending and accepting their own request; a resident
//! cannot do what only the owner may.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, recipe_body};
use serde_json::{Value, json};

/// Alice owns a house with a schedule, a pantry and a recipe; Bob lives
/// there; Eve has a house of her own. Returns (alice, bob, eve, house, recipe).
async fn two_households(app: &TestApp) -> (i64, i64, i64, i64, i64) {
    let alice = app.sign_up(1).await;
    let bob = app.sign_up(2).await;
    let eve = app.sign_up(3).await;
    app.house(eve).await;
    let house = app.house(alice).await;
    let mut body = recipe_body("Alice's stew");
    body["house"] = json!(house);
    let (status, recipe) = app.call(Method::POST, "/recipes", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{recipe}");
    let recipe = recipe["id"].as_i64().expect("a recipe id");
    for (method, path, body) in [
        (Method::POST, format!("/schedules/{house}"), None),
        (
            Method::PUT,
            format!("/schedules/{house}"),
            Some(json!({"day": "Monday", "type": "Dinner", "recipe": recipe})),
        ),
        (
            Method::PUT,
            format!("/storages/{house}"),
            Some(json!([{"name": "rice", "amount": 2, "unit": "kg"}])),
        ),
        (
            Method::POST,
            "/invitations".to_string(),
            Some(json!({"house": house, "user": bob, "kind": "invitation"})),
        ),
    ] {
        let (status, reply) = app.call(method, &path, body).await;
        assert!(status.is_success(), "{path}: {reply}");
    }
    app.act_as(Some(bob));
    let (_, mine) = app.get(&format!("/users/{bob}/invitations")).await;
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/invitations/{}/respond", mine[0]["id"]),
            Some(json!({"accept": true})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    (alice, bob, eve, house, recipe)
}

/// What Alice's household holds, read as Alice.
async fn snapshot(app: &TestApp, alice: i64, house: i64, recipe: i64) -> Vec<Value> {
    app.act_as(Some(alice));
    let mut seen = Vec::new();
    for path in [
        format!("/houses/{house}"),
        format!("/storages/{house}"),
        format!("/schedules/{house}"),
        format!("/houses/{house}/recipes"),
        format!("/houses/{house}/invitations"),
        format!("/recipes/{recipe}"),
        format!("/users/{alice}"),
    ] {
        let (status, body) = app.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        seen.push(body);
    }
    seen
}

#[tokio::test]
async fn another_household_can_neither_read_nor_change_a_house() {
    let app = TestApp::new().await;
    let (alice, bob, eve, house, recipe) = two_households(&app).await;
    let before = snapshot(&app, alice, house, recipe).await;

    app.act_as(Some(eve));
    let pantry = json!([{"name": "rice", "amount": 0, "unit": "kg"}]);
    let slot = json!({"day": "Monday", "type": "Dinner", "recipe": null});
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/houses/{house}"), None),
        (
            Method::PATCH,
            format!("/houses/{house}"),
            Some(json!({"name": "mine"})),
        ),
        (Method::DELETE, format!("/houses/{house}"), None),
        (
            Method::DELETE,
            format!("/houses/{house}/members/{bob}"),
            None,
        ),
        (Method::GET, format!("/storages/{house}"), None),
        (Method::PUT, format!("/storages/{house}"), Some(pantry)),
        (Method::DELETE, format!("/storages/{house}"), None),
        (
            Method::DELETE,
            format!("/storages/{house}/items"),
            Some(json!({"names": ["rice"]})),
        ),
        (Method::GET, format!("/schedules/{house}"), None),
        (Method::PUT, format!("/schedules/{house}"), Some(slot)),
        (Method::POST, format!("/schedules/{house}"), None),
        (Method::DELETE, format!("/schedules/{house}"), None),
        (
            Method::GET,
            format!("/schedules/{house}/shopping-list"),
            None,
        ),
        (Method::GET, format!("/houses/{house}/recipes"), None),
        (
            Method::POST,
            format!("/houses/{house}/recipes"),
            Some(json!({"recipe": recipe})),
        ),
        (Method::GET, format!("/houses/{house}/invitations"), None),
        (
            Method::POST,
            "/invitations".to_string(),
            Some(json!({"house": house, "user": eve, "kind": "invitation"})),
        ),
        (
            Method::POST,
            "/invitations".to_string(),
            Some(json!({"house": house, "user": alice, "kind": "join_request"})),
        ),
        (
            Method::PATCH,
            format!("/recipes/{recipe}"),
            Some(json!({"name": "mine"})),
        ),
        (
            Method::PUT,
            format!("/recipes/{recipe}/steps/1/ingredients"),
            Some(json!([])),
        ),
        (Method::DELETE, format!("/recipes/{recipe}"), None),
        (Method::GET, format!("/users/{alice}"), None),
        (Method::DELETE, format!("/users/{alice}"), None),
        (Method::GET, format!("/users/{alice}/invitations"), None),
        (Method::GET, format!("/users/{alice}/recipes"), None),
    ];
    for (method, path, body) in attempts {
        let (status, reply) = app.call(method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {reply}");
    }
    let mut with_house = recipe_body("sneaky");
    with_house["house"] = json!(house);
    let (status, _) = app.call(Method::POST, "/recipes", Some(with_house)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a recipe into another's house"
    );
    let (_, users) = app.get("/users").await;
    assert_eq!(
        users,
        json!([{"id": eve, "email": "cook3@example.com", "name": "cook 3"}])
    );

    assert_eq!(snapshot(&app, alice, house, recipe).await, before);
}

#[tokio::test]
async fn a_join_request_waits_for_the_owner_and_a_resident_cannot_act_as_owner() {
    let app = TestApp::new().await;
    let (alice, bob, eve, house, recipe) = two_households(&app).await;

    // Eve asks to join and tries to accept her own request.
    app.act_as(Some(eve));
    let (status, request) = app.pending(house, eve, "join_request").await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    let respond = format!("/invitations/{}/respond", request["id"]);
    let (status, _) = app
        .call(Method::POST, &respond, Some(json!({"accept": true})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get(&format!("/houses/{house}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "Eve did not get in");

    // Bob lives there but does not own it.
    app.act_as(Some(bob));
    let (status, _) = app.get(&format!("/storages/{house}")).await;
    assert_eq!(status, StatusCode::OK, "a resident reads the pantry");
    let (status, _) = app
        .call(Method::POST, &respond, Some(json!({"accept": true})))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "only the owner sees the request"
    );
    for (method, path) in [
        (Method::DELETE, format!("/houses/{house}")),
        (Method::PATCH, format!("/houses/{house}")),
        (Method::DELETE, format!("/houses/{house}/members/{alice}")),
        (Method::DELETE, format!("/recipes/{recipe}")),
    ] {
        let (status, reply) = app
            .call(method.clone(), &path, Some(json!({"name": "bob's"})))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {reply}");
    }

    // The owner decides.
    app.act_as(Some(alice));
    let (status, _) = app
        .call(Method::POST, &respond, Some(json!({"accept": true})))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.act_as(Some(eve));
    let (status, home) = app.get(&format!("/houses/{house}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(home["residents"].as_array().unwrap().len(), 3);
}
