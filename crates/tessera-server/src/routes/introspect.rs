//! Token introspection for resource servers that prefer asking to verifying (RFC 7662 shape).
use std::sync::Arc;

use crate::views::{Cnf, IntrospectedClaims, Introspection};
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Deserialize;

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
) -> Response {
    let principal = state.engine.introspect(&body.token);
    let claims = principal.as_deref().map(|p| {
        let c = &p.claims;
        IntrospectedClaims {
            sub: &c.sub,
            sid: &c.sid,
            exp: c.exp,
            iat: c.iat,
            ns: &c.ns,
            roles: &c.roles,
            perms: &c.perms,
            auth_time: c.auth_time,
            ext: c.ext.as_ref(),
            acr: c.acr.as_deref(),
            amr: c.amr.as_deref(),
            cnf: c.cnf.as_ref().map(|c| Cnf { jkt: &c.jkt }),
        }
    });
    // Serialized here, while the verified token it borrows from is alive.
    Json(Introspection {
        active: claims.is_some(),
        claims,
    })
    .into_response()
}
