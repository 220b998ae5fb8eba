//! Request extractors: JSON bodies (rejections become problem+json), the bearer principal, the
//! admin key, and request metadata.
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tessera_core::RequestMeta;
use tessera_core::engine::Principal;

use crate::error::ApiError;
use crate::state::AppState;

/// The longest user agent kept (longer ones are cut here, refused by `POST /admin/sessions`).
pub(crate) const MAX_USER_AGENT_CHARS: usize = 512;

/// A JSON body: `application/json` (or `+json`) required, size-limited, fields strict.
pub struct JsonBody<T>(pub T);

/// Like [`JsonBody`], but an empty body is `None` (for routes whose credential may come from a
/// header or cookie instead).
pub struct OptionalJsonBody<T>(pub Option<T>);

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

async fn body_bytes(
    mut req: Request,
    state: &Arc<AppState>,
) -> Result<(HeaderMap, Bytes), ApiError> {
    // Reading the body needs no header: they are moved out, not copied.
    let headers = std::mem::take(req.headers_mut());
    let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large()
        } else {
            ApiError::bad_request("the request body could not be read")
        }
    })?;
    Ok((headers, bytes))
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body of API.md is an object; serde would also fill a struct from an array.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    // serde's messages can quote the offending value (a password sent as a number, say), so
    // only the category and position are reported.
    serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "a field is missing, unknown or of the wrong type",
            serde_json::error::Category::Eof => "the JSON ends early",
            _ => "the body is not valid JSON",
        };
        ApiError::bad_request(format!("{what} (line {}, column {})", e.line(), e.column()))
    })
}

impl<T: DeserializeOwned> FromRequest<Arc<AppState>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let (headers, bytes) = body_bytes(req, state).await?;
        if !is_json(&headers) {
            return Err(ApiError::unsupported_media_type());
        }
        parse(&bytes).map(JsonBody)
    }
}

impl<T: DeserializeOwned> FromRequest<Arc<AppState>> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let (headers, bytes) = body_bytes(req, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalJsonBody(None));
        }
        if !is_json(&headers) {
            return Err(ApiError::unsupported_media_type());
        }
        parse(&bytes).map(|v| OptionalJsonBody(Some(v)))
    }
}

/// A body that is either a form (`application/x-www-form-urlencoded`, as OAuth clients send
/// it) or JSON; anything else is 415.
pub struct FormOrJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<AppState>> for FormOrJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let (headers, bytes) = body_bytes(req, state).await?;
        if is_json(&headers) {
            return parse(&bytes).map(FormOrJson);
        }
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !form {
            return Err(ApiError::unsupported_media_type_form_or_json());
        }
        // Like `parse`: the category only, never the value that failed.
        serde_urlencoded::from_bytes(&bytes)
            .map(FormOrJson)
            .map_err(|_| ApiError::bad_request("a form field is missing or not valid"))
    }
}

/// The token of the `Authorization` header (`Bearer` or `DPoP`, scheme case-insensitive), if
/// any, for the routes that need no proof (logout ends a session with a bound token alone). A
/// header of another scheme (`Basic ...`) counts as no credential (API.md §2); `Err` when the
/// header carries no usable token.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    use tessera_token::Credential;
    let header = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    match tessera_token::bearer_credential(header) {
        Credential::Missing => Ok(None),
        Credential::Bearer(token) | Credential::Dpop(token) => Ok(Some(token)),
        Credential::Malformed => Err(tessera_core::Error::InvalidToken.into()),
    }
}

/// One path parameter, as text. A parameter that is not valid (bad percent-encoding, not
/// UTF-8) names nothing that exists: 404 problem+json, never axum's plain-text 400.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| PathParam(p.0))
            .map_err(|_| ApiError::not_found())
    }
}

/// A verified access token (signature, claims, revocation): the `A` of API.md §5. A token
/// bound to a DPoP key is accepted only as `Authorization: DPoP` with a proof by that key whose
/// `ath` is the token's (API.md §10); a `DPoP` scheme with an unbound token is refused too.
pub struct Bearer(pub Arc<Principal>);

impl FromRequestParts<Arc<AppState>> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        use tessera_token::Credential;
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        let refuse = |why: &str| {
            crate::dpop::Refusal::Invalid(why.to_owned())
                .answer(state, axum::http::StatusCode::UNAUTHORIZED)
        };
        match tessera_token::bearer_credential(header) {
            Credential::Missing => Err(ApiError::missing_token()),
            Credential::Malformed => Err(tessera_core::Error::InvalidToken.into()),
            Credential::Bearer(token) => {
                let p = state.engine.verify_access(token)?;
                if p.claims.cnf.is_some() {
                    return Err(ApiError::from(tessera_core::Error::InvalidToken)
                        .detail("a DPoP-bound token goes as Authorization: DPoP, with a proof"));
                }
                Ok(Bearer(p))
            }
            Credential::Dpop(token) => {
                let p = state.engine.verify_access(token)?;
                let Some(bound) = p.claims.cnf.as_ref().map(|c| c.jkt.as_str()) else {
                    return Err(refuse("this token is not DPoP-bound: send it as Bearer"));
                };
                let proof = crate::dpop::proof_of(state, parts, Some(token))
                    .await
                    .map_err(|r| r.answer(state, axum::http::StatusCode::UNAUTHORIZED))?
                    .ok_or_else(|| refuse("a DPoP-bound token needs a DPoP proof"))?;
                if !bool::from(subtle::ConstantTimeEq::ct_eq(
                    proof.jkt.as_bytes(),
                    bound.as_bytes(),
                )) {
                    return Err(refuse("the proof's key is not the token's"));
                }
                Ok(Bearer(p))
            }
        }
    }
}

/// Whether `X-Api-Key` holds one of the keys whose SHA-256 is in `lists`. Hashing first makes
/// the comparison constant-time whatever the length, and every key of every list is compared,
/// so timing does not reveal which one matched, or whether any did.
fn api_key_matches(parts: &Parts, lists: &[&[[u8; 32]]]) -> bool {
    matching_api_key(parts, lists).is_some()
}

/// [`api_key_matches`], giving the SHA-256 of the key that matched.
fn matching_api_key(parts: &Parts, lists: &[&[[u8; 32]]]) -> Option<[u8; 32]> {
    let presented = parts
        .headers
        .get("x-api-key")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    key_matches(presented, lists)
}

/// The password of an `Authorization: Basic` header, as RFC 6749 §2.3.1 has clients send their
/// secret: base64 of `client_id:secret`, each form-urlencoded first. The client id is not read.
fn basic_password(headers: &HeaderMap) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    // Form-decoded (`+` a space, %XX a byte), as one form value; the keys Tessera makes need
    // no encoding, so a client that skips it works too.
    let field = [b"k=", &decoded[colon + 1..]].concat();
    let (_, secret) = url::form_urlencoded::parse(&field).next()?;
    Some(secret.into_owned().into_bytes())
}

/// Whether the admin key is in `X-Api-Key` or is the bearer token (how `/metrics` is read by
/// scrapers that can only send a bearer token).
pub fn admin_key_or_bearer(headers: &HeaderMap, state: &AppState) -> bool {
    let presented = headers
        .get("x-api-key")
        .map(|v| v.as_bytes())
        .or_else(|| bearer_token(headers).ok().flatten().map(str::as_bytes))
        .unwrap_or_default();
    key_matches(presented, &[&state.admin_key_hashes]).is_some()
}

/// The SHA-256 of `presented` if it is one of the keys in `lists`, compared in constant time.
fn key_matches(presented: &[u8], lists: &[&[[u8; 32]]]) -> Option<[u8; 32]> {
    let digest: [u8; 32] = Sha256::digest(presented).into();
    let mut ok = subtle::Choice::from(0);
    for key in lists.iter().flat_map(|l| l.iter()) {
        ok |= key.ct_eq(&digest);
    }
    (!presented.is_empty() && bool::from(ok)).then_some(digest)
}

/// A valid admin API key in `X-Api-Key`: the `K` of API.md §5.
pub struct AdminKey;

impl FromRequestParts<Arc<AppState>> for AdminKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        api_key_matches(parts, &[&state.admin_key_hashes])
            .then_some(AdminKey)
            .ok_or_else(ApiError::unauthorized)
    }
}

/// An admin key or a resource-server key in `X-Api-Key`: the `R` of API.md §5 (introspection
/// and the revocation feed).
pub struct ReaderKey(
    /// The SHA-256 of the key: which key it is, for per-key bounds, without the key itself.
    pub [u8; 32],
);

impl FromRequestParts<Arc<AppState>> for ReaderKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let lists = [&state.admin_key_hashes[..], &state.resource_key_hashes[..]];
        // X-Api-Key, or the key as an OAuth client secret (HTTP Basic), as RFC 7662 clients send it.
        matching_api_key(parts, &lists)
            .or_else(|| key_matches(&basic_password(&parts.headers)?, &lists))
            .map(ReaderKey)
            .ok_or_else(ApiError::unauthorized_reader)
    }
}

/// Client IP and user agent, for session metadata and events.
pub struct Meta(pub RequestMeta);

impl FromRequestParts<Arc<AppState>> for Meta {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let forwarded = if state.settings.rate_limit.trust_forwarded_for {
            forwarded_for(&parts.headers)
        } else {
            None
        };
        let ip = forwarded.or(peer).map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
        Ok(Meta(RequestMeta { ip, user_agent }))
    }
}

/// The client address as the trusted proxy in front of us saw it: the last `X-Forwarded-For`
/// entry, the one that proxy appended. Earlier entries are the client's own claims.
fn forwarded_for(headers: &HeaderMap) -> Option<std::net::IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?;
    last.to_str().ok()?.rsplit(',').next()?.trim().parse().ok()
}

/// The value of cookie `name` across all `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Query parameters, strict: unknown or malformed parameters are a 400.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<Arc<AppState>> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded_from_str(query).map(QueryParams)
    }
}

fn serde_urlencoded_from_str<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| ApiError::bad_request("bad query"))?,
    )
    .map(|q| q.0)
    .map_err(|_| ApiError::bad_request("unknown or malformed query parameter"))
}
