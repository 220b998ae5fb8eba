//! JWKS and health.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views::Status;

pub async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    let mut res = Json(state.engine.jwks()).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

/// The same body as `Json(Status { status: "ok" })`, made once: liveness is polled often.
pub async fn healthz() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

pub async fn readyz(State(state): State<Arc<AppState>>) -> ApiResult<Json<Status>> {
    if state.engine.ready().await {
        Ok(Json(Status { status: "ok" }))
    } else {
        Err(ApiError::unavailable())
    }
}

/// `GET /openapi.json`: the document of the route table, made once.
pub async fn openapi(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    Json(
        DOC.get_or_init(|| {
            crate::openapi::document(&super::endpoints(), &state.settings.cookies.refresh_name)
        })
        .clone(),
    )
}
