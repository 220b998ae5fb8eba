//! A resource server protected by Tessera: your API, verifying tokens locally and refusing
//! revoked sessions at once.
//!
//! ```text
//! cargo run --release -p tessera-axum --example resource_server -- \
//!     --tessera http://127.0.0.1:8080 --listen 127.0.0.1:3000 --key "$TESSERA_RESOURCE_KEY"
//! ```
//!
//! Routes: `GET /hello` (any valid token), `GET /admin-only` (permission `admin`),
//! `GET /recent` (an authentication within the last 300 s), `GET /mfa` (a session of assurance
//! `aal2`: two factors), `GET /healthz` (200 once the keys
//! and the revocation snapshot are loaded and the feed is not stale, else 503).
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use serde_json::json;
use tessera_axum::{Auth, Require, Tessera};

#[derive(Parser)]
struct Args {
    /// Tessera's base URL (its issuer, unless --issuer says otherwise).
    #[arg(long)]
    tessera: String,
    /// Where this API listens.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: String,
    /// The resource-server key (one of Tessera's `resource_server_keys`); default: the
    /// environment variable TESSERA_RESOURCE_KEY (which keeps it out of `ps`).
    #[arg(long)]
    key: Option<String>,
    /// The `iss` tokens carry, when Tessera's `issuer` is configured.
    #[arg(long)]
    issuer: Option<String>,
    /// An audience this API accepts (when Tessera's `audience` is configured).
    #[arg(long)]
    audience: Vec<String>,
    /// Seconds the revocation feed may be unreachable before tokens are refused.
    #[arg(long, default_value_t = 60)]
    stale_after: u64,
    /// The origin DPoP proofs name in `htu`; default: http:// + the listen address.
    #[arg(long)]
    public_url: Option<String>,
}

/// The API: every route but `/healthz` needs a valid token.
pub fn app(tessera: Tessera) -> Router {
    let health = tessera.clone();
    Router::new()
        .route("/hello", get(hello))
        .route(
            "/admin-only",
            get(|| async { Json(json!({"ok": true})) }).route_layer(Require::permission("admin")),
        )
        .route(
            "/recent",
            get(|| async { Json(json!({"ok": true})) })
                .route_layer(Require::recent_authentication(Duration::from_secs(300))),
        )
        .route(
            "/mfa",
            get(|| async { Json(json!({"ok": true})) }).route_layer(Require::acr("aal2")),
        )
        .route("/healthz", get(move || healthz(health.clone())))
        .layer(tessera.layer())
}

/// What `/hello` answers: borrowed from the verified token, nothing copied.
#[derive(serde::Serialize)]
struct Hello<'a> {
    sub: &'a str,
    sid: &'a str,
    roles: &'a [String],
    perms: &'a [String],
}

async fn hello(auth: Auth) -> axum::response::Response {
    Json(Hello {
        sub: &auth.sub,
        sid: &auth.sid,
        roles: &auth.roles,
        perms: &auth.perms,
    })
    .into_response()
}

async fn healthz(tessera: Tessera) -> impl IntoResponse {
    let status = if tessera.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(tessera.status()))
}

/// The verifier the arguments describe.
pub fn tessera(
    url: &str,
    key: &str,
    issuer: Option<String>,
    audience: Vec<String>,
    stale_after: Duration,
    public_url: &str,
) -> Result<Tessera, tessera_axum::BuildError> {
    let mut b = Tessera::builder(url, key)
        .stale_after(stale_after)
        .public_url(public_url);
    if let Some(iss) = issuer {
        b = b.issuer(iss);
    }
    for aud in audience {
        b = b.audience(aud);
    }
    b.start()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    cli(std::env::args()).await
}

/// The example run from its command line (`argv[0]` first): what `main` does, callable in
/// process by the shared resource-server suite.
pub async fn cli(argv: impl IntoIterator<Item = String>) -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::try_parse_from(argv)?;
    let key = match args.key {
        Some(k) => k,
        None => std::env::var("TESSERA_RESOURCE_KEY")
            .map_err(|_| "a key is needed: --key KEY or TESSERA_RESOURCE_KEY")?,
    };
    let public_url = args
        .public_url
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let tessera = tessera(
        &args.tessera,
        &key,
        args.issuer,
        args.audience,
        Duration::from_secs(args.stale_after),
        &public_url,
    )?;
    // Serve at once (/healthz says 503 until the keys and revocations are in).
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, tessera = %args.tessera, "resource server up");
    axum::serve(listener, app(tessera)).await?;
    Ok(())
}
