//! The Tessera HTTP server as a library: configuration, the axum router, and the pieces the
//! `tessera` binary runs. Tests start it on `127.0.0.1:0` with [`app::build`] and [`app::serve`].

pub mod app;
pub mod config;
mod cookies;
mod cors;
mod dpop;
pub mod endpoint;
pub mod error;
mod extract;
/// Header parsing, public for the fuzz targets (`fuzz/`); not a stable API.
#[doc(hidden)]
pub mod parse {
    pub use crate::extract::{bearer_token, cookie};
}
mod files;
mod http;
mod mail;
pub mod metrics;
mod middleware;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod views;
