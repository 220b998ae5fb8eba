//! Token introspection for resource servers that prefer asking to verifying (RFC 7662 shape).
use std::sync::Arc;

use crate::views::{IntrospectedClaims, Introspection};
use axum::Json;
use axum::extract::State;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::error::ApiResult;
use crate::extract::{FormOrJson, ReaderKey};
use crate::state::AppState;

/// RFC 7662 §2.1, as JSON or as a form. Other parameters a standard client may add (a
/// `client_id`, say) are allowed and ignored.
#[derive(Deserialize, JsonSchema)]
pub struct IntrospectBody {
    /// An access token.
    token: String,
    /// Ignored: only access tokens are introspected (a refresh token is `{active: false}`).
    #[allow(dead_code)]
    token_type_hint: Option<String>,
}

pub async fn introspect(
    State(state): State<Arc<AppState>>,
    _: ReaderKey,
    FormOrJson(body): FormOrJson<IntrospectBody>,
) -> ApiResult<Json<Introspection>> {
    let claims = state.engine.introspect(&body.token).map(|p| {
        let c = &p.claims;
        IntrospectedClaims {
            sub: c.sub.clone(),
            sid: c.sid.clone(),
            exp: c.exp,
            iat: c.iat,
            ns: c.ns.clone(),
            roles: c.roles.clone(),
            perms: c.perms.clone(),
            auth_time: c.auth_time,
            ext: c.ext.clone(),
            acr: c.acr.clone(),
            amr: c.amr.clone(),
            cnf: c.cnf.as_ref().map(|c| serde_json::json!({"jkt": c.jkt})),
        }
    });
    Ok(Json(Introspection {
        active: claims.is_some(),
        claims,
    }))
}
