//! The routes of API.md §5, as one table. The table builds the axum router and the OpenAPI
//! document alike (`openapi.rs`), so neither can list a route the other lacks; the schemas come
//! from the very types that parse requests and shape responses.
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{delete, get, post, put};
use schemars::{JsonSchema, Schema, SchemaGenerator};

use crate::error::ApiError;
use crate::middleware::{ObserveLayer, bearer_challenge, security_headers};
use crate::state::AppState;
use crate::views::*;

mod account;
mod admin;
mod app_sessions;
mod auth;
mod feed;
mod introspect;
mod metrics;
mod mfa;
mod oauth;
mod page;
mod passkeys;
mod public;
mod recovery;

pub use crate::endpoint::{Auth, Endpoint};

fn s<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// Any JSON object (for documents whose shape another standard defines, like a JWKS).
fn object(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({"type": "object"})
}

macro_rules! endpoint {
    ($method:ident $path:literal, $auth:ident, $summary:literal, req: $req:expr, query: $q:expr, $status:literal => $resp:expr, errors: $errors:expr, $handler:expr) => {
        Endpoint {
            method: Method::$method,
            path: $path,
            auth: Auth::$auth,
            summary: $summary,
            request: $req,
            query: $q,
            status: $status,
            response: $resp,
            errors: $errors,
            handler: || $handler,
        }
    };
}

/// Every route of the API.
pub fn endpoints() -> Vec<Endpoint> {
    use account::*;
    use admin::*;
    use auth::*;
    vec![
        endpoint!(POST "/auth/register", None, "Create an account and its first session", req: Some(s::<CredentialsBody>), query: None, 201 => Some(s::<TokenResponse>), errors: &[400, 403, 409, 413, 415, 422, 429], post(register)),
        endpoint!(POST "/auth/login", None, "Log in: a new session", req: Some(s::<CredentialsBody>), query: None, 200 => Some(s::<TokenResponse>), errors: &[400, 401, 403, 413, 415, 422, 429], post(login)),
        endpoint!(POST "/auth/mfa/verify", None, "The second step of a login: a TOTP code or a recovery code, with the mfa_token of mfa_required", req: Some(s::<mfa::VerifyBody>), query: None, 200 => Some(s::<TokenResponse>), errors: &[400, 401, 403, 413, 415, 429], post(mfa::verify)),
        endpoint!(POST "/auth/mfa/totp", Bearer, "Add a TOTP factor (pending until confirmed); needs a recent, and once the user has a factor aal2, session", req: Some(s::<mfa::EnrollBody>), query: None, 201 => Some(s::<mfa::TotpEnrolled>), errors: &[400, 401, 413, 415], post(mfa::enroll_totp)),
        endpoint!(POST "/auth/mfa/totp/{id}/confirm", Bearer, "Confirm a pending TOTP factor with a code; the first factor comes with recovery codes", req: Some(s::<mfa::CodeBody>), query: None, 200 => Some(s::<mfa::Confirmed>), errors: &[400, 401, 404, 413, 415], post(mfa::confirm_totp)),
        endpoint!(GET "/auth/mfa/factors", Bearer, "The user's factors", req: None, query: None, 200 => Some(s::<mfa::FactorList>), errors: &[401], get(mfa::list_factors)),
        endpoint!(DELETE "/auth/mfa/factors/{id}", Bearer, "Remove a factor; the sessions it was the second factor of end", req: None, query: None, 204 => None, errors: &[401, 404], delete(mfa::remove_factor)),
        endpoint!(POST "/auth/passkeys/register/options", Bearer, "Begin adding a passkey; needs a recent, and once the user has a factor aal2, session", req: Some(s::<passkeys::RegisterOptionsBody>), query: None, 200 => Some(s::<passkeys::CeremonyView>), errors: &[400, 401, 413, 415, 501], post(passkeys::register_options)),
        endpoint!(POST "/auth/passkeys/register", Bearer, "Add the passkey the browser made; the first factor comes with recovery codes", req: Some(s::<passkeys::RegisterBody>), query: None, 201 => Some(s::<mfa::Confirmed>), errors: &[400, 401, 413, 415, 501], post(passkeys::register)),
        endpoint!(POST "/auth/passkeys/login/options", None, "Begin a sign-in with a passkey: usernameless, for an email, or as the second step with an mfa_token", req: Some(s::<passkeys::LoginOptionsBody>), query: None, 200 => Some(s::<passkeys::CeremonyView>), errors: &[400, 401, 413, 415, 501], post(passkeys::login_options)),
        endpoint!(POST "/auth/passkeys/login", None, "Sign in with a passkey: the token response, aal2", req: Some(s::<passkeys::LoginBody>), query: None, 200 => Some(s::<TokenResponse>), errors: &[400, 401, 403, 413, 415, 429, 501], post(passkeys::login)),
        endpoint!(POST "/auth/mfa/recovery-codes", Bearer, "A new set of recovery codes; the old set stops working", req: None, query: None, 200 => Some(s::<mfa::RecoveryCodes>), errors: &[401, 404], post(mfa::new_recovery_codes)),
        endpoint!(POST "/auth/refresh", Refresh, "Rotate a refresh token for new tokens", req: Some(s::<RefreshBody>), query: None, 200 => Some(s::<TokenResponse>), errors: &[400, 401, 403, 503], post(refresh)),
        endpoint!(POST "/auth/logout", BearerOrRefresh, "End the session (idempotent; clears cookies)", req: Some(s::<RefreshBody>), query: None, 204 => None, errors: &[401, 403], post(logout)),
        endpoint!(GET "/auth/me", Bearer, "The user and session behind the access token", req: None, query: None, 200 => Some(s::<MeView>), errors: &[401], get(me)),
        endpoint!(GET "/auth/sessions", Bearer, "The user's live sessions, most recently active first", req: None, query: None, 200 => Some(s::<SessionList>), errors: &[401], get(list_sessions)),
        endpoint!(DELETE "/auth/sessions", Bearer, "Revoke all the user's sessions (or all but this one)", req: None, query: Some(q::<RevokeAllQuery>), 200 => Some(s::<Revoked>), errors: &[400, 401], delete(revoke_sessions)),
        endpoint!(DELETE "/auth/sessions/{id}", Bearer, "Revoke one of the user's live sessions", req: None, query: None, 204 => None, errors: &[401, 404], delete(revoke_session)),
        endpoint!(POST "/auth/password", BearerOrPassword, "Change the password (with a session, or by email when expired)", req: Some(s::<PasswordBody>), query: None, 204 => None, errors: &[400, 401, 403, 422, 429], post(change_password)),
        endpoint!(POST "/auth/reauthenticate", Bearer, "Step-up (RFC 9470): the password again, for a token with a fresh auth_time", req: Some(s::<ReauthenticateBody>), query: None, 200 => Some(s::<crate::views::Reauthenticated>), errors: &[400, 401, 403, 413, 415, 429], post(reauthenticate)),
        endpoint!(POST "/auth/password/forgot", None, "Ask for a password-reset mail (202 whatever the email)", req: Some(s::<recovery::ForgotBody>), query: None, 202 => Some(s::<crate::views::Status>), errors: &[400, 413, 415, 429, 501], post(recovery::forgot)),
        endpoint!(POST "/auth/password/reset", None, "Set a new password with a reset token; every session ends", req: Some(s::<recovery::ResetBody>), query: None, 204 => None, errors: &[400, 413, 415, 422, 429], post(recovery::reset)),
        endpoint!(POST "/auth/email/verify/send", Bearer, "Send another verification mail (at most one a minute)", req: None, query: None, 202 => Some(s::<crate::views::Status>), errors: &[401, 429, 501], post(recovery::send_verification)),
        endpoint!(POST "/auth/email/verify", None, "Verify the email with a verification token", req: Some(s::<recovery::VerifyBody>), query: None, 204 => None, errors: &[400, 413, 415, 429], post(recovery::verify)),
        endpoint!(POST "/auth/introspect", ReaderKey, "Is this access token active?", req: Some(s::<introspect::IntrospectBody>), query: None, 200 => Some(s::<Introspection>), errors: &[400, 401], post(introspect::introspect)),
        endpoint!(GET "/auth/revocations", ReaderKey, "The revocation feed: what is in force, or what changed after a cursor", req: None, query: Some(q::<feed::FeedQuery>), 200 => Some(s::<RevocationPage>), errors: &[400, 401, 404, 503], get(feed::revocations)),
        endpoint!(GET "/auth/revocations/stream", ReaderKey, "The revocation feed as Server-Sent Events (text/event-stream), resumable with Last-Event-ID; at most http.max_streams_per_key open per key (429 beyond)", req: None, query: Some(q::<feed::FeedQuery>), 200 => None, errors: &[400, 401, 429, 503], get(feed::stream)),
        endpoint!(POST "/auth/revoke", None, "RFC 7009: end the session of a refresh or access token (200 whatever the token)", req: Some(s::<oauth::RevokeBody>), query: None, 200 => None, errors: &[400, 413, 415, 503], post(oauth::revoke)),
        endpoint!(GET "/.well-known/oauth-authorization-server", None, "RFC 8414 metadata: the issuer, the JWKS and the endpoints", req: None, query: None, 200 => Some(s::<oauth::Metadata>), errors: &[], get(oauth::metadata)),
        endpoint!(GET "/.well-known/jwks.json", None, "The public signing keys (RFC 7517)", req: None, query: None, 200 => Some(object), errors: &[], get(public::jwks)),
        endpoint!(GET "/healthz", None, "Liveness", req: None, query: None, 200 => Some(s::<Status>), errors: &[], get(public::healthz)),
        endpoint!(GET "/readyz", None, "Readiness: the store answers", req: None, query: None, 200 => Some(s::<Status>), errors: &[503], get(public::readyz)),
        endpoint!(GET "/metrics", Metrics, "Prometheus metrics (text format)", req: None, query: None, 200 => None, errors: &[401], get(metrics::metrics)),
        endpoint!(GET "/", None, "The account page (HTML): sign in, see and revoke sessions, sign out", req: None, query: None, 200 => None, errors: &[], get(page::page)),
        endpoint!(GET "/account.css", None, "The account page's stylesheet", req: None, query: None, 200 => None, errors: &[], get(page::css)),
        endpoint!(GET "/account.js", None, "The account page's script", req: None, query: None, 200 => None, errors: &[], get(page::js)),
        endpoint!(GET "/account-mfa.js", None, "The account page's second factors (a module of account.js)", req: None, query: None, 200 => None, errors: &[], get(page::mfa_js)),
        endpoint!(GET "/tessera.js", None, "The browser client (an ES module): sessions refreshed once for all tabs", req: None, query: None, 200 => None, errors: &[], get(page::client)),
        endpoint!(GET "/favicon.svg", None, "The account page's icon", req: None, query: None, 200 => None, errors: &[], get(page::icon)),
        endpoint!(GET "/openapi.json", None, "This document", req: None, query: None, 200 => Some(object), errors: &[], get(public::openapi)),
        endpoint!(POST "/admin/users", AdminKey, "Create a user", req: Some(s::<NewUser>), query: None, 201 => Some(s::<UserView>), errors: &[400, 401, 409, 422], post(create_user)),
        endpoint!(GET "/admin/users", AdminKey, "Find a user by email, or list the newest", req: None, query: Some(q::<UserQuery>), 200 => Some(s::<UserList>), errors: &[400, 401], get(find_users)),
        endpoint!(GET "/admin/users/{id}", AdminKey, "A user", req: None, query: None, 200 => Some(s::<UserView>), errors: &[401, 404], get(get_user)),
        endpoint!(DELETE "/admin/users/{id}", AdminKey, "Delete a user; its sessions end", req: None, query: None, 204 => None, errors: &[401, 404], delete(delete_user)),
        endpoint!(PUT "/admin/users/{id}/roles", AdminKey, "Replace a user's roles", req: Some(s::<RolesBody>), query: None, 200 => Some(s::<UserView>), errors: &[400, 401, 404, 422], put(set_roles)),
        endpoint!(POST "/admin/users/{id}/reset-token", AdminKey, "A password-reset token, for apps that send their own mail", req: None, query: None, 201 => Some(s::<recovery::EmailTokenView>), errors: &[401, 404], post(recovery::admin_reset_token)),
        endpoint!(POST "/admin/users/{id}/verify-token", AdminKey, "An email-verification token, for apps that send their own mail", req: None, query: None, 201 => Some(s::<recovery::EmailTokenView>), errors: &[401, 404], post(recovery::admin_verify_token)),
        endpoint!(POST "/admin/users/{id}/ban", AdminKey, "Ban a user; all its sessions are revoked", req: Some(s::<BanBody>), query: None, 200 => Some(s::<UserView>), errors: &[401, 404], post(ban)),
        endpoint!(POST "/admin/users/{id}/unban", AdminKey, "Lift a ban", req: None, query: None, 200 => Some(s::<UserView>), errors: &[401, 404], post(unban)),
        endpoint!(DELETE "/admin/users/{id}/mfa", AdminKey, "Remove every second factor and recovery code of a user who lost their devices; every session is revoked", req: None, query: None, 200 => Some(s::<UserView>), errors: &[401, 404], delete(reset_mfa)),
        endpoint!(GET "/admin/users/{id}/sessions", AdminKey, "A user's live sessions", req: None, query: None, 200 => Some(s::<SessionList>), errors: &[401, 404], get(user_sessions)),
        endpoint!(DELETE "/admin/users/{id}/sessions", AdminKey, "Revoke all of a user's sessions", req: None, query: None, 200 => Some(s::<Revoked>), errors: &[401, 404], delete(revoke_user_sessions)),
        endpoint!(POST "/admin/sessions", AdminKey, "Start a session for a user the app authenticated itself (body transport)", req: Some(s::<app_sessions::NewAppSession>), query: None, 201 => Some(s::<TokenResponse>), errors: &[400, 401, 403, 404, 413, 415, 422], post(app_sessions::create_session)),
        endpoint!(PUT "/admin/users/{id}/claims", AdminKey, "Replace a user's claims (carried in access tokens as ext)", req: Some(s::<app_sessions::ClaimsBody>), query: None, 200 => Some(s::<UserView>), errors: &[400, 401, 404, 413, 415], put(app_sessions::set_claims)),
        endpoint!(DELETE "/admin/sessions/{id}", AdminKey, "Revoke one session", req: None, query: None, 204 => None, errors: &[401, 404], delete(revoke_session_by_id)),
        endpoint!(POST "/admin/sessions/revoke", AdminKey, "Revoke by namespace, user (and namespace), or all", req: Some(s::<BulkBody>), query: None, 200 => Some(s::<Revoked>), errors: &[400, 401, 404, 422], post(bulk_revoke)),
        endpoint!(GET "/admin/roles", AdminKey, "All roles", req: None, query: None, 200 => Some(s::<RoleList>), errors: &[401], get(roles)),
        endpoint!(PUT "/admin/roles/{name}", AdminKey, "Create or replace a role", req: Some(s::<RoleBody>), query: None, 200 => Some(s::<RoleView>), errors: &[400, 401, 404], put(put_role)),
        endpoint!(DELETE "/admin/roles/{name}", AdminKey, "Delete a role (removed from users)", req: None, query: None, 204 => None, errors: &[401, 404], delete(delete_role)),
        endpoint!(GET "/admin/keys", AdminKey, "Signing keys and their states", req: None, query: None, 200 => Some(s::<KeyList>), errors: &[401], get(keys)),
        endpoint!(POST "/admin/keys/rotate", AdminKey, "Rotate the signing keys", req: None, query: None, 200 => Some(s::<KeyView>), errors: &[401, 409], post(rotate_keys)),
        endpoint!(GET "/admin/events", AdminKey, "Security events, newest first", req: None, query: Some(q::<EventQuery>), 200 => Some(s::<EventList>), errors: &[400, 401], get(events)),
    ]
}

/// A query struct's schema, inline, so its properties become parameters.
fn q<T: JsonSchema>(_: &mut SchemaGenerator) -> Schema {
    schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>()
}

/// The whole HTTP API.
pub fn router(state: Arc<AppState>) -> Router {
    let (mut open, mut bearer, mut admin) = (Router::new(), Router::new(), Router::new());
    for e in endpoints() {
        let handler = (e.handler)();
        match e.auth {
            Auth::Bearer | Auth::BearerOrRefresh | Auth::BearerOrPassword => {
                bearer = bearer.route(e.path, handler)
            }
            Auth::AdminKey if e.path.starts_with("/admin/") => admin = admin.route(e.path, handler),
            _ => open = open.route(e.path, handler),
        }
    }
    // Protected routes' 401s carry a Bearer challenge; admin routes need the key before anything.
    let bearer = bearer.route_layer(from_fn(bearer_challenge));
    let admin = admin.route_layer(from_fn_with_state(state.clone(), admin::require_admin_key));
    let mut app = open
        .merge(bearer)
        .merge(admin)
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() });
    // Without allowed origins the CORS layer would do nothing: it is not there at all.
    if !state.settings.cors_allowed_origins.is_empty() {
        app = app.layer(from_fn_with_state(state.clone(), crate::cors::cors));
    }
    app = app
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(security_headers());
    // Nonces are off by default: then no answer carries one, and the layer is not there.
    if state.settings.dpop.nonce {
        app = app.layer(from_fn_with_state(state.clone(), crate::dpop::nonce_header));
    }
    app.layer(ObserveLayer(state.clone())).with_state(state)
}
