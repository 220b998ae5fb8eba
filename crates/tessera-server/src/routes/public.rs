//! JWKS and health.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    let mut res = Json(state.engine.jwks()).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<Arc<AppState>>) -> ApiResult<Json<serde_json::Value>> {
    if state.engine.ready().await {
        Ok(Json(json!({"status": "ok"})))
    } else {
        Err(ApiError::unavailable())
    }
}
