//! The OpenAPI 3.1 document of `GET /openapi.json`, generated from the route table and the schemas
//! of the request and response types (JSON Schema 2020-12, which OpenAPI 3.1 uses as is).
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::endpoint::{Auth, Endpoint};
use crate::error::Problem;

/// The document for a server whose refresh cookie is called `refresh_cookie`.
pub fn document(endpoints: &[Endpoint], refresh_cookie: &str) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator();
    let problem = generator.subschema_for::<Problem>();
    let mut paths = Map::new();
    for e in endpoints {
        let op = operation(e, &mut generator, &problem);
        let entry = paths.entry(e.path).or_insert_with(|| json!({}));
        entry[e.method.as_str().to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tessera",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A session authority: login, rotating refresh tokens with reuse detection, session lists and instant revocation. Every error is application/problem+json with a stable `code`.",
        },
        "paths": paths,
        "components": {
            "schemas": generator.take_definitions(true),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "An access token (at+jwt)."},
                "adminKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                "resourceServerKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "A key of resource_server_keys: introspection and the revocation feed only."},
                "clientSecretBasic": {"type": "http", "scheme": "basic", "description": "A resource-server or admin key as the password of HTTP Basic, with any user name (RFC 6749 §2.3.1)."},
                "adminBearer": {"type": "http", "scheme": "bearer", "description": "The admin key as a bearer token (metrics only)."},
                "refreshHeader": {"type": "apiKey", "in": "header", "name": "X-Refresh-Token"},
                "refreshCookie": {"type": "apiKey", "in": "cookie", "name": refresh_cookie, "description": "Needs X-CSRF-Token with the session's csrf token."},
            },
        },
    })
}

fn operation(e: &Endpoint, g: &mut schemars::SchemaGenerator, problem: &schemars::Schema) -> Value {
    let mut op = json!({
        "operationId": operation_id(e),
        "summary": e.summary,
        "responses": {},
    });
    let security = match e.auth {
        Auth::None => json!([]),
        Auth::Refresh => json!([{}, {"refreshHeader": []}, {"refreshCookie": []}]),
        Auth::Bearer => json!([{"bearer": []}]),
        Auth::BearerOrRefresh => {
            json!([{"bearer": []}, {"refreshHeader": []}, {"refreshCookie": []}, {}])
        }
        Auth::BearerOrPassword => json!([{"bearer": []}, {}]),
        Auth::AdminKey => json!([{"adminKey": []}]),
        Auth::ReaderKey => {
            json!([{"adminKey": []}, {"resourceServerKey": []}, {"clientSecretBasic": []}])
        }
        Auth::Metrics => json!([{"adminKey": []}, {"adminBearer": []}]),
    };
    op["security"] = security;
    let mut parameters: Vec<Value> = path_params(e.path)
        .map(|name| {
            // Ids are UUIDs; other path parameters (role names) are non-empty text.
            let schema = match name {
                "id" => json!({"type": "string", "format": "uuid"}),
                "name" => json!({"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"}),
                _ => json!({"type": "string", "minLength": 1}),
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect();
    if let Some(query) = e.query {
        let schema = query(g).to_value();
        for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
            // An absent parameter is the "none" of an Option; a query string has no null.
            let mut prop = prop.clone();
            if let Some(types) = prop["type"].as_array() {
                let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                prop["type"] = match kept.as_slice() {
                    [one] => one.clone(),
                    _ => json!(kept),
                };
            }
            parameters
                .push(json!({"name": name, "in": "query", "required": false, "schema": prop}));
        }
    }
    if !parameters.is_empty() {
        op["parameters"] = json!(parameters);
    }
    if let Some(request) = e.request {
        // Bodies whose every field is optional may be left out altogether.
        let optional = [
            "/admin/users/{id}/ban",
            "/auth/mfa/totp",
            "/auth/passkeys/register/options",
            "/auth/passkeys/login/options",
        ];
        let required =
            !matches!(e.auth, Auth::Refresh | Auth::BearerOrRefresh) && !optional.contains(&e.path);
        let schema = request(g);
        let mut content = json!({"application/json": {"schema": schema}});
        if matches!(e.path, "/auth/revoke" | "/auth/introspect") {
            // RFC 7009 and RFC 7662 clients send a form.
            content["application/x-www-form-urlencoded"] = json!({"schema": schema});
        }
        op["requestBody"] = json!({"required": required, "content": content});
    }
    let mut ok = json!({"description": "Success"});
    if let Some(response) = e.response {
        ok["content"] = json!({"application/json": {"schema": response(g)}});
    }
    let text = match e.path {
        "/metrics" => Some("text/plain"),
        "/" => Some("text/html"),
        "/account.css" => Some("text/css"),
        "/account.js" | "/account-mfa.js" | "/tessera.js" => Some("text/javascript"),
        "/favicon.svg" => Some("image/svg+xml"),
        _ => None,
    };
    if let Some(media) = text {
        ok["content"] = json!({media: {"schema": {"type": "string"}}});
    }
    op["responses"][e.status.to_string()] = ok;
    for status in e.errors {
        op["responses"][status.to_string()] = json!({
            "description": describe(*status),
            "content": {"application/problem+json": {"schema": problem}},
        });
    }
    op["responses"]["default"] = json!({
        "description": "Any other error, as problem+json",
        "content": {"application/problem+json": {"schema": problem}},
    });
    op
}

fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
}

fn operation_id(e: &Endpoint) -> String {
    let words: Vec<&str> = e
        .path
        .split(['/', '.', '{', '}', '-'])
        .filter(|w| !w.is_empty())
        .collect();
    format!(
        "{}_{}",
        e.method.as_str().to_ascii_lowercase(),
        words.join("_")
    )
}

fn describe(status: u16) -> &'static str {
    match status {
        400 => "invalid_request: malformed JSON, unknown or missing fields, bad query",
        401 => {
            "missing_token, invalid_token, token_expired, session_revoked, session_expired, invalid_credentials, password_expired, invalid_refresh_token, refresh_token_reused or unauthorized"
        }
        403 => "csrf_failed, account_banned or registration_closed",
        404 => "not_found",
        409 => "email_taken (or keys_from_config)",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "invalid_email, weak_password, unknown_role or invalid_namespace",
        429 => "rate_limited (see Retry-After)",
        503 => "unavailable (see Retry-After)",
        _ => "error",
    }
}
