//! The JSON shapes of API.md: token response, user, session. Times are RFC 3339 UTC.
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use tessera_core::Issued;
use tessera_core::model::{Event, KeyRecord, Session, User};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Unix milliseconds as RFC 3339 UTC, to the second. Far-future values (an unlimited session)
/// are clamped to the last representable second.
pub fn rfc3339_ms(ms: i64) -> String {
    rfc3339_secs(ms.div_euclid(1000))
}

pub fn rfc3339_secs(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs.min(253_402_300_799))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The token response of API.md §4.1. With the cookie transport the refresh token is left out
/// of the body (it travels in the HttpOnly cookie).
#[derive(Serialize, JsonSchema)]
pub struct TokenResponse {
    /// `Bearer`, or `DPoP` for a session bound to a DPoP key (API.md §10).
    token_type: &'static str,
    access_token: String,
    /// Seconds until the access token expires.
    expires_in: i64,
    access_expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    refresh_expires_at: String,
    session_id: String,
    csrf_token: String,
    user: TokenUser,
}

#[derive(Serialize, JsonSchema)]
pub struct TokenUser {
    id: String,
    email: String,
    roles: Vec<String>,
}

pub fn token_response(issued: &Issued, include_refresh: bool) -> TokenResponse {
    TokenResponse {
        token_type: if issued.dpop_bound { "DPoP" } else { "Bearer" },
        access_token: issued.access_token.expose().clone(),
        expires_in: issued.expires_in,
        access_expires_at: rfc3339_secs(issued.access_expires_at),
        refresh_token: include_refresh.then(|| issued.refresh_token.expose().clone()),
        refresh_expires_at: rfc3339_ms(issued.refresh_expires_at),
        session_id: issued.session_id.to_string(),
        csrf_token: issued.csrf_token.expose().clone(),
        user: TokenUser {
            id: issued.user.id.to_string(),
            email: issued.user.email.clone(),
            roles: issued.user.roles.clone(),
        },
    }
}

/// The answer of `POST /auth/reauthenticate`: a new access token of the same session.
#[derive(Serialize, JsonSchema)]
pub struct Reauthenticated {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub access_expires_at: String,
    /// Unix seconds: now, the session's new `auth_time`.
    pub auth_time: i64,
}

/// `User` of API.md §5.
#[derive(Serialize, JsonSchema)]
pub struct UserView {
    id: String,
    email: String,
    /// The user proved they receive mail at `email` (a verification link or a reset).
    email_verified: bool,
    roles: Vec<String>,
    banned: bool,
    created_at: String,
    password_changed_at: String,
    /// The app's claims (`PUT /admin/users/{id}/claims`), carried in access tokens as `ext`.
    claims: serde_json::Map<String, Value>,
    /// The types of the user's confirmed second factors, e.g. `["totp"]`.
    mfa: Vec<String>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.to_string(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            roles: u.roles.clone(),
            banned: u.banned,
            created_at: rfc3339_ms(u.created_at),
            password_changed_at: rfc3339_ms(u.password_changed_at),
            claims: u.claims.clone(),
            mfa: u.mfa.clone(),
        }
    }
}

/// `Event` of API.md §5.
#[derive(Serialize, JsonSchema)]
pub struct EventView {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    at: String,
    user_id: Option<String>,
    session_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    /// Free-form context (a reason, a count).
    detail: Value,
}

impl From<&Event> for EventView {
    fn from(e: &Event) -> Self {
        EventView {
            id: e.id.to_string(),
            kind: e.kind.clone(),
            at: rfc3339_ms(e.at),
            user_id: e.user_id.map(|u| u.to_string()),
            session_id: e.session_id.map(|u| u.to_string()),
            ip: e.ip.clone(),
            user_agent: e.user_agent.clone(),
            detail: e.detail.clone(),
        }
    }
}

/// A signing key as `GET /admin/keys` lists it: public facts only.
#[derive(Serialize, JsonSchema)]
pub struct KeyView {
    kid: String,
    alg: String,
    created_at: String,
    /// `next`, `current` or `retiring`.
    state: &'static str,
}

impl From<&KeyRecord> for KeyView {
    fn from(k: &KeyRecord) -> Self {
        KeyView {
            kid: k.kid.clone(),
            alg: k.alg.clone(),
            created_at: rfc3339_ms(k.created_at),
            state: k.state.as_str(),
        }
    }
}

/// A role and its permissions.
#[derive(Serialize, JsonSchema)]
pub struct RoleView {
    name: String,
    permissions: Vec<String>,
}

impl From<&tessera_core::model::Role> for RoleView {
    fn from(r: &tessera_core::model::Role) -> Self {
        RoleView {
            name: r.name.clone(),
            permissions: r.permissions.clone(),
        }
    }
}

/// `{user, session}` of `GET /auth/me`.
#[derive(Serialize, JsonSchema)]
pub struct MeView {
    pub user: UserView,
    pub session: SessionView,
}

#[derive(Serialize, JsonSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

#[derive(Serialize, JsonSchema)]
pub struct UserList {
    pub users: Vec<UserView>,
}

#[derive(Serialize, JsonSchema)]
pub struct RoleList {
    pub roles: Vec<RoleView>,
}

#[derive(Serialize, JsonSchema)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

#[derive(Serialize, JsonSchema)]
pub struct EventList {
    pub events: Vec<EventView>,
}

/// How many sessions a revocation ended.
#[derive(Serialize, JsonSchema)]
pub struct Revoked {
    pub revoked: u64,
}

/// `{"status": "ok"}`.
#[derive(Serialize, JsonSchema)]
pub struct Status {
    pub status: &'static str,
}

/// RFC 7662-style introspection: `active`, and the claims when it is true.
#[derive(Serialize, JsonSchema)]
pub struct Introspection<'a> {
    pub active: bool,
    #[serde(flatten)]
    pub claims: Option<IntrospectedClaims<'a>>,
}

/// The token's claims, borrowed from the verified token (introspection is a hot path: no copy).
#[derive(Serialize, JsonSchema)]
pub struct IntrospectedClaims<'a> {
    pub sub: &'a str,
    pub sid: &'a str,
    pub exp: i64,
    pub iat: i64,
    pub ns: &'a str,
    pub roles: &'a [String],
    pub perms: &'a [String],
    /// When the user last proved a credential in this session (RFC 9470).
    pub auth_time: Option<i64>,
    /// The app's claims, when the token carries any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ext: Option<&'a serde_json::Map<String, Value>>,
    /// The session's assurance level: `aal1` or `aal2` (two factors, or a verified passkey).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<&'a str>,
    /// The methods the session proved (RFC 8176).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<&'a [String]>,
    /// `{jkt}` for a DPoP-bound token: the resource server checks the proof (RFC 9449 §6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Cnf<'a>>,
}

/// `cnf` of a DPoP-bound token (RFC 9449 §6.1).
#[derive(Serialize, JsonSchema)]
pub struct Cnf<'a> {
    /// The SHA-256 thumbprint of the key the token is bound to (RFC 7638).
    pub jkt: &'a str,
}

/// `Session` of API.md §5.
#[derive(Serialize, JsonSchema)]
pub struct SessionView {
    id: String,
    namespace: String,
    created_at: String,
    last_active_at: String,
    expires_at: String,
    ip: Option<String>,
    user_agent: Option<String>,
    refresh_count: i64,
    current: bool,
    /// The session's assurance level: `aal1` or `aal2`.
    acr: String,
    /// The methods it proved (RFC 8176).
    amr: Vec<String>,
}

impl SessionView {
    pub fn new(s: &Session, current: bool) -> Self {
        SessionView {
            id: s.id.to_string(),
            namespace: s.namespace.clone(),
            created_at: rfc3339_ms(s.created_at),
            last_active_at: rfc3339_ms(s.last_active_at),
            expires_at: rfc3339_ms(s.expires_at),
            ip: s.ip.clone(),
            user_agent: s.user_agent.clone(),
            refresh_count: s.refresh_count,
            current,
            acr: s.acr.clone(),
            amr: s.amr.clone(),
        }
    }
}

/// One entry of the revocation feed: `tessera-revocation`'s format, the one every verifier reads.
pub use tessera_revocation::Entry as RevocationEntry;

/// A page of the revocation feed.
#[derive(Serialize, JsonSchema)]
pub struct RevocationPage {
    /// Ask `?after=` this next (for changes, or for the rest when `more`).
    pub cursor: String,
    pub revocations: Vec<RevocationEntry>,
    /// The page is full (1 000 entries): ask again from `cursor` at once for the rest.
    pub more: bool,
}
