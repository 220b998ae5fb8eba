//! The routes of API.md §5. Each handler is: extract, one engine call, respond.
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{delete, get, post};

use crate::error::ApiError;
use crate::middleware::{bearer_challenge, request_log, security_headers};
use crate::state::AppState;

mod account;
mod admin;
mod auth;
mod introspect;
mod public;

/// The whole HTTP API.
pub fn router(state: Arc<AppState>) -> Router {
    // Routes that take an access token: their 401s carry a Bearer challenge.
    let protected = Router::new()
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(account::me))
        .route(
            "/auth/sessions",
            get(account::list_sessions).delete(account::revoke_sessions),
        )
        .route("/auth/sessions/{id}", delete(account::revoke_session))
        .route("/auth/password", post(account::change_password))
        .route_layer(from_fn(bearer_challenge));
    Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/introspect", post(introspect::introspect))
        .route("/.well-known/jwks.json", get(public::jwks))
        .route("/healthz", get(public::healthz))
        .route("/readyz", get(public::readyz))
        .route("/metrics", get(crate::metrics::metrics))
        .merge(protected)
        .merge(admin::router(state.clone()))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(from_fn_with_state(state.clone(), crate::metrics::record))
        .layer(from_fn_with_state(state.clone(), crate::cors::cors))
        .layer(from_fn(security_headers))
        .layer(from_fn(request_log))
        .with_state(state)
}
