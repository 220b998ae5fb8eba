//! Tessera's session engine.
//!
//! [`Engine`] is the one entry point the server (or an embedding app) calls: register, log in,
//! refresh with rotation and reuse detection, verify access tokens without I/O, list and revoke
//! sessions. Persistence is behind the [`store::Store`] traits; [`memory::MemoryStore`] is the
//! in-memory implementation, and the `conformance` feature exposes the suite every store must
//! pass.

pub mod claims;
pub mod clock;
mod csrf;
pub mod engine;
mod error;
pub mod mail;
pub mod memory;
pub mod mfa;
pub mod model;
pub mod passwords;
pub mod ratelimit;
/// The refresh-token format; public for the fuzz targets (`fuzz/`), not a stable API.
#[doc(hidden)]
pub mod refresh_token;
pub mod revocation;
pub mod secrets;
pub mod stats;
pub mod store;
pub mod totp;

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "soft-authenticator")]
pub mod soft_authenticator;

pub use clock::{Clock, ManualClock, OffsetClock, SystemClock};
pub use engine::{Engine, EngineConfig, Issued, RequestMeta};
pub use error::Error;
pub use secrets::{MasterKey, Redacted};
