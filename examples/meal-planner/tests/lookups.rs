//! `/units`, `/meals`, `/days`, and unknown routes.

mod common;

use axum::http::StatusCode;
use common::TestApp;

#[tokio::test]
async fn lookups_list_the_fixed_vocabularies() {
    let app = TestApp::new().await;
    app.sign_up(1).await;
    for (path, count, first, last) in [
        ("/units", 10, "kg", "grams"),
        ("/meals", 4, "Breakfast", "Dinner"),
        ("/days", 7, "Monday", "Sunday"),
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, StatusCode::OK);
        let list = body.as_array().unwrap();
        assert_eq!(list.len(), count, "{path}");
        assert_eq!(list[0]["name"], first);
        assert_eq!(list[count - 1]["name"], last);
        assert_eq!(list[0]["id"], 1);
    }
}

#[tokio::test]
async fn unknown_routes_are_json_404s() {
    let app = TestApp::new().await;
    let (status, body) = app.get("/nothing/here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("/nothing/here"));
}
