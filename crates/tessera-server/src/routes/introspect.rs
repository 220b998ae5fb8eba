//! Token introspection for resource servers that prefer asking to verifying (RFC 7662 shape).
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::extract::{AdminKey, JsonBody};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectBody {
    token: String,
}

pub async fn introspect(
    State(state): State<Arc<AppState>>,
    _: AdminKey,
    JsonBody(body): JsonBody<IntrospectBody>,
) -> ApiResult<Json<Value>> {
    Ok(Json(match state.engine.introspect(&body.token) {
        Some(c) => {
            json!({"active": true, "sub": c.sub, "sid": c.sid, "exp": c.exp, "iat": c.iat, "ns": c.ns, "roles": c.roles, "perms": c.perms})
        }
        None => json!({"active": false}),
    }))
}
