//! The admin API (API.md §5): every route needs an admin key in `X-Api-Key`.
use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use schemars::JsonSchema;
use serde::Deserialize;
use tessera_core::model::BulkSelector;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{AdminKey, JsonBody, Meta, OptionalJsonBody, PathParam, QueryParams};
use crate::state::AppState;
use crate::views::{
    EventList, EventView, KeyList, KeyView, Revoked, RoleList, RoleView, SessionList, SessionView,
    UserList, UserView,
};

/// Checked before anything else, so nothing about a request leaks without the key.
pub(super) async fn require_admin_key(_: AdminKey, req: Request, next: Next) -> Response {
    next.run(req).await
}

/// Unknown or malformed ids are simply not found.
fn id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schemars(length(min = 3, max = 320))]
    email: String,
    password: String,
    #[serde(default)]
    #[schemars(inner(regex(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")))]
    roles: Vec<String>,
}

pub(super) async fn create_user(
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

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    email: Option<String>,
    limit: Option<i64>,
}

pub(super) async fn find_users(
    State(st): State<Arc<AppState>>,
    QueryParams(q): QueryParams<UserQuery>,
) -> ApiResult<Json<UserList>> {
    let users = st
        .engine
        .find_users(q.email.as_deref(), q.limit.unwrap_or(100))
        .await?;
    Ok(Json(UserList {
        users: users.iter().map(UserView::from).collect::<Vec<_>>(),
    }))
}

pub(super) async fn get_user(
    State(st): State<Arc<AppState>>,
    PathParam(raw): PathParam,
) -> ApiResult<Json<UserView>> {
    Ok(Json(UserView::from(&st.engine.user(id(&raw)?).await?)))
}

pub(super) async fn delete_user(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    PathParam(raw): PathParam,
) -> ApiResult<StatusCode> {
    st.engine.delete_user(id(&raw)?, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesBody {
    #[schemars(inner(regex(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")))]
    roles: Vec<String>,
}

pub(super) async fn set_roles(
    State(st): State<Arc<AppState>>,
    PathParam(raw): PathParam,
    JsonBody(b): JsonBody<RolesBody>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(UserView::from(
        &st.engine.set_roles(id(&raw)?, b.roles).await?,
    )))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BanBody {
    reason: Option<String>,
}

pub(super) async fn ban(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    PathParam(raw): PathParam,
    OptionalJsonBody(b): OptionalJsonBody<BanBody>,
) -> ApiResult<Json<UserView>> {
    let reason = b.and_then(|b| b.reason);
    Ok(Json(UserView::from(
        &st.engine.ban(id(&raw)?, reason, &meta).await?,
    )))
}

pub(super) async fn unban(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    PathParam(raw): PathParam,
) -> ApiResult<Json<UserView>> {
    Ok(Json(UserView::from(
        &st.engine.unban(id(&raw)?, &meta).await?,
    )))
}

/// For a user who lost their devices: every factor and recovery code removed, every session
/// revoked.
pub(super) async fn reset_mfa(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    PathParam(raw): PathParam,
) -> ApiResult<Json<UserView>> {
    Ok(Json(UserView::from(
        &st.engine.reset_mfa(id(&raw)?, &meta).await?,
    )))
}

pub(super) async fn user_sessions(
    State(st): State<Arc<AppState>>,
    PathParam(raw): PathParam,
) -> ApiResult<Json<SessionList>> {
    let sessions = st.engine.user_sessions(id(&raw)?).await?;
    Ok(Json(SessionList {
        sessions: sessions
            .iter()
            .map(|s| SessionView::new(s, false))
            .collect::<Vec<_>>(),
    }))
}

pub(super) async fn revoke_user_sessions(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    PathParam(raw): PathParam,
) -> ApiResult<Json<Revoked>> {
    let selector = BulkSelector::User {
        user_id: id(&raw)?,
        namespace: None,
    };
    Ok(Json(Revoked {
        revoked: st.engine.bulk_revoke(selector, "admin", &meta).await?,
    }))
}

pub(super) async fn revoke_session_by_id(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    PathParam(raw): PathParam,
) -> ApiResult<StatusCode> {
    st.engine.admin_revoke_session(id(&raw)?, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{namespace}`, `{user_id, namespace?}` or `{all: true}`, and nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    // A field given as null is refused (400), as the schema says: absent is the only "none".
    #[serde(default, deserialize_with = "present")]
    namespace: Option<String>,
    #[serde(default, deserialize_with = "present")]
    user_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    all: Option<bool>,
}

fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The three shapes as a `oneOf`, so a client (or a schema-driven fuzzer) knows that the
/// fields do not mix.
impl JsonSchema for BulkBody {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BulkBody".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let ns = serde_json::json!({"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"});
        schemars::json_schema!({
            "oneOf": [
                {"type": "object", "additionalProperties": false, "required": ["namespace"],
                 "properties": {"namespace": ns}},
                {"type": "object", "additionalProperties": false, "required": ["user_id"],
                 "properties": {"user_id": {"type": "string", "format": "uuid"}, "namespace": ns}},
                {"type": "object", "additionalProperties": false, "required": ["all"],
                 "properties": {"all": {"const": true}}}
            ]
        })
    }
}

pub(super) async fn bulk_revoke(
    State(st): State<Arc<AppState>>,
    Meta(meta): Meta,
    JsonBody(b): JsonBody<BulkBody>,
) -> ApiResult<Json<Revoked>> {
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
    Ok(Json(Revoked {
        revoked: st.engine.bulk_revoke(selector, "admin", &meta).await?,
    }))
}

pub(super) async fn roles(State(st): State<Arc<AppState>>) -> ApiResult<Json<RoleList>> {
    let roles = st.engine.roles().await?;
    Ok(Json(RoleList {
        roles: roles.iter().map(RoleView::from).collect(),
    }))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    #[schemars(inner(regex(pattern = r"^[^\s\x00-\x1F\x7F-\x9F]{1,128}$")))]
    permissions: Vec<String>,
}

pub(super) async fn put_role(
    State(st): State<Arc<AppState>>,
    PathParam(name): PathParam,
    JsonBody(b): JsonBody<RoleBody>,
) -> ApiResult<Json<RoleView>> {
    Ok(Json(RoleView::from(
        &st.engine.put_role(&name, b.permissions).await?,
    )))
}

pub(super) async fn delete_role(
    State(st): State<Arc<AppState>>,
    PathParam(name): PathParam,
) -> ApiResult<StatusCode> {
    st.engine.delete_role(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn keys(State(st): State<Arc<AppState>>) -> ApiResult<Json<KeyList>> {
    let keys = st.engine.key_records().await?;
    Ok(Json(KeyList {
        keys: keys.iter().map(KeyView::from).collect(),
    }))
}

pub(super) async fn rotate_keys(State(st): State<Arc<AppState>>) -> ApiResult<Json<KeyView>> {
    if st.engine.config().algorithm == tessera_token::Algorithm::HS256 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "keys_from_config",
            "HS256 keys come from the configuration",
        )
        .detail("change tokens.hs256_secret to rotate"));
    }
    Ok(Json(KeyView::from(&st.engine.rotate_keys().await?)))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    #[schemars(extend("format" = "uuid"))]
    user_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<i64>,
}

pub(super) async fn events(
    State(st): State<Arc<AppState>>,
    QueryParams(q): QueryParams<EventQuery>,
) -> ApiResult<Json<EventList>> {
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
    Ok(Json(EventList {
        events: events.iter().map(EventView::from).collect::<Vec<_>>(),
    }))
}
