//! Extractors whose rejections are [`AppError`]s, so malformed input gets the
//! same JSON error body as every other failure.

use axum::extract::{FromRequest, FromRequestParts};

use crate::error::AppError;

/// A JSON body; a malformed or incomplete one is a `400` with axum's explanation.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

/// Path parameters; ones that do not parse are a `400`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

/// Query parameters; missing or malformed ones are a `400`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);
