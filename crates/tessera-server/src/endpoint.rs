//! One operation of the API as the route table lists it: how it is served and how it is
//! documented. The router (`routes`) and the OpenAPI document (`openapi`) both read the table.
use std::sync::Arc;

use axum::http::Method;
use axum::routing::MethodRouter;
use schemars::{Schema, SchemaGenerator};

use crate::state::AppState;

/// What a route needs to be called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    None,
    /// A refresh token: body, `X-Refresh-Token`, or the cookie with `X-CSRF-Token`.
    Refresh,
    /// An access token in `Authorization: Bearer`.
    Bearer,
    /// An access token, or the refresh credential.
    BearerOrRefresh,
    /// An access token, or none with `email` in the body.
    BearerOrPassword,
    /// An admin key in `X-Api-Key`.
    AdminKey,
    /// An admin key or a resource-server key in `X-Api-Key`.
    ReaderKey,
    /// The admin key in `X-Api-Key` or as a bearer token (unless `public_metrics`).
    Metrics,
}

pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// One operation: how it is served and how it is documented.
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub auth: Auth,
    pub summary: &'static str,
    pub request: Option<SchemaFn>,
    pub query: Option<SchemaFn>,
    pub status: u16,
    pub response: Option<SchemaFn>,
    /// Error statuses worth naming (all are problem+json).
    pub errors: &'static [u16],
    pub handler: fn() -> MethodRouter<Arc<AppState>>,
}
