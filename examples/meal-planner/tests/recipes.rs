//! `/recipes`: create in one transaction, get (cached), search, by house and
//! user, update, replace a step's ingredients, add to a house, delete, and bad input.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, recipe_body};
use serde_json::json;

#[tokio::test]
async fn a_recipe_is_created_whole_read_through_the_cache_and_searched() {
    let app = TestApp::new().await;
    let author = app.sign_up(1).await;
    let house = app.house(author).await;
    let mut body = recipe_body("Red Lentil Soup");
    body["house"] = json!(house);
    let (status, recipe) = app.call(Method::POST, "/recipes", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{recipe}");
    let id = recipe["id"].as_i64().unwrap();
    assert_eq!(recipe["types"], json!(["Lunch", "Dinner"]));
    assert_eq!(recipe["steps"][0]["ingredients"][0]["name"], "onion");
    assert_eq!(recipe["steps"][1]["ingredients"][0]["unit"], "grams");

    let (status, first) = app.get(&format!("/recipes/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first, recipe);
    let (hits_before, _) = app.state.cache().hits_and_misses();
    let (_, second) = app.get(&format!("/recipes/{id}")).await;
    assert_eq!(second, recipe);
    assert_eq!(app.state.cache().hits_and_misses().0, hits_before + 1);

    app.recipe(author, "Green Salad").await;
    let (status, found) = app.get("/recipes?name=LENTIL").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["name"], "Red Lentil Soup");
    let (_, all) = app.get("/recipes").await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (_, none) = app.get("/recipes?name=%25").await;
    assert_eq!(
        none.as_array().unwrap().len(),
        0,
        "a % in the name matches literally"
    );

    let (_, by_house) = app.get(&format!("/houses/{house}/recipes")).await;
    assert_eq!(by_house.as_array().unwrap().len(), 1);
    let (_, by_user) = app.get(&format!("/users/{author}/recipes")).await;
    assert_eq!(by_user.as_array().unwrap().len(), 2);
    let salad = all[0]["id"].as_i64().unwrap();
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/houses/{house}/recipes"),
            Some(json!({"recipe": salad})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, by_house) = app.get(&format!("/houses/{house}/recipes")).await;
    assert_eq!(by_house.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn updates_invalidate_the_cache_and_deletes_cascade() {
    let app = TestApp::new().await;
    let author = app.sign_up(1).await;
    let id = app.recipe(author, "Stew").await["id"].as_i64().unwrap();
    app.get(&format!("/recipes/{id}")).await;

    let (status, updated) = app
        .call(
            Method::PATCH,
            &format!("/recipes/{id}"),
            Some(json!({"name": "Winter Stew", "serves_for": 6})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let (_, read) = app.get(&format!("/recipes/{id}")).await;
    assert_eq!(read["name"], "Winter Stew");
    assert_eq!(read["serves_for"], 6);

    let (status, replaced) = app
        .call(
            Method::PUT,
            &format!("/recipes/{id}/steps/2/ingredients"),
            Some(json!([{"name": "bean", "unit": "cup", "amount": 2}, {"name": "carrot", "unit": "quantity", "amount": 3}])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    let (_, read) = app.get(&format!("/recipes/{id}")).await;
    let names: Vec<&str> = read["steps"][1]["ingredients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bean", "carrot"]);

    let (status, _) = app
        .call(Method::DELETE, &format!("/recipes/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&format!("/recipes/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.count("step").await, 0);
    assert_eq!(app.count("step_ingredient").await, 0);
}

#[tokio::test]
async fn bad_recipes_are_refused_and_nothing_is_half_written() {
    let app = TestApp::new().await;
    let author = app.sign_up(1).await;

    let mut with_house = recipe_body("x");
    with_house["house"] = json!(99999);
    let (status, body) = app.call(Method::POST, "/recipes", Some(with_house)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"].as_str().unwrap().contains("house 99999"));

    let cases = [
        ("/steps/0/ingredients/0/unit", json!("bucket"), "unit"),
        ("/steps/0/ingredients/0/amount", json!(0), "amount"),
        ("/steps/0/ingredients/1/name", json!("ONION"), "twice"),
        ("/types/0", json!("Brunch"), "meal type"),
        ("/serves_for", json!(0), "serves_for"),
        ("/steps", json!([]), "steps"),
        ("/types", json!([]), "types"),
        ("/name", json!(" "), "name"),
    ];
    for (pointer, value, needle) in cases {
        let mut body = recipe_body("bad");
        *body.pointer_mut(pointer).unwrap() = value;
        let (status, reply) = app.call(Method::POST, "/recipes", Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{pointer}: {reply}");
        assert!(
            reply["error"].as_str().unwrap().contains(needle),
            "{pointer}: {reply}"
        );
    }
    app.act_as(None);
    let (status, _) = app
        .call(Method::POST, "/recipes", Some(recipe_body("x")))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the author is the caller");
    app.act_as(Some(author));
    let (status, _) = app.raw(Method::POST, "/recipes", "[1,").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for table in [
        "recipe",
        "step",
        "step_ingredient",
        "ingredient",
        "recipe_type",
        "user_recipe",
    ] {
        assert_eq!(app.count(table).await, 0, "{table} was written");
    }

    let id = app.recipe(author, "ok").await["id"].as_i64().unwrap();
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/recipes/{id}/steps/9/ingredients"),
            Some(json!([])),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/recipes/{id}"),
            Some(json!({"serves_for": 1000})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.get("/recipes?limit=1000").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.get("/houses/5555/recipes").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get("/users/5555/recipes").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let house = app.house(author).await;
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/houses/{house}/recipes"),
            Some(json!({"recipe": 777777})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
