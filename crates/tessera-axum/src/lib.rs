//! Protect an axum API with Tessera access tokens, with no call to Tessera per request.
//!
//! Tokens are verified locally, exactly as strictly as Tessera does it (the same code,
//! `tessera-token`: pinned algorithm, `typ`, `iss`, `aud`, `exp` with at most 5 s of leeway),
//! with the keys from Tessera's JWKS. Revocations (logout, ban, a detected token theft, an
//! admin's flush) arrive through Tessera's revocation feed, a Server-Sent Events stream, and
//! are refused with 401 `session_revoked` within milliseconds of being made.
//!
//! ```no_run
//! use axum::{Json, Router, routing::get};
//! use tessera_axum::{Auth, Require, Tessera};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let key = std::env::var("TESSERA_RESOURCE_KEY")?;
//!     let tessera = Tessera::builder("http://127.0.0.1:8080", &key).start()?;
//!     tessera.ready().await; // keys and revocations loaded
//!
//!     let app = Router::new()
//!         .route("/hello", get(|auth: Auth| async move { Json(serde_json::json!({"sub": auth.sub})) }))
//!         .route("/admin-only", get(|| async { "ok" }).route_layer(Require::permission("admin")))
//!         .layer(tessera.layer());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! **When Tessera cannot be reached.** Tokens keep being verified from the keys and
//! revocations already loaded. Once the feed has been unheard-of for longer than
//! [`Builder::stale_after`] (default 60 s), [`OnStale::Refuse`] (the default) answers every
//! token 503 `unavailable`, so a revocation made during a network partition can never be
//! missed silently; [`OnStale::Accept`] keeps serving instead. Either way the outage is logged
//! at `error` and shows in [`Tessera::status`]. Before the keys and the first snapshot are
//! loaded, tokens are answered 503 too: report ready only after [`Tessera::ready`].
//!
//! Errors are `application/problem+json` with `WWW-Authenticate`, the same codes Tessera
//! itself answers with ([`AuthError`]).
//!
//! The protocol this crate follows is in the project's `docs/resource-servers.md`.

#![warn(missing_docs)]

mod auth;
mod body;
mod builder;
mod client;
mod clock;
mod dpop;
mod error;
mod feed;
mod guard;
mod identity;
mod jwks;
mod keys;
mod revoked;
mod sse;
mod state;

pub use builder::{BuildError, Builder, OnStale};
pub use client::{Status, Tessera};
pub use error::AuthError;
pub use guard::{Require, RequireService};
pub use identity::{Auth, Identity};
pub use tessera_token::Algorithm;
