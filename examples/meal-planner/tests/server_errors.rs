//! A server fault answers a generic body; what went wrong (tables, columns,
//! driver text) goes to the log only. Client errors keep their explanation.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use meal_planner::AppError;

async fn body(e: AppError) -> (StatusCode, String) {
    let response = e.into_response();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .expect("a small body");
    let text = String::from_utf8(bytes.to_vec()).expect("a UTF-8 body");
    (status, text)
}

#[tokio::test]
async fn five_hundreds_say_nothing_of_their_cause() {
    let secret = "relation \"user_info\" column \"password_hash\" violates";
    let (status, text) = body(AppError::Internal(secret.into())).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !text.contains("user_info") && !text.contains("password_hash"),
        "{text}"
    );
    assert!(text.contains("internal error"), "{text}");

    let (status, text) = body(AppError::Busy).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(text.contains("retry later"), "{text}");

    let (status, text) = body(AppError::BadRequest("`name` must not be empty".into())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("`name` must not be empty"), "{text}");
}
