//! /openapi.json (issue 3 §6): generated from the route table, complete, and valid OpenAPI 3.1
//! by an independent validator.

use std::io::Write as _;

use crate::common::*;
use serde_json::Value;
use tessera_server::routes::endpoints;

async fn document(srv: &TestServer) -> Value {
    let res = srv
        .client
        .get(srv.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Every `$ref` in `v` points at an existing component.
fn check_refs(v: &Value, doc: &Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let name = r
                    .strip_prefix("#/components/schemas/")
                    .unwrap_or_else(|| panic!("odd $ref {r}"));
                assert!(
                    doc["components"]["schemas"].get(name).is_some(),
                    "dangling $ref {r}"
                );
            }
            map.values().for_each(|x| check_refs(x, doc));
        }
        Value::Array(items) => items.iter().for_each(|x| check_refs(x, doc)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_lists_every_route_the_server_serves() {
    let srv = start("").await;
    let doc = document(&srv).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let table = endpoints();
    let mut operations = 0;
    for (_, item) in doc["paths"].as_object().unwrap() {
        operations += item.as_object().unwrap().len();
    }
    assert_eq!(operations, table.len(), "one operation per route, no more");
    for e in &table {
        let op = &doc["paths"][e.path][e.method.as_str().to_ascii_lowercase()];
        assert!(
            op.is_object(),
            "{} {} missing from the document",
            e.method,
            e.path
        );
        assert!(
            op["responses"][e.status.to_string()].is_object(),
            "{} {}",
            e.method,
            e.path
        );
        assert!(op["responses"]["default"]["content"]["application/problem+json"].is_object());
        // And the server really serves it (the router is built from the same table).
        let path = e
            .path
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{name}", "r");
        let res = srv
            .client
            .request(e.method.clone(), srv.url(&path))
            .header("x-api-key", ADMIN_KEY)
            .send()
            .await
            .unwrap();
        assert_ne!(res.status().as_u16(), 405, "{} {}", e.method, e.path);
        if !e.path.contains('{') {
            assert_ne!(res.status().as_u16(), 404, "{} {}", e.method, e.path);
        }
    }
    // Every route API.md names is in the table.
    for (method, path) in [
        ("post", "/auth/register"),
        ("post", "/auth/login"),
        ("post", "/auth/refresh"),
        ("post", "/auth/logout"),
        ("get", "/auth/me"),
        ("get", "/auth/sessions"),
        ("delete", "/auth/sessions/{id}"),
        ("delete", "/auth/sessions"),
        ("post", "/auth/password"),
        ("post", "/auth/introspect"),
        ("post", "/admin/users"),
        ("get", "/admin/users"),
        ("get", "/admin/users/{id}"),
        ("delete", "/admin/users/{id}"),
        ("put", "/admin/users/{id}/roles"),
        ("post", "/admin/users/{id}/ban"),
        ("post", "/admin/users/{id}/unban"),
        ("get", "/admin/users/{id}/sessions"),
        ("delete", "/admin/users/{id}/sessions"),
        ("delete", "/admin/sessions/{id}"),
        ("post", "/admin/sessions/revoke"),
        ("get", "/admin/roles"),
        ("put", "/admin/roles/{name}"),
        ("delete", "/admin/roles/{name}"),
        ("get", "/admin/keys"),
        ("post", "/admin/keys/rotate"),
        ("get", "/admin/events"),
        ("get", "/.well-known/jwks.json"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    check_refs(&doc, &doc);
}

#[tokio::test]
async fn schemas_come_from_the_types_and_security_is_declared() {
    let srv = start("").await;
    let doc = document(&srv).await;
    let schemas = &doc["components"]["schemas"];
    let creds = &schemas["CredentialsBody"];
    assert_eq!(
        creds["additionalProperties"], false,
        "deny_unknown_fields shows"
    );
    let mut required: Vec<&str> = creds["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort();
    assert_eq!(required, vec!["email", "password"]);
    for field in [
        "token_type",
        "access_token",
        "expires_in",
        "refresh_token",
        "session_id",
        "csrf_token",
        "user",
    ] {
        assert!(
            schemas["TokenResponse"]["properties"].get(field).is_some(),
            "{field}"
        );
    }
    for field in ["status", "code", "title"] {
        assert!(
            schemas["Problem"]["properties"].get(field).is_some(),
            "{field}"
        );
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["adminKey"]["name"], "X-Api-Key");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["refreshCookie"]["name"], "__Secure-tessera_refresh");
    assert_eq!(
        doc["paths"]["/admin/users"]["get"]["security"][0]["adminKey"],
        serde_json::json!([])
    );
    let params: Vec<&str> = doc["paths"]["/admin/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in ["user_id", "type", "limit"] {
        assert!(params.contains(&p), "{p} in {params:?}");
    }
}

/// An independent validator (Python's openapi-spec-validator, installed by .ci/run) accepts it.
#[tokio::test]
async fn an_independent_validator_accepts_the_document() {
    let srv = start("").await;
    let doc = document(&srv).await;
    let has_validator = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_validator {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "CI must install openapi-spec-validator"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: pip install openapi-spec-validator==0.9.0 to validate /openapi.json ***\n"
        );
        return;
    }
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(doc.to_string().as_bytes()).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-c", "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))\nprint('valid')"])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "valid");
}

/// The schema is as strict as the server (issue 13 item 9): what the document allows, the
/// server does not refuse for its shape.
#[tokio::test]
async fn the_schemas_are_as_strict_as_the_server() {
    let srv = start("").await;
    let doc = document(&srv).await;
    let schemas = &doc["components"]["schemas"];
    let creds = &schemas["CredentialsBody"]["properties"];
    assert_eq!(creds["email"]["minLength"], 3, "{creds}");
    assert!(creds["namespace"]["pattern"].is_string(), "{creds}");
    let bulk = &schemas["BulkBody"]["oneOf"];
    assert_eq!(bulk.as_array().map(Vec::len), Some(3), "{bulk}");
    assert_eq!(bulk[1]["properties"]["user_id"]["format"], "uuid");
    assert_eq!(bulk[2]["properties"]["all"]["const"], true);
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let schema = &p["schema"];
                assert!(
                    !schema.to_string().contains("\"null\""),
                    "{method} {path}: parameter {} may be null: {schema}",
                    p["name"]
                );
                if p["name"] == "id" {
                    assert_eq!(schema["format"], "uuid", "{method} {path}");
                }
            }
        }
    }
    let events = doc["paths"]["/admin/events"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let user_id = events.iter().find(|p| p["name"] == "user_id").unwrap();
    assert_eq!(user_id["schema"]["format"], "uuid");
}

/// schemathesis (PyPI, installed by .ci/run) runs every check against a real binary, bounded,
/// and finds nothing: no schema-valid request refused for its shape, no schema-violating one
/// accepted, no 5xx, every answer as documented (bench/schemathesis/).
#[tokio::test]
async fn schemathesis_finds_nothing() {
    let available = std::process::Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "CI must install schemathesis"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: pip install schemathesis==4.32.5 to fuzz the API from /openapi.json ***\n"
        );
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../bench/schemathesis/run.sh"
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg(script)
            .env("TESSERA_BIN", BIN)
            .env("PORT", port.to_string())
            .env("MAX_EXAMPLES", "15")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("passed"), "{report}");
}
