//! The admin API (API.md §5): every route needs an admin key in `X-Api-Key`.
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_core::model::BulkSelector;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{AdminKey, JsonBody, Meta, OptionalJsonBody, QueryParams};
use crate::state::AppState;
use crate::views::{EventView, SessionView, UserView, key_view};

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin/users", post(create_user).get(find_users))
        .route("/admin/users/{id}", get(get_user).delete(delete_user))
        .route("/admin/users/{id}/roles", put(set_roles))
        .route("/admin/users/{id}/ban", post(ban))
        .route("/admin/users/{id}/unban", post(unban))
        .route(
            "/admin/users/{id}/sessions",
            get(user_sessions).delete(revoke_user_sessions),
        )
        .route("/admin/sessions/{id}", delete(revoke_session))
        .route("/admin/sessions/revoke", post(bulk_revoke))
        .route("/admin/roles", get(roles))
        .route("/admin/roles/{name}", put(put_role).delete(delete_role))
        .route("/admin/keys", get(keys))
        .route("/admin/keys/rotate", post(rotate_keys))
        .route("/admin/events", get(events))
        .route_layer(from_fn_with_state(state, require_admin_key))
}

/// Checked before anything else, so nothing about a request leaks without the key.
async fn require_admin_key(_: AdminKey, req: Request, next: Next) -> Response {
    next.run(req).await
}

/// Unknown or malformed ids are simply not found.
fn id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    email: String,
    password: String,
    #[serde(default)]
    roles: Vec<String>,
}

async fn create_user(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<NewUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let user = st
        .engine
        .admin_create_user(&b.email, b.password, b.roles, &meta)
        .await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    email: Option<String>,
    limit: Option<i64>,
}

async fn find_users(
    State(st): State<Arc<AppState>>,
    QueryParams(q): QueryParams<UserQuery>,
) -> ApiResult<Json<Value>> {
    let users = st
        .engine
        .find_users(q.email.as_deref(), q.limit.unwrap_or(100))
        .await?;
    Ok(Json(
        json!({"users": users.iter().map(UserView::from).collect::<Vec<_>>()}),
    ))
}

async fn get_user(
    State(st): State<Arc<AppState>>,
    Path(raw): Path<String>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(UserView::from(&st.engine.user(id(&raw)?).await?)))
}

async fn delete_user(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    st.engine.delete_user(id(&raw)?, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesBody {
    roles: Vec<String>,
}

async fn set_roles(
    State(st): State<Arc<AppState>>,
    Path(raw): Path<String>,
    JsonBody(b): JsonBody<RolesBody>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(UserView::from(
        &st.engine.set_roles(id(&raw)?, b.roles).await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanBody {
    reason: Option<String>,
}

async fn ban(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    Path(raw): Path<String>,
    OptionalJsonBody(b): OptionalJsonBody<BanBody>,
) -> ApiResult<Json<UserView>> {
    let reason = b.and_then(|b| b.reason);
    Ok(Json(UserView::from(
        &st.engine.ban(id(&raw)?, reason, &meta).await?,
    )))
}

async fn unban(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    Path(raw): Path<String>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(UserView::from(
        &st.engine.unban(id(&raw)?, &meta).await?,
    )))
}

async fn user_sessions(
    State(st): State<Arc<AppState>>,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let sessions = st.engine.user_sessions(id(&raw)?).await?;
    Ok(Json(
        json!({"sessions": sessions.iter().map(|s| SessionView::new(s, false)).collect::<Vec<_>>()}),
    ))
}

async fn revoke_user_sessions(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let selector = BulkSelector::User {
        user_id: id(&raw)?,
        namespace: None,
    };
    Ok(Json(
        json!({"revoked": st.engine.bulk_revoke(selector, "admin", &meta).await?}),
    ))
}

async fn revoke_session(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    st.engine.admin_revoke_session(id(&raw)?, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{namespace}`, `{user_id, namespace?}` or `{all: true}`, and nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    namespace: Option<String>,
    user_id: Option<String>,
    all: Option<bool>,
}

async fn bulk_revoke(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<BulkBody>,
) -> ApiResult<Json<Value>> {
    let selector = match (b.all, b.user_id, b.namespace) {
        (Some(true), None, None) => BulkSelector::All,
        (None, Some(user), namespace) => BulkSelector::User {
            user_id: id(&user)?,
            namespace,
        },
        (None, None, Some(ns)) => BulkSelector::Namespace(ns),
        _ => {
            return Err(ApiError::bad_request(
                "send {\"namespace\"}, {\"user_id\", \"namespace\"?} or {\"all\": true}",
            ));
        }
    };
    Ok(Json(
        json!({"revoked": st.engine.bulk_revoke(selector, "admin", &meta).await?}),
    ))
}

async fn roles(State(st): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"roles": st.engine.roles().await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    permissions: Vec<String>,
}

async fn put_role(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<RoleBody>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(st.engine.put_role(&name, b.permissions).await?)))
}

async fn delete_role(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    st.engine.delete_role(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn keys(State(st): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    let keys = st.engine.key_records().await?;
    Ok(Json(
        json!({"keys": keys.iter().map(key_view).collect::<Vec<_>>()}),
    ))
}

async fn rotate_keys(State(st): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    if st.engine.config().algorithm == tessera_token::Algorithm::HS256 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "keys_from_config",
            "HS256 keys come from the configuration",
        )
        .detail("change tokens.hs256_secret to rotate"));
    }
    Ok(Json(key_view(&st.engine.rotate_keys().await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    user_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<i64>,
}

async fn events(
    State(st): State<Arc<AppState>>,
    QueryParams(q): QueryParams<EventQuery>,
) -> ApiResult<Json<Value>> {
    let user_id = q
        .user_id
        .as_deref()
        .map(Uuid::parse_str)
        .transpose()
        .map_err(|_| ApiError::bad_request("user_id is not an id"))?;
    let events = st
        .engine
        .events(user_id, q.kind.as_deref(), q.limit.unwrap_or(100))
        .await?;
    Ok(Json(
        json!({"events": events.iter().map(EventView::from).collect::<Vec<_>>()}),
    ))
}
