//! Token introspection for resource servers that prefer asking to verifying (RFC 7662 shape).
use std::sync::Arc;

use crate::views::{IntrospectedClaims, Introspection};
use axum::Json;
use axum::extract::State;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::error::ApiResult;
use crate::extract::{AdminKey, JsonBody};
use crate::state::AppState;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectBody {
    token: String,
}

pub async fn introspect(
    State(state): State<Arc<AppState>>,
    _: AdminKey,
    JsonBody(body): JsonBody<IntrospectBody>,
) -> ApiResult<Json<Introspection>> {
    let claims = state
        .engine
        .introspect(&body.token)
        .map(|c| IntrospectedClaims {
            sub: c.sub,
            sid: c.sid,
            exp: c.exp,
            iat: c.iat,
            ns: c.ns,
            roles: c.roles,
            perms: c.perms,
        });
    Ok(Json(Introspection {
        active: claims.is_some(),
        claims,
    }))
}
