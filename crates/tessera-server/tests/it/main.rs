//! Every integration test of tessera-server, in one test binary: one link of the whole server
//! instead of one per file. Each file is a module named after what it tests; `common` (an
//! in-process server), `support` (nodes as processes, for clusters and failures) and
//! `tessera_process` (one real binary, restartable) are the helpers, with one set of
//! credentials in `common`.
mod common;
mod dpop_client;
mod fake_tessera;
mod smtp;
mod support;
mod tessera_process;

/// The example resource server of tessera-axum, exactly as it ships.
#[allow(dead_code)]
#[path = "../../../tessera-axum/examples/resource_server.rs"]
mod example;

mod access_log;
mod account_routes;
mod admin_routes;
mod app_sessions;
mod auth_routes;
mod binary;
mod browser;
mod cluster;
mod cookie_transport;
mod cors;
mod dpop_routes;
mod email;
mod email_tls;
mod error_rules;
mod example_suite;
mod example_suite_feed;
mod failures;
mod http_limits;
mod js_client;
mod keys;
mod library_tests;
mod metrics;
mod mfa_routes;
mod oauth_routes;
mod openapi;
mod page;
mod passkey_routes;
mod rate_limits;
mod resource_server;
mod resource_server_hostile;
mod resource_server_outages;
mod revocation_feed;
mod token_routes;
